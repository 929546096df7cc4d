"""The HTTP API end to end with real parts only: a uvicorn server, the packaged MiniLM embedder, an
embedded Chroma and SmolLM2-135M writing and judging; uploaded over multipart, asked over SSE and
through the official `openai` client, then deleted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from conftest import ARTICLE
from live_server import serve
from test_api import events_of
from test_llm_end_to_end import QUESTIONS, SMOLLM, real_settings

from assistant.backends import Backends
from assistant.server.app import create_app

pytestmark = [pytest.mark.slow, pytest.mark.llm, pytest.mark.server]


@pytest.fixture
def live(tmp_path: Path, real_embedder) -> Iterator[tuple[str, Backends]]:
    """A real server whose models load at start (the warm-up), sharing the session's embedding model."""
    settings = real_settings(tmp_path, generation={"model": SMOLLM}, verification={"judge_model": SMOLLM})
    backends = Backends(settings)
    backends.embedder = real_embedder
    with serve(create_app(settings, backends)) as url:
        yield url, backends
    backends.docstore.close()


def _poll(url: str, until: str | tuple[str, ...], field: str = "status") -> dict:
    """GET `url` until its `field` leaves `until` (a bound on a hung server, not a timing assertion)."""
    for _ in range(1200):
        body = httpx.get(url, timeout=30).json()
        if body[field] not in until:
            return body
        time.sleep(0.25)
    pytest.fail(f"{url} stayed {until}: {body}")


def _assert_quotes_verbatim(url: str, claims: list[dict]) -> None:
    assert claims
    for claim in claims:
        assert claim["verdict"] in ("supported", "unsupported", "uncited")
        assert (claim["verdict"] == "supported") == (not claim["reasons"]), claim
        for citation in claim["citations"]:
            text = httpx.get(f"{url}/api/v1/documents/{citation['doc_id']}").json()["text"]
            assert text[citation["start"] : citation["end"]] == citation["quote"]


def test_upload_ask_stream_openai_client_and_delete_with_real_models(live: tuple[str, Backends]) -> None:
    url, _ = live
    health = _poll(f"{url}/api/v1/health", "loading")
    assert health["status"] == "ok", health
    assert {health[name]["state"] for name in ("retriever", "generator", "judge")} == {"ready"}

    with ARTICLE.open("rb") as article:
        uploaded = httpx.post(f"{url}/api/v1/documents", files=[("files", (ARTICLE.name, article, "text/plain"))])
    assert uploaded.status_code == 202
    job = _poll(f"{url}/api/v1/jobs/{uploaded.json()['job']['id']}", ("queued", "running"), field="state")
    (file,) = job["files"]
    assert (job["state"], file["status"]) == ("done", "added")
    doc_id = file["documents"][0]["doc_id"]

    body = {"question": QUESTIONS[0], "stream": True}
    with httpx.stream("POST", f"{url}/api/v1/ask", json=body, timeout=600) as response:
        assert response.status_code == 200
        events = events_of("".join(response.iter_text()))
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "sources" and kinds[-1] == "answer" and "token" in kinds, kinds
    answer = events[-1][1]
    assert answer["generator"] == {"name": "local", "model": "SmolLM2-135M-Instruct.Q4_1.gguf"}
    streamed = answer["answer"] if answer["draft"] is None else answer["draft"]  # a withdrawn draft was streamed
    assert "".join(data["text"] for kind, data in events if kind == "token") == streamed
    _assert_quotes_verbatim(url, answer["claims"])

    client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=600)
    completion = client.chat.completions.create(model="assistant", messages=[{"role": "user", "content": QUESTIONS[1]}])
    structured = completion.model_extra["assistant"]
    content = completion.choices[0].message.content
    assert content.startswith(structured["answer"] if structured["draft"] is None else structured["draft"])
    if structured["claims"]:
        assert "\n\nSources:\n" in content
        _assert_quotes_verbatim(url, structured["claims"])
        flagged = [claim for claim in structured["claims"] if claim["verdict"] != "supported"]
        assert ("\n\nNot supported by the sources:\n" in content) == bool(flagged)

    assert httpx.delete(f"{url}/api/v1/documents/{doc_id}").json() == {"doc_id": doc_id, "deleted": True}
    hits = httpx.post(f"{url}/api/v1/search", json={"question": QUESTIONS[0]}).json()["hits"]
    assert hits == [] and httpx.get(f"{url}/api/v1/health").json()["documents"] == 0
