"""Presenters: records to the plain dicts that `--json` prints (and later the API), and progress bars."""

from __future__ import annotations

import sys
from dataclasses import asdict
from typing import Any, get_args

from assistant.errors import AssistantError
from assistant.records import (
    Answer,
    Citation,
    Claim,
    DocumentInfo,
    Hit,
    IngestOutcome,
    IngestReport,
    IngestStatus,
    Source,
    Verdict,
)


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


def citation_json(citation: Citation) -> dict[str, Any]:
    return asdict(citation)


def claim_json(claim: Claim) -> dict[str, Any]:
    judgement = claim.judgement
    return {
        "text": claim.text,
        "verdict": claim.verdict,
        "reasons": [{"code": reason.code, "detail": reason.detail} for reason in claim.reasons],
        "citations": [citation_json(citation) for citation in claim.citations],
        "stripped_keys": claim.unknown_keys,
        "judge": None
        if judgement is None
        else {
            "name": judgement.judge,
            "supported": judgement.supported,
            "score": round(judgement.score, 4),
            "seconds": round(judgement.seconds, 3),
            "signals": {name: round(value, 4) for name, value in judgement.signals.items()},
        },
    }


def source_json(source: Source) -> dict[str, Any]:
    return {"key": source.key, **hit_json(source.hit, int(source.key[1:]))}


def answer_json(answer: Answer) -> dict[str, Any]:
    timings = answer.timings
    return {
        "question": answer.question,
        "standalone_question": answer.standalone,
        "answer": answer.text,
        "answered": answer.answered,
        "claims": [claim_json(claim) for claim in answer.claims],
        "counts": {verdict: sum(c.verdict == verdict for c in answer.claims) for verdict in get_args(Verdict)},
        "stripped_keys": answer.stripped_keys,
        "sources": [source_json(source) for source in answer.sources],
        "generator": {"name": answer.generator, "model": answer.model},
        "notes": answer.notes,
        "timings": {name: None if value is None else round(value, 3) for name, value in asdict(timings).items()},
    }


def verify_json(claim: Claim, record_id: Any = None) -> dict[str, Any]:
    """One `verify` result: the verdict, the first reason as `reason`, and everything else."""
    verdict = "supported" if claim.verdict == "supported" else "unsupported"
    reason = claim.reasons[0].code if claim.reasons else None
    return {"id": record_id, "claim": claim.text, "verdict": verdict, "reason": reason, **_details(claim)}


def _details(claim: Claim) -> dict[str, Any]:
    details = claim_json(claim)
    return {key: details[key] for key in ("reasons", "citations", "judge")}


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
            unit = {"parse": "file", "judge": "claim"}.get(stage, "chunk")
            self._bars[stage] = tqdm(total=total, desc=stage, unit=unit, file=sys.stderr, leave=True)
        bar = self._bars[stage]
        bar.total = total
        bar.update(done - bar.n)

    def __exit__(self, *_: object) -> None:
        for bar in self._bars.values():
            bar.close()
