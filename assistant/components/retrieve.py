"""Retrieve: dense (Chroma) and lexical (BM25) candidates, fused by reciprocal rank, near-duplicates collapsed."""

from __future__ import annotations

import re

from assistant.components.embed import Embedder
from assistant.components.store import Store
from assistant.records import Hit
from assistant.settings import RetrievalSettings

_WORD = re.compile(r"\w+")


class HybridRetriever:
    """Best passages first for a question.

    >>> HybridRetriever(embedder, store, RetrievalSettings()).search("How many Tajiks work in Russia?", 5)[0].title
    "The Hegemon's 'K-Device': Tajiks in the crosshairs"
    """

    def __init__(self, embedder: Embedder, store: Store, settings: RetrievalSettings) -> None:
        self._embedder = embedder
        self._store = store
        self._settings = settings

    def search(self, question: str, k: int) -> list[Hit]:
        n = max(self._settings.candidates, 3 * k)
        dense = self._store.vectors.query(self._embedder.embed_query(question), n)
        lexical = self._store.lexical().query(question, n)
        weights = [self._settings.dense_weight, self._settings.lexical_weight]
        if self._settings.fusion == "rrf":
            fused = fuse_ranks([dense, lexical], weights, self._settings.rrf_k)
        else:
            fused = fuse_scores([dense, lexical], weights)
        hits = self._hits(fused[:n], dense, lexical)
        return collapse_duplicates(hits, self._settings.duplicate_threshold, limit=k)

    def _hits(self, fused: list, dense: list, lexical: list) -> list[Hit]:
        """Fused ids to hits carrying each retriever's rank and score."""
        records = self._store.docstore.chunks([chunk_id for chunk_id, _ in fused])
        dense_rank = {chunk_id: rank for rank, (chunk_id, _) in enumerate(dense, start=1)}
        lexical_rank = {chunk_id: rank for rank, (chunk_id, _) in enumerate(lexical, start=1)}
        dense, lexical = dict(dense), dict(lexical)
        return [
            Hit(
                chunk=records[chunk_id][0],
                title=records[chunk_id][1],
                source=records[chunk_id][2],
                score=score,
                dense_rank=dense_rank.get(chunk_id),
                dense_similarity=dense.get(chunk_id),
                lexical_rank=lexical_rank.get(chunk_id),
                lexical_score=lexical.get(chunk_id),
            )
            for chunk_id, score in fused
            if chunk_id in records  # vectors of uncommitted or deleted chunks never surface
        ]


def fuse_scores(rankings: list[list[tuple[str, float]]], weights: list[float]) -> list[tuple[str, float]]:
    """Convex combination of min-max-normalised scores; an item a retriever missed scores 0 there.

    On shared/eval it beat RRF (recall@5 0.968 vs 0.951), flat for dense weights 0.4-0.6.
    """
    scores: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for item, normalised in _min_max(ranking).items():
            scores[item] = scores.get(item, 0.0) + weight * normalised
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))


def _min_max(ranking: list[tuple[str, float]]) -> dict[str, float]:
    if not ranking:
        return {}
    values = [score for _, score in ranking]
    low, high = min(values), max(values)
    return {item: (score - low) / (high - low) if high > low else 1.0 for item, score in ranking}


def fuse_ranks(rankings: list[list[tuple[str, float]]], weights: list[float], k: int) -> list[tuple[str, float]]:
    """Weighted reciprocal rank fusion: score = sum of weight / (k + rank)."""
    scores: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, (item, _) in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))


def collapse_duplicates(hits: list[Hit], threshold: float, limit: int | None = None) -> list[Hit]:
    """Keep the best of hits whose word-trigram Jaccard similarity reaches `threshold`, up to `limit` hits."""
    kept: list[tuple[Hit, set]] = []
    for hit in hits:
        if len(kept) == limit:
            break
        shingles = _shingles(hit.chunk.text)
        if all(_jaccard(shingles, other) < threshold for _, other in kept):
            kept.append((hit, shingles))
    return [hit for hit, _ in kept]


def _shingles(text: str) -> set:
    words = _WORD.findall(text.lower())
    return {tuple(words[i : i + 3]) for i in range(max(1, len(words) - 2))}


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0
