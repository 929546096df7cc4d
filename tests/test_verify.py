"""Verify: verdicts, reason codes and verbatim quotes with document offsets, on hand-built passages."""

from __future__ import annotations

import re
from dataclasses import asdict
from unittest.mock import ANY

import numpy as np
import pytest

from assistant.components.cite import sentence_spans, split_claims
from assistant.components.embed import HashingEmbedder
from assistant.components.judge import OverlapJudge
from assistant.components.verify import Verifier, _covering
from assistant.present import claim_json, verify_json
from assistant.records import Chunk, Claim, Hit, Judgement, Page, ParsedDocument, Source

MIGRATION = (
    "A short preface by Anna Petrova opens these notes. Tajikistan suffers from poverty and high unemployment. "
    "Some 3 million Tajiks work in Russia as labour migrants. They send money home to their families. "
    "The economy benefits from these remittances."
)
WAR = "Around 200 Tajiks fought in Syria. Most of them were recruited in Russia."


def passage(doc_id: str, title: str, text: str, start: int, end: int | None = None, page: int | None = None) -> Hit:
    end = len(text) if end is None else end
    return Hit(Chunk(f"{doc_id}-c", doc_id, 0, start, end, text[start:end], page), title, f"{doc_id}.txt", 1.0)


DOCUMENTS = {
    "mig": ParsedDocument("mig", "mig", "Migration Notes", "mig.txt", MIGRATION),
    "war": ParsedDocument("war", "war", "War Notes", "war.txt", WAR),
}
SOURCES = {
    "S1": Source("S1", passage("mig", "Migration Notes", MIGRATION, MIGRATION.index("Tajikistan"))),
    "S2": Source("S2", passage("war", "War Notes", WAR, 0)),
}


class FakeJudge:
    """Says `supported` to everything and records what it was asked."""

    name = "fake"

    def __init__(self, supported: bool) -> None:
        self.supported = supported
        self.calls: list[tuple[str, list[str]]] = []

    def judge(self, claim: str, evidence: list[str], similarity: float) -> Judgement:
        self.calls.append((claim, evidence))
        return Judgement(self.supported, float(self.supported), 0.0, self.name)


def verifier(judge=None, evidence_sentences: int = 3, documents=DOCUMENTS) -> Verifier:
    return Verifier(HashingEmbedder(), judge or OverlapJudge(), documents.get, evidence_sentences)


def check(draft: str, judge=None, **kwargs) -> Claim:
    (claim,) = split_claims(draft, set(SOURCES))
    return verifier(judge).check(claim, SOURCES, **kwargs)


CASES = [
    # (draft, verdict, reason codes, judge, {key: quote})
    pytest.param(
        "Some 3 million Tajiks work in Russia [S1].", "supported", [], "overlap",
        {"S1": "Some 3 million Tajiks work in Russia as labour migrants."}, id="supported-paraphrase",
    ),
    pytest.param(
        "Some 5 million Tajiks work in Russia [S1].", "unsupported", ["number_not_in_source"], "overlap",
        {"S1": "Some 3 million Tajiks work in Russia as labour migrants."}, id="number-not-in-source",
    ),
    pytest.param(
        "Some 3 million Tajiks work in Moscow [S1].", "unsupported", ["name_not_in_source"], "overlap",
        {"S1": "Some 3 million Tajiks work in Russia as labour migrants."}, id="name-not-in-source",
    ),
    # a sentence citing nothing is checked against every retrieved passage, by the same rules
    pytest.param(
        "Tajiks work in Russia.", "supported", [], "overlap",
        {"S1": "Some 3 million Tajiks work in Russia as labour migrants."}, id="no-citation-source-found",
    ),
    pytest.param(
        "Some 3 million Tajiks work in Russia and around 200 fought in Syria.", "supported", [], "overlap",
        {"S1": "Some 3 million Tajiks work in Russia as labour migrants.", "S2": "Around 200 Tajiks fought in Syria."},
        id="no-citation-two-sources-found",
    ),
    pytest.param("The penguins dance on ice floes.", "uncited", ["no_citation"], "overlap", {}, id="no-citation"),
    # a number no retrieved passage has: the judge is not asked
    pytest.param("Some 5 million Tajiks work in Russia.", "uncited", ["no_citation"], None, {}, id="no-citation-number"),
    pytest.param("Tajiks work in Russia [S7].", "uncited", ["unknown_source"], None, {}, id="unknown-source"),
    pytest.param(
        "The penguins dance on ice floes [S1].", "unsupported", ["not_stated"], "overlap",
        {"S1": ANY}, id="not-stated",
    ),
    pytest.param(
        'The article says "Some 3 million Tajiks work in Russia" [S1].', "supported", [], "verbatim",
        {"S1": "Some 3 million Tajiks work in Russia"}, id="verbatim-quotation",
    ),
    pytest.param(
        '"Migration Notes" states: "They send money home to their families." [S1]', "supported", [], "verbatim",
        {"S1": "They send money home to their families."}, id="title-states-quotation",
    ),
    pytest.param(
        "The article says \u201csome 3 million Tajiks work\u201d [S1].", "unsupported", ["quote_not_found"], "overlap",
        {"S1": "Some 3 million Tajiks work in Russia as labour migrants."}, id="quote-not-verbatim-case",
    ),
    pytest.param(  # a short quotation is shown with its sentence
        'Tajikistan suffers from "high unemployment" [S1].', "supported", [], "overlap",
        {"S1": "Tajikistan suffers from poverty and high unemployment."}, id="short-quotation-with-its-sentence",
    ),
    pytest.param(
        'The article says "opens these notes" [S1].', "supported", [], "verbatim",
        {"S1": "opens these notes"}, id="quotation-outside-the-passage-in-its-document",
    ),
    pytest.param(
        "Some 3 million Tajiks work in Russia and around 200 fought in Syria [S1][S2].", "supported", [], "overlap",
        {"S1": "Some 3 million Tajiks work in Russia as labour migrants.", "S2": "Around 200 Tajiks fought in Syria."},
        id="two-sources-each-quoted",
    ),
    pytest.param(
        "Around 200 Tajiks fought in Syria [S1].", "unsupported",
        ["number_not_in_source", "name_not_in_source", "not_stated"], "overlap", {"S1": ANY}, id="wrong-source-cited",
    ),
    pytest.param(
        'The article says "A short preface by Anna Petrova opens these notes" [S1].', "supported", [], "verbatim",
        {"S1": "A short preface by Anna Petrova opens these notes"}, id="capitalised-quotation-outside-the-passage",
    ),
    pytest.param(
        "Reportedly, some 3 million Tajiks work in Russia [S1].", "supported", [], "overlap",
        {"S1": "Some 3 million Tajiks work in Russia as labour migrants."}, id="hedged-with-reportedly",
    ),
    pytest.param(  # not a plain attribution: the quotation found verbatim does not settle it
        'The article never claims that "Some 3 million Tajiks work in Russia" [S1].', "unsupported", ["not_stated"],
        "overlap", {"S1": "Some 3 million Tajiks work in Russia"}, id="negated-attribution-is-judged",
    ),
    pytest.param(  # "Syria" is a name mid-sentence in S2, so opening a sentence it is still checked
        "Syria suffers from poverty and high unemployment [S1].", "unsupported", ["name_not_in_source"], "overlap",
        {"S1": "Tajikistan suffers from poverty and high unemployment."}, id="name-opening-the-sentence",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("draft", "verdict", "codes", "judge", "quotes"), CASES)
def test_check(draft: str, verdict: str, codes: list[str], judge: str | None, quotes: dict[str, str]) -> None:
    claim = check(draft)
    assert (claim.verdict, [reason.code for reason in claim.reasons]) == (verdict, codes)
    assert (claim.judgement and claim.judgement.judge) == judge
    assert {citation.key: citation.quote for citation in claim.citations} == quotes
    for citation in claim.citations:
        assert DOCUMENTS[citation.doc_id].text[citation.start : citation.end] == citation.quote
        assert citation.chunk_id == SOURCES[citation.key].hit.chunk.chunk_id
        assert citation.title == SOURCES[citation.key].hit.title


def test_a_number_in_the_cited_documents_title_is_stated_by_it() -> None:
    text = "The harvest came early and was the largest in a decade."
    sources = {"S1": Source("S1", passage("hr", "Harvest Review 2019", text, 0))}
    (claim,) = split_claims(f'"Harvest Review 2019" states: "{text}" [S1]', set(sources))
    assert verifier().check(claim, sources).verdict == "supported"


HEDGED = "The Russian Federation has allegedly around 3 million Tajiks working as labour migrants."
CLAIM = "The Russian Federation has around 3 million Tajik labour migrants"


@pytest.mark.parametrize(
    ("evidence", "draft", "own_answer", "codes"),
    [
        pytest.param(HEDGED, f"{CLAIM} [S1].", True, ["stated_as_fact"], id="hedge-dropped"),
        pytest.param(HEDGED, f"The article claims that {CLAIM.lower()} [S1].", True, [], id="attributed"),
        pytest.param(HEDGED, f"{CLAIM}, the article says [S1].", True, [], id="attributed-at-the-end"),
        pytest.param(HEDGED, "The Russian Federation reportedly has around 3 million Tajik labour migrants [S1].",
                     True, [], id="hedge-kept-in-other-words"),
        pytest.param(HEDGED, f"{CLAIM} [S1].", False, [], id="a-statement-to-verify-is-not-an-answer"),
        pytest.param("Exports rose by 5% in 2023, while rivals allegedly cut their prices.",
                     "Exports rose by 5% in 2023 [S1].", True, [], id="a-hedge-in-a-clause-left-out"),
        pytest.param("According to the 2010 census, some 1.2 million Tajiks live in Russia.",
                     "Some 1.2 million Tajiks live in Russia [S1].", True, [], id="an-attribution-is-not-a-hedge"),
        pytest.param("It is unconfirmed that some 1.2 million Tajiks live in Russia.",
                     "Some 1.2 million Tajiks live in Russia [S1].", True, ["stated_as_fact"], id="hedge-just-before"),
        pytest.param("Remittances may well fall by 2 billion dollars next year.",
                     "Remittances will fall by 2 billion dollars next year [S1].", True, ["stated_as_fact"], id="may-well"),
        pytest.param("The ban could have cost Russia 3 million workers.",
                     "The ban cost Russia 3 million workers [S1].", True, ["stated_as_fact"], id="could-have"),
        pytest.param("The data suggest that 3 million Tajiks work in Russia.",
                     "3 million Tajiks work in Russia [S1].", True, ["stated_as_fact"], id="suggest-that"),
        pytest.param("Some 3 million Tajiks may be deported from Russia.",
                     "Some 3 million Tajiks could be deported from Russia [S1].", True, [],
                     id="a-supposition-kept-in-another-modal"),
        pytest.param(HEDGED, f"{CLAIM}, who could face deportation [S1].", True, ["stated_as_fact"],
                     id="a-modal-elsewhere-does-not-keep-a-doubt"),
        pytest.param("In May 3 million Tajiks worked in Russia.",
                     "3 million Tajiks worked in Russia [S1].", True, [], id="the-month-is-no-hedge"),
        pytest.param("Migrants could not return to Russia after March.",
                     "Migrants were unable to return to Russia after March [S1].", True, [], id="could-not"),
        pytest.param("Before 2024, Tajiks could enter Russia without a visa.",
                     "Before 2024, Tajiks were able to enter Russia without a visa [S1].", True, [], id="could-of-ability"),
        pytest.param("Migrants may stay in Russia for 90 days without registering.",
                     "Migrants are allowed to stay in Russia for 90 days without registering [S1].", True, [],
                     id="may-of-permission"),
        pytest.param("Tajiks are three times more likely to be detained than Russians.",
                     "Tajiks are detained three times as often as Russians [S1].", True, [], id="more-likely-is-a-rate"),
        pytest.param("Officials may be meeting in June, and 3 million Tajiks work in Russia.",
                     "3 million Tajiks work in Russia [S1].", True, [], id="a-supposition-in-another-clause"),
    ],
)  # fmt: skip
def test_an_answer_that_drops_its_sources_hedge_states_as_fact(
    evidence: str, draft: str, own_answer: bool, codes: list[str]
) -> None:
    sources = {"S1": Source("S1", passage("hedged", "Notes", evidence, 0))}
    (claim,) = split_claims(draft, set(sources))
    claim = verifier().check(claim, sources, own_answer=own_answer)
    assert [reason.code for reason in claim.reasons] == codes
    assert claim.verdict == ("unsupported" if codes else "supported")
    if codes:
        said = re.fullmatch(r'the source says "(.+)"; the sentence states it as fact', claim.reasons[0].detail)
        assert said and f" {said.group(1)} " in f" {evidence} "


def test_citations_follow_the_order_of_the_keys() -> None:
    claim = check("Around 200 Tajiks fought in Syria and 3 million work in Russia [S2][S1].")
    assert [citation.key for citation in claim.citations] == ["S2", "S1"]


def test_check_fills_the_claim_in_place() -> None:
    (claim,) = split_claims("Some 3 million Tajiks work in Russia [S1].", set(SOURCES))
    assert verifier().check(claim, SOURCES) is claim and claim.verdict == "supported"


@pytest.mark.parametrize(
    ("supported", "verdict", "codes"),
    [
        pytest.param(True, "supported", [], id="judge-yes"),
        pytest.param(False, "unsupported", ["not_stated"], id="judge-no"),
    ],
)
def test_the_judge_decides_what_the_checks_pass(supported: bool, verdict: str, codes: list[str]) -> None:
    claim = check("Some 3 million Tajiks work in Russia [S1].", FakeJudge(supported))
    assert (claim.verdict, [reason.code for reason in claim.reasons]) == (verdict, codes)


def test_the_judge_gets_the_claim_without_attribution_and_the_evidence_sentences() -> None:
    judge = FakeJudge(True)
    check("The article states that Tajiks send money home [S1].", judge)
    ((statement, evidence),) = judge.calls
    assert statement == "Tajiks send money home."
    assert "They send money home to their families." in evidence
    assert 1 <= len(evidence) <= 3 and all(sentence in MIGRATION for sentence in evidence)


@pytest.mark.parametrize(
    "draft",
    [
        pytest.param('The article says "Some 3 million Tajiks work in Russia" [S1].', id="quotation"),
        pytest.param("Tajiks work in Russia [S7].", id="unknown-source"),
    ],
)
def test_the_judge_is_not_asked_when_there_is_nothing_to_judge(draft: str) -> None:
    judge = FakeJudge(False)
    check(draft, judge)
    assert judge.calls == []


def test_a_repeated_quotation_is_located_in_the_cited_passage() -> None:
    text = "The sea was cold that year. Nothing else happened. The sea was cold that year."
    document = ParsedDocument("sea", "sea", "Sea", "sea.txt", text)
    second = text.rindex("The sea")
    sources = {"S1": Source("S1", passage("sea", "Sea", text, text.index("Nothing"), len(text)))}
    (claim,) = split_claims('It says "The sea was cold that year" [S1].', {"S1"})
    verifier(documents={"sea": document}).check(claim, sources)
    assert [(c.start, c.end) for c in claim.citations] == [(second, second + len("The sea was cold that year"))]


def test_citation_page_is_the_page_of_the_quote() -> None:
    text = "Page one talks about bees in winter. Page two says hives need insulation."
    split = text.index("Page two")
    pages = (Page(1, 0, split), Page(2, split, len(text)))
    document = ParsedDocument("bees", "bees", "Bees", "bees.pdf", text, pages=pages)
    sources = {"S1": Source("S1", passage("bees", "Bees", text, 0, page=1))}
    (claim,) = split_claims("Hives need insulation [S1].", {"S1"})
    verifier(evidence_sentences=1, documents={"bees": document}).check(claim, sources)
    (citation,) = claim.citations
    assert (citation.quote, citation.page, text[citation.start : citation.end]) == (
        "Page two says hives need insulation.", 2, "Page two says hives need insulation.",
    )  # fmt: skip


def test_given_evidence_without_a_document_is_quoted_from_the_passage() -> None:
    evidence = "Prices rose sharply in 2023. Wages fell."
    sources = {"S1": Source("S1", Hit(Chunk("evidence", "", 0, 0, len(evidence), evidence), "given evidence", "", 1.0))}
    claim = Claim('The text says "Prices rose sharply in 2023"', keys=["S1"])
    verifier(documents={}).check(claim, sources)
    assert claim.verdict == "supported" and claim.judgement.judge == "verbatim"
    quotes = [(c.quote, c.start, c.end, c.doc_id) for c in claim.citations]
    assert quotes == [("Prices rose sharply in 2023", 0, 27, "")]


@pytest.mark.parametrize(
    ("own_answer", "keys"),
    [
        pytest.param(True, ["S1", "S2"], id="answer-quotes-every-source"),
        pytest.param(False, ["S1"], id="statement-best-evidence-only"),
    ],
)
def test_an_answer_sentence_quotes_each_cited_passage(own_answer: bool, keys: list[str]) -> None:
    (claim,) = split_claims("Tajiks send money home to their families [S1][S2].", set(SOURCES))
    Verifier(HashingEmbedder(), OverlapJudge(), DOCUMENTS.get, 1).check(claim, SOURCES, own_answer=own_answer)
    assert [citation.key for citation in claim.citations] == keys


@pytest.mark.parametrize(
    ("claim_words", "count", "chosen"),
    [
        pytest.param({"a", "b", "c"}, 2, {0, 2}, id="the-sentence-with-the-missing-word-beats-a-rewording"),
        pytest.param({"a", "b", "c"}, 1, {0}, id="first-the-closest-with-most-words"),
        pytest.param(set(), 2, {0, 1}, id="no-words-then-similarity-alone"),
        pytest.param({"a", "b", "c"}, 5, {0, 1, 2}, id="no-more-than-there-are"),
    ],
)
def test_covering_chooses_for_similarity_plus_words_not_yet_covered(
    claim_words: set[str], count: int, chosen: set[int]
) -> None:
    words = [{"a", "b"}, {"a", "b"}, {"c"}]
    assert _covering(claim_words, words, np.array([0.9, 0.85, 0.6]), count) == chosen


def test_evidence_holds_each_part_of_the_claim() -> None:
    text = "Tajiks work in Russia. Many Tajiks work in Russia. The weather is cold. They send money home."
    document = ParsedDocument("t", "t", "T", "t.txt", text)
    source = Source("S1", passage("t", "T", text, 0))
    chosen = verifier(evidence_sentences=2, documents={"t": document}).select_evidence(
        "Tajiks work in Russia and send money home.", [source]
    )
    assert [item.text for item in chosen] == ["Tajiks work in Russia.", "They send money home."]


def test_select_evidence_is_in_reading_order_and_located_in_the_document() -> None:
    evidence = verifier().select_evidence("Tajiks send money home", [SOURCES["S1"]])
    assert [item.start for item in evidence] == sorted(item.start for item in evidence)
    assert all(MIGRATION[item.start : item.end] == item.text for item in evidence)
    assert len(evidence) == 3


@pytest.mark.parametrize(
    ("draft", "verdict", "reason"),
    [
        pytest.param("Some 3 million Tajiks work in Russia [S1].", "supported", None, id="supported"),
        pytest.param("Some 5 million Tajiks work in Russia [S1].", "unsupported", "number_not_in_source", id="number"),
        pytest.param("The penguins dance on ice floes.", "unsupported", "no_citation", id="uncited-is-unsupported"),
        pytest.param("Tajiks work in Russia [S7].", "unsupported", "unknown_source", id="unknown-key"),
    ],
)
def test_verify_json_has_two_verdicts_and_the_first_reason(draft: str, verdict: str, reason: str | None) -> None:
    claim = check(draft)
    result = verify_json(claim, record_id="r-1")
    assert (result["id"], result["claim"], result["verdict"], result["reason"]) == ("r-1", claim.text, verdict, reason)
    assert result["citations"] == [asdict(citation) for citation in claim.citations]
    assert [r["code"] for r in result["reasons"]] == [r.code for r in claim.reasons]


def test_claim_json_rounds_the_judgement_and_keeps_stripped_keys() -> None:
    claim = check("Tajiks send money home to their families [S1][S9].")
    claim.judgement = Judgement(True, 0.123456, 1.23456, "overlap", {"coverage": 0.987654})
    result = claim_json(claim)
    assert result["stripped_keys"] == ["S9"]
    assert result["judge"] == {
        "name": "overlap", "supported": True, "score": 0.1235, "seconds": 1.235, "signals": {"coverage": 0.9877},
    }  # fmt: skip
    assert claim_json(check("Tajiks work in Russia [S7]."))["judge"] is None


@pytest.mark.parametrize(
    ("draft", "cited_by"),
    [
        pytest.param("Tajiks work in Russia [S1].", "answer", id="the-answers-marker"),
        pytest.param("Tajiks work in Russia.", "checker", id="found-by-the-checker"),
        pytest.param("The penguins dance on ice floes.", None, id="no-citation"),
    ],
)
def test_claim_json_says_who_chose_the_citations(draft: str, cited_by: str | None) -> None:
    assert claim_json(check(draft))["cited_by"] == cited_by


def test_an_uncited_sentence_among_passages_without_sentences_stays_uncited() -> None:
    blank = {"S1": Source("S1", passage("b", "Blank", "   ", 0))}
    (claim,) = split_claims("Tajiks work in Russia.", {"S1"})
    verifier().check(claim, blank)
    assert (claim.verdict, [reason.code for reason in claim.reasons], claim.judgement) == (
        "uncited",
        ["no_citation"],
        None,
    )


def test_a_statement_to_verify_is_not_given_sources_it_does_not_cite() -> None:
    claim = check("Tajiks work in Russia.", own_answer=False)
    assert (claim.verdict, claim.citations, claim.judgement) == ("uncited", [], None)


def test_a_miscitation_names_the_retrieved_passage_that_has_the_details() -> None:
    claim = check("Around 200 Tajiks fought in Syria [S1].")
    details = {reason.code: reason.detail for reason in claim.reasons}
    assert details["number_not_in_source"] == "200 not in the cited passages (S2, which it does not cite, has them)"
    assert details["name_not_in_source"].endswith("(S2, which it does not cite, has them)")
    assert claim.verdict == "unsupported"


def test_no_hint_when_no_other_passage_has_the_details() -> None:
    claim = check("Some 9 million Tajiks work in Russia [S1].")
    (number,) = [reason for reason in claim.reasons if reason.code == "number_not_in_source"]
    assert number.detail == "9 million not in the cited passages"


def test_an_elided_quotation_is_judged_not_taken_as_verbatim() -> None:
    judge = FakeJudge(False)
    claim = check('The article says "Some 3 million Tajiks ... labour migrants" [S1].', judge)
    assert claim.citations[0].quote == "Some 3 million Tajiks work in Russia as labour migrants"
    assert claim.judgement.judge == "fake" and claim.verdict == "unsupported"


class CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.embedded: list[str] = []

    def embed_documents(self, texts: list[str]):
        self.embedded.extend(texts)
        return super().embed_documents(texts)


def test_each_passage_is_split_and_embedded_once_for_all_the_sentences_citing_it() -> None:
    embedder = CountingEmbedder()
    checker = Verifier(embedder, OverlapJudge(), DOCUMENTS.get)
    draft = "Some 3 million Tajiks work in Russia [S1]. They send money home [S1][S2]. Around 200 fought in Syria [S2]."
    claims = [checker.check(claim, SOURCES) for claim in split_claims(draft, set(SOURCES))]
    assert [claim.verdict for claim in claims] == ["supported", "supported", "supported"]
    passage_sentences = sum(len(sentence_spans(source.hit.chunk.text)) for source in SOURCES.values())
    assert len(embedder.embedded) == passage_sentences
