"""The FastAPI app: one `Backends` and one ingestion queue per app, errors as JSON with stable codes,
the API under /api/v1, the OpenAI-compatible routes under /v1, and the chat pages at /."""

from __future__ import annotations

import importlib.resources
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.trustedhost import TrustedHostMiddleware

from assistant import __version__
from assistant.backends import Backends
from assistant.server import api, chat, handlers, openai_compat, openai_schemas
from assistant.server import schemas as api_schemas
from assistant.server.auth import KeyAttempts, require_key
from assistant.server.conversations import Conversations
from assistant.server.health import Readiness
from assistant.server.jobs import IngestJobs
from assistant.server.limits import BodyLimit, KeyGate, body_limit
from assistant.server.streaming import AnswerSlots
from assistant.server.views import Views, require_login
from assistant.settings import Settings, get_settings

DOCS_STATIC = "/docs-static"

DESCRIPTION = """Answers questions from your documents with **verbatim quotations**, and flags the
sentences of an answer that its sources do not support.

- `/api/v1`: ask (whole or streamed), search, verify a statement, documents, ingestion jobs, health.
- `/v1/chat/completions` and `/v1/models`: OpenAI-compatible, for existing clients and chat front-ends.

Errors are JSON with a stable code: `{"error": {"code": "...", "message": "..."}}` (under `/v1`, in
OpenAI's shape: `{"error": {"message", "type", "code", "param"}}`), with the status: 400 bad input,
401 no API key, 404 not found, 413 too large, 415 unsupported file type, 422 invalid request or
unreadable file, 429 too many wrong keys, 503 a store or model unavailable. When the server has an API
key, send it as `Authorization: Bearer KEY` or `X-API-Key: KEY`."""


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
        app.state.conversations = Conversations(settings.data_dir / "conversations.sqlite3")
        if settings.server.warm_up:
            readiness.start_warm_up(backends)
        yield
        app.state.jobs.close()

    app = FastAPI(
        title="assistant",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served below, behind the API key when there is one
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.backends = backends
    app.state.readiness = readiness
    app.state.answer_slots = AnswerSlots(settings.server.max_answers)
    app.state.views = Views(settings.server.web_dir / "templates")
    app.state.answering = set()  # ids of the chat turns a connection is answering
    app.state.key_attempts = KeyAttempts(settings.server.key_failures_per_minute)
    handlers.install(app)
    app.add_middleware(BodyLimit, limit=lambda scope: body_limit(settings, scope))
    app.add_middleware(KeyGate)  # before the limit: a client without the key is not read at all
    # Outermost: a page on another site that rebinds its own name to 127.0.0.1 gets no answer.
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.server.trusted_hosts())
    app.include_router(api.router, prefix="/api/v1")
    app.include_router(openai_compat.router, prefix=handlers.OPENAI_PREFIX)
    app.include_router(chat.router)
    app.mount("/static", StaticFiles(directory=settings.server.web_dir / "static"), name="static")
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    _documentation(app)
    return app


def _documentation(app: FastAPI) -> None:
    """The schema and its page, with the API's own guard: with a key set, the schema needs the key
    (or the chat's cookie) and the page sends a browser to the login form first."""

    @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(require_key)])
    def schema() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=[Depends(require_login)])
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title}: API",
            swagger_js_url=f"{DOCS_STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_STATIC}/favicon.png",
        )

    # Swagger UI 5 (it reads OpenAPI 3.1) as packaged by fastapi-offline: no CDN needed. No ReDoc
    # page: it loads its logo from a CDN and has no option to leave it out.
    static = importlib.resources.files("fastapi_offline") / "static"
    app.mount(DOCS_STATIC, StaticFiles(directory=str(static)), name="docs-static")


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, plus the models only the event streams refer to."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        models = [*api_schemas.ASK_EVENTS.values(), *openai_schemas.STREAM_MODELS]
        app.openapi_schema = api_schemas.add_components(schema, models)
    return app.openapi_schema
