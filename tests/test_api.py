"""The JSON API under /api/v1 through FastAPI's TestClient: every route and every error path, over a real
embedded Chroma with the hashing embedder; scripted drafts where a test needs a particular answer."""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import BAD, GOOD, NOTES, _free_port, fast_settings, ingest, without_models
from fastapi.testclient import TestClient
from test_ask import OFF_TOPIC, QUESTION, scripted

from assistant.backends import Backends
from assistant.errors import BackendUnavailable, TooManyAttempts
from assistant.present import file_status
from assistant.records import IngestOutcome, Turn
from assistant.server import auth, uploads
from assistant.server.app import create_app
from assistant.server.auth import COOKIE, KeyAttempts, session_token
from assistant.server.health import Readiness

Client = Callable[..., TestClient]
NOTES_FILE = ("notes.txt", NOTES.encode(), "text/plain")
TXT = GOOD / "skerryvore.txt"
MD = GOOD / "sourdough.md"


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Client]:
    """Start an app (lifespan included) over a fresh store in tmp; everything is closed afterwards."""
    opened: list[TestClient] = []

    def make(**overrides) -> TestClient:
        settings = fast_settings(tmp_path / f"data{len(opened)}", **without_models(**overrides))
        client = TestClient(create_app(settings), base_url="http://localhost")
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)
        backends_of(client).docstore.close()


@pytest.fixture
def client(make_client: Client) -> TestClient:
    return make_client()


@pytest.fixture
def notes_client(make_client: Client, tmp_path: Path) -> TestClient:
    """An app whose store holds the Tajik migration notes."""
    client = make_client()
    path = tmp_path / "notes.txt"
    path.write_text(NOTES)
    assert ingest(backends_of(client), path).count("added") == 1
    return client


def backends_of(client: TestClient) -> Backends:
    return client.app.state.backends


def wait_for_job(client: TestClient, job_id: str) -> dict:
    """Poll the job until it ends (no timing is asserted: the bound only stops a hung test)."""
    for _ in range(1200):
        job = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    pytest.fail(f"job {job_id} did not end: {job}")


def upload(client: TestClient, *files: tuple[str, bytes, str] | Path) -> tuple[int, dict]:
    parts = [
        ("files", (f.name, f.read_bytes(), "application/octet-stream") if isinstance(f, Path) else f) for f in files
    ]
    response = client.post("/api/v1/documents", files=parts)
    return response.status_code, response.json()


def upload_and_wait(client: TestClient, *files: tuple[str, bytes, str] | Path) -> dict:
    status, body = upload(client, *files)
    assert status == 202, body
    return wait_for_job(client, body["job"]["id"])


def events_of(text: str) -> list[tuple[str, dict]]:
    """Server-sent events as (event, JSON data) pairs; comments (pings) are skipped."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":"))
        if "data" in fields:
            events.append((fields.get("event", "message"), json.loads(fields["data"])))
    return events


def stream(client: TestClient, path: str, body: dict) -> tuple[int, list[tuple[str, dict]]]:
    with client.stream("POST", path, json=body) as response:
        text = "".join(response.iter_text())
        if not response.headers["content-type"].startswith("text/event-stream"):
            return response.status_code, [("json", json.loads(text))]
        return response.status_code, events_of(text)


def error_code(response) -> str:
    return response.json()["error"]["code"]


# Ask ------------------------------------------------------------------------------------------------


def test_ask_marks_each_sentence_and_quotes_the_document_verbatim(notes_client: TestClient) -> None:
    scripted(
        backends_of(notes_client),
        "Some 3 million Tajiks work in Russia [S1]. Some 5 million send money [S1]. ",
        "Tajiks like tea.",
    )
    response = notes_client.post("/api/v1/ask", json={"question": QUESTION})
    assert response.status_code == 200
    body = response.json()
    assert [(c["verdict"], [r["code"] for r in c["reasons"]]) for c in body["claims"]] == [
        ("supported", []),
        ("unsupported", ["number_not_in_source"]),
        ("uncited", ["no_citation"]),
    ]
    assert body["counts"] == {"supported": 1, "unsupported": 1, "uncited": 1}
    citation = body["claims"][0]["citations"][0]
    document = notes_client.get(f"/api/v1/documents/{citation['doc_id']}").json()
    assert document["text"][citation["start"] : citation["end"]] == citation["quote"]
    assert citation["quote"] == "Some 3 million Tajiks work in Russia as labour migrants."
    assert body["sources"][0]["key"] == "S1" and body["generator"] == {"name": "scripted", "model": "script-1"}


def test_extractive_answer_through_the_api_is_supported(notes_client: TestClient) -> None:
    body = notes_client.post("/api/v1/ask", json={"question": QUESTION, "generator": "extractive"}).json()
    assert body["answered"] and body["generator"]["name"] == "extractive"
    assert body["claims"] and all(claim["verdict"] == "supported" for claim in body["claims"])


def test_off_topic_question_is_not_answered(notes_client: TestClient) -> None:
    body = notes_client.post("/api/v1/ask", json={"question": OFF_TOPIC}).json()
    assert body["answered"] is False and body["claims"] == []
    assert body["answer"] == "The documents do not answer this question."


def test_follow_up_is_rewritten_with_the_history(notes_client: TestClient) -> None:
    generator, _ = scripted(backends_of(notes_client), "They send money home [S1].")
    history = [{"question": QUESTION, "answer": "Some 3 million [S1]."}]
    body = notes_client.post("/api/v1/ask", json={"question": "And what do they send?", "history": history}).json()
    assert body["standalone_question"] == f"{QUESTION} And what do they send?"  # no model: the words joined
    assert generator.calls[0][0] == body["standalone_question"]
    assert body["question"] == "And what do they send?"


def test_streamed_answer_sends_sources_tokens_claims_then_the_answer(notes_client: TestClient) -> None:
    scripted(backends_of(notes_client), "Some 3 million Tajiks ", "work in Russia [S1]. ", "Tajiks like tea.")
    status, events = stream(notes_client, "/api/v1/ask", {"question": QUESTION, "stream": True})
    assert status == 200
    kinds = [kind for kind, _ in events]
    assert kinds == ["sources", "token", "token", "token", "claim", "claim", "answer"]
    answer = events[-1][1]
    assert "".join(data["text"] for kind, data in events if kind == "token") == answer["answer"]
    assert [data["index"] for kind, data in events if kind == "claim"] == [0, 1]
    assert [data["verdict"] for kind, data in events if kind == "claim"] == ["supported", "uncited"]
    assert events[0][1]["sources"] == answer["sources"]


def test_streamed_follow_up_announces_the_rewritten_question(notes_client: TestClient) -> None:
    history = [{"question": QUESTION, "answer": "Some 3 million [S1]."}]
    _, events = stream(
        notes_client, "/api/v1/ask", {"question": "And their families?", "history": history, "stream": True}
    )
    assert events[0] == ("question", {"question": f"{QUESTION} And their families?"})
    assert events[-1][0] == "answer"


class FailingGenerator:
    """Writes a few words, then its model goes away."""

    name = "failing"
    model = "failing-1"

    def draft(self, question: str, sources) -> Iterator[str]:
        yield "Some 3 million "
        raise BackendUnavailable("the model endpoint stopped answering")


def test_model_failing_mid_stream_ends_the_stream_with_an_error_event(notes_client: TestClient) -> None:
    backends_of(notes_client).generator = lambda name=None: FailingGenerator()
    status, events = stream(notes_client, "/api/v1/ask", {"question": QUESTION, "stream": True})
    assert status == 200
    assert [kind for kind, _ in events] == ["sources", "token", "error"]
    assert events[-1][1] == {
        "error": {"code": "backend_unavailable", "message": "the model endpoint stopped answering"}
    }


def test_model_failing_without_streaming_is_a_503(notes_client: TestClient) -> None:
    backends_of(notes_client).generator = lambda name=None: FailingGenerator()
    response = notes_client.post("/api/v1/ask", json={"question": QUESTION})
    assert response.status_code == 503 and error_code(response) == "backend_unavailable"


def test_unreachable_model_endpoint_is_a_503(make_client: Client, tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{_free_port()}/v1"
    client = make_client(
        generation={"generator": "openai", "fallback": False}, openai={"base_url": closed, "timeout": 5}
    )
    path = tmp_path / "notes.txt"
    path.write_text(NOTES)
    ingest(backends_of(client), path)
    response = client.post("/api/v1/ask", json={"question": QUESTION})
    assert response.status_code == 503 and error_code(response) == "backend_unavailable"
    assert closed in response.json()["error"]["message"]
    status, events = stream(client, "/api/v1/ask", {"question": QUESTION, "stream": True})
    assert status == 200 and [kind for kind, _ in events] == ["sources", "error"]  # the failure came mid-way
    assert events[-1][1]["error"]["code"] == "backend_unavailable"


def test_missing_local_model_is_a_503_even_when_streaming(make_client: Client, tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.gguf")
    client = make_client(generation={"generator": "local", "model": missing, "fallback": False})
    response = client.post("/api/v1/ask", json={"question": QUESTION})
    assert response.status_code == 503 and missing in response.json()["error"]["message"]
    status, events = stream(client, "/api/v1/ask", {"question": QUESTION, "stream": True})
    assert status == 503 and events[0][1]["error"]["code"] == "backend_unavailable"  # before the first event


def test_missing_local_model_with_fallback_answers_extractively(make_client: Client, tmp_path: Path) -> None:
    client = make_client(generation={"generator": "local", "model": str(tmp_path / "missing.gguf")})
    path = tmp_path / "notes.txt"
    path.write_text(NOTES)
    ingest(backends_of(client), path)
    body = client.post("/api/v1/ask", json={"question": QUESTION}).json()
    assert body["generator"]["name"] == "extractive"
    assert any("answered with the extractive generator" in note for note in body["notes"])


def test_a_100_kb_question_is_refused_with_413(client: TestClient) -> None:
    for path, field in [("/api/v1/ask", "question"), ("/api/v1/search", "question"), ("/api/v1/verify", "statement")]:
        response = client.post(path, json={field: "why " * 25_000})
        assert response.status_code == 413, path
        assert response.json()["error"] == {
            "code": "question_too_long",
            "message": f"the {field} is 99999 characters; the limit is 2000",
        }
    status, events = stream(client, "/api/v1/ask", {"question": "why " * 25_000, "stream": True})
    assert status == 413 and events[0][1]["error"]["code"] == "question_too_long"


class RecordingRewriter:
    name = "recording"

    def __init__(self) -> None:
        self.histories: list[list[Turn]] = []

    def rewrite(self, question: str, history: list[Turn]) -> str:
        self.histories.append(history)
        return question


def test_only_recent_turns_are_used_and_a_long_earlier_question_is_cut(notes_client: TestClient) -> None:
    rewriter = RecordingRewriter()
    backends_of(notes_client).rewriter = lambda generator: rewriter
    history = [{"question": f"q{n}", "answer": "a"} for n in range(5)] + [{"question": "x" * 5000, "answer": "No."}]
    response = notes_client.post("/api/v1/ask", json={"question": "And then?", "history": history})
    assert response.status_code == 200  # an earlier question is context: cut to the limit, not refused
    assert rewriter.histories == [[Turn("q3", "a"), Turn("q4", "a"), Turn("x" * 2000, "No.")]]  # history_turns = 3


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        pytest.param({"question": "   "}, 422, "invalid_request", id="blank"),
        pytest.param({"question": QUESTION, "stream": 1}, 422, "invalid_request", id="stream-not-boolean"),
        pytest.param({"question": QUESTION, "generator": "gpt-9"}, 422, "invalid_request", id="unknown-generator"),
        pytest.param({"question": QUESTION, "temperature": 0.2}, 422, "invalid_request", id="unknown-field"),
        pytest.param({}, 422, "invalid_request", id="no-question"),
        pytest.param([QUESTION], 422, "invalid_request", id="array"),
        pytest.param("How many?", 422, "invalid_request", id="string"),
        pytest.param({"question": QUESTION, "history": [{"question": "q"}]}, 422, "invalid_request", id="bad-turn"),
    ],
)
def test_bad_ask_requests(client: TestClient, body, status: int, code: str) -> None:
    response = client.post("/api/v1/ask", json=body)
    assert response.status_code == status and error_code(response) == code
    assert response.json()["error"]["message"]


def test_malformed_json_is_a_422(client: TestClient) -> None:
    response = client.post("/api/v1/ask", content=b'{"question": ', headers={"content-type": "application/json"})
    assert response.status_code == 422 and error_code(response) == "invalid_request"


# Search and verify ----------------------------------------------------------------------------------


def test_search_returns_ranked_passages_with_scores(notes_client: TestClient) -> None:
    body = notes_client.post("/api/v1/search", json={"question": QUESTION, "k": 1}).json()
    (hit,) = body["hits"]
    assert hit["rank"] == 1 and hit["title"] == "Tajik Migration Notes" and "3 million" in hit["text"]
    assert hit["scores"]["fused"] > 0 and hit["scores"]["dense_rank"] == 1


def test_search_with_bad_k_is_a_422(client: TestClient) -> None:
    for k in (0, 101, "many", "5", 2.5, True):
        response = client.post("/api/v1/search", json={"question": QUESTION, "k": k})
        assert response.status_code == 422 and error_code(response) == "invalid_request"


def test_search_takes_k_as_json_schema_counts_an_integer(notes_client: TestClient) -> None:
    response = notes_client.post("/api/v1/search", json={"question": QUESTION, "k": 1.0})
    assert response.status_code == 200 and len(response.json()["hits"]) == 1


def test_verify_against_the_corpus(notes_client: TestClient) -> None:
    supported = notes_client.post("/api/v1/verify", json={"statement": "Some 3 million Tajiks work in Russia."}).json()
    assert supported["verdict"] == "supported" and supported["reason"] is None
    assert supported["citations"][0]["quote"] == "Some 3 million Tajiks work in Russia as labour migrants."
    wrong = notes_client.post("/api/v1/verify", json={"statement": "Some 9 million Tajiks work in Russia."}).json()
    assert (wrong["verdict"], wrong["reason"]) == ("unsupported", "number_not_in_source")


def test_verify_against_given_evidence(client: TestClient) -> None:
    evidence = "The lighthouse keeper counted 1,847 gannets at dawn."
    body = client.post("/api/v1/verify", json={"statement": "The keeper counted 1,847 gannets.", "evidence": evidence})
    assert body.status_code == 200 and body.json()["verdict"] == "supported"
    body = client.post("/api/v1/verify", json={"statement": "The keeper counted 2,000 gannets.", "evidence": evidence})
    assert body.json()["reason"] == "number_not_in_source"


def test_verify_on_an_empty_corpus_is_unsupported(client: TestClient) -> None:
    body = client.post("/api/v1/verify", json={"statement": "Tajiks work in Russia."}).json()
    assert (body["verdict"], body["reason"]) == ("unsupported", "not_stated")


def test_an_empty_statement_or_question_is_refused_by_the_schema(client: TestClient) -> None:
    for path, body in [
        ("/api/v1/verify", {"statement": ""}),
        ("/api/v1/search", {"question": " \n"}),
        ("/api/v1/verify", {"statement": "x", "evidence": " "}),
    ]:
        response = client.post(path, json=body)
        assert response.status_code == 422 and error_code(response) == "invalid_request"
        assert "must not be empty or blank" in response.json()["error"]["message"]


# Uploads and documents -------------------------------------------------------------------------------


def test_several_files_at_once_are_added_and_searchable(client: TestClient) -> None:
    status, body = upload(client, TXT, MD, ("notes.xyz", b"no parser", "text/plain"), ("empty.txt", b"", "text/plain"))
    assert status == 202
    assert [(f["name"], f["status"], f["code"]) for f in body["files"]] == [
        ("skerryvore.txt", "queued", None),
        ("sourdough.md", "queued", None),
        ("notes.xyz", "rejected", "unsupported_file_type"),
        ("empty.txt", "rejected", "empty_document"),
    ]
    assert [f["name"] for f in body["job"]["files"]] == ["skerryvore.txt", "sourdough.md"]
    job = wait_for_job(client, body["job"]["id"])
    assert job["state"] == "done" and job["finished"] is not None
    assert [(f["name"], f["status"]) for f in job["files"]] == [("skerryvore.txt", "added"), ("sourdough.md", "added")]
    assert job["stage"] == "embed" and job["done"] == job["total"] > 0
    titles = {d["title"] for d in client.get("/api/v1/documents").json()["documents"]}
    assert titles == {"The Keeper's Log of Skerryvore", "Sourdough Hydration Guide"}
    hit = client.post("/api/v1/search", json={"question": "How many gannets did the keeper count?", "k": 1}).json()
    assert hit["hits"][0]["title"] == "The Keeper's Log of Skerryvore"


def test_upload_answers_with_the_job_location(client: TestClient) -> None:
    response = client.post("/api/v1/documents", files=[("files", ("notes.txt", NOTES.encode(), "text/plain"))])
    assert response.status_code == 202
    assert response.headers["location"].endswith(f"/api/v1/jobs/{response.json()['job']['id']}")
    assert response.json()["job"]["state"] in ("queued", "running", "done")


def test_same_bytes_again_are_unchanged_and_a_new_version_replaces(client: TestClient) -> None:
    first = upload_and_wait(client, NOTES_FILE)
    (old_id,) = [d["doc_id"] for d in first["files"][0]["documents"]]
    again = upload_and_wait(client, NOTES_FILE)
    assert again["files"][0]["status"] == "unchanged"
    edited = upload_and_wait(client, ("notes.txt", (NOTES + " Many return in winter.").encode(), "text/plain"))
    assert edited["files"][0]["status"] == "replaced"
    (document,) = client.get("/api/v1/documents").json()["documents"]
    assert document["doc_id"] != old_id and document["doc_id"] == edited["files"][0]["documents"][0]["doc_id"]
    assert client.get(f"/api/v1/documents/{old_id}").status_code == 404


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param("notes:2024.txt", "notes#2024.txt", id="unsafe-characters"),
        pytest.param("r" * 150 + " Q1.txt", "r" * 150 + " Q2.txt", id="long-names-differing-past-the-cut"),
    ],
)
def test_two_names_made_safe_alike_are_two_documents(client: TestClient, first: str, second: str) -> None:
    minutes = upload_and_wait(client, (first, b"Minutes: the board met and approved the budget.", "text/plain"))
    groceries = upload_and_wait(client, (second, b"Groceries: apples, bread, cheese and milk.", "text/plain"))
    assert minutes["files"][0]["name"] == groceries["files"][0]["name"]  # stored under one safe name
    assert (minutes["files"][0]["status"], groceries["files"][0]["status"]) == ("added", "added")
    assert len(client.get("/api/v1/documents").json()["documents"]) == 2


def test_corrupt_pdf_fails_alone_and_leaves_no_half_document(client: TestClient) -> None:
    job = upload_and_wait(client, BAD / "corrupt.pdf", TXT)
    statuses = {f["name"]: (f["status"], f["reason"]) for f in job["files"]}
    assert statuses["skerryvore.txt"] == ("added", None)
    assert statuses["corrupt.pdf"][0] == "failed" and statuses["corrupt.pdf"][1]
    documents = client.get("/api/v1/documents").json()["documents"]
    assert [d["source"] for d in documents] == ["skerryvore.txt"]
    chunks = backends_of(client).store.vectors.count()
    assert chunks == documents[0]["chunks"]  # no vector of the corrupt file was left behind


def test_jsonl_upload_reports_each_record(client: TestClient) -> None:
    job = upload_and_wait(client, GOOD / "records.jsonl", BAD / "mixed.jsonl")
    good, mixed = job["files"]
    assert good["status"] == "added" and len(good["documents"]) == 3
    assert all(d["source"].startswith("records.jsonl#") for d in good["documents"])
    failed = [d for d in mixed["documents"] if d["status"] == "failed"]
    assert len(failed) == 2 and len(mixed["documents"]) == 4  # two good records, two bad lines
    assert mixed["status"] == "added" and mixed["reason"].startswith("2 of 4 documents failed")


def test_pdf_document_has_text_and_pages(client: TestClient) -> None:
    job = upload_and_wait(client, GOOD / "orbits.pdf")
    (outcome,) = job["files"][0]["documents"]
    document = client.get(f"/api/v1/documents/{outcome['doc_id']}").json()
    assert document["title"] == "Orbital Mechanics Primer" and document["chars"] == len(document["text"])
    pages = document["pages"]
    assert [page["number"] for page in pages] == list(range(1, len(pages) + 1)) and len(pages) >= 2
    assert "Kepler's first law" in document["text"][pages[0]["start"] : pages[0]["end"]]


def test_hostile_file_names_are_made_safe(client: TestClient, tmp_path: Path) -> None:
    names = ["../../escape.txt", "<script>alert(1)</script>.txt", "a#b:c.txt", "C:\\Users\\me\\win.md"]
    job = upload_and_wait(client, *[(name, b"Text of a file with a strange name.", "text/plain") for name in names])
    assert [f["name"] for f in job["files"]] == ["escape.txt", "script.txt", "a_b_c.txt", "win.md"]
    assert not (tmp_path / "escape.txt").exists() and not list(tmp_path.glob("data*/escape.txt"))
    assert not any(backends_of(client).settings.data_dir.joinpath("uploads").glob("*/*"))  # job folders cleaned


def test_two_files_with_one_name_in_an_upload(client: TestClient) -> None:
    status, body = upload(client, ("a.txt", b"First text.", "text/plain"), ("a.txt", b"Second text.", "text/plain"))
    assert status == 202
    assert [(f["status"], f["code"]) for f in body["files"]] == [("queued", None), ("rejected", "bad_document")]


@pytest.mark.parametrize(
    ("file", "status", "code"),
    [
        pytest.param(("notes.xyz", b"no parser", "text/plain"), 415, "unsupported_file_type", id="type"),
        pytest.param(("empty.txt", b"", "text/plain"), 422, "empty_document", id="empty"),
        pytest.param(("big.txt", b"x" * 3000, "text/plain"), 413, "file_too_large", id="size"),
    ],
)
def test_an_upload_with_no_acceptable_file_gets_the_rejection_status(
    make_client: Client, file: tuple, status: int, code: str
) -> None:
    client = make_client(ingest={"max_file_mb": 0.002})
    response_status, body = upload(client, file)
    assert response_status == status and body["error"]["code"] == code
    assert body["files"] == [{"name": file[0], "status": "rejected", "code": code, "reason": body["error"]["message"]}]
    assert client.get("/api/v1/jobs").json()["jobs"] == []
    assert not any(backends_of(client).settings.data_dir.joinpath("uploads").iterdir())


def test_too_many_files_are_refused_before_any_is_stored(make_client: Client) -> None:
    client = make_client(server={"max_upload_files": 2})
    status, body = upload(client, *[(f"{n}.txt", b"Some text.", "text/plain") for n in range(3)])
    assert status == 413 and body["error"]["code"] == "too_many_files"
    assert client.get("/api/v1/jobs").json()["jobs"] == []


def test_a_body_over_the_request_limit_is_a_413(make_client: Client) -> None:
    client = make_client(ingest={"max_file_mb": 0.001}, server={"max_upload_files": 1})
    status, body = upload(client, ("huge.txt", b"x" * 2_100_000, "text/plain"))
    assert status == 413 and body["error"]["code"] == "request_too_large"
    response = client.post("/api/v1/ask", json={"question": "x" * 2_100_000})
    assert response.status_code == 413 and error_code(response) == "request_too_large"


def test_a_chunked_body_over_the_limit_is_a_413(make_client: Client) -> None:
    client = make_client(ingest={"max_file_mb": 0.001})
    body = json.dumps({"question": "x" * 1_200_000}).encode()
    response = client.post(
        "/api/v1/ask", content=iter([body[:600_000], body[600_000:]]), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413 and error_code(response) == "request_too_large"


@pytest.mark.parametrize("route", ["/api/v1/documents", "/uploads"])
def test_a_disk_that_fails_mid_upload_is_a_503_and_leaves_nothing(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, route: str
) -> None:
    """The chat and the API share one upload path: a failed save removes the files already saved."""
    real_save = uploads.save
    saved: list[Path] = []

    async def save_then_fail(upload, path: Path, max_bytes: int) -> int:
        if saved:
            raise OSError(28, "No space left on device")
        saved.append(path)
        return await real_save(upload, path, max_bytes)

    monkeypatch.setattr(uploads, "save", save_then_fail)
    files = [("files", NOTES_FILE), ("files", ("other.txt", b"other text", "text/plain"))]
    response = client.post(route, files=files)
    assert response.status_code == 503 and "No space left on device" in response.text
    assert saved and not saved[0].exists() and not saved[0].parent.exists()
    assert client.get("/api/v1/jobs").json()["jobs"] == []


def test_an_upload_without_files_is_a_422(client: TestClient) -> None:
    response = client.post("/api/v1/documents", data={"note": "no files"})
    assert response.status_code == 422 and error_code(response) == "invalid_request"


def test_delete_removes_the_document_from_every_index(client: TestClient) -> None:
    job = upload_and_wait(client, TXT, MD)
    doc_id = job["files"][0]["documents"][0]["doc_id"]
    response = client.delete(f"/api/v1/documents/{doc_id}")
    assert response.status_code == 200 and response.json() == {"doc_id": doc_id, "deleted": True}
    assert client.get(f"/api/v1/documents/{doc_id}").status_code == 404
    assert [d["source"] for d in client.get("/api/v1/documents").json()["documents"]] == ["sourdough.md"]
    hits = client.post("/api/v1/search", json={"question": "How many gannets did the keeper count?"}).json()["hits"]
    assert all(hit["doc_id"] != doc_id for hit in hits)
    again = client.delete(f"/api/v1/documents/{doc_id}")
    assert again.status_code == 404 and error_code(again) == "document_not_found"


@pytest.mark.parametrize("doc_id", ["a/b", "a/b/context", "/lead", "100% sure?#"])
def test_a_record_id_with_slashes_can_be_fetched_and_deleted(client: TestClient, doc_id: str) -> None:
    record = json.dumps({"id": doc_id, "text": "Gannets dive for mackerel off Bass Rock."}).encode()
    job = upload_and_wait(client, ("r.jsonl", record, "application/jsonl"))
    assert job["files"][0]["documents"][0]["doc_id"] == doc_id
    url = f"/api/v1/documents/{quote(doc_id, safe='')}"
    fetched = client.get(url)
    assert fetched.status_code == 200 and fetched.json()["doc_id"] == doc_id
    assert client.delete(url).json() == {"doc_id": doc_id, "deleted": True}
    assert client.get(url).status_code == 404


def test_unknown_document_and_job_are_404s(client: TestClient) -> None:
    response = client.get("/api/v1/documents/nope")
    assert response.status_code == 404 and error_code(response) == "document_not_found"
    response = client.get("/api/v1/jobs/nope")
    assert response.status_code == 404 and error_code(response) == "job_not_found"


def test_jobs_are_listed_newest_first(client: TestClient) -> None:
    first = upload_and_wait(client, TXT)
    second = upload_and_wait(client, MD)
    assert [job["id"] for job in client.get("/api/v1/jobs").json()["jobs"]] == [second["id"], first["id"]]


def test_uploaded_file_can_be_asked_about(client: TestClient) -> None:
    upload_and_wait(client, NOTES_FILE)
    body = client.post("/api/v1/ask", json={"question": QUESTION}).json()
    assert body["answered"] and body["claims"][0]["citations"][0]["title"] == "Tajik Migration Notes"


# Health -----------------------------------------------------------------------------------------------


def test_health_counts_documents_and_reports_lazy_models(notes_client: TestClient) -> None:
    body = notes_client.get("/api/v1/health").json()
    assert body["status"] == "ok" and body["documents"] == 1 and body["chunks"] >= 1
    assert body["store"]["state"] == "ready"
    assert {name: body[name]["state"] for name in ("retriever", "generator", "judge")} == dict.fromkeys(
        ("retriever", "generator", "judge"), "lazy"
    )


def test_health_says_when_stored_passages_have_no_vector(notes_client: TestClient) -> None:
    assert notes_client.get("/api/v1/health").json()["store"]["detail"] == "embedded"
    store = notes_client.app.state.backends.store
    (document,) = store.docstore.list_documents()
    store.vectors.delete(store.docstore.chunk_ids(document.doc_id))
    detail = notes_client.get("/api/v1/health").json()["store"]["detail"]
    assert (
        detail
        == f"embedded; {document.chunks} stored passages have no vector; ingest the same files again to embed them"
    )


def test_health_after_warm_up_is_ready(client: TestClient) -> None:
    readiness: Readiness = client.app.state.readiness
    readiness.warm_up(backends_of(client))
    body = client.get("/api/v1/health").json()
    assert body["status"] == "ok" and body["generator"] == {
        "name": "extractive",
        "model": None,
        "state": "ready",
        "detail": None,
    }


@pytest.mark.parametrize(("fallback", "status", "overall"), [(False, 503, "unavailable"), (True, 200, "degraded")])
def test_health_with_a_missing_model(
    make_client: Client, tmp_path: Path, fallback: bool, status: int, overall: str
) -> None:
    missing = str(tmp_path / "missing.gguf")
    client = make_client(generation={"generator": "local", "model": missing, "fallback": fallback})
    client.app.state.readiness.warm_up(backends_of(client))
    response = client.get("/api/v1/health")
    assert response.status_code == status and response.json()["status"] == overall
    generator = response.json()["generator"]
    assert generator["state"] == "unavailable" and missing in generator["detail"] and generator["model"] == missing


def test_warm_up_runs_when_the_server_starts(make_client: Client) -> None:
    client = make_client(server={"warm_up": True})
    for _ in range(600):
        if client.get("/api/v1/health").json()["status"] != "loading":
            break
        time.sleep(0.05)
    assert client.get("/api/v1/health").json()["status"] == "ok"


# Keys and routing -------------------------------------------------------------------------------------


def _api_routes(client: TestClient) -> list[tuple[str, str, str]]:
    """(method, path template, a concrete path) of every documented API route."""
    paths = client.app.openapi()["paths"]
    return [
        (method.upper(), template, re.sub(r"\{\w+\}", "x", template))
        for template, operations in paths.items()
        if template.startswith(("/api/", "/v1/"))
        for method in operations
    ]


def test_with_an_api_key_every_api_route_needs_it(make_client: Client) -> None:
    client = make_client(server={"api_key": "s3cret", "key_failures_per_minute": 1000})
    routes = _api_routes(client)
    assert len(routes) >= 13
    for method, _, path in routes:
        response = client.request(method, path, headers={"Authorization": "Bearer wrong"})
        assert response.status_code == 401, (method, path)
        assert error_code(response) == "unauthorized" and response.headers["www-authenticate"] == "Bearer"
        assert client.request(method, path).status_code == 401, (method, path)


def test_an_address_that_sends_wrong_keys_is_refused_for_a_while_even_with_the_right_one(
    make_client: Client,
) -> None:
    client = make_client(server={"api_key": "s3cret", "key_failures_per_minute": 2})
    right, wrong = {"X-API-Key": "s3cret"}, {"Authorization": "Bearer guess"}
    assert client.get("/api/v1/documents", headers=right).status_code == 200  # a right key is not counted
    assert [client.get("/api/v1/documents", headers=wrong).status_code for _ in range(2)] == [401, 401]
    refused = client.get("/api/v1/documents", headers=right)
    assert refused.status_code == 429 and error_code(refused) == "too_many_attempts"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert client.get("/v1/models", headers=right).status_code == 429  # the OpenAI routes count alike
    assert client.get("/v1/models").status_code == 401  # no key offered: nothing to refuse early


@pytest.mark.parametrize(
    ("path", "content_type", "status"),
    [
        pytest.param("/api/v1/ask", "application/json", 401, id="api"),
        pytest.param("/api/v1/documents", "multipart/form-data; boundary=x", 401, id="api-upload"),
        pytest.param("/uploads", "multipart/form-data; boundary=x", 303, id="chat-upload"),
    ],
)
def test_without_the_key_not_a_byte_of_the_body_is_read(
    make_client: Client, path: str, content_type: str, status: int
) -> None:
    """FastAPI reads a body before a route's checks: an endless body from a client without the key
    would be read (into memory, or spooled to disk) up to the size limit."""
    app = make_client(server={"api_key": "s3cret"}).app
    pulled, sent = [], []

    async def endless_body() -> dict:
        pulled.append(1)
        return {"type": "http.request", "body": b"x" * 65536, "more_body": True}

    async def send(message: dict) -> None:
        sent.append(message)

    headers = [(b"host", b"127.0.0.1"), (b"content-type", content_type.encode()), (b"x-api-key", b"guess")]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"", "headers": headers,
        "client": ("192.0.2.7", 50000), "server": ("127.0.0.1", 8000),
    }  # fmt: skip
    asyncio.run(app(scope, endless_body, send))
    assert sent[0]["status"] == status and not pulled


def test_an_upload_sized_body_is_allowed_only_on_the_upload_routes(make_client: Client) -> None:
    client = make_client(ingest={"max_file_mb": 0.5}, server={"max_upload_files": 4})
    files = [(f"part{n}.txt", b"word " * 90_000, "text/plain") for n in range(4)]  # 1.8 MB: over 1 file's 1.5
    status, body = upload(client, *files)
    assert status == 202, body
    response = client.post("/api/v1/ask", files=[("files", f) for f in files], data={"question": "x"})
    assert response.status_code == 413 and error_code(response) == "request_too_large"


def test_key_attempts_expire_after_their_window() -> None:
    now = [0.0]
    attempts = KeyAttempts(limit=2, window=60.0, clock=lambda: now[0])
    attempts.attempt("10.0.0.1")
    now[0] = 30.0
    attempts.attempt("10.0.0.1")
    attempts.succeeded("10.0.0.2", attempts.attempt("10.0.0.2"))  # another address is not held back
    with pytest.raises(TooManyAttempts) as refused:
        attempts.attempt("10.0.0.1")
    assert refused.value.retry_after == 30  # until the first failure leaves the window
    now[0] = 60.5
    attempts.succeeded("10.0.0.1", attempts.attempt("10.0.0.1"))  # one failure left in the window
    now[0] = 90.5
    attempts.succeeded("10.0.0.1", attempts.attempt("10.0.0.1"))
    assert attempts._failures == {}  # forgotten once nothing is recent, and right keys do not count


def test_key_attempts_count_before_the_key_is_compared() -> None:
    attempts = KeyAttempts(limit=2, window=60.0, clock=lambda: 0.0)
    marks = [attempts.attempt("10.0.0.1"), attempts.attempt("10.0.0.1")]  # two guesses in flight at once
    with pytest.raises(TooManyAttempts):
        attempts.attempt("10.0.0.1")  # a third, sent before either was compared, is already refused
    attempts.succeeded("10.0.0.1", marks[0])
    attempts.attempt("10.0.0.1")  # the right key took its attempt back


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        pytest.param("2001:db8:1:2::1", "2001:db8:1:2:ffff::9", True, id="ipv6-same-64"),
        pytest.param("2001:db8:1:2::1", "2001:db8:1:3::1", False, id="ipv6-other-64"),
        pytest.param("::ffff:10.0.0.1", "10.0.0.1", True, id="ipv4-mapped"),
        pytest.param("10.0.0.1", "10.0.0.2", False, id="ipv4"),
    ],
)
def test_key_attempts_count_an_ipv6_client_by_its_64_network(first: str, second: str, same: bool) -> None:
    attempts = KeyAttempts(limit=1, window=60.0, clock=lambda: 0.0)
    attempts.attempt(first)
    if same:
        with pytest.raises(TooManyAttempts):
            attempts.attempt(second)
    else:
        attempts.attempt(second)


def test_key_attempts_forget_stale_addresses_when_there_are_many(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "MAX_ADDRESSES", 3)
    now = [0.0]
    attempts = KeyAttempts(limit=2, window=60.0, clock=lambda: now[0])
    for n in range(4):
        attempts.attempt(f"10.0.0.{n}")
    now[0] = 61.0
    attempts.attempt("10.0.0.9")  # over the limit of addresses: the four stale ones go
    assert set(attempts._failures) == {"10.0.0.9"}


def test_with_an_api_key_the_schema_and_its_pages_need_it(make_client: Client) -> None:
    client = make_client(server={"api_key": "s3cret"})
    assert client.get("/openapi.json").status_code == 401
    assert client.get("/openapi.json", headers={"X-API-Key": "s3cret"}).json()["info"]["title"] == "assistant"
    response = client.get("/docs", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/login?next=/docs")
    client.cookies.set(COOKIE, session_token("s3cret"))  # logged in through the chat's form
    assert client.get("/docs").status_code == 200 and client.get("/openapi.json").status_code == 200


@pytest.mark.parametrize(
    "credentials",
    [
        pytest.param({"headers": {"Authorization": "Bearer s3cret"}}, id="bearer"),
        pytest.param({"headers": {"X-API-Key": "s3cret"}}, id="header"),
        pytest.param({"cookies": {COOKIE: session_token("s3cret")}}, id="cookie"),
    ],
)
def test_the_key_opens_the_api(make_client: Client, credentials: dict) -> None:
    client = make_client(server={"api_key": "s3cret"})
    cookies = credentials.pop("cookies", None)
    if cookies:
        client.cookies.update(cookies)
    assert client.get("/api/v1/documents", **credentials).status_code == 200
    upload_status = client.post("/api/v1/documents", files=[("files", NOTES_FILE)], **credentials).status_code
    assert upload_status == 202
    assert client.delete("/api/v1/documents/nope", **credentials).status_code == 404


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Authorization": "Bearer wrong", "X-API-Key": "s3cret"}, id="wrong-bearer"),
        pytest.param({"Authorization": "Bearer s3cret", "X-API-Key": "wrong"}, id="wrong-header"),
        pytest.param({"Authorization": "Basic czNjcmV0", "X-API-Key": "s3cret"}, id="other-scheme"),
        pytest.param({"Authorization": "Bearer "}, id="empty-bearer"),
    ],
)
def test_a_wrong_key_is_not_outvoted_by_a_right_one(make_client: Client, headers: dict) -> None:
    client = make_client(server={"api_key": "s3cret"})
    client.cookies.set(COOKIE, session_token("s3cret"))
    assert client.get("/api/v1/documents", headers=headers).status_code == 401


def test_without_a_key_setting_the_api_is_open(client: TestClient) -> None:
    assert client.get("/api/v1/documents").status_code == 200


def test_a_page_on_another_site_cannot_upload_through_the_api(client: TestClient) -> None:
    """A multipart form needs no CORS preflight: without an API key, any site a user visits could
    otherwise post documents into the corpus through the user's browser."""
    hostile = {"Origin": "http://evil.example"}
    response = client.post("/api/v1/documents", files=[("files", NOTES_FILE)], headers=hostile)
    assert response.status_code == 403 and error_code(response) == "forbidden"
    assert client.get("/api/v1/jobs").json()["jobs"] == []
    folder = backends_of(client).settings.data_dir / "uploads"
    assert not folder.exists() or not list(folder.iterdir())
    own = {"Origin": str(client.base_url)}
    assert client.post("/api/v1/documents", files=[("files", NOTES_FILE)], headers=own).status_code == 202


def test_unknown_route_and_wrong_method_are_json(client: TestClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404 and error_code(response) == "not_found"
    response = client.put("/api/v1/ask", json={})
    assert response.status_code == 405 and error_code(response) == "method_not_allowed"
    assert response.headers["allow"] == "POST"
    response = client.post("/api/v1/documents/x")
    assert response.status_code == 405 and response.headers["allow"] == "DELETE, GET"  # every method, not the first


def test_openapi_documents_every_route_with_its_errors(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for method, template, _ in _api_routes(client):
        operation = schema["paths"][template][method.lower()]
        assert operation.get("description"), template
        assert {"401", "422"} <= set(operation["responses"]), template
    ask = schema["paths"]["/api/v1/ask"]["post"]
    assert {"400", "413", "503"} <= set(ask["responses"])
    assert "text/event-stream" in ask["responses"]["200"]["content"]
    assert schema["components"]["schemas"]["AskRequest"]["examples"]


def test_the_documentation_page_is_served_with_its_own_scripts(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and "/openapi.json" in page.text
    scripts = re.findall(r'<script src="([^"]+)"', page.text)
    assert scripts and all(src.startswith("/docs-static/") and client.get(src).status_code == 200 for src in scripts)
    assert client.get("/openapi.json").json()["info"]["title"] == "assistant"


def _outcome(status: str, reason: str | None = None) -> IngestOutcome:
    return IngestOutcome("records.jsonl#x", status, reason=reason)  # type: ignore[arg-type]


FILE_STATUSES = [
    # (job state, outcomes, job error) -> (file status, reason)
    pytest.param("queued", [], None, ("queued", None), id="queued"),
    pytest.param("running", [_outcome("added")], None, ("running", None), id="running"),
    pytest.param("failed", [], "store down", ("failed", "store down"), id="job-failed"),
    pytest.param("done", [], None, ("failed", "no document was read from this file"), id="nothing-read"),
    pytest.param("done", [_outcome("failed", "bad line")], None, ("failed", "bad line"), id="all-failed"),
    pytest.param(
        "done", [_outcome("unchanged", "same text"), _outcome("added")], None, ("added", None), id="added-wins"
    ),
    pytest.param(
        "done",
        [_outcome("added"), _outcome("failed", "bad line")],
        None,
        ("added", "1 of 2 documents failed: bad line"),
        id="some-failed",
    ),
    pytest.param(
        "done",
        [_outcome("unchanged", "same text as stored document d1")],
        None,
        ("unchanged", "same text as stored document d1"),
        id="unchanged",
    ),
]


@pytest.mark.parametrize(("state", "outcomes", "error", "expected"), FILE_STATUSES)
def test_a_files_status_from_its_documents(state: str, outcomes: list, error, expected: tuple) -> None:
    assert file_status(state, outcomes, error) == expected


@pytest.mark.parametrize(
    ("server", "host", "status"),
    [
        ({}, "localhost", 200),
        ({}, "127.0.0.1:8000", 200),
        ({}, "attacker.example", 400),  # a page whose name was rebound to 127.0.0.1
        ({"host": "0.0.0.0"}, "assistant.internal", 200),  # listening widely: any name
        ({"host": "0.0.0.0", "allowed_hosts": ["assistant.internal"]}, "other.example", 400),
    ],
)
def test_the_server_answers_only_to_its_own_host_names(make_client: Client, server, host: str, status: int) -> None:
    client = make_client(server={"warm_up": False, **server})
    assert client.get("/api/v1/documents", headers={"Host": host}).status_code == status


def test_uploads_a_stopped_server_left_behind_are_removed_at_start(tmp_path: Path, make_client: Client) -> None:
    data_dir = tmp_path / "data0"  # the folder make_client gives its first app
    stale, recent = data_dir / "uploads" / "stale-job", data_dir / "uploads" / "recent-job"
    for folder in (stale, recent):
        folder.mkdir(parents=True)
        (folder / "notes.txt").write_text("never ingested")
    hours_ago = time.time() - 2 * 3600
    os.utime(stale, (hours_ago, hours_ago))
    make_client(server={"warm_up": False})
    assert not stale.exists() and recent.exists()  # a recent one may belong to another running server
