"""Presenters: records to the plain dicts that `--json` output (and later the API) print."""

from __future__ import annotations

from typing import Any

from assistant.records import DocumentInfo, Hit, IngestOutcome, IngestReport


def hit_json(hit: Hit, rank: int) -> dict[str, Any]:
    chunk = hit.chunk
    return {
        "rank": rank,
        "doc_id": chunk.doc_id,
        "chunk_id": chunk.chunk_id,
        "title": hit.title,
        "source": hit.source,
        "page": chunk.page,
        "start": chunk.start,
        "end": chunk.end,
        "text": chunk.text,
        "scores": {
            "fused": round(hit.score, 6),
            "dense_rank": hit.dense_rank,
            "dense_similarity": None if hit.dense_similarity is None else round(hit.dense_similarity, 4),
            "lexical_rank": hit.lexical_rank,
            "lexical_score": None if hit.lexical_score is None else round(hit.lexical_score, 4),
        },
    }


def hits_json(hits: list[Hit]) -> list[dict[str, Any]]:
    return [hit_json(hit, rank) for rank, hit in enumerate(hits, start=1)]


def outcome_json(outcome: IngestOutcome) -> dict[str, Any]:
    return {
        "source": outcome.source,
        "status": outcome.status,
        "doc_id": outcome.doc_id,
        "title": outcome.title,
        "chunks": outcome.chunks,
        "reason": outcome.reason,
    }


def report_json(report: IngestReport) -> dict[str, Any]:
    counts = {status: report.count(status) for status in ("added", "replaced", "unchanged", "skipped", "failed")}
    return {
        **counts,
        "documents": counts["added"] + counts["replaced"],
        "chunks": report.chunks,
        "seconds": round(report.seconds, 3),
        "outcomes": [outcome_json(outcome) for outcome in report.outcomes],
    }


def document_json(info: DocumentInfo) -> dict[str, Any]:
    return {
        "doc_id": info.doc_id,
        "title": info.title,
        "source": info.source,
        "chunks": info.chunks,
        "chars": info.chars,
        "pages": info.pages,
        "added_at": info.added_at,
    }
