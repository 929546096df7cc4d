"""The optional API key: when `server.api_key` is set, API routes, uploads and deletes need it, and
the chat page needs the cookie its login form sets. Wrong keys are counted per client address, so a
key cannot be guessed at network speed."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Annotated

from fastapi import Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from assistant.errors import TooManyAttempts, Unauthorized

COOKIE = "assistant_session"
KEY_NEEDED = "this server needs an API key: send `Authorization: Bearer KEY` or `X-API-Key: KEY`"
# The key's refusals as both APIs document them.
KEY_STATUS_TEXT = {
    401: "The server has an API key and the request did not carry it.",
    429: "Too many wrong keys from this client in the last minute: refused, whatever the key, until `Retry-After`.",
}
# Declared for the OpenAPI page (its "Authorize" button); `authorised` does the checking.
BEARER = HTTPBearer(auto_error=False, description="`Authorization: Bearer KEY`, when the server has an API key.")
HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, description="`X-API-Key: KEY`, the same key.")


MAX_ADDRESSES = 10_000  # past this many addresses with failures, the stale ones are forgotten


class KeyAttempts:
    """Wrong keys per client over the last `window` seconds. Once a client has made `limit` of them,
    it is refused (429, whatever key it sends, so a lucky guess looks like any other) until its oldest
    failure leaves the window.

    A client is its address, or what a proxy listed in `server.trusted_proxies` forwards (a header from
    anyone else could name a new client per guess); an IPv6 client is its /64 network, which one
    machine is usually given whole. Each attempt is counted before its key is compared and taken back
    when the key was right, so guesses sent at once cannot all pass the limit together."""

    def __init__(self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def attempt(self, address: str) -> float:
        """Counts a key from `address` as wrong until `succeeded` says otherwise; raises
        `TooManyAttempts` instead while the client is locked out. Returns the attempt's mark."""
        client = _client(address)
        with self._lock:
            recent = self._recent(client)
            if len(recent) >= self.limit:
                wait = max(1, math.ceil(recent[0] + self.window - self.clock()))
                raise TooManyAttempts(f"too many wrong keys from this address; try again in {wait} s", wait)
            if client not in self._failures and len(self._failures) > MAX_ADDRESSES:  # forget stale clients
                for seen in list(self._failures):
                    self._recent(seen)  # drops it when nothing of it is recent
            mark = self.clock()
            self._failures.setdefault(client, deque()).append(mark)
            return mark

    def succeeded(self, address: str, mark: float) -> None:
        """The attempt `mark` had the right key: it does not count."""
        client = _client(address)
        with self._lock:
            failures = self._failures.get(client)
            if failures is not None and mark in failures:
                failures.remove(mark)
                if not failures:
                    del self._failures[client]

    def _recent(self, client: str) -> deque[float]:
        failures = self._failures.get(client, deque())
        while failures and failures[0] <= self.clock() - self.window:
            failures.popleft()
        if not failures:
            self._failures.pop(client, None)
        return failures


def _client(address: str) -> str:
    """The address, or for IPv6 its /64 network (an IPv4 address mapped into IPv6 stays itself)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # "unknown", or a test client's name
        return address
    if isinstance(ip, ipaddress.IPv4Address):
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.IPv6Network((ip, 64), strict=False))


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


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


def admitted(request: Request) -> bool:
    """`authorised`, with each wrong key counted against the client's address: past the limit, the
    request is refused (`TooManyAttempts`) before its key is compared."""
    attempts: KeyAttempts = request.app.state.key_attempts
    if not offered(request):  # a cookie is not counted: it is a 256-bit token, not a typed key
        return authorised(request)
    address = client_address(request)
    mark = attempts.attempt(address)
    if authorised(request):
        attempts.succeeded(address, mark)
        return True
    return False


def require_key(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)] = None,
    header: Annotated[str | None, Security(HEADER)] = None,
) -> None:
    """Route dependency: refuses the request (401) unless it carries the key or the session cookie."""
    if not admitted(request):
        raise Unauthorized(KEY_NEEDED)


def same_origin(request: Request) -> None:
    """Dependency of the chat's writes and of the API: a page on another site must not upload, delete or
    ask (a multipart form needs no CORS preflight, so without an API key it would reach the API)."""
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise HTTPException(403, "request from another site refused")
