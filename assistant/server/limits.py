"""Request body limits: an upload may be as large as its files are allowed to be, anything else one
file's worth; a body over the limit is refused (413, as JSON) before it is read whole."""

from __future__ import annotations

from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.server.handlers import error_response
from assistant.settings import Settings


def body_limit(settings: Settings, scope: Scope) -> int:
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
