"""Request and response schemas of the JSON API under /api/v1: what the OpenAPI page documents, kept
apart from the pipeline's records (the presenters in `assistant.present` build the response dicts)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from assistant.records import IngestStatus, ReasonCode, Verdict
from assistant.settings import GeneratorName

QUESTION = "How many Tajik migrants work in Russia?"
QUOTE = "The Russian Federation has allegedly around 3 million Tajiks working as labour migrants."
TITLE = "The Hegemon's 'K-Device': Tajiks in the crosshairs"


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be empty or blank")
    return text


# Text with something in it; the schema says so too (`pattern` as JSON Schema reads it: a match anywhere).
Text = Annotated[str, AfterValidator(_not_blank), Field(json_schema_extra={"minLength": 1, "pattern": r"\S"})]


def _whole(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


# How many passages: an integer as JSON Schema reads one, so `5.0` is one too (a strict model would
# refuse it); `5.5` and `"5"` are not.
PassageCount = Annotated[int, Field(ge=1, le=100), BeforeValidator(_whole)]


class Strict(BaseModel):
    """A request body: unknown fields are refused (a typo is an error rather than ignored), and values
    are not coerced (`"stream": 0` is not `false`)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class TurnIn(Strict):
    question: str = Field(description="An earlier question of the conversation.")
    answer: str = Field(description="The answer it got (citation markers and all).")


class AskRequest(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"question": QUESTION},
                {
                    "question": "And what about in 2023?",
                    "history": [{"question": QUESTION, "answer": "Around 3 million [S1]."}],
                    "generator": "extractive",
                    "stream": True,
                },
            ]
        },
    )

    question: Text = Field(description="The question (at most `retrieval.max_question_chars` characters).")
    generator: GeneratorName | None = Field(
        None, description="`local`, `openai` or `extractive`; default: the `generation.generator` setting."
    )
    history: list[TurnIn] = Field(
        default_factory=list,
        max_length=100,
        description="Earlier turns, oldest first: a follow-up is rewritten with them before retrieval.",
    )
    stream: bool = Field(
        False,
        description="Answer as server-sent events: `question` (a follow-up rewritten), `sources`, `token`..., "
        "`claim`..., then `answer` (the whole answer) or `error`.",
    )


class SearchRequest(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"question": QUESTION, "k": 3}]})

    question: Text = Field(description="What to search for.")
    k: PassageCount | None = Field(None, description="Passages to return; default: `retrieval.top_k`.")


class VerifyRequest(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"statement": "Most Tajik migrants work in Russia."},
                {
                    "statement": "Some 5 million Tajiks work in Russia.",
                    "evidence": "Some 3 million Tajiks work in Russia.",
                },
            ]
        },
    )

    statement: Text = Field(description="The statement to check.")
    evidence: Text | None = Field(
        None, description="Check against this text instead of the stored documents (it is not stored)."
    )
    k: PassageCount | None = Field(None, description="Passages retrieved to check against; default: `retrieval.top_k`.")


# Responses ------------------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. `question_too_long`.", examples=["not_found"])
    message: str = Field(description="What went wrong, for people.")


class ErrorOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "question_too_long",
                        "message": "the question is 102400 characters; the limit is 2000",
                    }
                }
            ]
        }
    )

    error: ErrorDetail


class Scores(BaseModel):
    fused: float = Field(description="The fused retrieval score that ranked the passage.")
    dense_rank: int | None
    dense_similarity: float | None = Field(description="Cosine similarity of question and passage.")
    lexical_rank: int | None
    lexical_score: float | None = Field(description="BM25 score.")


class HitOut(BaseModel):
    rank: int
    doc_id: str
    chunk_id: str
    title: str
    source: str = Field(description="Where the document came from (a file name, `name#record` for JSONL).")
    page: int | None = Field(description="PDF page the passage starts on.")
    start: int = Field(description="Character offset of the passage in the document text.")
    end: int
    text: str
    scores: Scores


class SourceOut(HitOut):
    key: str = Field(description="What the answer's markers cite: `[S1]`.", examples=["S1"])


class CitationOut(BaseModel):
    key: str = Field(description="The source the sentence cites, as the answer's `sources` list it.", examples=["S1"])
    doc_id: str
    chunk_id: str = Field(
        description="The passage of that source. A quotation the sentence makes is looked for in the"
        " whole document when it is not in the passage: `start` and `end` may then run past the passage"
        " or lie elsewhere in the document."
    )
    title: str = Field(examples=[TITLE])
    quote: str = Field(description="Verbatim: `document.text[start:end]`.", examples=[QUOTE])
    start: int = Field(description="Offset of the quote in the document's text (not in the passage).")
    end: int
    page: int | None


class ReasonOut(BaseModel):
    code: ReasonCode = Field(description="Why the sentence is not supported.")
    detail: str


class JudgeOut(BaseModel):
    name: str
    supported: bool
    score: float = Field(description="Estimated probability that the evidence states the sentence.")
    seconds: float
    signals: dict[str, float]


class ClaimOut(BaseModel):
    text: str = Field(description="One sentence of the answer, without its markers.")
    verdict: Verdict
    reasons: list[ReasonOut] = Field(description="Empty when supported.")
    citations: list[CitationOut]
    cited_by: Literal["answer", "checker"] | None = Field(
        description="Who chose the citations: the answer's own markers, or the checker, which found passages "
        "stating a sentence that cited nothing. Null without citations."
    )
    stripped_keys: list[str] = Field(description="Markers citing sources that do not exist, removed.")
    judge: JudgeOut | None


class Counts(BaseModel):
    supported: int
    unsupported: int
    uncited: int


class GeneratorOut(BaseModel):
    name: str = Field(examples=["local"])
    model: str


class TimingsOut(BaseModel):
    rewrite: float | None
    retrieval: float | None
    first_token: float | None
    generation: float | None
    verification: float | None
    total: float | None


class AnswerOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "question": QUESTION,
                    "standalone_question": None,
                    "answer": "Around 3 million Tajiks work in Russia [S1].",
                    "answered": True,
                    "draft": None,
                    "claims": [
                        {
                            "text": "Around 3 million Tajiks work in Russia.",
                            "verdict": "supported",
                            "reasons": [],
                            "citations": [
                                {
                                    "key": "S1",
                                    "doc_id": "3f2a…",
                                    "chunk_id": "9c1d…",
                                    "title": TITLE,
                                    "quote": QUOTE,
                                    "start": 1204,
                                    "end": 1292,
                                    "page": None,
                                }
                            ],
                            "stripped_keys": [],
                            "judge": None,
                        }
                    ],
                    "counts": {"supported": 1, "unsupported": 0, "uncited": 0},
                    "stripped_keys": [],
                    "sources": [],
                    "generator": {"name": "local", "model": "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"},
                    "notes": [],
                    "timings": {
                        "rewrite": 0.0,
                        "retrieval": 0.05,
                        "first_token": 2.1,
                        "generation": 4.3,
                        "verification": 1.2,
                        "total": 5.6,
                    },
                }
            ]
        }
    )

    question: str
    standalone_question: str | None = Field(description="A follow-up as rewritten with the conversation.")
    answer: str = Field(description="The answer as written, with `[S1]` markers.")
    answered: bool = Field(description="False when the documents do not answer the question.")
    draft: str | None = Field(
        description="The model's text when none of its sentences was supported: `answer` is then the"
        " not-found sentence, and `claims` are the draft's sentences with their verdicts."
    )
    claims: list[ClaimOut] = Field(description="Each sentence with its quotes and verdict.")
    counts: Counts
    stripped_keys: list[str]
    sources: list[SourceOut] = Field(description="The passages the answer was written from.")
    generator: GeneratorOut
    notes: list[str] = Field(description="E.g. that a missing model was replaced by the extractive generator.")
    timings: TimingsOut = Field(description="Seconds per stage.")


class SearchOut(BaseModel):
    question: str
    hits: list[HitOut]


class VerifyOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "claim": "Some 5 million Tajiks work in Russia.",
                    "verdict": "unsupported",
                    "reason": "number_not_in_source",
                    "reasons": [{"code": "number_not_in_source", "detail": "5 million is not in the cited passages"}],
                    "citations": [],
                    "judge": None,
                }
            ]
        }
    )

    claim: str
    verdict: Literal["supported", "unsupported"]
    reason: ReasonCode | None = Field(description="The first reason's code, when unsupported.")
    reasons: list[ReasonOut]
    citations: list[CitationOut]
    judge: JudgeOut | None


class DocumentOut(BaseModel):
    doc_id: str
    title: str
    source: str
    chunks: int
    chars: int
    pages: int = Field(description="PDF pages (0 for other documents).")
    added_at: str = Field(description="ISO 8601, UTC.")


class DocumentsOut(BaseModel):
    documents: list[DocumentOut]


class PageOut(BaseModel):
    number: int
    start: int = Field(description="Character offset of the page in `text`.")
    end: int


class DocumentDetailOut(BaseModel):
    doc_id: str
    title: str
    source: str
    chars: int
    text: str = Field(description="The stored text; every quotation's offsets point into it.")
    pages: list[PageOut] = Field(description="Page spans of a PDF; empty for other documents.")
    metadata: dict[str, Any]


class DeletedOut(BaseModel):
    doc_id: str
    deleted: bool


class OutcomeOut(BaseModel):
    source: str
    status: IngestStatus
    doc_id: str | None
    title: str | None
    chunks: int
    reason: str | None


class JobFileOut(BaseModel):
    name: str = Field(description="The file name as stored (made safe).")
    status: Literal["queued", "running", "added", "replaced", "unchanged", "skipped", "failed"]
    reason: str | None
    documents: list[OutcomeOut] = Field(description="One per document read from the file (JSONL: per record).")


class JobOut(BaseModel):
    id: str
    state: Literal["queued", "running", "done", "failed"]
    stage: str | None = Field(description="`parse` (counts files) or `embed` (counts chunks).")
    done: int
    total: int
    error: str | None
    created: str = Field(description="ISO 8601, UTC.")
    finished: str | None
    files: list[JobFileOut]


class JobsOut(BaseModel):
    jobs: list[JobOut]


class UploadedFileOut(BaseModel):
    name: str
    status: Literal["queued", "rejected"]
    code: str | None = Field(description="Why it was rejected: `unsupported_file_type`, `file_too_large`, ...")
    reason: str | None


class UploadOut(BaseModel):
    job: JobOut
    files: list[UploadedFileOut]


class UploadErrorOut(ErrorOut):
    files: list[UploadedFileOut] = Field(default_factory=list, description="Each file and why it was refused.")


class Component(BaseModel):
    name: str
    model: str | None
    state: Literal["ready", "loading", "lazy", "unavailable"] = Field(
        description="`lazy`: loads on first use (warm-up is off)."
    )
    detail: str | None


class HealthOut(BaseModel):
    status: Literal["ok", "loading", "degraded", "unavailable"] = Field(
        description="`degraded`: a model is missing and a fallback answers instead; `unavailable` (503): "
        "questions cannot be answered."
    )
    version: str
    documents: int | None
    chunks: int | None
    store: Component
    retriever: Component
    generator: Component
    judge: Component


# Server-sent events ---------------------------------------------------------------------------------


class QuestionEvent(BaseModel):
    question: str = Field(description="A follow-up as rewritten with the conversation, before retrieval.")


class SourcesEvent(BaseModel):
    sources: list[SourceOut] = Field(description="The passages the answer will be written from.")


class TokenEvent(BaseModel):
    text: str = Field(description="The next piece of the answer as the model writes it.")


class ClaimEvent(ClaimOut):
    index: int = Field(description="The sentence's place in the answer, from 0.")


ASK_EVENTS = {
    "question": QuestionEvent,
    "sources": SourcesEvent,
    "token": TokenEvent,
    "claim": ClaimEvent,
    "answer": AnswerOut,
    "error": ErrorOut,
}


def component(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def json_data(schema: dict[str, Any]) -> dict[str, Any]:
    """An SSE `data` field holding JSON of this schema."""
    return {"type": "string", "contentMediaType": "application/json", "contentSchema": schema}


def event_stream(events: dict[str, type[BaseModel]]) -> dict[str, Any]:
    """The OpenAPI content of an SSE response: each event named, its `data` JSON of the event's schema
    (Open API 3.1 has `schema` describe one event)."""
    one_event = {
        "oneOf": [
            {
                "type": "object",
                "required": ["event", "data"],
                "properties": {"event": {"const": name}, "data": json_data(component(model))},
            }
            for name, model in events.items()
        ]
    }
    return {"text/event-stream": {"schema": one_event}}


def add_components(openapi: dict[str, Any], models: list[type[BaseModel]]) -> dict[str, Any]:
    """Put the models that only SSE streams refer to (and the models they refer to) among the
    schema's components; those FastAPI already placed are kept as they are."""
    from pydantic.json_schema import models_json_schema

    _, definitions = models_json_schema(
        [(model, "validation") for model in models], ref_template="#/components/schemas/{model}"
    )
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in definitions.get("$defs", {}).items():
        schemas.setdefault(name, schema)
    return openapi
