"""Presenters: records to the plain dicts that `--json` prints and the API answers, the answer as plain
text with its sources (for OpenAI clients), and progress bars."""

from __future__ import annotations

import sys
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, get_args

from assistant.components.generate import NOT_FOUND
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
    ParsedDocument,
    Source,
    Verdict,
)

if TYPE_CHECKING:
    from assistant.server.jobs import Job


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


def document_detail_json(document: ParsedDocument) -> dict[str, Any]:
    """A stored document with its text and page spans, for showing a quotation where it stands."""
    return {
        "doc_id": document.doc_id,
        "title": document.title or document.doc_id,
        "source": document.source,
        "chars": len(document.text),
        "text": document.text,
        "pages": [asdict(page) for page in document.pages],
        "metadata": document.metadata,
    }


def job_json(job: Job) -> dict[str, Any]:
    """An ingestion job: its progress, and per uploaded file a status and the documents it yielded."""
    return {
        "id": job.id,
        "state": job.state,
        "stage": job.stage,
        "done": job.done,
        "total": job.total,
        "error": job.error,
        "created": _iso(job.created),
        "finished": None if job.finished is None else _iso(job.finished),
        "files": [job_file_json(job, name) for name in job.files],
    }


def job_file_json(job: Job, name: str) -> dict[str, Any]:
    outcomes = job.outcomes_of(name)
    status, reason = file_status(job.state, outcomes, job.error)
    return {"name": name, "status": status, "reason": reason, "documents": [outcome_json(o) for o in outcomes]}


def file_status(state: str, outcomes: list[IngestOutcome], error: str | None = None) -> tuple[str, str | None]:
    """One file's status: the job's while it runs, then what became of its documents (a JSONL file
    yields several: added if any was added, failed only if all failed)."""
    if state in ("queued", "running"):
        return state, None
    if state == "failed" or not outcomes:
        return "failed", error or "no document was read from this file"
    failed = [outcome for outcome in outcomes if outcome.status == "failed"]
    if len(failed) == len(outcomes):
        return "failed", failed[0].reason
    for status in ("added", "replaced", "unchanged", "skipped"):
        chosen = [outcome for outcome in outcomes if outcome.status == status]
        if chosen:
            reason = f"{len(failed)} of {len(outcomes)} documents failed: {failed[0].reason}" if failed else None
            return status, reason or chosen[0].reason
    raise AssertionError(f"unknown ingest status in {outcomes}")


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def citation_json(citation: Citation) -> dict[str, Any]:
    return asdict(citation)


def claim_json(claim: Claim) -> dict[str, Any]:
    judgement = claim.judgement
    return {
        "text": claim.text,
        "verdict": claim.verdict,
        "reasons": [{"code": reason.code, "detail": reason.detail} for reason in claim.reasons],
        "citations": [citation_json(citation) for citation in claim.citations],
        "cited_by": claim.cited_by if claim.citations else None,
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
        "draft": answer.draft,
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


SOURCES_HEADING = "Sources:"
FLAGGED_HEADING = "Not supported by the sources:"
WITHDRAWN = f"None. {NOT_FOUND}"  # the sources of a withdrawn draft


def answer_appendix(answer: Answer) -> str:
    """What follows the answer's text where only text is shown (an OpenAI client): each cited source
    with its verbatim quotes, then the sentences the sources do not support and why. It starts with a
    blank line and `Sources:`, so a follow-up can cut it off again (`without_appendix`). A withdrawn
    draft gets the not-found sentence for its sources, then its flags."""
    if answer.draft is not None:  # the text streamed was the draft, which no source supports
        parts = [f"\n\n{SOURCES_HEADING}\n{WITHDRAWN}"]
    elif not answer.answered:
        return ""
    else:
        parts = [f"\n\n{SOURCES_HEADING}\n" + "\n".join(_source_lines(answer))]
    flagged = [claim for claim in answer.claims if claim.verdict != "supported"]
    if flagged:
        lines = [f'- "{claim.text}" ({claim.verdict}: {_reasons(claim)})' for claim in flagged]
        parts.append(f"\n\n{FLAGGED_HEADING}\n" + "\n".join(lines))
    return "".join(parts)


def without_appendix(text: str) -> str:
    """An earlier answer as the model wrote it, without the sources `answer_appendix` added; a
    withdrawn draft is the not-found sentence, as in the chat's history, not what no source supports."""
    answer, _, appendix = text.partition(f"\n\n{SOURCES_HEADING}\n")
    return NOT_FOUND if appendix.startswith(WITHDRAWN) else answer


def _source_lines(answer: Answer) -> list[str]:
    """`- [S1] Title (p. 3): "quote"`, one line per distinct quote, in source order (plain text that
    also reads as a Markdown list); a quote only the checker found for an uncited sentence says so."""
    quotes: dict[str, dict[tuple[str, int, int], tuple[Citation, bool]]] = {}
    for claim in answer.claims:
        for citation in claim.citations:
            by_span = quotes.setdefault(citation.key, {})
            span = (citation.doc_id, citation.start, citation.end)
            earlier = by_span.get(span)  # a quote the answer cites itself is not marked
            by_span[span] = (citation, claim.cited_by == "checker" and (earlier is None or earlier[1]))
    order = [source.key for source in answer.sources]
    cited = sorted(quotes.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order))
    lines = [_quote_line(citation, found) for _, by_span in cited for citation, found in by_span.values()]
    return lines or ["- (no sentence of the answer cites a source)"]


def _quote_line(citation: Citation, found: bool) -> str:
    page = "" if citation.page is None else f" (p. {citation.page})"
    note = " (found by the checker for a sentence that cites nothing)" if found else ""
    return f'- [{citation.key}] {citation.title or citation.doc_id}{page}: "{" ".join(citation.quote.split())}"{note}'


def _reasons(claim: Claim) -> str:
    return "; ".join(reason.detail for reason in claim.reasons) or claim.verdict


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
