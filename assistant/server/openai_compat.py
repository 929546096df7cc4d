"""OpenAI-compatible `POST /v1/chat/completions` and `GET /v1/models`: existing OpenAI clients and chat
front-ends use the assistant as a model. Citations survive in the text a vanilla client shows (markers
and a `Sources:` list of verbatim quotes) and, structured, in the extra top-level `assistant` field."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from fastapi import APIRouter, Depends, Request
from sse_starlette import EventSourceResponse

from assistant.errors import AssistantError, InputError, ModelNotFound
from assistant.present import answer_appendix, answer_json, without_appendix
from assistant.records import Answer, Turn
from assistant.server import openai_schemas as schemas
from assistant.server import streaming
from assistant.server.auth import KEY_STATUS_TEXT, require_key
from assistant.server.deps import BackendsDep

router = APIRouter(dependencies=[Depends(require_key)], tags=["OpenAI-compatible"])
# Model name -> generator (None: the `generation.generator` setting).
MODELS: dict[str, str | None] = {
    "assistant": None,
    "assistant-local": "local",
    "assistant-openai": "openai",
    "assistant-extractive": "extractive",
}
STARTED = int(time.time())
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    429: "rate_limit_error",
}
_STATUS_TEXT = {
    400: "Bad input: the last message is not the user's, an empty question.",
    **KEY_STATUS_TEXT,
    404: "No such model.",
    413: "The question is over the limit, or the body over the request limit.",
    422: "The request does not match the schema.",
    503: "The model cannot be reached or loaded (and `generation.fallback` is off).",
}


def openai_error(code: str, message: str, status: int) -> dict[str, Any]:
    """An error in OpenAI's shape, with the assistant's stable code: the official client raises the
    class for the status (`NotFoundError`, `AuthenticationError`, `InternalServerError` for 503)."""
    kind = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "code": code, "param": None}}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"model": schemas.OpenAIErrorOut, "description": _STATUS_TEXT[s]} for s in (401, 422, 429, *statuses)}


@router.get("/models", response_model=schemas.ModelsOut, responses=errors())
def list_models() -> dict[str, Any]:
    """The models this server offers: each is the assistant with one generator."""
    return {"object": "list", "data": [_model_json(name) for name in MODELS]}


@router.get("/models/{model}", response_model=schemas.ModelOut, responses=errors(404))
def get_model(model: str) -> dict[str, Any]:
    """One model of `GET /v1/models`; any other name is a 404 (`model_not_found`)."""
    _generator(model)
    return _model_json(model)


def _model_json(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": STARTED, "owned_by": "assistant"}


def _generator(model: str) -> str | None:
    if model not in MODELS:
        raise ModelNotFound(f"no model {model!r}; this server offers {', '.join(MODELS)}")
    return MODELS[model]


@router.post(
    "/chat/completions",
    response_model=schemas.ChatCompletionOut,
    responses={
        200: {"content": schemas.chunk_stream(), "description": "The answer; with `stream`, `chat.completion.chunk`s."},
        **errors(400, 404, 413, 503),
    },
)
async def chat_completions(body: schemas.ChatRequest, backends: BackendsDep, request: Request) -> Any:
    """Answer the last user message from the documents, as an OpenAI chat completion. The message
    content is the answer with `[S1]` markers, then `Sources:` (each marker's document, page and
    verbatim quote) and the sentences the sources do not support; the structured claims, citations and
    verdicts are in the extra top-level `assistant` field (in a stream: in the last chunk)."""
    generator = _generator(body.model)
    question, history = _conversation(body.messages)
    history_turns = [Turn(asked, answered) for asked, answered in history]
    reply = _Reply(body.model)
    if not body.stream:
        answer = await streaming.whole_answer(request, question, backends, generator=generator, history=history_turns)
        return reply.completion(answer)
    slots = request.app.state.answer_slots
    events = streaming.ask_events(question, backends, slots=slots, generator=generator, history=history_turns)
    opened = await streaming.opening(events, until=("token",))  # a model that fails to start: a status
    return EventSourceResponse(reply.chunks(opened, events), ping=streaming.PING_SECONDS, sep="\n")


def _conversation(messages: list[schemas.ChatMessage]) -> tuple[str, list[tuple[str, str]]]:
    """The question (the last message, the user's) and the earlier (question, answer) pairs."""
    *earlier, last = messages
    if last.role != "user":
        raise InputError(f"the last message must be the user's question, not the {last.role}'s")
    pairs: list[tuple[str, str]] = []
    asked: str | None = None
    for message in earlier:
        if message.role == "user":
            if asked is not None:  # two questions in a row: the first went unanswered
                pairs.append((asked, ""))
            asked = _text(message)
        elif message.role == "assistant" and asked is not None:
            pairs.append((asked, without_appendix(_text(message))))
            asked = None
    if asked is not None:
        pairs.append((asked, ""))
    return _text(last), pairs


def _text(message: schemas.ChatMessage) -> str:
    if isinstance(message.content, list):
        return "\n".join(part.text for part in message.content if part.type == "text" and part.text)
    return message.content or ""


class _Reply:
    """One completion's id and timestamp, shared by its chunks."""

    def __init__(self, model: str) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.model = model
        self.created = int(time.time())

    def completion(self, answer: Answer) -> dict[str, Any]:
        text = answer.text if answer.draft is None else answer.draft  # as a stream would have sent it
        message = {"role": "assistant", "content": text + answer_appendix(answer)}
        choice = {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}
        return {**self._head("chat.completion"), "choices": [choice], "assistant": answer_json(answer)}

    def chunk(self, delta: dict[str, str], finish: str | None = None, **extra: Any) -> dict[str, str]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return {"data": json.dumps({**self._head("chat.completion.chunk"), "choices": [choice], **extra})}

    async def chunks(
        self, opened: list[tuple[str, object]], events: AsyncIterator[tuple[str, object]]
    ) -> AsyncIterator[dict[str, str]]:
        """The role, each token, then one last chunk with the sources text and the structured answer,
        and `[DONE]`; a failure mid-way ends the stream with an error in OpenAI's shape instead."""
        yield self.chunk({"role": "assistant", "content": ""})
        async with aclosing(events):
            async for kind, payload in streaming.chained(opened, events):
                if kind == "token":
                    yield self.chunk({"content": str(payload)})
                elif kind == "answer" and isinstance(payload, Answer):
                    yield self.chunk({"content": answer_appendix(payload)}, "stop", assistant=answer_json(payload))
                    yield {"data": "[DONE]"}
                elif kind == "error" and isinstance(payload, AssistantError):
                    yield {"data": json.dumps(openai_error(payload.code, payload.message, payload.status))}

    def _head(self, kind: str) -> dict[str, Any]:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model}
