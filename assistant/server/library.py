"""The chat's document library as HTML fragments: uploads with per-file ingestion status, the document list
with delete, and a citation's quote shown inside its document.

POST   /uploads                          files checked, saved and queued: one row per file
GET    /uploads/{job}                    the job's rows again (the page polls it until the job ends)
GET    /documents                        the document list
DELETE /documents/{doc_id}               delete a document, then the list again
GET    /documents/{doc_id}/context       ?start=&end=: the quotation highlighted in its surrounding text
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import HTMLResponse

from assistant.components.parse import PARSERS
from assistant.errors import AssistantError, DocumentNotFound, InputError
from assistant.present import outcome_json
from assistant.records import IngestOutcome, SourceFile
from assistant.server.jobs import IngestJobs, Job
from assistant.server.uploads import check_type, safe_filename, save
from assistant.server.views import context_window, is_htmx, require_login, same_origin, views
from assistant.settings import Settings

router = APIRouter(include_in_schema=False)
Page = [Depends(require_login)]
Write = [Depends(require_login), Depends(same_origin)]
# Which outcome a file shows when it held several documents (a JSONL file of records).
SOURCE_KEY = re.compile(r"^S\d{1,4}$")
STATUS_ORDER = ("added", "replaced", "unchanged", "skipped", "failed")


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
    if not files:
        return views(request).error(request, InputError("choose at least one file"))
    job_id, folder = jobs.new_folder()
    rejected: list[dict[str, str]] = []
    accepted: list[SourceFile] = []
    for position, upload_file in enumerate(files):
        name = safe_filename(upload_file.filename)
        try:
            accepted.append(await _accept(upload_file, name, folder, position, accepted, settings))
        except AssistantError as error:
            rejected.append({"name": name, "status": "rejected", "code": error.code, "reason": error.message})
        finally:
            await upload_file.close()
    job = jobs.submit(job_id, accepted) if accepted else None
    if job is None:
        shutil.rmtree(folder, ignore_errors=True)
    return views(request).respond("_uploads.html", status=202 if job else 200, rejected=rejected, job=_job_view(job))


async def _accept(
    upload_file: UploadFile, name: str, folder: Path, position: int, accepted: list[SourceFile], settings: Settings
) -> SourceFile:
    if position >= settings.server.max_upload_files:
        raise InputError(f"more than {settings.server.max_upload_files} files in one upload")
    if any(source.name == name for source in accepted):
        raise InputError("another file in this upload has the same name")
    check_type(name)
    path = folder / name
    await save(upload_file, path, settings.ingest.max_file_bytes)
    return SourceFile(path=path, name=name, key=f"upload:{name}")


@router.get("/uploads/{job_id}", dependencies=Page)
def upload_status(request: Request, job_id: str) -> HTMLResponse:
    """The job's rows; once it has ended, the page is also told to refresh its document list."""
    try:
        job = request.app.state.jobs.get(job_id)
    except AssistantError as error:
        return views(request).error(request, error)
    headers = {"HX-Trigger": "documents-changed"} if job.finished is not None else {}
    return views(request).respond("_uploads.html", headers=headers, rejected=[], job=_job_view(job))


def _job_view(job: Job | None) -> dict[str, Any] | None:
    if job is None:
        return None
    finished = job.finished is not None
    return {"id": job.id, "finished": finished, "files": [_file_view(job, name) for name in job.files]}


def _file_view(job: Job, name: str) -> dict[str, Any]:
    if job.state == "failed":
        return {"name": name, "status": "failed", "reason": job.error, "documents": []}
    if job.state != "done":
        return {"name": name, "status": job.state, "progress": _progress(job), "documents": []}
    outcomes = _outcomes_of(job, name)
    statuses = {outcome.status for outcome in outcomes}
    status = next((status for status in STATUS_ORDER if status in statuses), "failed")
    reason = outcomes[0].reason if len(outcomes) == 1 else None
    return {"name": name, "status": status, "reason": reason, "documents": [outcome_json(o) for o in outcomes]}


def _outcomes_of(job: Job, name: str) -> list[IngestOutcome]:
    """A file's outcomes: one per document; a JSONL file's records are named `file#id` or `file:line`."""
    return [o for o in job.outcomes if o.source == name or o.source.startswith((f"{name}#", f"{name}:"))]


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


@router.delete("/documents/{doc_id}", dependencies=Write)
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


@router.get("/documents/{doc_id}/context", dependencies=Page)
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
