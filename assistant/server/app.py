"""The FastAPI app: one `Backends` and one ingestion queue per app, errors as JSON with stable codes,
the API under /api/v1, the OpenAI-compatible routes under /v1, and the chat pages at /."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from assistant import __version__
from assistant.backends import Backends
from assistant.errors import AssistantError, BackendUnavailable
from assistant.present import error_json
from assistant.server import api, chat, openai_compat
from assistant.server.jobs import IngestJobs
from assistant.settings import Settings, get_settings

log = logging.getLogger(__name__)

DESCRIPTION = """Answers questions from your documents with **verbatim quotations**, and flags the
sentences of an answer that its sources do not support.

- `/api/v1`: ask (whole or streamed), search, verify a statement, documents, ingestion jobs, health.
- `/v1/chat/completions` and `/v1/models`: OpenAI-compatible, for existing clients and chat front-ends.

Errors are JSON: `{"error": {"code": "...", "message": "..."}}`. When the server has an API key,
send it as `Authorization: Bearer KEY` or `X-API-Key: KEY`."""


def create_app(settings: Settings | None = None, backends: Backends | None = None) -> FastAPI:
    """The app for these settings. Prompt templates are checked before the first request; the
    models load in the background (`server.warm_up`) so the first question does not wait for them."""
    settings = settings or get_settings()
    backends = backends or Backends(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        backends.prompts  # noqa: B018 - a broken template stops the server at start, not mid-answer
        app.state.jobs = IngestJobs(backends, settings.data_dir / "uploads")
        if settings.server.warm_up:
            threading.Thread(target=_warm_up, args=(backends,), name="warm-up", daemon=True).start()
        yield
        app.state.jobs.close()

    app = FastAPI(title="assistant", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.backends = backends
    app.add_exception_handler(AssistantError, _assistant_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.include_router(api.router, prefix="/api/v1")
    app.include_router(openai_compat.router, prefix="/v1")
    app.include_router(chat.router)
    app.mount("/static", StaticFiles(directory=settings.server.web_dir / "static"), name="static")
    return app


def _warm_up(backends: Backends) -> None:
    try:
        backends.retriever  # noqa: B018 - embedding model, Chroma, BM25
        backends.generator()
        backends.verifier  # noqa: B018 - and the judge
    except BackendUnavailable as error:  # answered later with the fallback, or a 503
        log.warning("warm-up: %s", error.message)
    except Exception:
        log.exception("warm-up failed")


async def _assistant_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, AssistantError)
    return JSONResponse(error_json(error), status_code=error.status)


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
    body = {"error": {"code": "invalid_request", "message": problems or "invalid request"}}
    return JSONResponse(body, status_code=422)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large", 401: "unauthorized"}


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    code = _HTTP_CODES.get(error.status_code, "http_error")
    body = {"error": {"code": code, "message": str(error.detail)}}
    return JSONResponse(body, status_code=error.status_code, headers=getattr(error, "headers", None))
