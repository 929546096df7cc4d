"""What the API routes receive: the app's back-ends and ingestion queue."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from assistant.backends import Backends
from assistant.server.jobs import IngestJobs


def get_backends(request: Request) -> Backends:
    return request.app.state.backends


def get_jobs(request: Request) -> IngestJobs:
    return request.app.state.jobs


BackendsDep = Annotated[Backends, Depends(get_backends)]
JobsDep = Annotated[IngestJobs, Depends(get_jobs)]
