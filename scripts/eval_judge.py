"""The support judge on ../shared/eval/claims.jsonl: balanced accuracy, TPR, TNR and seconds per claim.

    python scripts/eval_judge.py [--limit N] [--judge-model packaged:NAME] [--evidence-sentences K]
                                 [--fit] [--save FILE]

Each claim goes through `assistant verify` with its evidence text (the product's own path: evidence
sentences chosen by embedding similarity, the deterministic checks, the calibrated LLM judge).
Prints one JSON document: the judge alone, the full verdict (judge plus deterministic checks), the
same by source data set, and, with --fit, logistic calibration weights with 5-fold cross-validated
figures (so the printed accuracy is never measured on the rows the weights were fitted on).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time

from evaldata import eval_file, read_jsonl, scratch_settings

from assistant import offline
from assistant.backends import Backends
from assistant.components.judge import Calibration
from assistant.components.judge import features as calibration_features
from assistant.pipeline import verify
from assistant.present import ProgressBars

SIGNALS = ("p_yes", "coverage", "similarity")


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


def fit(rows: list[dict], steps: int = 3000, rate: float = 0.2) -> list[float]:
    """Logistic regression by gradient descent, classes weighted equally (balanced accuracy)."""
    weights = [0.0, 1.0, 0.0, 0.0]
    positives = sum(r["label"] for r in rows)
    class_weight = {True: len(rows) / (2 * positives), False: len(rows) / (2 * (len(rows) - positives))}
    for _ in range(steps):
        gradient = [0.0] * len(weights)
        for row in rows:
            x = features(row)
            p = 1 / (1 + math.exp(-sum(w * v for w, v in zip(weights, x, strict=True))))
            for i, v in enumerate(x):
                gradient[i] += class_weight[row["label"]] * (p - row["label"]) * v / len(rows)
        weights = [w - rate * g for w, g in zip(weights, gradient, strict=True)]
    return weights


def predicted(rows: list[dict], weights: list[float]) -> list[bool]:
    calibration = Calibration(*weights)
    return [calibration.probability(*(r["signals"][k] for k in SIGNALS)) >= calibration.threshold for r in rows]


def cross_validated(rows: list[dict], folds: int = 5) -> dict:
    order = list(range(len(rows)))
    random.Random(0).shuffle(order)
    guesses: dict[int, bool] = {}
    for fold in range(folds):
        held = set(order[fold::folds])
        weights = fit([rows[i] for i in order if i not in held])
        for i, guess in zip(sorted(held), predicted([rows[i] for i in sorted(held)], weights), strict=True):
            guesses[i] = guess
    return rates([guesses[i] for i in range(len(rows))], [r["label"] for r in rows])


def cross_source(rows: list[dict]) -> dict:
    """Fitted on one data set, measured on the other: how far the calibration travels."""
    result = {}
    for held in sorted({r["source"] for r in rows}):
        train = [r for r in rows if r["source"] != held]
        test = [r for r in rows if r["source"] == held]
        result[f"fitted_elsewhere_tested_on_{held}"] = rates(predicted(test, fit(train)), [r["label"] for r in test])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, help="Only the first N claims.")
    parser.add_argument("--judge-model", help="GGUF setting for the judge (default: the setting).")
    parser.add_argument("--evidence-sentences", type=int, help="Evidence sentences per claim.")
    parser.add_argument("--fit", action="store_true", help="Fit calibration weights, report cross-validated.")
    parser.add_argument("--save", help="Write the per-claim rows to this JSON file.")
    args = parser.parse_args()
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
    rows = run(records, backends)
    result = {"judge": backends.judge.name, "claims": len(rows), **summary(rows)}
    if args.save:
        with open(args.save, "w", encoding="utf-8") as out:
            json.dump(rows, out)
    if args.fit:
        weights = fit(rows)
        result["fitted"] = dict(zip(("bias", "yes", "overlap", "similarity"), weights, strict=True))
        result["cross_validated_5_fold"] = cross_validated(rows)
        result.update(cross_source(rows))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
