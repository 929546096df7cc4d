"""What the API routes receive: the app's back-ends and ingestion queue, and a conversation as turns."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from fastapi import Depends, Request

from assistant.backends import Backends
from assistant.records import Turn
from assistant.server.jobs import IngestJobs


def get_backends(request: Request) -> Backends:
    return request.app.state.backends


def get_jobs(request: Request) -> IngestJobs:
    return request.app.state.jobs


BackendsDep = Annotated[Backends, Depends(get_backends)]
JobsDep = Annotated[IngestJobs, Depends(get_jobs)]


def turns(pairs: Iterable[tuple[str, str]], backends: Backends) -> list[Turn]:
    """Earlier (question, answer) pairs as the turns a follow-up is rewritten with: only the last
    `generation.history_turns` count, and an earlier question is cut at the question limit (it is
    context, not the question, so it is not refused)."""
    keep, limit = backends.settings.generation.history_turns, backends.settings.retrieval.max_question_chars
    recent = list(pairs)[-keep:] if keep else []
    return [Turn(question[:limit], answer) for question, answer in recent]
