"""Request and response schemas of the OpenAI-compatible routes under /v1 (the parts of OpenAI's chat
completions API that a client needs, plus the structured answer in the extra `assistant` field)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from assistant.server.schemas import QUESTION, AnswerOut, component, json_data


class ContentPart(BaseModel):
    """A part of a message's content; only `text` parts are read."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["text"])
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None


class ChatRequest(BaseModel):
    """OpenAI's fields; those that do not apply (temperature, max_tokens, tools, ...) are accepted and ignored."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {"model": "assistant", "messages": [{"role": "user", "content": QUESTION}]},
                {
                    "model": "assistant-extractive",
                    "stream": True,
                    "messages": [
                        {"role": "user", "content": QUESTION},
                        {"role": "assistant", "content": "Around 3 million [S1].\n\nSources:\n- [S1] ..."},
                        {"role": "user", "content": "And what about in 2023?"},
                    ],
                },
            ]
        },
    )

    model: str = Field(
        description="`assistant` (the configured generator), `assistant-local`, `assistant-openai` or "
        "`assistant-extractive` (see `GET /v1/models`)."
    )
    messages: list[ChatMessage] = Field(
        min_length=1,
        description="The conversation; the last message is the user's question, and earlier user/assistant "
        "pairs rewrite a follow-up. System messages are ignored (the assistant has its own instructions).",
    )
    stream: StrictBool | None = Field(False, description="Stream `chat.completion.chunk`s, then `data: [DONE]`.")
    n: StrictInt | None = Field(None, ge=1, le=1, description="Only one answer is written.")


class MessageOut(BaseModel):
    role: Literal["assistant"]
    content: str = Field(
        description="The answer with its `[S1]` markers, then `Sources:` (each marker's document, page and "
        "verbatim quote) and the sentences the sources do not support."
    )


class ChoiceOut(BaseModel):
    index: int
    message: MessageOut
    finish_reason: Literal["stop"]
    logprobs: None = None


class ChatCompletionOut(BaseModel):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[ChoiceOut]
    assistant: AnswerOut = Field(description="The structured answer: claims, citations, verdicts, sources.")


class DeltaOut(BaseModel):
    role: Literal["assistant"] | None = Field(None, description="In the first chunk only.")
    content: str | None = None


class ChunkChoiceOut(BaseModel):
    index: int
    delta: DeltaOut
    finish_reason: Literal["stop"] | None
    logprobs: None = None


class ChatChunkOut(BaseModel):
    """One `chat.completion.chunk`: the role, then the answer's pieces, then one with the `Sources:`
    text, `finish_reason: "stop"` and the structured answer."""

    id: str
    object: Literal["chat.completion.chunk"]
    created: int
    model: str
    choices: list[ChunkChoiceOut]
    assistant: AnswerOut | None = Field(None, description="In the last chunk: the structured answer.")


class ModelOut(BaseModel):
    id: str = Field(examples=["assistant"])
    object: Literal["model"]
    created: int
    owned_by: str


class ModelsOut(BaseModel):
    object: Literal["list"]
    data: list[ModelOut]


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str = Field(
        description="OpenAI's error type: `invalid_request_error`, `authentication_error`, `server_error`."
    )
    code: str = Field(description="The assistant's stable error code, e.g. `model_not_found`.")
    param: str | None = None


class OpenAIErrorOut(BaseModel):
    error: OpenAIErrorDetail


def chunk_stream() -> dict[str, Any]:
    """The OpenAPI content of a streamed completion: `data:` lines of chunks (or one error), then `[DONE]`."""
    chunk_or_error = {"anyOf": [component(ChatChunkOut), component(OpenAIErrorOut)]}
    data = {"anyOf": [{"const": "[DONE]"}, json_data(chunk_or_error)]}
    return {"text/event-stream": {"schema": {"type": "object", "required": ["data"], "properties": {"data": data}}}}


STREAM_MODELS = [ChatChunkOut, OpenAIErrorOut]
