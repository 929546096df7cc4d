"""The chat's HTML: Jinja2 templates from `web/templates` (autoescaped), the page gate, and what they show."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.exceptions import HTTPException

from assistant.errors import AssistantError
from assistant.records import ParsedDocument
from assistant.server.auth import admitted, same_origin
from assistant.server.conversations import Conversations

CONTEXT_CHARS = 400  # shown either side of a quotation
SNIPPET_CHARS = 320  # of a retrieved passage in the evidence list

# Scripts and styles only from this server: document text or model output that escaped escaping
# still could not run. htmx is configured (base.html) to need neither inline styles nor eval.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

VERDICTS = {"supported": "supported", "unsupported": "not supported", "uncited": "no source"}
WHY = {"unsupported": "Not supported by its sources", "uncited": "Cannot be checked"}
GENERATOR_LABELS = {"local": "Local model", "openai": "OpenAI-compatible endpoint", "extractive": "Quotes only"}


class Views:
    """The template environment of one app."""

    def __init__(self, folder: Path) -> None:
        self.env = Environment(
            loader=FileSystemLoader(folder),
            autoescape=select_autoescape(("html",), default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,  # a page renders a fragment per token: no file checks on that path
        )
        self.env.globals.update(verdicts=VERDICTS, why=WHY, generator_labels=GENERATOR_LABELS)
        self.env.filters.update(
            seconds=seconds,
            clip=clip,
            document_url=document_url,
            context_url=context_url,
            pages=pages_label,
            quotations=quotations,
        )

    def render(self, name: str, **context: Any) -> str:
        return self.env.get_template(name).render(**context)

    def respond(
        self, name: str, status: int = 200, headers: dict[str, str] | None = None, **context: Any
    ) -> HTMLResponse:
        return HTMLResponse(self.render(name, **context), status, headers={**SECURITY_HEADERS, **(headers or {})})

    def error(self, request: Request, error: AssistantError, target: str | None = None) -> HTMLResponse:
        """An error as a notice; `target` (a CSS selector) is where htmx shows it instead of the usual place."""
        headers = {"HX-Retarget": target, "HX-Reswap": "innerHTML"} if target and is_htmx(request) else {}
        return self.respond(
            "_error.html", error.status, {**error.headers, **headers}, code=error.code, message=error.message
        )


def views(request: Request) -> Views:
    """The app's templates (`create_app` loads them from the `server.web_dir` setting)."""
    return request.app.state.views


def conversations(request: Request) -> Conversations:
    """The app's conversation store, beside the document stores in `data_dir` (opened at start-up)."""
    return request.app.state.conversations


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def require_login(request: Request) -> None:
    """Page dependency: without the key's cookie a page goes to the login form."""
    if not admitted(request):
        raise to_login(request)


def to_login(request: Request) -> HTTPException:
    """To the login form, and back to this page (query included) after it; an htmx request is told
    to go there (it cannot follow a redirect into a fragment)."""
    here = f"{request.url.path}?{request.url.query}" if request.url.query else request.url.path
    target = f"/login?next={quote(here)}"
    if is_htmx(request):
        return HTTPException(401, "log in first", headers={"HX-Redirect": target})
    return HTTPException(303, "log in first", headers={"Location": target})


def context_window(document: ParsedDocument, start: int, end: int, chars: int = CONTEXT_CHARS) -> dict[str, Any]:
    """The quotation `document.text[start:end]` with up to `chars` characters either side, cut at spaces."""
    text = document.text
    before_at = _space_after(text, max(0, start - chars), start)
    after_at = _space_before(text, min(len(text), end + chars), end)
    first, last = document.page_at(start), document.page_at(max(start, end - 1))
    return {
        "before": text[before_at:start],
        "quote": text[start:end],
        "after": text[end:after_at],
        "clipped_before": before_at > 0,
        "clipped_after": after_at < len(text),
        "pages": None if first is None else (first, last),
    }


def _space_after(text: str, at: int, limit: int) -> int:
    if at == 0:
        return 0
    space = text.find(" ", at, limit)
    return at if space < 0 else space + 1


def _space_before(text: str, at: int, limit: int) -> int:
    if at == len(text):
        return at
    space = text.rfind(" ", limit, at)
    return at if space < 0 else space


def seconds(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def clip(text: str, chars: int = SNIPPET_CHARS) -> str:
    text = " ".join(text.split())
    if len(text) <= chars:
        return text
    return text[: text.rfind(" ", 0, chars) if " " in text[:chars] else chars].rstrip(" ,;:") + " …"


def quotations(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """Each quotation an answer's claims cite, once, in the order first cited."""
    seen: dict[tuple[str, int, int], dict[str, Any]] = {}
    for claim in answer["claims"]:
        for citation in claim["citations"]:
            seen.setdefault((citation["doc_id"], citation["start"], citation["end"]), citation)
    return list(seen.values())


def document_url(doc_id: str) -> str:
    """A document's page path; "/" in a record id is escaped too (Jinja's `urlencode` keeps it), so
    browsers never read it as a path step ("a/../b")."""
    return f"/documents/{quote(doc_id, safe='')}"


def context_url(item: dict[str, Any]) -> str:
    """Where a citation (or passage) is shown inside its document."""
    url = f"{document_url(item['doc_id'])}/context?start={item['start']}&end={item['end']}"
    return f"{url}&key={quote(item['key'])}" if item.get("key") else url


def pages_label(span: tuple[int, int] | None) -> str:
    if span is None:
        return ""
    first, last = span
    return f"page {first}" if first == last else f"pages {first}–{last}"


Page = [Depends(require_login)]  # a chat page or fragment
Write = [Depends(require_login), Depends(same_origin)]  # a form that changes something
