"""The support judge on ../shared/eval/claims.jsonl: balanced accuracy, TPR, TNR and seconds per claim.

    python scripts/eval_judge.py [--limit N] [--judge-model packaged:NAME] [--evidence-sentences K]
                                 [--fit] [--save FILE] [--rows FILE]

Each claim goes through `assistant verify` with its evidence text (the product's own path: evidence
sentences chosen for similarity and for the claim words they hold, the deterministic checks, the
calibrated LLM judge). Prints one JSON document: the judge alone, the full verdict (judge plus deterministic checks), the
same by source data set, and, with --fit, logistic calibration weights with cross-validated figures
(stratified 5-fold, repeated over 5 shuffles), so the printed accuracy is never measured on the rows
the weights were fitted on. --rows refits from rows saved by --save, without the model.
"""

from __future__ import annotations

import argparse
import json
import random
import time

import numpy as np
from evaldata import eval_file, read_jsonl, scratch_settings

from assistant import offline
from assistant.backends import Backends
from assistant.components.judge import Calibration
from assistant.components.judge import features as calibration_features
from assistant.components.verify import ALWAYS_DECISIVE
from assistant.pipeline import verify
from assistant.present import ProgressBars

SIGNALS = ("p_yes", "similarity")


def rates(predicted: list[bool], labels: list[bool]) -> dict[str, float]:
    positives = [p for p, y in zip(predicted, labels, strict=True) if y]
    negatives = [not p for p, y in zip(predicted, labels, strict=True) if not y]
    tpr = sum(positives) / max(len(positives), 1)
    tnr = sum(negatives) / max(len(negatives), 1)
    return {
        "balanced_accuracy": round((tpr + tnr) / 2, 4),
        "tpr": round(tpr, 4),
        "tnr": round(tnr, 4),
        "n": len(labels),
    }


def run(records: list[dict], backends: Backends) -> list[dict]:
    rows = []
    with ProgressBars() as bars:
        for done, record in enumerate(records, start=1):
            started = time.perf_counter()
            claim = verify(record["claim"], backends, evidence=record["evidence"])
            rows.append(
                {
                    "label": record["label"] == "supported",
                    "source": record["source"],
                    "judge": claim.judgement.supported,
                    "verdict": claim.verdict == "supported",
                    "reasons": [reason.code for reason in claim.reasons],
                    "signals": claim.judgement.signals,
                    "seconds": time.perf_counter() - started,
                    "judge_seconds": claim.judgement.seconds,
                }
            )
            bars.update("judge", done, len(records))
    return rows


def summary(rows: list[dict]) -> dict:
    labels = [r["label"] for r in rows]
    result = {
        "judge": rates([r["judge"] for r in rows], labels),
        "verdict": rates([r["verdict"] for r in rows], labels),
        "seconds_per_claim": round(sum(r["seconds"] for r in rows) / len(rows), 3),
        "judge_seconds_per_claim": round(sum(r["judge_seconds"] for r in rows) / len(rows), 3),
        "by_source": {},
    }
    for source in sorted({r["source"] for r in rows}):
        subset = [r for r in rows if r["source"] == source]
        result["by_source"][source] = rates([r["verdict"] for r in subset], [r["label"] for r in subset])
    return result


def features(row: dict) -> tuple[float, ...]:
    return calibration_features(*(row["signals"][k] for k in SIGNALS))


def fit(rows: list[dict]) -> list[float]:
    """Logistic regression, classes weighted equally (balanced accuracy), solved by Newton's method
    to convergence (a slight ridge keeps it finite when the classes separate)."""
    x = np.array([features(r) for r in rows])
    y = np.array([r["label"] for r in rows], dtype=float)
    weight = np.where(y == 1, len(y) / (2 * y.sum()), len(y) / (2 * (len(y) - y.sum())))
    ridge = 1e-3 * np.diag([0.0] + [1.0] * (x.shape[1] - 1))
    w = np.zeros(x.shape[1])
    for _ in range(100):
        p = 1 / (1 + np.exp(-(x @ w)))
        gradient = x.T @ (weight * (p - y)) / len(y) + ridge @ w
        hessian = (x * (weight * p * (1 - p))[:, None]).T @ x / len(y) + ridge
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    return w.tolist()


def predicted(rows: list[dict], weights: list[float]) -> list[bool]:
    calibration = Calibration(*weights)
    return [calibration.probability(*(r["signals"][k] for k in SIGNALS)) >= calibration.threshold for r in rows]


def cross_validated(rows: list[dict], folds: int = 5, repeats: int = 5) -> dict:
    """Stratified k-fold, repeated with different shuffles: one split's figure moves by +-0.02 here."""
    labels = [r["label"] for r in rows]
    scores = []
    for repeat in range(repeats):
        shuffled = random.Random(repeat)
        fold_of = {}
        for label in (True, False):  # each class dealt round the folds: every fold keeps the class balance
            members = [i for i, y in enumerate(labels) if y is label]
            shuffled.shuffle(members)
            fold_of.update({i: n % folds for n, i in enumerate(members)})
        guesses: dict[int, bool] = {}
        for fold in range(folds):
            held = [i for i in range(len(rows)) if fold_of[i] == fold]
            weights = fit([rows[i] for i in range(len(rows)) if fold_of[i] != fold])
            guesses.update(zip(held, predicted([rows[i] for i in held], weights), strict=True))
        scores.append(rates([guesses[i] for i in range(len(rows))], labels))
    mean = {key: round(sum(s[key] for s in scores) / repeats, 4) for key in ("balanced_accuracy", "tpr", "tnr")}
    spread = [min(s["balanced_accuracy"] for s in scores), max(s["balanced_accuracy"] for s in scores)]
    return {**mean, "balanced_accuracy_range": spread, "folds": folds, "repeats": repeats, "n": len(rows)}


def cross_source(rows: list[dict]) -> dict:
    """Fitted on one data set, measured on the other: how far the calibration travels."""
    result = {}
    for held in sorted({r["source"] for r in rows}):
        train = [r for r in rows if r["source"] != held]
        test = [r for r in rows if r["source"] == held]
        result[f"fitted_elsewhere_tested_on_{held}"] = rates(predicted(test, fit(train)), [r["label"] for r in test])
    return result


def refitted(rows: list[dict], weights: list[float]) -> dict:
    """In-sample figures with new weights: the judge's decisions redrawn, the number veto kept."""
    judged = predicted(rows, weights)
    vetoed = [ALWAYS_DECISIVE & set(r["reasons"]) for r in rows]
    labels = [r["label"] for r in rows]
    return {
        "judge": rates(judged, labels),
        "verdict": rates([j and not v for j, v in zip(judged, vetoed, strict=True)], labels),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, help="Only the first N claims.")
    parser.add_argument("--judge-model", help="GGUF setting for the judge (default: the setting).")
    parser.add_argument("--evidence-sentences", type=int, help="Evidence sentences per claim.")
    parser.add_argument("--fit", action="store_true", help="Fit calibration weights, report cross-validated.")
    parser.add_argument("--save", help="Write the per-claim rows to this JSON file.")
    parser.add_argument("--rows", help="Read per-claim rows written by --save instead of running the judge.")
    args = parser.parse_args()
    if args.rows:
        with open(args.rows, encoding="utf-8") as saved:
            rows, judge = json.load(saved), f"rows from {args.rows}"
    else:
        rows, judge = judged_rows(args)
    result = {"judged_by": judge, "claims": len(rows), **summary(rows)}
    if args.save:
        with open(args.save, "w", encoding="utf-8") as out:
            json.dump(rows, out)
    if args.fit:
        weights = fit(rows)
        result["fitted"] = dict(zip(("bias", "yes", "similarity"), weights, strict=True))
        result["fitted_in_sample"] = refitted(rows, weights)
        result["cross_validated"] = cross_validated(rows)
        result.update(cross_source(rows))
    print(json.dumps(result, indent=2))


def judged_rows(args: argparse.Namespace) -> tuple[list[dict], str]:
    offline()
    records = read_jsonl(eval_file("claims.jsonl"))
    if args.limit:  # an even sample: the file is grouped by source and label
        records = random.Random(0).sample(records, min(args.limit, len(records)))
    verification = {}
    if args.judge_model:
        verification["judge_model"] = args.judge_model
    if args.evidence_sentences:
        verification["evidence_sentences"] = args.evidence_sentences
    backends = Backends(scratch_settings("judge", verification=verification))
    return run(records, backends), backends.judge.name


if __name__ == "__main__":
    main()
