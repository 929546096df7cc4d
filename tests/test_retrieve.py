"""Retrieve: reciprocal rank fusion, near-duplicate collapsing, and question validation."""

from __future__ import annotations

import pytest
from conftest import GOOD, ingest, search

from assistant.components.retrieve import collapse_duplicates, fuse_ranks, fuse_scores
from assistant.errors import InputError, QuestionTooLong
from assistant.records import Chunk, Hit


def ranking(*ids: str) -> list[tuple[str, float]]:
    return [(item, 1.0) for item in ids]


@pytest.mark.parametrize(
    ("rankings", "weights", "k", "order"),
    [
        ([ranking("a", "b"), ranking("a", "b")], [1, 1], 60, ["a", "b"]),
        # b is second in both lists, a first in one only: agreement wins.
        ([ranking("a", "b", "c"), ranking("d", "b", "e")], [1, 1], 60, ["b", "a", "d", "c", "e"]),
        # A heavier lexical weight puts its first place ahead.
        ([ranking("a", "b"), ranking("b", "a")], [1, 3], 60, ["b", "a"]),
        ([ranking("a", "b"), ranking("b", "a")], [3, 1], 60, ["a", "b"]),
        # Equal scores break ties by id, so the order is stable.
        ([ranking("z"), ranking("y")], [1, 1], 60, ["y", "z"]),
        ([ranking("a"), []], [1, 1], 60, ["a"]),
        ([[], []], [1, 1], 60, []),
    ],
)
def test_fuse_ranks_orders_by_weighted_reciprocal_rank(rankings, weights, k, order) -> None:
    assert [item for item, _ in fuse_ranks(rankings, weights, k)] == order


@pytest.mark.parametrize(
    ("rankings", "weights", "k", "item", "score"),
    [
        ([ranking("a"), ranking("a")], [1, 1], 60, "a", 2 / 61),
        ([ranking("x", "a"), ranking("a")], [1, 1], 60, "a", 1 / 62 + 1 / 61),
        ([ranking("x", "a"), ranking("a")], [0.5, 2], 1, "a", 0.5 / 3 + 2 / 2),
        ([ranking("a"), ranking("a")], [0, 1], 60, "a", 1 / 61),
    ],
)
def test_fuse_ranks_score_is_the_sum_of_weight_over_k_plus_rank(rankings, weights, k, item, score) -> None:
    assert dict(fuse_ranks(rankings, weights, k))[item] == pytest.approx(score)


def test_fuse_ranks_ignores_the_retrievers_own_scores() -> None:
    fused = fuse_ranks([[("a", 0.01), ("b", 99.0)]], [1], 60)
    assert [item for item, _ in fused] == ["a", "b"]


@pytest.mark.parametrize(
    ("rankings", "weights", "expected"),
    [
        # Scores are min-max normalised per retriever: best 1, worst 0.
        ([[("a", 0.9), ("b", 0.5), ("c", 0.1)], []], [1, 1], {"a": 1.0, "b": 0.5, "c": 0.0}),
        # An item one retriever missed scores 0 there.
        ([[("a", 0.9), ("b", 0.1)], [("b", 12.0), ("c", 2.0)]], [0.5, 0.5], {"a": 0.5, "b": 0.5, "c": 0.0}),
        ([[("a", 0.9), ("b", 0.1)], [("b", 12.0), ("c", 2.0)]], [0.8, 0.2], {"a": 0.8, "b": 0.2, "c": 0.0}),
        # A lone or all-equal ranking normalises to 1, not a division by zero.
        ([[("a", 0.3)], [("a", 7.0), ("b", 7.0)]], [0.5, 0.5], {"a": 1.0, "b": 0.5}),
        ([[], []], [0.5, 0.5], {}),
    ],
)
def test_fuse_scores_is_a_weighted_sum_of_normalised_scores(rankings, weights, expected) -> None:
    fused = fuse_scores(rankings, weights)
    assert dict(fused) == pytest.approx(expected)
    assert [score for _, score in fused] == sorted((score for _, score in fused), reverse=True)


def test_fuse_scores_uses_score_gaps_where_ranks_cannot() -> None:
    dense = [("a", 0.95), ("b", 0.30), ("c", 0.29)]
    lexical = [("b", 5.0), ("c", 4.99), ("a", 4.98), ("d", 0.0)]
    assert fuse_scores([dense, lexical], [0.5, 0.5])[0][0] == "a"
    assert fuse_ranks([dense, lexical], [1, 1], 60)[0][0] == "b"


@pytest.mark.parametrize("fuse", [lambda r, w: fuse_ranks(r, w, 60), fuse_scores])
def test_fusion_needs_one_weight_per_ranking(fuse) -> None:
    with pytest.raises(ValueError):
        fuse([ranking("a"), ranking("b")], [1])


def hit(chunk_id: str, text: str, score: float) -> Hit:
    return Hit(Chunk(chunk_id, "doc", 0, 0, len(text), text), "title", "source", score)


BASE = "the perito moreno glacier collapses into lago argentino every four years"
COLLAPSE_CASES = [
    # (texts in rank order, threshold, ids kept)
    ([BASE, BASE], 0.8, ["h0"]),
    ([BASE, BASE + " indeed"], 0.8, ["h0"]),
    ([BASE, "honeybees form a winter cluster around the queen to stay warm"], 0.8, ["h0", "h1"]),
    ([BASE, BASE.upper()], 0.8, ["h0"]),
    ([BASE, "a completely different passage " + BASE[:30]], 0.8, ["h0", "h1"]),
    ([BASE, BASE + " with five more new words"], 0.8, ["h0", "h1"]),
    ([BASE, BASE + " with five more new words"], 0.5, ["h0"]),
    (["alpha beta", BASE, "alpha beta"], 0.8, ["h0", "h1"]),
    ([BASE, BASE, BASE], 1.0, ["h0"]),
    ([], 0.8, []),
]


@pytest.mark.parametrize(("texts", "threshold", "kept"), COLLAPSE_CASES)
def test_collapse_duplicates_keeps_the_best_of_near_copies(texts: list[str], threshold: float, kept: list[str]) -> None:
    hits = [hit(f"h{i}", text, 1.0 - i / 10) for i, text in enumerate(texts)]
    assert [h.chunk.chunk_id for h in collapse_duplicates(hits, threshold)] == kept


@pytest.mark.parametrize(
    ("question", "error", "fragment"),
    [
        ("", InputError, "empty"),
        ("   \n\t ", InputError, "empty"),
        ("x" * 100_000, QuestionTooLong, "100000 characters"),
        ("why? " * 401, QuestionTooLong, "limit is 2000"),
    ],
    ids=["empty", "blank", "100KB", "just-over"],
)
def test_bad_questions_are_refused_with_one_line(backends, question: str, error: type, fragment: str) -> None:
    with pytest.raises(InputError) as caught:
        search(backends, question)
    assert type(caught.value) is error
    assert fragment in caught.value.message and "\n" not in caught.value.message


def test_question_at_the_limit_is_accepted(backends) -> None:
    ingest(backends, GOOD / "skerryvore.txt")
    question = ("gannets " * 250)[:2000]
    assert len(question) == backends.settings.retrieval.max_question_chars
    assert search(backends, question)[0].title == "The Keeper's Log of Skerryvore"


def test_search_of_an_empty_store_finds_nothing(backends) -> None:
    assert search(backends, "Where is the glacier?") == []


def test_a_store_of_only_stopwords_ingests_and_finds_no_lexical_hits(backends, tmp_path) -> None:
    (tmp_path / "hamlet.txt").write_text("To be, or not to be.")
    assert [o.status for o in ingest(backends, tmp_path / "hamlet.txt").outcomes] == ["added"]
    hits = search(backends, "to be or not to be")
    assert [hit.chunk.text for hit in hits] == ["To be, or not to be."]  # found by its vector alone
    assert hits[0].lexical_rank is None and hits[0].dense_rank == 1


def test_search_returns_at_most_k_hits_best_first(backends) -> None:
    ingest(backends, GOOD)
    hits = search(backends, "glacier lighthouse honeybees sourdough", k=3)
    assert len(hits) == 3
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_hits_carry_both_rankings(backends) -> None:
    ingest(backends, GOOD)
    [top] = search(backends, "Perito Moreno glacier Lago Argentino", k=1)
    assert top.title == "Glacier Retreat in Patagonia"
    assert top.dense_rank == 1 and top.lexical_rank == 1
    assert top.dense_similarity > 0 and top.lexical_score > 0


def test_collapse_stops_at_the_limit_keeping_the_best() -> None:
    hits = [hit(f"c{i}", f"passage number {i} about a different subject {i}", 1.0 - i / 10) for i in range(10)]
    assert [h.chunk.chunk_id for h in collapse_duplicates(hits, 0.8, limit=3)] == ["c0", "c1", "c2"]
