"""Typed records passed between stages: file -> document -> chunk -> hit, plus ingest outcomes."""

from __future__ import annotations

import bisect
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal


def content_hash(text: str) -> str:
    """Stable hash of a document's text; file documents take their id from it."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file offered for ingestion. `key` says which earlier document it replaces."""

    path: Path
    name: str
    key: str

    @classmethod
    def from_path(cls, path: Path) -> SourceFile:
        return cls(path=path, name=path_text(path.name), key=path_text(path.resolve()))


def path_text(path: Path | str) -> str:
    """A path as storable text: bytes of a file name that are not UTF-8 (Linux allows any) become
    `\\xe9` escapes, since the surrogates Python reads them as cannot be stored or printed."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


@dataclass(frozen=True, slots=True)
class Page:
    """A PDF page's span inside the document text (1-based page number)."""

    number: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """A document's full text, as stored and as quoted from.

    `key` names where it came from (a file path, a record id): ingesting that key again replaces
    it. `version` hashes everything stored and indexed, so any change is noticed.
    """

    doc_id: str
    key: str
    title: str
    source: str
    text: str
    pages: tuple[Page, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    version: str = field(init=False)

    def __post_init__(self) -> None:
        stored = [self.title, self.text, self.metadata, [[p.number, p.start, p.end] for p in self.pages]]
        object.__setattr__(self, "version", content_hash(json.dumps(stored, sort_keys=True, default=str)))

    def page_at(self, offset: int) -> int | None:
        """The page holding character `offset`, or None for documents without pages."""
        if not self.pages:
            return None
        starts = [page.start for page in self.pages]
        return self.pages[max(0, bisect.bisect_right(starts, offset) - 1)].number


@dataclass(frozen=True, slots=True)
class Chunk:
    """A passage of a document: `text == document.text[start:end]`."""

    chunk_id: str
    doc_id: str
    ordinal: int
    start: int
    end: int
    text: str
    page: int | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    """A retrieved chunk with its document's title and every score that ranked it."""

    chunk: Chunk
    title: str
    source: str
    score: float
    dense_rank: int | None = None
    dense_similarity: float | None = None
    lexical_rank: int | None = None
    lexical_score: float | None = None


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    """What `docs list` shows about a stored document."""

    doc_id: str
    title: str
    source: str
    chunks: int
    chars: int
    pages: int
    added_at: str


IngestStatus = Literal["added", "replaced", "unchanged", "skipped", "failed"]


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    """What happened to one document (or one file that yielded none)."""

    source: str
    status: IngestStatus
    doc_id: str | None = None
    title: str | None = None
    chunks: int = 0
    reason: str | None = None


@dataclass(slots=True)
class IngestReport:
    """The summary of one ingest run."""

    outcomes: list[IngestOutcome] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: IngestStatus) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)

    @property
    def chunks(self) -> int:
        return sum(o.chunks for o in self.outcomes if o.status in ("added", "replaced"))

    @property
    def failed(self) -> list[IngestOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status == "failed"]


@dataclass(slots=True)
class ParsedFile:
    """What one file yielded: its documents, and the records inside it that were rejected."""

    documents: list[ParsedDocument] = field(default_factory=list)
    rejected: list[IngestOutcome] = field(default_factory=list)


@dataclass(slots=True)
class PlannedDocument:
    """A new document version to store, with its chunks; `replaces` is what its key pointed at."""

    document: ParsedDocument
    chunks: list[Chunk]
    replaces: str | None = None
    repair: bool = False  # the stored version again: its vectors were lost


@dataclass(frozen=True, slots=True)
class Source:
    """A retrieved passage as the generator sees it, under a short key (S1, S2, ...) it cites."""

    key: str
    hit: Hit


@dataclass(frozen=True, slots=True)
class Citation:
    """A verbatim quote backing a claim: `quote == document.text[start:end]`."""

    key: str
    doc_id: str
    chunk_id: str
    title: str
    quote: str
    start: int
    end: int
    page: int | None = None


Verdict = Literal["supported", "unsupported", "uncited"]

# Why a claim is not supported; the codes are stable, the details are for people.
ReasonCode = Literal[
    "no_citation",
    "unknown_source",
    "quote_not_found",
    "number_not_in_source",
    "name_not_in_source",
    "stated_as_fact",
    "not_stated",
]


@dataclass(frozen=True, slots=True)
class Reason:
    code: ReasonCode
    detail: str


@dataclass(frozen=True, slots=True)
class Judgement:
    """The semantic judge's view of one claim against its evidence."""

    supported: bool
    score: float  # estimated probability that the evidence states the claim
    seconds: float
    judge: str
    signals: dict[str, float] = field(default_factory=dict)  # what the score was computed from


@dataclass(slots=True)
class Claim:
    """One sentence of an answer (or one statement to verify), with its citations and verdict."""

    text: str
    keys: list[str] = field(default_factory=list)
    unknown_keys: list[str] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    verdict: Verdict = "uncited"
    reasons: list[Reason] = field(default_factory=list)
    judgement: Judgement | None = None
    # "answer": the sentence's own markers; "checker": it cited nothing and the verifier found passages stating it
    cited_by: Literal["answer", "checker"] = "answer"


@dataclass(slots=True)
class Timings:
    """Seconds spent per stage of one answer."""

    rewrite: float = 0.0
    retrieval: float = 0.0
    first_token: float | None = None
    generation: float = 0.0
    verification: float = 0.0
    total: float = 0.0


@dataclass(frozen=True, slots=True)
class Turn:
    """One earlier exchange of a conversation."""

    question: str
    answer: str


@dataclass(slots=True)
class Answer:
    """A verified answer: the text as generated, its claims, and the passages it drew on.
    `standalone` is the question as retrieval saw it: a follow-up rewritten with the conversation.
    `draft` is the model's text when none of its sentences was supported: the answer is then the
    not-found sentence, and the draft is kept, flagged, for the reader to see."""

    question: str
    text: str
    claims: list[Claim]
    sources: list[Source]
    generator: str
    model: str
    answered: bool = True
    standalone: str | None = None
    draft: str | None = None
    stripped_keys: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timings: Timings = field(default_factory=Timings)
