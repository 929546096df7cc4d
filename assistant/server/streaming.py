"""Answers as an async stream of pipeline events: the pipeline runs in a worker thread, its events
cross to the event loop through a queue, and a client that goes away stops the generation. A fixed
number of answers may run or wait for the model at once; one more is refused at once (`Busy`)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Collection, Iterator, Sequence
from contextlib import aclosing, contextmanager

from fastapi import Request

from assistant import pipeline
from assistant.backends import Backends
from assistant.errors import AssistantError, Busy, ClientGone
from assistant.records import Answer, Turn

log = logging.getLogger(__name__)
PING_SECONDS = 15  # an SSE comment this often, so proxies keep a stream open while a model loads


class _Cancelled(Exception):
    """Raised inside the pipeline's event callback once the listener has gone."""


class AnswerSlots:
    """How many answers may run or wait for the one model at once: past that, waiting would only hold
    a thread and a connection while the model works through the queue, so the request is refused."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.taken = 0
        self._lock = threading.Lock()

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._lock:
            if self.taken >= self.limit:
                raise Busy(f"{self.taken} answers are already being written or waiting; try again shortly")
            self.taken += 1
        try:
            yield
        finally:
            with self._lock:
                self.taken -= 1


async def ask_events(
    question: str,
    backends: Backends,
    *,
    slots: AnswerSlots,
    generator: str | None = None,
    history: Sequence[Turn] = (),
) -> AsyncIterator[tuple[str, object]]:
    """Yields the pipeline's events ("question", "sources", "token", "claim"), then ("answer", Answer),
    or ("error", AssistantError) when it fails (`Busy` first of all when every slot is taken). Leaving
    the loop early cancels the answer: the model stops at its next token."""
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[tuple[str, object]] = asyncio.Queue()
    cancelled = threading.Event()

    def put(kind: str, payload: object) -> None:
        loop.call_soon_threadsafe(events.put_nowait, (kind, payload))

    def on_event(kind: str, payload: object) -> None:
        if cancelled.is_set():
            raise _Cancelled
        put(kind, payload)

    def run() -> None:
        try:
            with slots.slot():
                answer = pipeline.ask(question, backends, generator=generator, history=history, on_event=on_event)
            put("answer", answer)
        except _Cancelled:
            pass
        except AssistantError as error:
            put("error", error)
        except Exception:
            log.exception("answering %r failed", question[:200])
            put("error", AssistantError("internal error while answering; see the server log"))
        finally:
            put("end", None)

    threading.Thread(target=run, name="answer", daemon=True).start()
    try:
        while True:
            kind, payload = await events.get()
            if kind == "end":
                return
            yield kind, payload
    finally:
        cancelled.set()


async def opening(events: AsyncIterator[tuple[str, object]], until: Collection[str] = ()) -> list[tuple[str, object]]:
    """The stream's first events, up to the first of the kinds `until` (or just the first event). An
    error among them (a question too long, a model that will not load) is raised, so a client is told
    with an HTTP status rather than with a stream that holds nothing but the error."""
    opened: list[tuple[str, object]] = []
    async for kind, payload in events:
        if kind == "error":
            await events.aclose()
            raise payload if isinstance(payload, AssistantError) else AssistantError(str(payload))
        opened.append((kind, payload))
        if not until or kind in until or kind == "answer":
            return opened
    return opened


async def chained(
    opened: list[tuple[str, object]], events: AsyncIterator[tuple[str, object]]
) -> AsyncIterator[tuple[str, object]]:
    """The events `opening` read, then the rest."""
    for event in opened:
        yield event
    async for event in events:
        yield event


async def whole_answer(
    request: Request,
    question: str,
    backends: Backends,
    *,
    generator: str | None = None,
    history: Sequence[Turn] = (),
) -> Answer:
    """The answer, unstreamed; a client that closes the connection meanwhile stops it like a stream."""
    slots: AnswerSlots = request.app.state.answer_slots
    events = ask_events(question, backends, slots=slots, generator=generator, history=history)
    async with aclosing(events):
        async for kind, payload in events:
            if isinstance(payload, Answer):
                return payload
            if isinstance(payload, AssistantError):
                raise payload
            if await request.is_disconnected():
                raise ClientGone("the client closed the connection")
    raise AssistantError("the answer ended without a result")
