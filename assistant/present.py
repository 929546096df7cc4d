"""Presenters: records to the plain dicts that `--json` prints (and later the API), and progress bars."""

from __future__ import annotations

import sys
from dataclasses import asdict
from typing import Any, get_args

from assistant.errors import AssistantError
from assistant.records import DocumentInfo, Hit, IngestOutcome, IngestReport, IngestStatus


def hit_json(hit: Hit, rank: int) -> dict[str, Any]:
    chunk = hit.chunk
    return {
        "rank": rank,
        "doc_id": chunk.doc_id,
        "chunk_id": chunk.chunk_id,
        "title": hit.title or chunk.doc_id,
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
    return asdict(outcome)


def report_counts(report: IngestReport) -> dict[str, int]:
    return {status: report.count(status) for status in get_args(IngestStatus)}


def report_json(report: IngestReport) -> dict[str, Any]:
    counts = report_counts(report)
    return {
        **counts,
        "documents": counts["added"] + counts["replaced"],
        "chunks": report.chunks,
        "seconds": round(report.seconds, 3),
        "outcomes": [outcome_json(outcome) for outcome in report.outcomes],
    }


def document_json(info: DocumentInfo) -> dict[str, Any]:
    return {**asdict(info), "title": info.title or info.doc_id}


def error_json(error: AssistantError) -> dict[str, Any]:
    return {"error": {"code": error.code, "message": error.message}}


class ProgressBars:
    """tqdm bars on stderr, one per pipeline stage; `update` is the pipeline's `on_progress`."""

    def __enter__(self) -> ProgressBars:
        self._bars: dict[str, Any] = {}
        return self

    def update(self, stage: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if stage not in self._bars:
            unit = "file" if stage == "parse" else "chunk"
            self._bars[stage] = tqdm(total=total, desc=stage, unit=unit, file=sys.stderr, leave=True)
        bar = self._bars[stage]
        bar.total = total
        bar.update(done - bar.n)

    def __exit__(self, *_: object) -> None:
        for bar in self._bars.values():
            bar.close()
