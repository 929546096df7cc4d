"""The web chat: the conversation page, the ask form, each answer streamed as HTML fragments, and the login form.

GET  /                                  a new conversation (redirect to /c/ID)
GET  /c/{id}                            the conversation page: earlier turns re-rendered from the store
POST /c/{id}/ask                        a question: the turn, whose answer streams from ...
GET  /c/{id}/turns/{turn}/events        ... server-sent events: question, sources, body, done
POST /c/{id}/delete                     forget a conversation
GET|POST /login, POST /logout           when `server.api_key` is set
(documents, uploads and citation context: `library.py`)
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import escape
from sse_starlette import EventSourceResponse

from assistant import pipeline
from assistant.backends import check_generator
from assistant.errors import AssistantError, NotFound, TooManyAttempts
from assistant.present import answer_json, claim_json, source_json
from assistant.records import Answer, Claim, Source
from assistant.server import library
from assistant.server.auth import COOKIE, admitted, client_address, same_origin, session_token
from assistant.server.conversations import StoredTurn, new_id, valid_id
from assistant.server.streaming import PING_SECONDS, ask_events
from assistant.server.views import GENERATOR_LABELS, Page, Views, Write, conversations, is_htmx, views
from assistant.settings import Settings

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
router.include_router(library.router)
SESSION_DAYS = 30
WAIT_SECONDS = 0.5  # between looks at a turn another connection is answering


@router.get("/", dependencies=Page)
def home() -> RedirectResponse:
    return RedirectResponse(f"/c/{new_id()}", status_code=303)


@router.get("/c/{conversation}", dependencies=Page, response_model=None)
def conversation_page(request: Request, conversation: str) -> Response:
    if not valid_id(conversation):
        return RedirectResponse("/", status_code=303)
    settings: Settings = request.app.state.settings
    store = conversations(request)
    return views(request).respond(
        "chat.html",
        conversation=conversation,
        turns=store.turns(conversation),
        recent=store.recent(),
        generators=generator_choices(settings),
        documents=request.app.state.backends.docstore.list_documents(),
        upload=library.upload_limits(settings),
        login=settings.server.api_key is not None,
    )


@router.post("/c/{conversation}/ask", dependencies=Write)
def ask(
    request: Request,
    conversation: str,
    question: Annotated[str, Form()] = "",
    generator: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Store the question as a pending turn; the page then opens the turn's event stream."""
    page = views(request)
    try:
        if not valid_id(conversation):
            raise NotFound("no such conversation")
        settings: Settings = request.app.state.settings
        text = pipeline.checked(question, settings.retrieval.max_question_chars)
        turn = conversations(request).ask(conversation, text, check_generator(generator or None))
    except AssistantError as error:
        return page.error(request, error, target="#ask-error")
    return page.respond("_turn.html", turn=turn)


@router.post("/c/{conversation}/delete", dependencies=Write)
def delete_conversation(request: Request, conversation: str) -> RedirectResponse:
    try:
        conversations(request).delete(conversation)
    except NotFound:
        pass  # already gone: the same place to go
    return RedirectResponse("/", status_code=303)


@router.get("/c/{conversation}/turns/{turn_id}/events")
async def turn_events(request: Request, conversation: str, turn_id: int) -> EventSourceResponse:
    """The answer to a pending turn as it is written; a finished turn's final HTML at once (a reconnect).

    Without the login (the page logged out in another tab), one `done` event says so: the page's
    stream closes on it. A redirect to the login form would make the page reconnect for ever."""
    if not admitted(request):
        here = f"/c/{conversation}" if valid_id(conversation) else "/"
        notice = views(request).render("_logged_out.html", turn_id=turn_id, login=f"/login?next={quote(here)}")
        return EventSourceResponse(_once({"event": "done", "data": notice}))
    turn = conversations(request).turn(conversation, turn_id)
    return EventSourceResponse(_turn_stream(request, turn), ping=PING_SECONDS)


async def _once(event: dict[str, str]) -> AsyncIterator[dict[str, str]]:
    yield event


async def _turn_stream(request: Request, turn: StoredTurn) -> AsyncIterator[dict[str, str]]:
    running: set[int] = request.app.state.answering  # turns being answered by some connection
    store = conversations(request)
    while turn.state == "pending" and turn.id in running:  # a second tab, or a reload mid-answer
        await asyncio.sleep(WAIT_SECONDS)
        turn = store.turn(turn.conversation, turn.id)
    if turn.state == "pending":
        running.add(turn.id)
        try:
            async with aclosing(_answer(request, turn)) as answering:  # a closed page stops the model
                async for event in answering:
                    yield event
        except Exception:  # stored as failed: a page that reconnects must not run a broken turn again
            log.exception("answering turn %s failed", turn.id)
            store.fail(turn.id, "internal_error", "internal error while answering; see the server log")
        finally:
            running.discard(turn.id)
        turn = store.turn(turn.conversation, turn.id)
    yield {"event": "done", "data": views(request).render("_turn.html", turn=turn)}


async def _answer(request: Request, turn: StoredTurn) -> AsyncIterator[dict[str, str]]:
    """Run the pipeline for the turn, rendering each event; the answer (or error) is stored at the end."""
    store = conversations(request)
    history = store.history(turn.conversation, turn.id, request.app.state.settings.generation.history_turns)
    progress = AnswerProgress(views(request), turn)
    backends, slots = request.app.state.backends, request.app.state.answer_slots
    events = ask_events(turn.question, backends, slots=slots, generator=turn.generator, history=history)
    async with aclosing(events):
        async for kind, payload in events:
            if isinstance(payload, Answer):
                store.finish(turn.id, answer_json(payload))
            elif isinstance(payload, AssistantError):
                store.fail(turn.id, payload.code, payload.message)
            elif (event := progress.update(kind, payload)) is not None:
                yield event


class AnswerProgress:
    """The answer so far as HTML: the draft while it is written, then its sentences as they are checked."""

    def __init__(self, page: Views, turn: StoredTurn) -> None:
        self.page = page
        self.turn = turn
        self.draft = ""
        self.keys: set[str] = set()
        self.claims: list[str] | None = None  # the draft's sentences, once it is complete
        self.checked: list[dict[str, Any]] = []

    def update(self, kind: str, payload: object) -> dict[str, str] | None:
        if kind == "question" and isinstance(payload, str):
            return self._event("question", "_searched.html", standalone=payload)
        if kind == "sources" and isinstance(payload, list):
            self.keys = {source.key for source in payload if isinstance(source, Source)}
            sources = [source_json(source) for source in payload]
            return self._event("sources", "_sources.html", sources=sources)
        if kind == "token" and isinstance(payload, str):
            started = bool(self.draft)
            self.draft += payload
            if started:  # only the new words: the page appends them to the draft it holds
                return {"event": "token", "data": str(escape(payload))}
            return self._event("body", "_draft.html", draft=self.draft)
        if kind == "claim" and isinstance(payload, Claim):
            if self.claims is None:  # the first check: the draft is complete
                self.claims = [claim.text for claim in pipeline.checkable_claims(self.draft, self.keys)]
            self.checked.append(claim_json(payload))
            unchecked = self.claims[len(self.checked) :]
            return self._event("body", "_checking.html", turn=self.turn, checked=self.checked, unchecked=unchecked)
        return None

    def _event(self, name: str, template: str, **context: Any) -> dict[str, str]:
        return {"event": name, "data": self.page.render(template, **context)}


def generator_choices(settings: Settings) -> list[tuple[str, str]]:
    """(name, label) of the generators the page offers: the configured one first, then quotes only."""
    generation = settings.generation
    models = {
        "local": generation.model.removeprefix("packaged:"),
        "openai": settings.openai.model,
        "extractive": "no model",
    }
    described = {name: f"{label} ({models[name]})" for name, label in GENERATOR_LABELS.items()}
    names = dict.fromkeys([generation.generator, "extractive"])
    return [(name, described[name]) for name in names]


@router.get("/login", response_model=None)
def login_page(request: Request, next: str = "/") -> Response:
    if request.app.state.settings.server.api_key is None or admitted(request):
        return RedirectResponse(_local(next), status_code=303)
    return views(request).respond("login.html", next=_local(next), failed=None)


@router.post("/login", dependencies=[Depends(same_origin)], response_model=None)
def login(request: Request, key: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/") -> Response:
    """The key typed once; the cookie holds a token derived from it (HttpOnly, so scripts never see it)."""
    secret = request.app.state.settings.server.api_key
    if secret is None:
        return RedirectResponse(_local(next), status_code=303)
    expected = secret.get_secret_value()
    attempts, address = request.app.state.key_attempts, client_address(request)
    try:
        mark = attempts.attempt(address)
    except TooManyAttempts as error:
        return views(request).respond("login.html", 429, error.headers, next=_local(next), failed=error.message)
    if not hmac.compare_digest(key.encode(), expected.encode()):
        return views(request).respond("login.html", 401, next=_local(next), failed="That key is not right.")
    attempts.succeeded(address, mark)
    response = RedirectResponse(_local(next), status_code=303)
    response.set_cookie(
        COOKIE,
        session_token(expected),
        max_age=SESSION_DAYS * 86400,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout", dependencies=[Depends(same_origin)])
def logout(request: Request) -> RedirectResponse:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, httponly=True, samesite="lax")
    if is_htmx(request):
        response.headers["HX-Redirect"] = "/login"
    return response


def _local(target: str) -> str:
    """Only a path on this server is a place to return to after logging in."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
