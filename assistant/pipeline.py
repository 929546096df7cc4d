"""The order of the stages, written down once: ingest = parse -> chunk -> embed -> store; search = retrieve."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from assistant.components.chunk import Chunker, indexed_text
from assistant.components.embed import Embedder
from assistant.components.parse import PARSERS, parse
from assistant.components.retrieve import HybridRetriever
from assistant.components.store import Store
from assistant.errors import AssistantError, DocumentError, InputError, QuestionTooLong
from assistant.records import Chunk, Hit, IngestOutcome, IngestReport, ParsedDocument, SourceFile

# on_progress(stage, done, total): "parse" counts files, "embed" counts chunks.
Progress = Callable[[str, int, int], None]


def ingest(
    sources: list[SourceFile],
    *,
    chunker: Chunker,
    embedder: Embedder,
    store: Store,
    max_bytes: int,
    batch_chunks: int = 256,
    on_progress: Progress = lambda *_: None,
    report: IngestReport | None = None,
) -> IngestReport:
    """Parse and chunk every file, then embed and store the new documents in batches.

    >>> ingest([SourceFile.from_path(Path("corpus/a.txt"))], chunker=c, embedder=e, store=s, max_bytes=10**7)
    """
    started = time.perf_counter()
    report = report if report is not None else IngestReport()
    pending: list[tuple[ParsedDocument, list[Chunk], str | None]] = []
    planned: set[str] = set()
    for done, source in enumerate(sources, start=1):
        for document in _parse(source, report, max_bytes):
            _plan(document, chunker, store, report, pending, planned)
        on_progress("parse", done, len(sources))
    total = sum(len(chunks) for _, chunks, _ in pending)
    embedded = 0
    for batch in _batches(pending, batch_chunks):
        _embed_and_store(batch, embedder, store, report)
        embedded += sum(len(chunks) for _, chunks, _ in batch)
        on_progress("embed", embedded, total)
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


def _plan(document: ParsedDocument, chunker: Chunker, store: Store, report: IngestReport, pending: list, planned: set) -> None:
    """Chunk the document unless it is stored already or another one in this run has its id or key."""
    status, replaces = store.status(document)
    if status == "unchanged" or document.doc_id in planned:
        if replaces and document.key not in planned:
            store.delete(replaces)  # its new text is stored already, under another document
        report.outcomes.append(_outcome(document, "unchanged", 0))
        return
    if document.key in planned:
        report.outcomes.append(_outcome(document, "failed", 0, "another document in this ingest has the same id"))
        return
    try:
        chunks = chunker.chunk(document)
    except ValueError as error:  # a splitter that lost track of the text must not stop the batch
        report.outcomes.append(_outcome(document, "failed", 0, f"could not be chunked: {error}"))
        return
    planned.update((document.doc_id, document.key))
    pending.append((document, chunks, replaces))


def _batches(pending: list, batch_chunks: int) -> Iterator[list]:
    batch: list = []
    size = 0
    for item in pending:
        batch.append(item)
        size += len(item[1])
        if size >= batch_chunks:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _embed_and_store(batch: list, embedder: Embedder, store: Store, report: IngestReport) -> None:
    texts = [indexed_text(d.title, d.doc_id, c.text) for d, chunks, _ in batch for c in chunks]
    try:
        vectors = embedder.embed_documents(texts)
    except AssistantError as error:
        report.outcomes.extend(_outcome(d, "failed", 0, error.message) for d, _, _ in batch)
        return
    _store(batch, vectors, store, report)


def _store(batch: list, vectors, store: Store, report: IngestReport) -> None:
    """Write the batch at once; if that fails, document by document so one bad one fails alone."""
    try:
        store.write([(d, chunks) for d, chunks, _ in batch], vectors, [old for _, _, old in batch if old])
    except AssistantError as error:
        if len(batch) == 1:
            report.outcomes.append(_outcome(batch[0][0], "failed", 0, error.message))
            return
        offset = 0
        for item in batch:
            _store([item], vectors[offset : offset + len(item[1])], store, report)
            offset += len(item[1])
        return
    report.outcomes.extend(_outcome(d, "replaced" if old else "added", len(c)) for d, c, old in batch)


def _outcome(document: ParsedDocument, status, chunks: int, reason: str | None = None) -> IngestOutcome:
    return IngestOutcome(document.source, status, document.doc_id, document.title, chunks, reason)


def discover(paths: Iterable[Path], report: IngestReport) -> list[SourceFile]:
    """Files named, plus the supported files inside folders named (hidden ones left out)."""
    sources: list[SourceFile] = []
    for path in paths:
        if path.is_dir():
            for found in sorted(p for p in path.rglob("*") if p.is_file()):
                if any(part.startswith(".") for part in found.relative_to(path).parts):
                    continue
                if found.suffix.lower() in PARSERS:
                    sources.append(SourceFile.from_path(found))
                else:
                    report.outcomes.append(IngestOutcome(str(found), "skipped", reason="unsupported file type"))
        elif path.exists():
            sources.append(SourceFile.from_path(path))
        else:
            report.outcomes.append(IngestOutcome(str(path), "failed", reason="no such file or folder"))
    return sources


def search(question: str, *, retriever: HybridRetriever, k: int, max_chars: int) -> list[Hit]:
    """The passages that best answer `question`, best first.

    >>> search("How many Tajik migrants work in Russia?", retriever=r, k=5, max_chars=2000)[0].chunk.page
    """
    question = question.strip()
    if not question:
        raise InputError("the question is empty")
    if len(question) > max_chars:
        raise QuestionTooLong(f"the question is {len(question)} characters; the limit is {max_chars}")
    return retriever.search(question, k)
