"""Uploads: a browser's file name made safe, and the bytes copied to disk within the size limit."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from assistant.components.parse import parser_for
from assistant.errors import (
    BackendUnavailable,
    DocumentError,
    EmptyDocument,
    FileTooLarge,
    TooManyFiles,
)
from assistant.records import SourceFile

if TYPE_CHECKING:
    from assistant.server.jobs import IngestJobs, Job

COPY_BYTES = 1 << 20
MAX_NAME_CHARS = 120
MAX_NAME_BYTES = 200  # of UTF-8: file systems allow 255 bytes, and 120 Chinese characters are 360
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|#]+")  # `#` and `:` name a JSONL file's records


class Readable(Protocol):
    async def read(self, size: int = -1) -> bytes: ...


class Upload(Readable, Protocol):
    filename: str | None


@dataclass(frozen=True, slots=True)
class Received:
    """One uploaded file: queued for ingestion, or rejected with the error's code and reason."""

    name: str
    status: Literal["queued", "rejected"]
    code: str | None = None
    reason: str | None = None
    http_status: int = 202  # the status its error carries: an upload refusing every file answers with the first

    def json(self) -> dict[str, str | None]:
        return {"name": self.name, "status": self.status, "code": self.code, "reason": self.reason}


async def enqueue(
    jobs: IngestJobs, files: list[Upload], max_files: int, max_bytes: int
) -> tuple[Job | None, list[Received]]:
    """What the chat and the API do with an upload: each file checked and saved into a new job's folder,
    the accepted ones queued as one job (None when every file was refused). Nothing stays on disk
    unless it was queued, even when saving fails (a full disk is a 503, not a 500)."""
    if len(files) > max_files:
        raise TooManyFiles(f"{len(files)} files in one upload; the limit is {max_files}")
    job_id, folder = jobs.new_folder()
    try:
        accepted, received = await receive(files, folder, max_bytes)
    except OSError as error:
        jobs.discard(job_id)
        raise BackendUnavailable(f"cannot store the upload: {error.strerror or error}") from error
    except BaseException:
        jobs.discard(job_id)
        raise
    if not accepted:
        jobs.discard(job_id)
        return None, received
    return jobs.submit(job_id, accepted), received


async def receive(uploads: list[Upload], folder: Path, max_bytes: int) -> tuple[list[SourceFile], list[Received]]:
    """Save each acceptable upload into `folder`; a refused one (type, size, empty, a name used twice)
    leaves nothing behind and does not stop the others. Uploading a name again replaces its document."""
    accepted: list[SourceFile] = []
    results: list[Received] = []
    for upload in uploads:
        name = safe_filename(upload.filename)
        try:
            if any(result.name == name for result in results):
                raise DocumentError(f"another file in this upload is also named {name!r}")
            parser_for(name)  # an unknown type is refused before any byte is stored
            await save(upload, folder / name, max_bytes)
        except DocumentError as error:
            results.append(Received(name, "rejected", error.code, error.message, error.status))
            continue
        # Keyed by the name as sent: two names made safe alike ("a:b.txt", "a#b.txt", or long names
        # that differ only past the cut) are two documents, not one replacing the other.
        accepted.append(SourceFile(path=folder / name, name=name, key=f"upload:{_sent_name(upload.filename)}"))
        results.append(Received(name, "queued"))
    return accepted, results


def safe_filename(name: str | None) -> str:
    """The last path component, without control or path characters, at most 120 characters and
    200 bytes of UTF-8 (the extension kept).

    >>> safe_filename("../../etc/passwd")
    'passwd'
    >>> safe_filename('C:\\\\Users\\\\me\\\\<script>report.pdf')
    'script_report.pdf'
    """
    name = _UNSAFE.sub("_", _sent_name(name)).strip(" ._")
    stem, dot, suffix = name.rpartition(".")
    if dot and len(suffix) <= 10:
        room = len(suffix) + 1
        name = f"{_cut(stem, MAX_NAME_CHARS - room, MAX_NAME_BYTES - room).strip(' ._')}.{suffix}"
    else:
        name = _cut(name, MAX_NAME_CHARS, MAX_NAME_BYTES)
    return name or "upload"


def _sent_name(name: str | None) -> str:
    """The last path component of the name as the browser sent it."""
    return unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1] or "upload"


def _cut(text: str, chars: int, size: int) -> str:
    """At most `chars` characters and `size` bytes of UTF-8, cut between characters."""
    return text[:chars].encode()[:size].decode(errors="ignore")


async def save(upload: Readable, path: Path, max_bytes: int) -> int:
    """Copy the upload to `path`; a file over `max_bytes` or with no bytes is removed and refused."""
    size = 0
    try:
        with path.open("xb") as out:
            while chunk := await upload.read(COPY_BYTES):
                size += len(chunk)
                if size > max_bytes:
                    raise FileTooLarge(f"file is over the {max_bytes / 1e6:.1f} MB limit")
                out.write(chunk)
        if size == 0:
            raise EmptyDocument("file is empty")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return size
