"""Judge: attribution stripping, word coverage, calibration, and the overlap and LLM judges."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
from conftest import fast_settings

from assistant.backends import Backends
from assistant.components.judge import (
    DEFAULT_CALIBRATION,
    Calibration,
    LLMJudge,
    OverlapJudge,
    content_words,
    coverage,
    strip_attribution,
)
from assistant.components.prompts import Prompts


class FakeChat:
    """A chat model whose YES probability is fixed; it records every message list it is sent."""

    name = "fake"
    model = "fake-model"

    def __init__(self, p_yes: float) -> None:
        self.p_yes = p_yes
        self.calls: list[list[dict[str, str]]] = []

    def yes_probability(self, messages: list[dict[str, str]]) -> float:
        self.calls.append(messages)
        return self.p_yes

    def stream(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]:
        raise AssertionError("the judge must not stream")


@pytest.mark.parametrize(
    ("claim", "expected"),
    [
        pytest.param("According to the article, prices rose.", "prices rose.", id="docstring-according-to"),
        pytest.param("According to S2, prices rose.", "prices rose.", id="according-to-key"),
        pytest.param('"Some Title" states: prices rose.', "prices rose.", id="quoted-title-states-colon"),
        pytest.param("The article claims that prices rose.", "prices rose.", id="article-claims-that"),
        pytest.param("The author argues prices rose.", "prices rose.", id="author-argues"),
        pytest.param("This report states that prices rose.", "prices rose.", id="this-report"),
        pytest.param("the articles state that prices rose.", "prices rose.", id="plural-lowercase"),
        pytest.param("The article further states that prices rose.", "prices rose.", id="one-word-between"),
        pytest.param("Another source notes that x.", "x.", id="another-source"),
        pytest.param("The article never claims that x.", "The article never claims that x.", id="negated-kept"),
        pytest.param("The article nowhere states x.", "The article nowhere states x.", id="nowhere-kept"),
        pytest.param("The author falsely states x.", "The author falsely states x.", id="falsely-kept"),
        pytest.param("S2 reports that prices rose.", "prices rose.", id="key-reports"),
        pytest.param("Prices rose.", "Prices rose.", id="no-attribution"),
        pytest.param("  Prices rose.  ", "Prices rose.", id="trimmed"),
        pytest.param("Prices rose, the article claims.", "Prices rose, the article claims.", id="trailing-kept"),
        pytest.param("The article claims that", "The article claims that", id="nothing-after"),
        pytest.param(
            "The article states: prices rose.",
            "prices rose.",
            id="article-states-colon",
        ),
    ],
)
def test_strip_attribution(claim: str, expected: str) -> None:
    assert strip_attribution(claim) == expected


@pytest.mark.parametrize(
    ("claim", "evidence", "expected"),
    [
        pytest.param("Glaciers retreated quickly", ["The glacier retreats slowly."], 2 / 3, id="docstring-stems"),
        pytest.param("Prices rose", ["prices", "rose"], 1.0, id="across-sentences"),
        pytest.param("Prices rose", [], 0.0, id="no-evidence"),
        pytest.param("the of and", ["x"], 1.0, id="only-stopwords-counts-as-covered"),
        pytest.param("Wages fell sharply", ["Prices rose sharply."], 1 / 3, id="one-of-three"),
        pytest.param("PRICES ROSE", ["prices rose"], 1.0, id="case-insensitive"),
    ],
)
def test_coverage(claim: str, evidence: list[str], expected: float) -> None:
    assert coverage(claim, evidence) == pytest.approx(expected)


def test_content_words_drop_stopwords_and_stem() -> None:
    assert content_words("The running dogs jumped quickly") == {"runn", "dogs", "jump", "quick"}


IDENTITY = Calibration(0.0, 1.0, 0.0)  # the score is P(YES) itself


@pytest.mark.parametrize(
    ("calibration", "p_yes", "similarity", "expected"),
    [
        pytest.param(IDENTITY, 0.7, 0.9, 0.7, id="identity-is-p-yes"),
        pytest.param(IDENTITY, 0.0, 0.0, 1e-4, id="clamped-at-zero"),
        pytest.param(IDENTITY, 1.0, 0.0, 1 - 1e-4, id="clamped-at-one"),
        pytest.param(Calibration(1.0, 2.0, 3.0), 0.5, 1.0, 1 / (1 + math.exp(-4.0)), id="bias-plus-similarity"),
        pytest.param(Calibration(0.0, 2.0, 0.0), 0.75, 0.0, 0.9, id="yes-weight-squares-odds"),
        pytest.param(Calibration(-1.0, 0.0, 2.0), 0.1, 0.5, 0.5, id="similarity-cancels-bias"),
    ],
)
def test_calibration_probability(calibration: Calibration, p_yes: float, similarity: float, expected: float) -> None:
    assert calibration.probability(p_yes, similarity) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("p_yes", "similarity", "supported"),
    [
        pytest.param(0.9, 0.8, True, id="confident-yes-close-evidence"),
        pytest.param(0.1, 0.2, False, id="no-and-distant-evidence"),
        pytest.param(0.5, 0.1, False, id="undecided-model-unrelated-evidence"),
        pytest.param(0.1, 0.6, False, id="a-clear-no-outweighs-close-evidence"),
    ],
)
def test_default_calibration_orders_clear_cases(p_yes: float, similarity: float, supported: bool) -> None:
    assert (DEFAULT_CALIBRATION.probability(p_yes, similarity) >= 0.5) is supported


def test_default_threshold_is_one_half() -> None:
    assert DEFAULT_CALIBRATION.threshold == 0.5


@pytest.mark.parametrize(
    ("threshold", "claim", "supported"),
    [
        pytest.param(0.75, "Prices rose sharply", True, id="all-words"),
        pytest.param(0.75, "Prices rose sharply in Berlin", True, id="three-of-four-at-threshold"),
        pytest.param(0.8, "Prices rose sharply in Berlin", False, id="three-of-four-below-threshold"),
        pytest.param(0.75, "Wages fell", False, id="no-words"),
    ],
)
def test_overlap_judge(threshold: float, claim: str, supported: bool) -> None:
    judgement = OverlapJudge(threshold).judge(claim, ["Prices rose sharply last year."], 0.0)
    assert judgement.supported is supported
    assert judgement.judge == "overlap"
    assert judgement.signals == {"coverage": judgement.score}
    assert judgement.score == pytest.approx(coverage(claim, ["Prices rose sharply last year."]))


def test_overlap_judge_default_threshold() -> None:
    assert OverlapJudge().threshold == 0.75


@pytest.mark.parametrize(
    ("p_yes", "calibration", "supported"),
    [
        pytest.param(0.9, DEFAULT_CALIBRATION, True, id="yes"),
        pytest.param(0.05, DEFAULT_CALIBRATION, False, id="no"),
        pytest.param(0.6, Calibration(0.0, 1.0, 0.0, threshold=0.7), False, id="below-raised-threshold"),
        pytest.param(0.3, Calibration(-1.0, 1.0, 3.0), True, id="similarity-lifts-a-doubtful-yes"),
    ],
)
def test_llm_judge_verdict_follows_calibration(p_yes: float, calibration: Calibration, supported: bool) -> None:
    evidence = ["Glaciers in Patagonia retreated by 2 km."]
    judge = LLMJudge(FakeChat(p_yes), Prompts(), calibration)
    judgement = judge.judge("Patagonian glaciers retreated", evidence, 0.8)
    assert judgement.supported is supported
    assert judgement.score == pytest.approx(calibration.probability(p_yes, 0.8))
    assert judgement.signals == {"p_yes": p_yes, "similarity": 0.8}
    assert judgement.judge == "llm:fake-model"


def test_llm_judge_prompt_holds_the_claim_and_every_evidence_sentence() -> None:
    chat = FakeChat(0.9)
    evidence = ["Around 200 Tajiks fought in Syria.", "Most were recruited in Russia."]
    LLMJudge(chat, Prompts()).judge("About 200 Tajiks fought abroad", evidence, 0.5)
    (messages,) = chat.calls
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "YES" in messages[0]["content"] and "NO" in messages[0]["content"]
    user = messages[1]["content"]
    assert "Hypothesis: About 200 Tajiks fought abroad" in user
    assert user.index(evidence[0]) < user.index(evidence[1]) < user.index("Hypothesis:")


@pytest.mark.parametrize(
    ("verification", "kind", "name", "threshold"),
    [
        pytest.param({"judge": "overlap"}, OverlapJudge, "overlap", 0.75, id="overlap"),
        pytest.param({"judge": "openai"}, LLMJudge, "llm:served-model", 0.5, id="openai-default-threshold"),
        pytest.param({"judge": "openai", "threshold": 0.8}, LLMJudge, "llm:served-model", 0.8, id="openai-threshold"),
    ],
)
def test_backends_build_the_judge_named_by_settings(tmp_path, verification: dict, kind, name: str, threshold) -> None:
    settings = fast_settings(tmp_path, verification=verification, openai={"model": "served-model"})
    judge = Backends(settings).judge  # the OpenAI client is made on first use: nothing is contacted here
    assert (type(judge), judge.name) == (kind, name)
    assert (judge.calibration.threshold if isinstance(judge, LLMJudge) else judge.threshold) == threshold
