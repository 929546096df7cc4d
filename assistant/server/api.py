"""The JSON API under /api/v1: ask (whole or streamed), search, verify, documents, ingestion jobs, health.
A thin shell over the pipeline: schemas in `schemas`, shapes from `assistant.present`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Request, Response, UploadFile
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse

from assistant import pipeline
from assistant.errors import DocumentNotFound
from assistant.present import (
    answer_json,
    claim_json,
    document_detail_json,
    document_json,
    error_json,
    hits_json,
    job_json,
    source_json,
    verify_json,
)
from assistant.records import Turn
from assistant.server import schemas, streaming, uploads
from assistant.server.auth import KEY_STATUS_TEXT, require_key, same_origin
from assistant.server.deps import BackendsDep, JobsDep
from assistant.server.health import health_json

router = APIRouter(dependencies=[Depends(require_key), Depends(same_origin)])

_STATUS_TEXT = {
    400: "Bad input that the schema cannot catch.",
    **KEY_STATUS_TEXT,
    404: "No such document or job.",
    413: "Too large: a question over the limit, a file over `ingest.max_file_mb`, too many files, or a body "
    "over the request limit.",
    415: "No parser reads this file type.",
    422: "The request does not match the schema (`invalid_request`), or a file cannot become a document.",
    503: "A store or model cannot be reached or loaded (and `generation.fallback` is off).",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error responses of a route (every route may answer 401, 422 and 429)."""
    return {
        status: {"model": schemas.ErrorOut, "description": _STATUS_TEXT[status]}
        for status in (401, 422, 429, *statuses)
    }


@router.post(
    "/ask",
    tags=["answers"],
    response_model=schemas.AnswerOut,
    responses={
        200: {
            "content": schemas.event_stream(schemas.ASK_EVENTS),
            "description": "The answer; with `stream`, "
            "server-sent events (`question`, `sources`, `token`..., `claim`..., then `answer` or `error`).",
        },
        **errors(400, 413, 503),
    },
)
async def ask(body: schemas.AskRequest, backends: BackendsDep, request: Request) -> Any:
    """Answer a question from the documents: each sentence with verbatim quotes and a verdict.

    With `"stream": true` the answer arrives as server-sent events, each `data` a JSON object:
    `question` (`{"question"}`: a follow-up as rewritten), `sources` (`{"sources": [...]}`: the passages,
    at once), `token` (`{"text"}`), `claim` (`{"index", ...claim}`: each sentence as it is verified),
    then `answer` (the whole answer, as without streaming) or `error` (`{"error": {"code", "message"}}`).
    An error before the first event is answered with its HTTP status instead."""
    history = [Turn(turn.question, turn.answer) for turn in body.history]
    if not body.stream:
        answer = await streaming.whole_answer(
            request, body.question, backends, generator=body.generator, history=history
        )
        return answer_json(answer)
    slots = request.app.state.answer_slots
    events = streaming.ask_events(body.question, backends, slots=slots, generator=body.generator, history=history)
    opened = await streaming.opening(events)
    return EventSourceResponse(_sse(opened, events), ping=streaming.PING_SECONDS, sep="\n")


async def _sse(
    opened: list[tuple[str, object]], events: AsyncIterator[tuple[str, object]]
) -> AsyncIterator[dict[str, str]]:
    """The events as SSE; leaving early (the client went away) closes `events`, which stops the model."""
    claims = 0
    async with aclosing(events):
        async for kind, payload in streaming.chained(opened, events):
            yield _event(kind, payload, claims)
            claims += kind == "claim"


_PRESENTERS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "question": lambda question: {"question": question},
    "sources": lambda sources: {"sources": [source_json(source) for source in sources]},
    "token": lambda text: {"text": text},
    "answer": answer_json,
    "error": error_json,
}


def _event(kind: str, payload: Any, claims: int) -> dict[str, str]:
    """One SSE event; its `data` is JSON of the event's schema (`schemas.ASK_EVENTS`)."""
    data = {"index": claims, **claim_json(payload)} if kind == "claim" else _PRESENTERS[kind](payload)
    return {"event": kind, "data": json.dumps(data, ensure_ascii=False)}


@router.post("/search", tags=["answers"], response_model=schemas.SearchOut, responses=errors(400, 413, 503))
def search(body: schemas.SearchRequest, backends: BackendsDep) -> dict[str, Any]:
    """The passages that best match a question, best first, with every score that ranked them."""
    return {"question": body.question, "hits": hits_json(pipeline.search(body.question, backends, body.k))}


@router.post("/verify", tags=["answers"], response_model=schemas.VerifyOut, responses=errors(400, 413, 503))
def verify(body: schemas.VerifyRequest, backends: BackendsDep) -> dict[str, Any]:
    """Check a statement against the stored documents (or against the `evidence` given): `supported`,
    or `unsupported` with reasons, and the verbatim quotes it was checked against."""
    claim = pipeline.verify(body.statement, backends, evidence=body.evidence, k=body.k)
    return verify_json(claim)  # the response model leaves out the batch record's `id`


@router.post(
    "/documents",
    tags=["documents"],
    status_code=202,
    response_model=schemas.UploadOut,
    responses={
        **errors(413, 415),
        413: {"model": schemas.UploadErrorOut, "description": _STATUS_TEXT[413]},
        415: {"model": schemas.UploadErrorOut, "description": "No file was accepted: " + _STATUS_TEXT[415]},
        422: {
            "model": schemas.UploadErrorOut,
            "description": "No file was accepted (empty, unreadable), or the request does not match the schema.",
        },
    },
)
async def upload_documents(
    request: Request,
    response: Response,
    jobs: JobsDep,
    files: Annotated[
        list[UploadFile], File(min_length=1, description="One or more documents: .txt .md .html .pdf .docx .jsonl")
    ],
) -> Any:
    """Upload documents; they are ingested in the background (poll the job). Each file is checked
    first (type, size, empty, name); a refused file does not stop the others. A file with the name of
    an earlier upload replaces its document; the same bytes again are `unchanged`."""
    settings = request.app.state.settings
    job, received = await uploads.enqueue(jobs, files, settings.server.max_upload_files, settings.ingest.max_file_bytes)
    listed = [item.json() for item in received]
    if job is None:
        first = received[0]
        body = {"error": {"code": first.code, "message": first.reason}, "files": listed}
        return JSONResponse(body, status_code=first.http_status)
    response.headers["Location"] = str(request.url_for("get_job", job_id=job.id))
    return {"job": job_json(job), "files": listed}


@router.get("/documents", tags=["documents"], response_model=schemas.DocumentsOut, responses=errors(503))
def list_documents(backends: BackendsDep) -> dict[str, Any]:
    """Every stored document, oldest first."""
    return {"documents": [document_json(info) for info in backends.docstore.list_documents()]}


# `:path`: a record id may hold "/" (sent as %2F, which arrives decoded).
@router.get(
    "/documents/{doc_id:path}", tags=["documents"], response_model=schemas.DocumentDetailOut, responses=errors(404, 503)
)
def get_document(doc_id: str, backends: BackendsDep) -> dict[str, Any]:
    """A stored document with its whole text and page spans: a citation's `start`/`end` point into it."""
    document = backends.docstore.document(doc_id)
    if document is None:
        raise DocumentNotFound(f"no document with id {doc_id!r}")
    return document_detail_json(document)


@router.delete(
    "/documents/{doc_id:path}", tags=["documents"], response_model=schemas.DeletedOut, responses=errors(404, 503)
)
def delete_document(doc_id: str, backends: BackendsDep) -> dict[str, Any]:
    """Remove a document from every index; answers stop citing it at once."""
    backends.store.delete(doc_id)
    return {"doc_id": doc_id, "deleted": True}


@router.get("/jobs", tags=["documents"], response_model=schemas.JobsOut, responses=errors())
def list_jobs(jobs: JobsDep) -> dict[str, Any]:
    """Recent ingestion jobs, newest first."""
    return {"jobs": [job_json(job) for job in jobs.all()]}


@router.get("/jobs/{job_id}", tags=["documents"], response_model=schemas.JobOut, responses=errors(404))
def get_job(job_id: str, jobs: JobsDep) -> dict[str, Any]:
    """An ingestion job's progress, and per file its status (`queued`, `running`, then `added`,
    `replaced`, `unchanged`, `skipped` or `failed` with the reason) and the documents it yielded."""
    return job_json(jobs.get(job_id))


@router.get(
    "/health",
    tags=["health"],
    response_model=schemas.HealthOut,
    responses={**errors(), 503: {"model": schemas.HealthOut, "description": "No question can be answered now."}},
)
def health(request: Request, backends: BackendsDep) -> Any:
    """Whether the store answers, how many documents it holds, and whether each model has loaded."""
    body, status = health_json(backends, request.app.state.readiness)
    return JSONResponse(body, status_code=status) if status != 200 else body
