"""Judge: does this evidence state this claim? A small LLM's YES/NO odds combined with embedding similarity."""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from typing import Protocol

from assistant.components.llm import ChatModel
from assistant.components.prompts import Prompts
from assistant.records import Judgement

WORD = re.compile(r"[^\W_]+", re.UNICODE)
_STOPWORDS = frozenset(
    """a an the of to in on at for by with from and or but is are was
    were be been being has have had it its this that these those as than then there their
    they he she his her him we our you your i not no do does did so such
    into about over under after before between also can could would should may might will shall which who
    whom whose what when where why how all any some more most other only very""".split()  # noqa: SIM905
)
_VERB = r"(?:claims?|states?|says?|reports?|argues?|notes?|writes?|suggests?|asserts?|mentions?|estimates?|alleges?)"
_NEGATOR = r"(?:never|not|nowhere|no|hardly|neither|nor|falsely|wrongly)\b"  # "The article never claims that"
_ATTRIBUTION = re.compile(
    r"^(?:according to [^,]{1,80},\s*"  # According to the article, ...
    rf"|[\"“][^\"”]{{1,200}}[\"”] {_VERB}:?\s*"  # "Title" states: ...
    rf"|(?:the|this|one|another) (?:article|author|document|source|report|text|passage|writer)s?"
    rf"(?: (?!{_NEGATOR})\w+)? {_VERB}"
    r"(?: that)?:?\s*"  # The article claims that ...
    rf"|S\d+ {_VERB}(?: that)?:?\s*)",  # S2 reports that ...
    re.IGNORECASE,
)


def strip_attribution(claim: str) -> str:
    """The claim without "The article claims that" in front: the judge weighs what is claimed.

    >>> strip_attribution("According to the article, prices rose.")
    'prices rose.'
    """
    return _ATTRIBUTION.sub("", claim.strip(), count=1) or claim


# Words by which a text doubts what it reports ("allegedly", "is said to"). Attributions ("according
# to the census", "the opposition claimed") are not among them: they name a source, not a doubt.
DOUBT = re.compile(
    r"\b(?:allegedly|reportedly|purportedly|supposedly|ostensibly|apparently|rumou?red|unconfirmed|unverified"
    r"|(?:is|are|was|were) (?:said|believed|thought|claimed|alleged|reported|rumou?red) to|alleged)\b",
    re.IGNORECASE,
)
# Words by which it only supposes, in the uses that are rarely anything else: "may be", "could have",
# "probably", "suggests that"; not "may stay" (allowed), "could enter" (able) or "more likely" (a rate).
SUPPOSITION = re.compile(
    r"\b(?:might|(?:may|could) (?:be|have|well)|possibly|perhaps|probably|presumably"
    r"|(?<!more )(?<!less )(?:un)?likely|(?:appears?|seems?) to|suggest(?:s|ed)? that)\b",
    re.IGNORECASE,
)
# A sentence keeps a supposition in any modal wording of its own ("may face" for "may be deported").
_MODAL = re.compile(
    r"\b(?:may|might|could|would|possibly|perhaps|probably|presumably|(?:un)?likely|appears?|seems?|suggest(?:s|ed)?)\b",
    re.IGNORECASE,
)
_ATTRIBUTED = re.compile(
    rf"\b(?:article|author|document|source|report|text|passage|writer|S\d+)s?\b(?: \w+)? {_VERB}\b"
    rf"|[\"”] {_VERB}\b"  # "Title" states
    r"|\baccording to\b|\bclaim(?:s|ed)?\b",
    re.IGNORECASE,
)


def attributed(claim: str) -> bool:
    """Whether the claim says whose it is ("The article claims ...", "..., the author says",
    "according to ...") or keeps a doubt ("reportedly").

    >>> attributed("Prices rose, the article claims."), attributed("Prices rose.")
    (True, False)
    """
    return bool(_ATTRIBUTED.search(claim) or DOUBT.search(claim))


def keeps(hedge: str, claim: str) -> bool:
    """Whether the claim keeps the force of its source's `hedge`: a doubt ("allegedly") is kept by a
    doubt or an attribution, a supposition ("may be") also by any modal word ("could", "likely").

    >>> keeps("allegedly", "Prices could rise."), keeps("may be", "Prices could rise.")
    (False, True)
    """
    return attributed(claim) or (not DOUBT.fullmatch(hedge) and bool(_MODAL.search(claim)))


class Judge(Protocol):
    """Decides whether evidence states a claim.

    `evidence`: the few sentences chosen for the claim (what a model reads); `similarity`: the best
    embedding similarity between the claim and one of them."""

    name: str

    def judge(self, claim: str, evidence: list[str], similarity: float) -> Judgement: ...


def _stem(word: str) -> str:
    word = word.lower()
    for suffix in ("ing", "ed", "es", "s", "ly"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> set[str]:
    return {_stem(w) for w in WORD.findall(text) if w.lower() not in _STOPWORDS}


def coverage(claim: str, evidence: list[str]) -> float:
    """Share of the claim's content words (crudely stemmed) that the evidence contains.

    >>> coverage("Glaciers retreated quickly", ["The glacier retreats slowly."])
    0.6666666666666666
    """
    words = content_words(claim)
    if not words:
        return 1.0
    return len(words & content_words(" ".join(evidence))) / len(words)


@dataclass(frozen=True, slots=True)
class Calibration:
    """Logistic weights over the judge's signals: support = sigmoid(bias + yes * logit(P(YES))
    + similarity * best sentence similarity).

    Word coverage is not a signal here: its fitted weight changes sign from one evaluation set to
    the other. It counts where it travels, in choosing the sentences the model reads."""

    bias: float
    yes: float
    similarity: float
    threshold: float = 0.5

    def probability(self, p_yes: float, similarity: float) -> float:
        weights = (self.bias, self.yes, self.similarity)
        z = sum(w * x for w, x in zip(weights, features(p_yes, similarity), strict=True))
        return 1 / (1 + math.exp(-z))


def features(p_yes: float, similarity: float) -> tuple[float, float, float]:
    """What the calibration weighs: a constant, the log-odds of YES (clamped), similarity."""
    p_yes = min(max(p_yes, 1e-4), 1 - 1e-4)
    return 1.0, math.log(p_yes / (1 - p_yes)), similarity


# Fitted by `scripts/eval_judge.py --fit` on ../shared/eval/claims.jsonl (358 claims, both classes
# weighted equally) with Qwen2.5-Coder-1.5B asked whether 3 evidence sentences entail the claim.
# Three numbers fitted on 358 rows: the README gives the cross-validated accuracy beside the in-sample one.
DEFAULT_CALIBRATION = Calibration(bias=-1.125, yes=0.849, similarity=2.778)


class LLMJudge:
    """A chat model asked YES/NO, its odds read from the first token, combined with embedding
    similarity by a fitted logistic calibration."""

    def __init__(self, chat: ChatModel, prompts: Prompts, calibration: Calibration = DEFAULT_CALIBRATION) -> None:
        self.chat = chat
        self.prompts = prompts
        self.calibration = calibration
        self.name = f"llm:{chat.model}"

    def judge(self, claim: str, evidence: list[str], similarity: float) -> Judgement:
        started = time.perf_counter()
        messages = [
            {"role": "system", "content": self.prompts.render("judge_system")},
            {"role": "user", "content": self.prompts.render("judge_user", claim=claim, evidence=evidence)},
        ]
        p_yes = self.chat.yes_probability(messages)
        score = self.calibration.probability(p_yes, similarity)
        seconds = time.perf_counter() - started
        signals = {"p_yes": p_yes, "similarity": similarity}
        return Judgement(score >= self.calibration.threshold, score, seconds, self.name, signals)


class OverlapJudge:
    """No model: supported when most of the claim's content words are in the evidence. Instant and
    crude (it cannot see negation or paraphrase); the fallback when no judge model is installed."""

    name = "overlap"

    def __init__(self, threshold: float = 0.75) -> None:
        self.threshold = threshold

    def judge(self, claim: str, evidence: list[str], similarity: float) -> Judgement:
        started = time.perf_counter()
        score = coverage(claim, evidence)
        seconds = time.perf_counter() - started
        return Judgement(score >= self.threshold, score, seconds, self.name, {"coverage": score})
