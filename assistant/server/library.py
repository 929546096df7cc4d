"""The chat's document library as HTML fragments: uploads with per-file ingestion status, the document list
with delete, and a citation's quote shown inside its document.

POST   /uploads                          files checked, saved and queued: one row per file
GET    /uploads/{job}                    the job's rows again (the page polls it until the job ends)
GET    /documents                        the document list
DELETE /documents/{doc_id}               delete a document, then the list again
GET    /documents/{doc_id}/context       ?start=&end=: the quotation highlighted in its surrounding text

A record id may hold "/": pages send it as %2F (`document_url`), which arrives decoded, so `doc_id` is a
`:path` parameter; the context route still matches, as its pattern backtracks to the last "/context".
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import HTMLResponse

from assistant.components.parse import PARSERS
from assistant.errors import AssistantError, DocumentNotFound, InputError
from assistant.present import job_file_json
from assistant.server import uploads
from assistant.server.jobs import IngestJobs, Job
from assistant.server.views import Page, Write, context_window, is_htmx, views
from assistant.settings import Settings

router = APIRouter(include_in_schema=False)
SOURCE_KEY = re.compile(r"^S\d{1,4}$")


def upload_limits(settings: Settings) -> dict[str, Any]:
    """What the page checks before sending a file (the server checks again)."""
    return {
        "types": sorted(PARSERS),
        "max_bytes": settings.ingest.max_file_bytes,
        "max_mb": settings.ingest.max_file_mb,
        "max_files": settings.server.max_upload_files,
    }


@router.post("/uploads", dependencies=Write)
async def upload(request: Request, files: Annotated[list[UploadFile] | None, File()] = None) -> HTMLResponse:
    """Each file checked (name, type, size, not empty) and saved; the accepted ones become one ingestion job."""
    settings: Settings = request.app.state.settings
    jobs: IngestJobs = request.app.state.jobs
    limits = settings.server.max_upload_files, settings.ingest.max_file_bytes
    try:
        if not files:
            raise InputError("choose at least one file")
        job, received = await uploads.enqueue(jobs, files, *limits)
    except AssistantError as error:
        return views(request).error(request, error)
    rejected = [item.json() for item in received if item.status == "rejected"]
    return views(request).respond("_uploads.html", status=202 if job else 200, rejected=rejected, job=_job_view(job))


@router.get("/uploads/{job_id}", dependencies=Page)
def upload_status(request: Request, job_id: str) -> HTMLResponse:
    """The job's rows; once it has ended, the page is also told to refresh its document list."""
    try:
        job = request.app.state.jobs.get(job_id)
    except AssistantError as error:
        return views(request).error(request, error)
    headers = {"HX-Trigger": "documents-changed"} if job.ended else {}
    return views(request).respond("_uploads.html", headers=headers, rejected=[], job=_job_view(job))


def _job_view(job: Job | None) -> dict[str, Any] | None:
    if job is None:
        return None
    return {"id": job.id, "finished": job.ended, "files": [_file_view(job, name) for name in job.files]}


def _file_view(job: Job, name: str) -> dict[str, Any]:
    if job.state in ("queued", "running"):
        return {"name": name, "status": job.state, "progress": _progress(job), "documents": []}
    return job_file_json(job, name)


def _progress(job: Job) -> dict[str, Any]:
    if job.state == "queued" or job.stage is None:
        return {"label": "queued" if job.state == "queued" else "starting", "done": 0, "total": 0}
    if job.stage == "parse":
        return {"label": f"reading ({job.done} of {job.total} files)", "done": job.done, "total": job.total}
    return {"label": f"indexing ({job.done} of {job.total} passages)", "done": job.done, "total": job.total}


@router.get("/documents", dependencies=Page)
def document_list(request: Request) -> HTMLResponse:
    documents = request.app.state.backends.docstore.list_documents()
    return views(request).respond("_documents.html", documents=documents, notice=None)


@router.delete("/documents/{doc_id:path}", dependencies=Write)
def delete_document(request: Request, doc_id: str) -> HTMLResponse:
    """Delete, then the list again (a document already gone is not an error to a person clicking twice)."""
    backends = request.app.state.backends
    document = backends.docstore.document(doc_id)
    try:
        backends.store.delete(doc_id)
        notice = f"Deleted “{document.title or doc_id}”." if document else None
    except DocumentNotFound:
        notice = "That document had already been deleted."
    except AssistantError as error:
        return views(request).error(request, error)
    documents = backends.docstore.list_documents()
    return views(request).respond("_documents.html", documents=documents, notice=notice)


@router.get("/documents/{doc_id:path}/context", dependencies=Page)
def citation_context(request: Request, doc_id: str, start: str = "0", end: str = "0", key: str = "") -> HTMLResponse:
    """The quotation `text[start:end]` marked inside its surrounding text; a whole page when opened
    without htmx (a citation link opened in a new tab)."""
    page = views(request)
    try:
        document = request.app.state.backends.docstore.document(doc_id)
        if document is None:
            raise DocumentNotFound("this document is no longer stored (it was deleted or replaced)")
        first, last = _offsets(start, end, len(document.text))
    except AssistantError as error:
        return page.error(request, error)
    context = context_window(document, first, last)
    template = "_context.html" if is_htmx(request) else "context_page.html"
    return page.respond(template, document=document, key=key if SOURCE_KEY.match(key) else None, **context)


def _offsets(start: str, end: str, length: int) -> tuple[int, int]:
    try:
        first, last = int(start), int(end)
    except ValueError:
        raise InputError("start and end must be whole numbers") from None
    if not 0 <= first <= last <= length:
        raise InputError(f"start and end must be offsets within the document's {length:,} characters")
    return first, last
