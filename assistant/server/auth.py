"""The optional API key: when `server.api_key` is set, API routes, uploads and deletes need it, and
the chat page needs the cookie its login form sets."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from assistant.errors import Unauthorized

COOKIE = "assistant_session"
# Declared for the OpenAPI page (its "Authorize" button); `authorised` does the checking.
BEARER = HTTPBearer(auto_error=False, description="`Authorization: Bearer KEY`, when the server has an API key.")
HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, description="`X-API-Key: KEY`, the same key.")


def session_token(key: str) -> str:
    """What the login cookie holds: derived from the key, so the cookie does not reveal it."""
    return hmac.new(key.encode(), b"assistant chat session", hashlib.sha256).hexdigest()


def offered(request: Request) -> list[str]:
    """Every key the request carries: the Bearer token (an `Authorization` header of any other form is
    offered whole, so it never matches) and each `X-API-Key` header."""
    keys = []
    if (authorization := request.headers.get("authorization")) is not None:
        scheme, _, value = authorization.partition(" ")
        keys.append(value.strip() if scheme.lower() == "bearer" else authorization)
    return keys + request.headers.getlist("x-api-key")


def authorised(request: Request) -> bool:
    """With a key set: every key the request offers must be right (a wrong one is never outvoted by a
    right one), and without any, the chat's session cookie must be."""
    secret = request.app.state.settings.server.api_key
    if secret is None:
        return True
    key = secret.get_secret_value()
    keys = offered(request)
    if keys:
        return all(hmac.compare_digest(candidate.encode(), key.encode()) for candidate in keys)
    cookie = request.cookies.get(COOKIE)
    return cookie is not None and hmac.compare_digest(cookie.encode(), session_token(key).encode())


def require_key(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)] = None,
    header: Annotated[str | None, Security(HEADER)] = None,
) -> None:
    """Route dependency: refuses the request (401) unless it carries the key or the session cookie."""
    if not authorised(request):
        raise Unauthorized("this server needs an API key: send `Authorization: Bearer KEY` or `X-API-Key: KEY`")


def same_origin(request: Request) -> None:
    """Dependency of the chat's writes and of the API: a page on another site must not upload, delete or
    ask (a multipart form needs no CORS preflight, so without an API key it would reach the API)."""
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise HTTPException(403, "request from another site refused")
