"""The order of the stages, written down once: ingest = parse -> chunk -> embed -> store; search = retrieve."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from assistant.backends import Backends
from assistant.components.chunk import indexed_text
from assistant.components.parse import PARSERS, parse
from assistant.errors import AssistantError, DocumentError, InputError, QuestionTooLong
from assistant.records import (
    Hit,
    IngestOutcome,
    IngestReport,
    IngestStatus,
    ParsedDocument,
    PlannedDocument,
    SourceFile,
)

# on_progress(stage, done, total): "parse" counts files, "embed" counts chunks.
Progress = Callable[[str, int, int], None]


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


def ingest_paths(paths: Iterable[Path], backends: Backends, on_progress: Progress = _no_progress) -> IngestReport:
    """Ingest files and folders as the command line names them.

    >>> ingest_paths([Path("corpus")], Backends(get_settings())).count("added")
    1
    """
    report = IngestReport()
    return ingest(discover(paths, report), backends, on_progress=on_progress, report=report)


def ingest(
    sources: list[SourceFile],
    backends: Backends,
    *,
    on_progress: Progress = _no_progress,
    report: IngestReport | None = None,
) -> IngestReport:
    """Parse and chunk every file, embed and store new documents in batches, then refresh BM25."""
    started = time.perf_counter()
    report = report if report is not None else IngestReport()
    planned: dict[str, PlannedDocument] = {}
    links: list[ParsedDocument] = []
    keys: dict[str, str] = {}  # source key -> version, for this run
    for done, source in enumerate(sources, start=1):
        for document in _parse(source, report, backends.settings.ingest.max_file_bytes):
            _plan(document, backends, report, planned, links, keys)
        on_progress("parse", done, len(sources))
    _embed_and_store(list(planned.values()), backends, report, on_progress)
    for document in links:
        _link(document, backends, report)
    backends.store.refresh_lexical()  # as a writer, it also clears what a crashed writer left
    report.seconds = time.perf_counter() - started
    return report


def _parse(source: SourceFile, report: IngestReport, max_bytes: int) -> list[ParsedDocument]:
    try:
        parsed = parse(source, max_bytes=max_bytes)
    except DocumentError as error:
        report.outcomes.append(IngestOutcome(source=source.name, status="failed", reason=error.message))
        return []
    except OSError as error:
        report.outcomes.append(IngestOutcome(source=source.name, status="failed", reason=error.strerror or str(error)))
        return []
    report.outcomes.extend(parsed.rejected)
    return parsed.documents


def _plan(
    document: ParsedDocument,
    backends: Backends,
    report: IngestReport,
    planned: dict[str, PlannedDocument],
    links: list[ParsedDocument],
    keys: dict[str, str],
) -> None:
    """Chunk what is new; a document whose text is stored (or about to be) is linked after the writes."""
    if document.key in keys:
        if keys[document.key] == document.version:  # the same file named twice
            report.outcomes.append(_outcome(document, "unchanged"))
        else:
            report.outcomes.append(
                _outcome(document, "failed", reason="another document in this ingest has the same id")
            )
        return
    keys[document.key] = document.version
    plan, current = backends.store.plan(document)
    if plan == "unchanged":
        report.outcomes.append(_outcome(document, "unchanged"))
    elif plan == "link" or document.doc_id in planned:
        links.append(document)
    else:
        try:
            chunks = backends.chunker.chunk(document)
        except ValueError as error:  # a splitter that lost track of the text must not stop the batch
            report.outcomes.append(_outcome(document, "failed", reason=f"could not be chunked: {error}"))
            return
        planned[document.doc_id] = PlannedDocument(document, chunks, current)


def _embed_and_store(
    planned: list[PlannedDocument], backends: Backends, report: IngestReport, on_progress: Progress
) -> None:
    total = sum(len(item.chunks) for item in planned)
    done = 0
    for batch in _batches(planned, backends.settings.ingest.batch_chunks):
        texts = [indexed_text(item.document.title, chunk.text) for item in batch for chunk in item.chunks]
        try:
            backends.store.write(batch, backends.embedder.embed_documents(texts))
        except AssistantError as error:
            report.outcomes.extend(_outcome(item.document, "failed", reason=error.message) for item in batch)
        else:
            report.outcomes.extend(
                _outcome(item.document, "replaced" if item.replaces else "added", len(item.chunks)) for item in batch
            )
        done += len(texts)
        on_progress("embed", done, total)


def _batches(planned: list[PlannedDocument], batch_chunks: int) -> Iterator[list[PlannedDocument]]:
    batch: list[PlannedDocument] = []
    size = 0
    for item in planned:
        batch.append(item)
        size += len(item.chunks)
        if size >= batch_chunks:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _link(document: ParsedDocument, backends: Backends, report: IngestReport) -> None:
    """Point the document's key at the stored document with the same text."""
    plan, current = backends.store.plan(document)
    if plan in ("added", "replaced"):
        reason = f"its text was not stored (see the other file with document id {document.doc_id})"
        report.outcomes.append(_outcome(document, "failed", reason=reason))
        return
    if plan == "link":
        try:
            backends.store.link(document.key, document.doc_id)
        except AssistantError as error:
            report.outcomes.append(_outcome(document, "failed", reason=error.message))
            return
    status: IngestStatus = "replaced" if current and current != document.doc_id else "unchanged"
    report.outcomes.append(_outcome(document, status, reason=f"same text as stored document {document.doc_id}"))


def _outcome(
    document: ParsedDocument, status: IngestStatus, chunks: int = 0, reason: str | None = None
) -> IngestOutcome:
    return IngestOutcome(document.source, status, document.doc_id, document.title, chunks, reason)


def discover(paths: Iterable[Path], report: IngestReport) -> list[SourceFile]:
    """Files named, plus the supported files inside folders named (hidden files and folders left out)."""
    sources: list[SourceFile] = []
    for path in paths:
        if path.is_dir():
            sources.extend(_folder_sources(path, report))
        elif path.exists():
            sources.append(SourceFile.from_path(path))
        else:
            report.outcomes.append(IngestOutcome(str(path), "failed", reason="no such file or folder"))
    return sources


def _folder_sources(folder: Path, report: IngestReport) -> list[SourceFile]:
    found: list[Path] = []
    for root, folders, files in os.walk(folder):
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        found.extend(Path(root) / name for name in files if not name.startswith("."))
    sources = []
    for path in sorted(found):
        if path.suffix.lower() in PARSERS:
            sources.append(SourceFile.from_path(path))
        else:
            report.outcomes.append(IngestOutcome(str(path), "skipped", reason="unsupported file type"))
    return sources


def search(question: str, backends: Backends, k: int | None = None) -> list[Hit]:
    """The passages that best answer `question`, best first.

    >>> search("How many Tajik migrants work in Russia?", Backends(get_settings()), k=5)[0].title
    "The Hegemon's 'K-Device': Tajiks in the crosshairs"
    """
    settings = backends.settings.retrieval
    question = question.strip()
    if not question:
        raise InputError("the question is empty")
    if len(question) > settings.max_question_chars:
        raise QuestionTooLong(f"the question is {len(question)} characters; the limit is {settings.max_question_chars}")
    return backends.retriever.search(question, k or settings.top_k)
