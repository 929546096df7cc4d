"""Errors as JSON with a stable code and the right status: `{"error": {"code", "message"}}`, and under
/v1 in OpenAI's shape (which holds the same two fields), so the official client raises the right class."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from assistant.errors import AssistantError
from assistant.server.openai_compat import openai_error

log = logging.getLogger(__name__)
OPENAI_PREFIX = "/v1"


def install(app: FastAPI) -> None:
    app.add_exception_handler(AssistantError, _assistant_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, _internal_error)


def error_response(
    path: str, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """`{"error": {"code", "message"}}`; under /v1 in OpenAI's shape (which has both fields too)."""
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if path == OPENAI_PREFIX or path.startswith(f"{OPENAI_PREFIX}/"):
        body = openai_error(code, message, status)
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
    return JSONResponse(body, status_code=status, headers=headers)


def assistant_error_response(path: str, error: AssistantError) -> JSONResponse:
    return error_response(path, error.status, error.code, error.message, error.headers)


async def _assistant_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, AssistantError)
    return assistant_error_response(request.url.path, error)


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
    return error_response(request.url.path, 422, "invalid_request", problems or "invalid request")


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
}


async def http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    code = _HTTP_CODES.get(error.status_code, "http_error")
    headers = getattr(error, "headers", None)
    if error.status_code == 405 and (methods := _documented_methods(request)):
        headers = {**(headers or {}), "Allow": ", ".join(methods)}
    return error_response(request.url.path, error.status_code, code, str(error.detail), headers)


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
    return error_response(request.url.path, 500, "internal_error", "internal error; see the server log")
