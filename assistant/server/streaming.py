"""Answers as an async stream of pipeline events: the pipeline runs in a worker thread, its events
cross to the event loop through a queue, and a client that goes away stops the generation."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Collection, Sequence

from assistant import pipeline
from assistant.backends import Backends
from assistant.errors import AssistantError
from assistant.records import Turn

log = logging.getLogger(__name__)
PING_SECONDS = 15  # an SSE comment this often, so proxies keep a stream open while a model loads


class _Cancelled(Exception):
    """Raised inside the pipeline's event callback once the listener has gone."""


async def ask_events(
    question: str, backends: Backends, *, generator: str | None = None, history: Sequence[Turn] = ()
) -> AsyncIterator[tuple[str, object]]:
    """Yields the pipeline's events ("question", "sources", "token", "claim"), then ("answer", Answer),
    or ("error", AssistantError) when it fails. Leaving the loop early cancels the answer: the model
    stops at its next token."""
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
            put("answer", pipeline.ask(question, backends, generator=generator, history=history, on_event=on_event))
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
