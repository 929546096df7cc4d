"""What a request may send before it is read: with an API key set, a request with a body must carry
the key (FastAPI reads a body before it runs a route's checks); an upload may be as large as its
files are allowed to be, anything else one file's worth, and a body over the limit is refused (413,
as JSON) before it is read whole."""

from __future__ import annotations

from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.errors import AssistantError, TooManyAttempts, Unauthorized
from assistant.server.auth import KEY_NEEDED, admitted
from assistant.server.handlers import assistant_error_response, error_response, http_error
from assistant.server.views import to_login
from assistant.settings import Settings

UPLOAD_PATHS = frozenset({"/api/v1/documents", "/uploads"})  # the API's and the chat's
_BODILESS = frozenset({"GET", "HEAD", "OPTIONS"})


def body_limit(settings: Settings, scope: Scope) -> int:
    """An upload may hold `server.max_upload_files` files of `ingest.max_file_mb`; any other body (a
    question, a statement with its evidence) one file's worth, whatever its content type says."""
    multipart = Headers(scope=scope).get("content-type", "").startswith("multipart/")
    files = settings.server.max_upload_files if multipart and scope["path"] in UPLOAD_PATHS else 1
    return files * settings.ingest.max_file_bytes + 1_000_000  # and a megabyte for the form around them


class KeyGate:
    """With an API key set, a request that may carry a body (any method but GET, HEAD, OPTIONS) is
    refused before a byte of it is read unless it has the key or the chat's cookie: the same 401 or
    login redirect (and 429 for an address that guessed too often) as the route would give after.
    Only the login form is open."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _BODILESS or scope["path"] == "/login":
            return await self.app(scope, receive, send)
        request = Request(scope)
        api = scope["path"].startswith(("/api/", "/v1/"))
        try:
            if admitted(request):
                return await self.app(scope, receive, send)
            refused: AssistantError | None = Unauthorized(KEY_NEEDED) if api else None  # a page: to the login form
        except TooManyAttempts as error:
            refused = error
        if refused is None:
            response = await http_error(request, to_login(request))
        else:
            response = assistant_error_response(scope["path"], refused)
        await response(scope, receive, send)


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
            response = error_response(scope["path"], 413, "request_too_large", message)
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
