"""Verify: give each claim verbatim quotes from the passages it cites, run the checks, and a verdict."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from assistant.components.checks import missing_names, missing_numbers, names_in
from assistant.components.cite import find_quote, normalise, quoted_spans, sentence_spans, shortened
from assistant.components.embed import Embedder
from assistant.components.judge import (
    DOUBT,
    SUPPOSITION,
    WORD,
    Judge,
    attributed,
    content_words,
    keeps,
    strip_attribution,
)
from assistant.records import Citation, Claim, Judgement, ParsedDocument, Reason, Source

JUDGE_SENTENCE_CHARS = 400
# In choosing evidence, a sentence's share of the claim's words not yet chosen counts as much as its
# similarity: on claims.jsonl the judge's P(YES) ranks claims at AUC 0.781 against 0.766 for the
# 3 most similar sentences (0.778 at half this weight, 0.785 at twice).
COVERAGE_WEIGHT = 1.0
PASSAGES_CACHED = 64
# A quotation this short ("national composition") locates its source, but the sentence around it is
# what shows the reader the rest of the claim: that sentence is the citation's quote.
SHORT_QUOTATION_WORDS = 4
# Fails any statement: a wrong count or date is the error a reader most needs caught. On
# claims.jsonl it costs 0.015 balanced accuracy (dates the annotators let pass), where a missing
# name as a veto cost 0.05, as names are often worded differently.
ALWAYS_DECISIVE = frozenset({"number_not_in_source"})
# doc_id -> the stored document (a quotation may come from outside the retrieved passage)
DocumentLookup = Callable[[str], ParsedDocument | None]


@dataclass(frozen=True, slots=True)
class Evidence:
    """One sentence of a cited passage, located in its document."""

    source: Source
    text: str
    start: int  # offsets into the document text
    end: int
    similarity: float


class Verifier:
    """Checks claims against the sources they cite.

    >>> claim = Verifier(embedder, judge, documents).check(claim, {"S1": source})
    >>> claim.verdict, [c.quote for c in claim.citations]
    ('supported', ['Some 1.2 million Tajiks work in Russia.'])
    """

    def __init__(
        self, embedder: Embedder, judge: Judge, documents: DocumentLookup, evidence_sentences: int = 3
    ) -> None:
        self.embedder = embedder
        self.judge = judge
        self.documents = documents
        self.evidence_sentences = evidence_sentences
        # The sentences of a passage, their vectors and words: an answer's sentences cite the same few
        # passages. A claim's vector too: an uncited sentence selects evidence twice (all passages, then
        # the ones it is checked against).
        self._sentences = lru_cache(maxsize=PASSAGES_CACHED)(self._embedded_sentences)
        self._query = lru_cache(maxsize=PASSAGES_CACHED)(embedder.embed_query)

    def check(self, claim: Claim, sources: dict[str, Source], *, own_answer: bool = True) -> Claim:
        """Fill the claim's citations, reasons and verdict (in place) and return it.

        For a sentence of the assistant's own answer (`own_answer`), each cited passage is quoted,
        and a quotation, number or name missing from the cited passages fails the sentence
        outright: the model had the passages in front of it, so it invented that detail. A
        statement from elsewhere (`verify`) may word names and quotations differently from its
        source, so there only a missing number is decisive; otherwise the calibrated judge
        decides, and what is missing is given as the reason when it fails.
        """
        cited = [sources[key] for key in claim.keys if key in sources]
        if not cited:
            claim.verdict = "uncited"
            claim.reasons = [_uncited_reason(claim)]
            if own_answer and not claim.unknown_keys and sources:
                self._find_sources(claim, sources)
            return claim
        evidence = self.select_evidence(claim.text, cited, every_source=own_answer)
        claim.citations, quote_reasons = self._citations(claim, cited, evidence)
        checked = cited if own_answer else [e.source for e in evidence]
        quoted = [c.quote for c in claim.citations]  # a quotation may lie outside the cited passage
        names = _names(sources.values())
        details = quote_reasons + _deterministic_reasons(claim.text, list(dict.fromkeys(checked)), quoted, names)
        if own_answer and details:
            details = _point_to_uncited(details, claim, [s for s in sources.values() if s not in cited], names)
        if own_answer and (hedge := _dropped_hedge(claim.text, evidence)):
            details.append(Reason("stated_as_fact", f'the source says "{hedge}"; the sentence states it as fact'))
        claim.judgement = self._judge(claim, evidence, quote_reasons)
        failed = not claim.judgement.supported
        claim.reasons = [r for r in details if own_answer or failed or r.code in ALWAYS_DECISIVE]
        if failed:
            claim.reasons.append(Reason("not_stated", "the cited passages do not state this"))
        claim.verdict = "unsupported" if claim.reasons else "supported"
        return claim

    def _find_sources(self, claim: Claim, sources: dict[str, Source]) -> None:
        """An answer's sentence that cites nothing (small models often cite once, at the end of a
        paragraph), checked against every passage the answer was written from, by the same rules as
        a cited one. The passages of its closest sentences become its sources when the checks pass;
        the claim is then supported, its sources marked as found by the checker. Otherwise it stays
        uncited. Only as many of those passages are cited as its numbers and names need; when even
        all of them lack one, the judge is not asked."""
        claim.reasons = [Reason("no_citation", "cites no source, and no retrieved passage states it")]
        evidence = self.select_evidence(claim.text, list(sources.values()), every_source=False)
        closest = list(dict.fromkeys(e.source.key for e in sorted(evidence, key=lambda e: -e.similarity)))
        enough = (closest[:n] for n in range(1, len(closest) + 1))
        names = _names(sources.values())
        keys = next(
            (k for k in enough if not _deterministic_reasons(claim.text, [sources[s] for s in k], [], names)), None
        )
        if keys is None:  # no sentence to stand on, or a number or name none of those passages has
            return
        trial = self.check(Claim(claim.text, keys=keys), sources)  # cites passages: it cannot come back here
        if trial.verdict == "supported":
            claim.keys, claim.citations, claim.verdict, claim.reasons = trial.keys, trial.citations, "supported", []
            claim.cited_by = "checker"
        if trial.verdict == "supported" or not trial.judgement.supported:  # shown where it decided
            claim.judgement = trial.judgement

    def _judge(self, claim: Claim, evidence: list[Evidence], quote_reasons: list[Reason]) -> Judgement:
        """A claim that only repeats a quotation found verbatim is supported by that finding; the
        rest goes to the judge."""
        statement = strip_attribution(claim.text)
        quotations = quoted_spans(claim.text)
        elided = any(_has_ellipsis(q) for q in quotations)  # what was left out may change the meaning
        if quotations and not quote_reasons and not elided and _is_only_quotation(statement, quotations):
            return Judgement(True, 1.0, 0.0, "verbatim")
        similarity = max((e.similarity for e in evidence), default=0.0)
        # cut: a run-on "sentence" (a web page's menu, a table) would set the judge's time
        sentences = [shortened(e.text, JUDGE_SENTENCE_CHARS) for e in evidence]
        return self.judge.judge(statement, sentences, similarity)

    def select_evidence(self, claim: str, cited: list[Source], every_source: bool = True) -> list[Evidence]:
        """The sentences of the cited passages that together cover the claim, in reading order: chosen
        one at a time for closeness in meaning plus the share of the claim's words they add (so the
        model reads the sentences that hold the claim's details, not three wordings of its gist).
        With `every_source`, each cited passage contributes at least its closest sentence."""
        embedded = [self._sentences(source.hit.chunk.text) for source in cited]
        candidates = [(source, start, end) for source, (spans, _, _) in zip(cited, embedded) for start, end in spans]
        if not candidates:
            return []
        vectors = np.concatenate([vectors for spans, vectors, _ in embedded if spans])
        similarity = vectors @ self._query(claim)
        words = [sentence for _, _, words in embedded for sentence in words]
        chosen = _covering(content_words(strip_attribution(claim)), words, similarity, self.evidence_sentences)
        for source in cited if every_source else []:
            own = [i for i, (s, _, _) in enumerate(candidates) if s is source]
            chosen.add(max(own, key=lambda i: similarity[i]))
        return [_evidence(candidates[i], float(similarity[i])) for i in sorted(chosen)]

    def _embedded_sentences(
        self, passage: str
    ) -> tuple[tuple[tuple[int, int], ...], np.ndarray | None, tuple[frozenset[str], ...]]:
        spans = tuple(sentence_spans(passage))
        texts = [passage[start:end] for start, end in spans]
        vectors = self.embedder.embed_documents(texts) if spans else None
        return spans, vectors, tuple(frozenset(content_words(text)) for text in texts)

    def _citations(
        self, claim: Claim, cited: list[Source], evidence: list[Evidence]
    ) -> tuple[list[Citation], list[Reason]]:
        """A quote for each cited source: the sentence's own quotation where it makes one (and it
        is found verbatim), else the source's sentence that best matches the claim."""
        citations: dict[str, Citation] = {}
        reasons = []
        titles = {normalise(source.hit.title) for source in cited}
        for quotation in quoted_spans(claim.text):
            if normalise(quotation) in titles:  # '"Title" states: ...' names the document, it does not quote it
                continue
            found = self._locate_quotation(quotation, cited)
            if found is None:
                reasons.append(Reason("quote_not_found", f'"{quotation}" is not in the cited documents'))
            elif found.key not in citations:
                citations[found.key] = found
        for item in sorted(evidence, key=lambda e: -e.similarity):
            shown = {(c.doc_id, c.start, c.end) for c in citations.values()}
            same_text = (item.source.hit.chunk.doc_id, item.start, item.end) in shown  # overlapping chunks
            if item.source.key not in citations and not same_text:
                citations[item.source.key] = self._cite(item)
        order = {source.key: i for i, source in enumerate(cited)}
        return sorted(citations.values(), key=lambda c: order[c.key]), reasons

    def _locate_quotation(self, quotation: str, cited: list[Source]) -> Citation | None:
        """The quotation in a cited passage (a short one with its sentence), else anywhere in a cited
        document. The passage is searched first: it is where the quotation usually is, and the whole
        document is read only when it is not."""
        for source in cited:
            chunk = source.hit.chunk
            if span := find_quote(quotation, chunk.text):
                if len(quotation.split()) <= SHORT_QUOTATION_WORDS:
                    around = (s for s in self._sentences(chunk.text)[0] if s[0] <= span[0] and span[1] <= s[1])
                    span = next(around, span)
                document = self.documents(chunk.doc_id) if chunk.page is not None else None  # pages need it
                start, end = span[0] + chunk.start, span[1] + chunk.start
                return _citation(source, start, end, chunk.text[span[0] : span[1]], document)
        for source in cited:  # a document is None for given evidence, or one deleted since retrieval
            chunk = source.hit.chunk
            document = self.documents(chunk.doc_id)
            within = (chunk.start, chunk.end)  # it may begin in the passage and run on past its end
            if document is not None and (span := find_quote(quotation, document.text, within=within)):
                return _citation(source, span[0], span[1], document.text[span[0] : span[1]], document)
        return None

    def _cite(self, evidence: Evidence) -> Citation:
        chunk = evidence.source.hit.chunk
        document = self.documents(chunk.doc_id) if chunk.page is not None else None  # pages need the document
        return _citation(evidence.source, evidence.start, evidence.end, evidence.text, document)


def _covering(
    claim_words: AbstractSet[str], words: Sequence[AbstractSet[str]], similarity: np.ndarray, count: int
) -> set[int]:
    """Greedy: each step takes the sentence with the best similarity plus share of the claim's words
    that no chosen sentence has yet."""
    chosen: set[int] = set()
    covered: set[str] = set()
    for _ in range(min(count, len(words))):
        added = np.array([len((sentence & claim_words) - covered) for sentence in words]) / max(len(claim_words), 1)
        gain = similarity + COVERAGE_WEIGHT * added
        gain[list(chosen)] = -np.inf
        best = int(np.argmax(gain))
        chosen.add(best)
        covered |= words[best] & claim_words
    return chosen


def _has_ellipsis(quotation: str) -> bool:
    return "..." in quotation or "…" in quotation


def _is_only_quotation(statement: str, quotations: list[str]) -> bool:
    rest = normalise(statement)
    for quotation in quotations:
        rest = rest.replace(normalise(quotation), "")
    return not rest.strip(" \"'.,;:")


def _evidence(candidate: tuple[Source, int, int], similarity: float) -> Evidence:
    source, start, end = candidate
    chunk = source.hit.chunk
    return Evidence(source, chunk.text[start:end], chunk.start + start, chunk.start + end, similarity)


def _citation(source: Source, start: int, end: int, quote: str, document: ParsedDocument | None) -> Citation:
    hit = source.hit
    chunk = hit.chunk
    page = document.page_at(start) if document is not None and document.pages else chunk.page
    return Citation(source.key, chunk.doc_id, chunk.chunk_id, hit.title or chunk.doc_id, quote, start, end, page)


def _uncited_reason(claim: Claim) -> Reason:
    if claim.unknown_keys:
        keys = ", ".join(claim.unknown_keys)
        return Reason("unknown_source", f"cites {keys}, which no retrieved passage has")
    return Reason("no_citation", "cites no source")


HEDGE_REACH = 40  # characters before the claim's first word in its source sentence that a hedge may stand
_CLAUSE_BREAK = re.compile(r"[;:]|,\s+(?:and|but|while|whereas)\b|\bbut\b")


def _dropped_hedge(claim: str, evidence: list[Evidence]) -> str | None:
    """The hedge ("allegedly", "may be") governing what the claim takes from the evidence sentence
    closest to it, when the claim does not keep it (`keeps`): the claim then states as fact what its
    source only reports or supposes. Governing: standing within the stretch of the sentence that
    holds the claim's words, or shortly before it in the same clause; not in a clause the claim left out."""
    if not evidence or attributed(claim):
        return None
    sentence = max(evidence, key=lambda e: e.similarity).text
    words = content_words(strip_attribution(claim))
    shared = [m for m in WORD.finditer(sentence) if content_words(m.group(0)) & words]
    if not shared:
        return None
    first, end = shared[0].start(), shared[-1].end()
    hedges = sorted([*DOUBT.finditer(sentence), *SUPPOSITION.finditer(sentence)], key=lambda m: m.start())
    for hedge in hedges:
        before = hedge.start() < first
        if not first - HEDGE_REACH <= hedge.start() < end:
            continue
        if before and _CLAUSE_BREAK.search(sentence[hedge.end() : first]):
            continue
        if not keeps(hedge.group(0), claim):
            return hedge.group(0)
    return None


def _names(sources: Iterable[Source]) -> frozenset[str]:
    """The names the passages use mid-sentence: a sentence that opens with one of them ("Putin
    warned...") must find it in its cited passages too."""
    return frozenset().union(*(_passage_names(source.hit.chunk.text) for source in sources))


@lru_cache(maxsize=PASSAGES_CACHED)
def _passage_names(passage: str) -> frozenset[str]:
    """Every sentence of an answer asks this of the same passages: read each once."""
    return frozenset(names_in(passage))


def _deterministic_reasons(text: str, cited: list[Source], quotes: list[str], names: frozenset[str]) -> list[Reason]:
    """The claim's numbers and names missing from the cited passages. A document's title counts as
    stated ("The Harvest Review 2019 says ...")."""
    evidence = "\n".join([source.hit.chunk.text for source in cited] + quotes)
    titles = " ".join(source.hit.title for source in cited)
    reasons = []
    if numbers := missing_numbers(text, f"{evidence}\n{titles}"):
        reasons.append(Reason("number_not_in_source", f"{', '.join(numbers)} not in the cited passages"))
    if missing := missing_names(_without_keys(text), evidence, allowed=titles, names=names):
        reasons.append(Reason("name_not_in_source", f"{', '.join(missing)} not in the cited passages"))
    return reasons


def _point_to_uncited(
    reasons: list[Reason], claim: Claim, uncited: list[Source], names: frozenset[str]
) -> list[Reason]:
    """Say so when another retrieved passage has the details the cited ones lack: a miscitation."""
    fitting = [s.key for s in uncited if not _deterministic_reasons(claim.text, [s], [], names)]
    if not fitting:
        return reasons
    hint = f" ({', '.join(fitting)}, which it does not cite, has them)"
    details = ("number_not_in_source", "name_not_in_source")
    return [Reason(r.code, r.detail + hint) if r.code in details else r for r in reasons]


def _without_keys(text: str) -> str:
    return re.sub(r"\bS\d+\b", "", text)  # "According to S2, ..." names a source, not a person
