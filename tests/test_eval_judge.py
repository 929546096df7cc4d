"""The judge's calibration fit and its cross-validation (scripts/eval_judge.py), on made-up rows."""

from __future__ import annotations

import math
import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import eval_judge

TRUE_WEIGHTS = (-2.0, 0.8, 2.5)  # bias, log-odds of YES, similarity


def made_up_rows(count: int, weights: tuple[float, ...] = TRUE_WEIGHTS, seed: int = 0) -> list[dict]:
    """Claims whose label is drawn from a known logistic model of the two signals."""
    draw = random.Random(seed)
    rows = []
    for _ in range(count):
        signals = {"p_yes": draw.uniform(0.01, 0.99), "similarity": draw.uniform(0.2, 0.9)}
        z = sum(w * x for w, x in zip(weights, eval_judge.features({"signals": signals}), strict=True))
        label = draw.random() < 1 / (1 + math.exp(-z))
        rows.append({"signals": signals, "label": label, "source": draw.choice("AB"), "reasons": []})
    return rows


def test_fit_recovers_the_weights_that_made_the_labels() -> None:
    fitted = eval_judge.fit(made_up_rows(4000))
    # classes are weighted equally, which moves only the bias
    assert fitted[1:] == pytest.approx(TRUE_WEIGHTS[1:], abs=0.35)


def test_cross_validation_predicts_every_claim_from_weights_fitted_without_it() -> None:
    rows = made_up_rows(300)
    separable = [{**row, "label": row["signals"]["p_yes"] > 0.5} for row in rows]
    assert eval_judge.cross_validated(separable)["balanced_accuracy"] > 0.95
    noise = [{**row, "label": random.Random(i).random() < 0.5} for i, row in enumerate(rows)]
    scored = eval_judge.cross_validated(noise)
    assert 0.35 < scored["balanced_accuracy"] < 0.65  # what was learnt from noise does not carry
    assert scored["n"] == 300
    assert scored["repeats"] == 5
    assert scored["balanced_accuracy_range"][0] <= scored["balanced_accuracy"] <= scored["balanced_accuracy_range"][1]


def test_refitted_verdicts_keep_the_number_veto() -> None:
    rows = [
        {"signals": {"p_yes": 0.99, "similarity": 0.9}, "label": True, "reasons": []},
        {
            "signals": {"p_yes": 0.99, "similarity": 0.9},
            "label": False,
            "reasons": ["number_not_in_source"],
        },
        {"signals": {"p_yes": 0.01, "similarity": 0.2}, "label": False, "reasons": ["not_stated"]},
    ]
    figures = eval_judge.refitted(rows, list(TRUE_WEIGHTS))
    assert figures["judge"]["tnr"] == 0.5  # the judge alone says yes to the wrong number
    assert figures["verdict"]["balanced_accuracy"] == 1.0
