"""The FastAPI app: one `Backends` and one ingestion queue per app, errors as JSON with stable codes,
the API under /api/v1, the OpenAI-compatible routes under /v1, and the chat pages at /."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant import __version__
from assistant.backends import Backends
from assistant.errors import AssistantError
from assistant.server import api, chat, openai_compat, openai_schemas
from assistant.server import schemas as api_schemas
from assistant.server.health import Readiness
from assistant.server.jobs import IngestJobs
from assistant.settings import Settings, get_settings

log = logging.getLogger(__name__)
OPENAI_PREFIX = "/v1"

DESCRIPTION = """Answers questions from your documents with **verbatim quotations**, and flags the
sentences of an answer that its sources do not support.

- `/api/v1`: ask (whole or streamed), search, verify a statement, documents, ingestion jobs, health.
- `/v1/chat/completions` and `/v1/models`: OpenAI-compatible, for existing clients and chat front-ends.

Errors are JSON with a stable code: `{"error": {"code": "...", "message": "..."}}` (under `/v1`, in
OpenAI's shape: `{"error": {"message", "type", "code", "param"}}`), with the status: 400 bad input,
401 no API key, 404 not found, 413 too large, 415 unsupported file type, 422 invalid request or
unreadable file, 503 a store or model unavailable. When the server has an API key, send it as
`Authorization: Bearer KEY` or `X-API-Key: KEY`."""


def create_app(settings: Settings | None = None, backends: Backends | None = None) -> FastAPI:
    """The app for these settings. Prompt templates are checked before the first request; the
    models load in the background (`server.warm_up`) so the first question does not wait for them."""
    settings = settings or get_settings()
    backends = backends or Backends(settings)
    readiness = Readiness()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        backends.prompts  # noqa: B018 - a broken template stops the server at start, not mid-answer
        app.state.jobs = IngestJobs(backends, settings.data_dir / "uploads")
        if settings.server.warm_up:
            readiness.start_warm_up(backends)
        yield
        app.state.jobs.close()

    app = FastAPI(title="assistant", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.backends = backends
    app.state.readiness = readiness
    app.add_exception_handler(AssistantError, _assistant_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _internal_error)
    app.add_middleware(BodyLimit, limit=lambda scope: _body_limit(settings, scope))
    app.include_router(api.router, prefix="/api/v1")
    app.include_router(openai_compat.router, prefix=OPENAI_PREFIX)
    app.include_router(chat.router)
    app.mount("/static", StaticFiles(directory=settings.server.web_dir / "static"), name="static")
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, plus the models only the event streams refer to."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        models = [*api_schemas.ASK_EVENTS.values(), *openai_schemas.STREAM_MODELS]
        app.openapi_schema = api_schemas.add_components(schema, models)
    return app.openapi_schema


def _body_limit(settings: Settings, scope: Scope) -> int:
    """An upload may hold `server.max_upload_files` files of `ingest.max_file_mb`; any other body (a
    question, a statement with its evidence) one file's worth."""
    content_type = Headers(scope=scope).get("content-type", "")
    files = settings.server.max_upload_files if content_type.startswith("multipart/") else 1
    return files * settings.ingest.max_file_bytes + 1_000_000  # and a megabyte for the form around them


class BodyLimit:
    """Refuses (413) a request body over the limit: at once when its Content-Length says so, else as
    soon as the bytes received pass it, so an oversized upload is never spooled to disk whole."""

    def __init__(self, app: ASGIApp, limit: Callable[[Scope], int]) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit(scope)
        message = f"the request body is over the {limit / 1e6:.1f} MB limit"
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            response = _error_response(scope["path"], 413, "request_too_large", message)
            return await response(scope, receive, send)
        received = 0

        async def limited() -> Message:
            nonlocal received
            incoming = await receive()
            received += len(incoming.get("body", b""))
            if received > limit:
                raise HTTPException(413, message)
            return incoming

        await self.app(scope, limited, send)


def _error_response(path: str, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """`{"error": {"code", "message"}}`; under /v1 in OpenAI's shape (which has both fields too)."""
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if path == OPENAI_PREFIX or path.startswith(f"{OPENAI_PREFIX}/"):
        body = openai_compat.openai_error(code, message, status)
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
    return JSONResponse(body, status_code=status, headers=headers)


async def _assistant_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, AssistantError)
    return _error_response(request.url.path, error.status, error.code, error.message)


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
    return _error_response(request.url.path, 422, "invalid_request", problems or "invalid request")


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
}


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    code = _HTTP_CODES.get(error.status_code, "http_error")
    headers = getattr(error, "headers", None)
    if error.status_code == 405 and (methods := _documented_methods(request)):
        headers = {**(headers or {}), "Allow": ", ".join(methods)}
    return _error_response(request.url.path, error.status_code, code, str(error.detail), headers)


def _documented_methods(request: Request) -> list[str]:
    """Every method the OpenAPI schema documents for the request's path (Starlette's own `Allow`
    names only the first route that matched the path, so GET hides DELETE)."""
    paths = request.app.openapi()["paths"]
    for template, operations in paths.items():
        if re.fullmatch(re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)), request.url.path):
            return sorted(method.upper() for method in operations)
    return []


async def _internal_error(request: Request, error: Exception) -> JSONResponse:
    log.error("%s %s failed", request.method, request.url.path, exc_info=error)
    return _error_response(request.url.path, 500, "internal_error", "internal error; see the server log")
