"""pipeline.ask and pipeline.verify with a scripted generator and the word-overlap judge over a tiny corpus."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant import pipeline
from assistant.backends import Backends
from assistant.components.checks import numbers_in
from assistant.components.generate import NOT_FOUND
from assistant.components.judge import OverlapJudge
from assistant.errors import BackendUnavailable, InputError, QuestionTooLong
from assistant.present import answer_json
from assistant.records import Judgement

QUESTION = "How many Tajiks work in Russia as labour migrants?"
OFF_TOPIC = "Which sourdough starter rises fastest in a cold kitchen?"


class ScriptedGenerator:
    """Yields fixed pieces and records each call."""

    name = "scripted"
    model = "script-1"

    def __init__(self, *pieces: str) -> None:
        self.pieces = pieces
        self.calls: list[tuple[str, list[str]]] = []

    def draft(self, question: str, sources) -> Iterator[str]:
        self.calls.append((question, [source.key for source in sources]))
        yield from self.pieces


class CountingJudge(OverlapJudge):
    """The real word-overlap judge (instant, no model), recording what it was asked."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def judge(self, claim: str, evidence: list[str], similarity: float) -> Judgement:
        self.calls.append(claim)
        return super().judge(claim, evidence, similarity)


def scripted(backends: Backends, *pieces: str) -> tuple[ScriptedGenerator, CountingJudge]:
    generator, judge = ScriptedGenerator(*pieces), CountingJudge()
    backends.generator = lambda name=None: generator
    backends.judge = judge
    return generator, judge


DRAFTS = [
    # (draft, [(verdict, reason codes)] per sentence)
    pytest.param("Some 3 million Tajiks work in Russia [S1].", [("supported", [])], id="supported"),
    pytest.param(
        "Some 5 million Tajiks work in Russia [S1].", [("unsupported", ["number_not_in_source"])], id="number"
    ),
    pytest.param("Tajiks like tea.", [("uncited", ["no_citation"])], id="uncited"),
    pytest.param(  # the second sentence cites nothing: the checker finds the passage that states it
        "They send money home [S1]. Tajiks work in Russia.", [("supported", []), ("supported", [])], id="source-found"
    ),
    pytest.param(
        "They send money home [S1][S9]. Tajiks fought in Syria [S9].",
        [("supported", []), ("uncited", ["unknown_source"])],
        id="unknown-key",
    ),
]


@pytest.mark.parametrize(("draft", "verdicts"), DRAFTS)
def test_ask_verifies_each_sentence(notes_dir: Path, open_backends, draft: str, verdicts) -> None:
    backends = open_backends(notes_dir)
    scripted(backends, draft)
    answer = pipeline.ask(QUESTION, backends)
    supported = any(verdict == "supported" for verdict, _ in verdicts)  # else the draft is withdrawn
    assert (answer.answered, answer.text, answer.draft) == (
        (True, draft, None) if supported else (False, NOT_FOUND, draft)
    )
    assert [(claim.verdict, [reason.code for reason in claim.reasons]) for claim in answer.claims] == verdicts
    expected = {verdict: [v for v, _ in verdicts].count(verdict) for verdict in ("supported", "unsupported", "uncited")}
    assert answer_json(answer)["counts"] == expected


def test_a_repeated_sentence_is_judged_once_and_given_the_same_verdict(notes_dir: Path, open_backends) -> None:
    backends = open_backends(notes_dir)
    _, judge = scripted(backends, "Tajiks work in Russia. Tajiks like tea. Tajiks work in Russia. Tajiks like tea.")
    claims = pipeline.ask(QUESTION, backends).claims
    assert judge.calls == ["Tajiks work in Russia.", "Tajiks like tea."]
    verdicts = [(claim.verdict, claim.cited_by) for claim in claims]
    assert verdicts == [("supported", "checker"), ("uncited", "answer")] * 2
    assert claims[2] is not claims[0] and claims[2].citations == claims[0].citations


def test_supported_sentence_quotes_the_document_with_offsets(notes_dir: Path, open_backends) -> None:
    backends = open_backends(notes_dir)
    scripted(backends, "Some 3 million Tajiks ", "work in Russia [S1].")
    (claim,) = pipeline.ask(QUESTION, backends).claims
    (citation,) = claim.citations
    document = backends.docstore.document(citation.doc_id)
    assert citation.quote == "Some 3 million Tajiks work in Russia as labour migrants."
    assert document.text[citation.start : citation.end] == citation.quote
    assert (citation.key, citation.title) == ("S1", "Tajik Migration Notes")


def test_unknown_keys_are_stripped_and_counted(notes_dir: Path, open_backends) -> None:
    backends = open_backends(notes_dir)
    scripted(backends, "They send money home [S1][S9]. Tajiks fought in Syria [S12][S9].")
    answer = pipeline.ask(QUESTION, backends)
    assert [(claim.keys, claim.unknown_keys) for claim in answer.claims] == [(["S1"], ["S9"]), ([], ["S12", "S9"])]
    assert answer.stripped_keys == ["S12", "S9"]
    assert answer_json(answer)["stripped_keys"] == ["S12", "S9"]
    assert "[S9]" not in " ".join(claim.text for claim in answer.claims)


def test_the_generator_gets_the_stripped_question_and_keyed_sources(notes_dir: Path, open_backends) -> None:
    backends = open_backends(notes_dir)
    generator, _ = scripted(backends, "Some 3 million Tajiks work in Russia [S1].")
    answer = pipeline.ask(f"  {QUESTION}\n", backends)
    assert generator.calls == [(QUESTION, ["S1"])]
    assert (answer.question, answer.generator, answer.model) == (QUESTION, "scripted", "script-1")


@pytest.mark.parametrize("draft", [NOT_FOUND, f"\n{NOT_FOUND.lower()}\n"], ids=["exact", "spaced-lowercase"])
def test_a_not_found_draft_is_not_answered(notes_dir: Path, open_backends, draft: str) -> None:
    backends = open_backends(notes_dir)
    generator, judge = scripted(backends, draft)
    answer = pipeline.ask(QUESTION, backends)
    assert (answer.answered, answer.claims, len(generator.calls), judge.calls) == (False, [], 1, [])


def test_an_unrelated_question_is_not_found_without_calling_the_generator(notes_dir: Path, open_backends) -> None:
    backends = open_backends(notes_dir, generation={"min_relevance": 0.95})
    generator, _ = scripted(backends, "Some 3 million Tajiks work in Russia [S1].")
    events: list[str] = []
    answer = pipeline.ask(OFF_TOPIC, backends, on_event=lambda kind, payload: events.append(kind))
    assert (answer.text, answer.answered, answer.sources, answer.claims) == (NOT_FOUND, False, [], [])
    assert generator.calls == [] and events == ["sources", "token"]


def test_the_sources_event_matches_the_answer_sources(notes_dir: Path, open_backends) -> None:
    backends = open_backends(notes_dir, generation={"min_relevance": 0.95})
    scripted(backends, "unused")
    shown = []
    answer = pipeline.ask(OFF_TOPIC, backends, on_event=lambda kind, p: shown.append(p) if kind == "sources" else None)
    assert shown == [answer.sources]


@pytest.mark.parametrize(
    ("question", "error"),
    [
        pytest.param("", InputError, id="empty"),
        pytest.param(" \n\t ", InputError, id="blank"),
        pytest.param("why " * 501, QuestionTooLong, id="too-long"),
    ],
)
def test_bad_questions_raise_before_generating(notes_dir: Path, open_backends, question: str, error) -> None:
    backends = open_backends(notes_dir)
    generator, _ = scripted(backends, "unused")
    with pytest.raises(error):
        pipeline.ask(question, backends)
    assert generator.calls == []


def test_events_arrive_in_order_with_their_payloads(notes_dir: Path, open_backends) -> None:
    backends = open_backends(notes_dir)
    scripted(backends, "Some 3 million Tajiks work in Russia [S1]. ", "Tajiks fought in Syria.")
    events: list[tuple[str, object]] = []
    answer = pipeline.ask(QUESTION, backends, on_event=lambda kind, payload: events.append((kind, payload)))
    assert [kind for kind, _ in events] == ["sources", "token", "token", "claim", "claim"]
    assert events[0][1] == answer.sources
    assert "".join(payload for kind, payload in events if kind == "token") == answer.text
    assert [payload for kind, payload in events if kind == "claim"] == answer.claims


def test_timings_are_filled(notes_dir: Path, open_backends) -> None:
    backends = open_backends(notes_dir)
    scripted(backends, "Some 3 million Tajiks work in Russia [S1].")
    t = pipeline.ask(QUESTION, backends).timings
    assert t.retrieval > 0 and t.first_token is not None and t.first_token >= t.retrieval  # counted from the question
    assert t.verification > 0 and t.total >= t.retrieval + t.generation + t.verification


def test_a_missing_model_falls_back_to_extractive_with_a_note(notes_dir: Path, open_backends, tmp_path) -> None:
    model = str(tmp_path / "absent.gguf")
    backends = open_backends(notes_dir, generation={"generator": "local", "model": model})
    answer = pipeline.ask(QUESTION, backends)
    assert answer.generator == "extractive" and answer.answered
    assert len(answer.notes) == 1 and "extractive" in answer.notes[0]


def test_a_missing_model_without_fallback_raises(notes_dir: Path, open_backends, tmp_path) -> None:
    model = str(tmp_path / "absent.gguf")
    backends = open_backends(notes_dir, generation={"generator": "local", "model": model, "fallback": False})
    with pytest.raises(BackendUnavailable):
        pipeline.ask(QUESTION, backends)


def test_a_missing_judge_model_falls_back_to_overlap_with_a_note(notes_dir: Path, open_backends, tmp_path) -> None:
    backends = open_backends(notes_dir, verification={"judge": "local", "judge_model": str(tmp_path / "absent.gguf")})
    answer = pipeline.ask(QUESTION, backends)
    assert answer.claims and {claim.judgement.judge for claim in answer.claims} <= {"overlap", "verbatim"}
    assert any("word overlap" in note for note in answer.notes)


VERIFY_EVIDENCE = [
    # (statement, evidence, verdict, reason codes)
    pytest.param("Prices rose in 2023.", "Prices rose sharply in 2023. Wages fell.", "supported", [], id="supported"),
    pytest.param(
        "Prices rose in 2022.",
        "Prices rose sharply in 2023.",
        "unsupported",
        ["number_not_in_source", "not_stated"],
        id="wrong-year",
    ),
    pytest.param(
        "Penguins dance.",
        "Prices rose sharply in 2023.",
        "unsupported",
        ["not_stated"],
        id="unrelated",
    ),
]


@pytest.mark.parametrize(("statement", "evidence", "verdict", "codes"), VERIFY_EVIDENCE)
def test_verify_against_given_evidence(notes_dir: Path, open_backends, statement, evidence, verdict, codes) -> None:
    claim = pipeline.verify(statement, open_backends(notes_dir), evidence=evidence)
    assert (claim.verdict, [reason.code for reason in claim.reasons]) == (verdict, codes)
    assert [(c.key, c.title) for c in claim.citations] == [("S1", "given evidence")]


def test_verify_evidence_offsets_point_into_the_given_text(notes_dir: Path, open_backends) -> None:
    evidence = "\n   Prices rose sharply in 2023. Wages fell."
    (citation,) = pipeline.verify("Prices rose in 2023.", open_backends(notes_dir), evidence=evidence).citations
    assert evidence[citation.start : citation.end] == citation.quote


@pytest.mark.parametrize(
    ("statement", "verdict"),
    [
        pytest.param("Tajiks send money home to their families.", "supported", id="stated"),
        pytest.param("Some 7 million Tajiks work in Russia.", "unsupported", id="wrong-figure"),
    ],
)
def test_verify_against_the_corpus(notes_dir: Path, open_backends, statement: str, verdict: str) -> None:
    backends = open_backends(notes_dir)
    claim = pipeline.verify(statement, backends)
    assert claim.verdict == verdict and claim.citations
    for citation in claim.citations:
        assert backends.docstore.document(citation.doc_id).text[citation.start : citation.end] == citation.quote


def test_verify_on_an_empty_corpus_is_not_stated(tmp_path: Path, open_backends) -> None:
    claim = pipeline.verify("Tajiks send money home.", open_backends(tmp_path / "empty"))
    assert (claim.verdict, [reason.code for reason in claim.reasons]) == ("unsupported", ["not_stated"])
    assert claim.citations == []


@pytest.mark.parametrize("statement", ["", "   "], ids=["empty", "blank"])
def test_verify_refuses_an_empty_statement(notes_dir: Path, open_backends, statement: str) -> None:
    with pytest.raises(InputError):
        pipeline.verify(statement, open_backends(notes_dir))


def test_extractive_answers_the_migrants_question_with_a_figure_quoted_verbatim(
    article_dir: Path, open_backends
) -> None:
    backends = open_backends(article_dir)
    # The hashing embedder is lexical, so the question uses the article's own words ("numbered").
    answer = pipeline.ask("How many Tajik migrants numbered in Russia?", backends)
    assert answer.answered and answer.generator == "extractive" and len(answer.claims) >= 2
    assert all(claim.verdict == "supported" for claim in answer.claims)
    figures = set().union(*(numbers_in(c.quote) for claim in answer.claims for c in claim.citations))
    # With real embeddings the answer quotes the article's differing counts side by side
    # (test_llm_end_to_end.py); the word-hashing embedder ranks sentences too crudely to promise more than one.
    assert 350_236 in figures
    for citation in (c for claim in answer.claims for c in claim.citations):
        assert backends.docstore.document(citation.doc_id).text[citation.start : citation.end] == citation.quote


@pytest.mark.parametrize(
    "draft",
    [pytest.param("", id="empty"), pytest.param("[S1][S2]", id="only-markers")],
)
def test_a_draft_with_no_sentence_is_not_an_answer(notes_dir: Path, open_backends, draft: str) -> None:
    backends = open_backends(notes_dir)
    scripted(backends, draft)
    answer = pipeline.ask(QUESTION, backends)
    assert (answer.answered, answer.claims) == (False, [])
    assert "the model wrote no sentence to check" in answer.notes


def test_saying_not_found_then_answering_anyway_is_verified(notes_dir: Path, open_backends) -> None:
    backends = open_backends(notes_dir)
    scripted(backends, "The documents do not answer this question. But 5 million Tajiks work in Russia [S1].")
    answer = pipeline.ask(QUESTION, backends)
    (claim,) = answer.claims
    assert claim.verdict == "unsupported" and [r.code for r in claim.reasons] == ["number_not_in_source"]


@pytest.mark.parametrize(
    ("draft", "withdrawn"),
    [
        pytest.param("Some 5 million Tajiks work in Russia [S1]. Tajiks like tea.", True, id="nothing-supported"),
        pytest.param("Some 3 million Tajiks work in Russia [S1]. Tajiks like tea.", False, id="one-supported"),
    ],
)
def test_a_draft_the_sources_support_nowhere_is_withdrawn(
    notes_dir: Path, open_backends, draft: str, withdrawn: bool
) -> None:
    backends = open_backends(notes_dir)
    scripted(backends, draft)
    answer = pipeline.ask(QUESTION, backends)
    assert (answer.answered, answer.text, answer.draft) == (
        (False, NOT_FOUND, draft) if withdrawn else (True, draft, None)
    )
    assert len(answer.claims) == 2  # the draft's sentences keep their verdicts, to be shown flagged
    assert any("draft was withdrawn" in note for note in answer.notes) == withdrawn
    assert answer_json(answer)["draft"] == answer.draft


def test_the_cli_text_of_a_withdrawn_draft_says_the_documents_do_not_answer(notes_dir: Path, open_backends) -> None:
    from assistant.cli import _answer_text

    backends = open_backends(notes_dir)
    scripted(backends, "Some 5 million Tajiks work in Russia [S1].")
    lines = _answer_text(pipeline.ask(QUESTION, backends)).splitlines()
    assert lines[0] == f"{NOT_FOUND} Not one sentence of the draft is supported by them:"
    assert lines[1].startswith("✗ unsupported ")
