"""The order of the stages, written down once.

ingest = parse -> chunk -> embed -> store
search = retrieve
ask    = (rewrite a follow-up) -> retrieve -> generate -> cite -> verify
verify = retrieve (or the given evidence) -> verify
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import replace
from pathlib import Path

from assistant.backends import Backends
from assistant.components.chunk import indexed_text
from assistant.components.cite import split_claims
from assistant.components.generate import NOT_FOUND, Generator, is_not_found, number_sources
from assistant.components.parse import PARSERS, parse
from assistant.errors import AssistantError, BackendUnavailable, DocumentError, InputError, QuestionTooLong
from assistant.records import (
    Answer,
    Chunk,
    Claim,
    Hit,
    IngestOutcome,
    IngestReport,
    IngestStatus,
    ParsedDocument,
    PlannedDocument,
    Reason,
    Source,
    SourceFile,
    Timings,
    Turn,
    path_text,
)

REPAIRED = "stored, but its vectors were missing from the vector store: embedded again"
# on_progress(stage, done, total): "parse" counts files, "embed" counts chunks.
Progress = Callable[[str, int, int], None]
# on_event(kind, payload) while answering: "question" (str, a rewritten follow-up), "sources"
# (list[Source]), "token" (str), "claim" (Claim).
Events = Callable[[str, object], None]


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
        planned[document.doc_id] = PlannedDocument(document, chunks, current, repair=plan == "repair")


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
            report.outcomes.extend(_stored(item) for item in batch)
        done += len(texts)
        on_progress("embed", done, total)


def _stored(item: PlannedDocument) -> IngestOutcome:
    if item.repair:
        return _outcome(item.document, "added", len(item.chunks), reason=REPAIRED)
    return _outcome(item.document, "replaced" if item.replaces else "added", len(item.chunks))


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
            report.outcomes.append(IngestOutcome(path_text(path), "failed", reason="no such file or folder"))
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
            report.outcomes.append(IngestOutcome(path_text(path), "skipped", reason="unsupported file type"))
    return sources


def _no_events(kind: str, payload: object) -> None:
    return None


def search(question: str, backends: Backends, k: int | None = None) -> list[Hit]:
    """The passages that best answer `question`, best first.

    >>> search("How many Tajik migrants work in Russia?", Backends(get_settings()), k=5)[0].title
    "The Hegemon's 'K-Device': Tajiks in the crosshairs"
    """
    settings = backends.settings.retrieval
    return backends.retriever.search(checked(question, settings.max_question_chars), k or settings.top_k)


def checked(text: str, limit: int, what: str = "question") -> str:
    """The text stripped; empty or over the limit is refused with a clear error."""
    text = text.strip()
    if not text:
        raise InputError(f"the {what} is empty")
    if len(text) > limit:
        raise QuestionTooLong(f"the {what} is {len(text)} characters; the limit is {limit}")
    return text


def ask(
    question: str,
    backends: Backends,
    *,
    generator: str | None = None,
    history: Sequence[Turn] = (),
    on_event: Events = _no_events,
) -> Answer:
    """Answer from the documents: sentences citing passages, each with quotes and a verdict. With
    `history` (earlier turns, oldest first), a follow-up is first rewritten to stand alone.

    >>> answer = ask("How many Tajik migrants work in Russia?", Backends(get_settings()), generator="extractive")
    >>> answer.claims[0].verdict, answer.claims[0].citations[0].quote
    ('supported', 'The Russian Federation has allegedly around 3 million Tajiks working as labour migrants.')
    """
    started = time.perf_counter()
    limit = backends.settings.retrieval.max_question_chars
    question = checked(question, limit)
    chosen, notes = _generator(backends, generator)
    timings = Timings()
    standalone = question
    limits = backends.settings.generation
    if history and limits.history_turns:
        rewriting = time.perf_counter()
        rewritten = backends.rewriter(chosen).rewrite(question, _recent(history, limits.history_turns, limit))
        if len(rewritten) <= limit:
            standalone = rewritten
        timings.rewrite = time.perf_counter() - rewriting
        if standalone != question:
            on_event("question", standalone)
    searched = time.perf_counter()
    hits = search(standalone, backends)
    timings.retrieval = time.perf_counter() - searched
    relevant = _relevant(hits, limits.min_relevance)
    sources = number_sources(hits, limits.source_tokens) if relevant else []
    on_event("sources", sources)
    if not relevant:  # nothing close enough: no model call, no invention
        draft = NOT_FOUND
        on_event("token", draft)
    else:
        draft = _draft(chosen, standalone, sources, timings, on_event, started)
    answer = Answer(question, draft, [], sources, chosen.name, chosen.model, notes=notes, timings=timings)
    answer.standalone = standalone if standalone != question else None
    verify_started = time.perf_counter()
    if is_not_found(draft):
        answer.answered = False
    else:
        _verify_claims(answer, backends, on_event)
        _withdraw_if_unsupported(answer)
    timings.verification = time.perf_counter() - verify_started
    timings.total = time.perf_counter() - started
    return answer


def _recent(history: Sequence[Turn], turns: int, limit: int) -> list[Turn]:
    """The last turns a follow-up is rewritten with; an earlier question over the limit is cut, not
    refused: it is context now, not the question."""
    return [Turn(turn.question[:limit], turn.answer) for turn in list(history)[-turns:]]


def _generator(backends: Backends, name: str | None) -> tuple[Generator, list[str]]:
    """The requested generator, or the extractive one when its model is missing and fallback is on."""
    try:
        return backends.generator(name), []
    except BackendUnavailable as error:
        if not backends.settings.generation.fallback:
            raise
        return backends.generator("extractive"), [f"{error.message}; answered with the extractive generator"]


def _relevant(hits: list[Hit], floor: float) -> bool:
    best = max((hit.dense_similarity for hit in hits if hit.dense_similarity is not None), default=None)
    return best is not None and best >= floor


def _draft(
    generator: Generator, question: str, sources: list[Source], timings: Timings, on_event: Events, asked: float
) -> str:
    """Stream the draft; time to first token counts from the question. `closing` releases the model
    at once if a listener fails mid-stream."""
    started = time.perf_counter()
    pieces = []
    with closing(generator.draft(question, sources)) as stream:
        for piece in stream:
            if timings.first_token is None:
                timings.first_token = time.perf_counter() - asked
            pieces.append(piece)
            on_event("token", piece)
    timings.generation = time.perf_counter() - started
    return "".join(pieces)


def _verify_claims(answer: Answer, backends: Backends, on_event: Events) -> None:
    by_key = {source.key: source for source in answer.sources}
    answer.claims = checkable_claims(answer.text, set(by_key))
    if not answer.claims:  # an empty draft, or nothing but markers
        answer.answered = False
        answer.notes.append("the model wrote no sentence to check")
    answer.stripped_keys = sorted({key for claim in answer.claims for key in claim.unknown_keys})
    checked: dict[tuple, Claim] = {}
    for index, claim in enumerate(answer.claims):
        same = (claim.text, tuple(claim.keys), tuple(claim.unknown_keys))
        if same in checked:  # a small model repeats itself: the same verdict, not another judge call
            answer.claims[index] = replace(checked[same])
        else:
            checked[same] = backends.verifier.check(claim, by_key)
        on_event("claim", answer.claims[index])
    if backends.judge_note:
        answer.notes.append(backends.judge_note)


def _withdraw_if_unsupported(answer: Answer) -> None:
    """A draft none of whose sentences the sources support does not answer the question from the
    documents (the model answered from its own knowledge, or misread them): the answer becomes the
    not-found sentence, and the draft stays beside it with its flags."""
    if answer.claims and not any(claim.verdict == "supported" for claim in answer.claims):
        answer.draft, answer.text, answer.answered = answer.text, NOT_FOUND, False
        answer.notes.append("none of the model's sentences is supported by the documents, so its draft was withdrawn")


def checkable_claims(draft: str, keys: set[str]) -> list[Claim]:
    """The draft's sentences that get a verdict, in order: all but a not-found sentence."""
    return [claim for claim in split_claims(draft, keys) if not is_not_found(claim.text)]


def verify(statement: str, backends: Backends, *, evidence: str | None = None, k: int | None = None) -> Claim:
    """Check a statement against the corpus (retrieve, then judge) or against `evidence` text.

    >>> verify("Most Tajik migrants work in Russia.", Backends(get_settings())).verdict
    'supported'
    """
    statement = checked(statement, backends.settings.retrieval.max_question_chars, "statement")
    if evidence is None:
        sources = [Source(f"S{rank}", hit) for rank, hit in enumerate(search(statement, backends, k), start=1)]
    else:
        checked(evidence, backends.settings.ingest.max_file_bytes, "evidence")
        sources = [Source("S1", _evidence_hit(evidence))]  # unstripped: offsets count from its first character
    claim = Claim(text=statement, keys=[source.key for source in sources])
    if not sources:  # an empty corpus
        claim.verdict, claim.reasons = "unsupported", [Reason("not_stated", "no stored passage is about this")]
        return claim
    return backends.verifier.check(claim, {source.key: source for source in sources}, own_answer=False)


def _evidence_hit(evidence: str) -> Hit:
    """Given evidence text as a passage of its own (it is not stored, so it has no document id)."""
    return Hit(Chunk("evidence", "", 0, 0, len(evidence), evidence), title="given evidence", source="", score=1.0)
