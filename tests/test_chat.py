"""The web chat through FastAPI's TestClient: pages, the answer stream, verdicts, citations, conversations
that survive a reload, uploads, delete, login and escaping (hashing embedder, no language model)."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import BAD, GOOD, NOTES, fast_settings, without_models
from fastapi.testclient import TestClient

from assistant import pipeline
from assistant.backends import Backends
from assistant.components.generate import NOT_FOUND
from assistant.errors import BackendUnavailable
from assistant.records import ParsedDocument, SourceFile
from assistant.server.app import create_app
from assistant.server.auth import COOKIE
from assistant.server.conversations import Conversations, TurnInProgress, new_id
from assistant.server.jobs import Job
from assistant.server.views import context_window

HOSTILE = (
    "Hostile Markup\n\n"
    "Migrants from Tajikistan wrote <script>alert('pwned')</script> on the wall. "
    'The poster said <img src=x onerror="alert(1)"> and nothing else.'
)
QUESTION = "How many Tajiks work in Russia as labour migrants?"
OFF_TOPIC = "Which sourdough starter rises fastest in a cold kitchen?"
TURN_EVENTS = re.compile(r'sse-connect="(/c/[0-9a-f]{32}/turns/\d+/events)"')


class ScriptedGenerator:
    """Writes fixed pieces and records what it was asked."""

    name = "scripted"
    model = "script-1"

    def __init__(self, *pieces: str, fail: Exception | None = None) -> None:
        self.pieces = pieces
        self.fail = fail
        self.questions: list[str] = []

    def draft(self, question: str, sources) -> Iterator[str]:
        self.questions.append(question)
        if self.fail is not None:
            raise self.fail
        yield from self.pieces


def chat_settings(data_dir: Path, **overrides):
    return fast_settings(data_dir, **without_models(**overrides))


def add_text(backends: Backends, folder: Path, name: str, text: str) -> str:
    """Ingest `text` as the file `name`; returns its document id."""
    path = folder / name
    path.write_text(text)
    report = pipeline.ingest([SourceFile(path, name, f"upload:{name}")], backends)
    assert report.outcomes[0].status == "added", report.outcomes
    return report.outcomes[0].doc_id


class Clients:
    """Started apps over one data folder: a second app over it is the server restarted."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.open: list[TestClient] = []

    def __call__(self, **overrides) -> TestClient:
        app = create_app(chat_settings(self.data_dir, **overrides))
        client = TestClient(app, base_url="http://localhost", follow_redirects=False)
        self.open.append(client.__enter__())
        return client

    def stop(self, client: TestClient) -> None:
        self.open.remove(client)
        client.__exit__(None, None, None)
        backends = client.app.state.backends
        if "docstore" in backends.__dict__:
            backends.docstore.close()


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Clients]:
    clients = Clients(tmp_path / "data")
    yield clients
    for client in list(clients.open):
        clients.stop(client)


@pytest.fixture
def client(make_client, tmp_path: Path) -> TestClient:
    """A chat over the notes document."""
    made = make_client()
    add_text(made.app.state.backends, tmp_path, "notes.txt", NOTES)
    return made


def script(client: TestClient, *pieces: str, fail: Exception | None = None) -> ScriptedGenerator:
    generator = ScriptedGenerator(*pieces, fail=fail)
    client.app.state.backends.generator = lambda name=None: generator
    return generator


def conversation(client: TestClient) -> str:
    response = client.get("/")
    assert response.status_code == 303
    return response.headers["location"].removeprefix("/c/")


def events(client: TestClient, url: str) -> list[tuple[str, str]]:
    """The server-sent events of `url` as (event, data), data lines joined as a browser joins them."""
    found: list[tuple[str, str]] = []
    name, data = "message", []
    with client.stream("GET", url) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
            elif not line and data:
                found.append((name, "\n".join(data)))
                name, data = "message", []
    return found


def ask(client: TestClient, cid: str, question: str = QUESTION, generator: str = "") -> list[tuple[str, str]]:
    """Ask through the form, then follow the turn's stream to its end."""
    response = client.post(f"/c/{cid}/ask", data={"question": question, "generator": generator})
    assert response.status_code == 200, response.text
    stream = TURN_EVENTS.search(response.text)
    assert stream, response.text
    return events(client, stream.group(1))


def final(streamed: list[tuple[str, str]]) -> str:
    assert streamed[-1][0] == "done", streamed
    return streamed[-1][1]


def test_home_starts_a_new_conversation_each_time(client: TestClient) -> None:
    first, second = conversation(client), conversation(client)
    assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second


def test_the_page_has_the_form_the_library_and_strict_headers(client: TestClient) -> None:
    cid = conversation(client)
    page = client.get(f"/c/{cid}")
    assert page.status_code == 200
    assert f'hx-post="/c/{cid}/ask"' in page.text
    assert 'type="file" id="files" name="files" multiple' in page.text
    assert "Tajik Migration Notes" in page.text  # the document list
    assert '<option value="extractive">Quotes only (no model)</option>' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "'unsafe-inline'" not in page.headers["content-security-policy"]
    assert client.get("/static/chat.js").status_code == client.get("/static/chat.css").status_code == 200


def test_a_malformed_conversation_id_starts_afresh(client: TestClient) -> None:
    response = client.get("/c/not-an-id")
    assert (response.status_code, response.headers["location"]) == (303, "/")


def test_evidence_comes_first_then_the_answer_streams_then_the_checked_turn(client: TestClient) -> None:
    streamed = ask(client, conversation(client), generator="extractive")
    names = [name for name, _ in streamed]
    assert names[0] == "sources" and names[-1] == "done"
    assert "body" in names[1:-1]
    assert "Tajik Migration Notes" in streamed[0][1] and "S1" in streamed[0][1]
    done = final(streamed)
    assert 'data-state="done"' in done and "sse-connect" not in done
    assert 'class="claim supported"' in done and "Some 3 million Tajiks work in Russia" in done
    assert re.search(r'<a class="cite" href="/documents/[^"]+/context\?start=\d+&amp;end=\d+&amp;key=S1"', done)
    assert "Quotes only" in done  # the generator, shown discreetly


def test_flagged_sentences_show_their_reason_on_hover_and_focus(client: TestClient) -> None:
    script(
        client, "Some 3 million Tajiks work in Russia [S1]. Some 5 million Tajiks work in Russia [S1]. ", "Tea is nice."
    )
    done = final(ask(client, conversation(client)))
    assert done.count('class="claim supported"') == 1
    for verdict, reason in [("unsupported", "5 million"), ("uncited", "cites no source")]:
        flagged = re.search(
            rf'<span class="claim flagged {verdict}" tabindex="0" aria-describedby="(why-[\w-]+)">', done
        )
        assert flagged, done
        tooltip = re.search(rf'<span class="why" role="tooltip" id="{flagged.group(1)}">(.*?)</span></span>', done)
        assert tooltip and reason in tooltip.group(1)
    assert "1 not supported" in done and "1 without a source" in done


def test_a_source_the_checker_found_is_drawn_apart_and_says_so(client: TestClient) -> None:
    script(client, "They send money home [S1]. Some 3 million Tajiks work in Russia.")
    done = final(ask(client, conversation(client)))
    assert done.count('class="claim supported"') == 2
    cites = re.findall(r'<a class="(cite[^"]*)"[^>]*aria-label="([^"]*)"', done.split('class="quotes"')[0])
    assert cites == [
        ("cite", "Source S1: Tajik Migration Notes"),
        ("cite found", "Source S1: Tajik Migration Notes (found by the checker; the answer did not cite it)"),
    ]


def test_a_turn_saved_by_an_earlier_release_still_shows(client: TestClient) -> None:
    cid = conversation(client)
    store = client.app.state.conversations
    script(client, "Some 3 million Tajiks work in Russia [S1].")
    final(ask(client, cid))
    (turn,) = store.turns(cid)
    del turn.answer["draft"]  # answers stored before drafts were withdrawn have no such field
    for claim in turn.answer["claims"]:
        del claim["cited_by"]  # nor those stored before the checker marked its sources
    with store._transaction() as db:
        db.execute("UPDATE turns SET answer = ? WHERE id = ?", (json.dumps(turn.answer), turn.id))
    page = client.get(f"/c/{cid}")
    assert page.status_code == 200
    assert 'class="claim supported">Some 3 million Tajiks work in Russia.' in page.text
    assert "The model's draft" not in page.text


def test_the_draft_arrives_once_then_only_its_new_words_escaped(client: TestClient) -> None:
    pieces = ("Some 3 million ", "<Tajiks> work", " in Russia [S1].", "\n\n", "They send money home [S1].")
    script(client, *pieces)
    streamed = ask(client, conversation(client))
    drafts = [data for name, data in streamed if name == "body" and 'class="draft"' in data]
    tokens = [data for name, data in streamed if name == "token"]
    assert len(drafts) == 1 and "Some 3 million " in drafts[0]
    assert tokens == ["&lt;Tajiks&gt; work", " in Russia [S1].", "\n\n", "They send money home [S1]."]


def test_sentences_are_marked_one_by_one_while_they_are_checked(client: TestClient) -> None:
    script(client, "Some 3 million Tajiks work in Russia [S1]. They send money home [S1]. Tea is nice.")
    bodies = [data for name, data in ask(client, conversation(client)) if name == "body"]
    checking = [body for body in bodies if "Checking each sentence" in body]
    assert "(1 of 3)" in checking[0] and 'class="claim unchecked"' in checking[0]
    assert "(3 of 3)" in checking[-1] and "unchecked" not in checking[-1]


def test_the_checking_count_leaves_out_a_not_found_sentence_as_the_verdicts_do(client: TestClient) -> None:
    script(client, f"{NOT_FOUND} Some 3 million Tajiks work in Russia [S1].")
    bodies = [data for name, data in ask(client, conversation(client)) if name == "body"]
    (checking,) = [body for body in bodies if "Checking each sentence" in body]
    assert "(1 of 1)" in checking and "unchecked" not in checking


def test_a_follow_up_is_rewritten_with_the_conversation(client: TestClient) -> None:
    cid = conversation(client)
    generator = script(client, "Some 3 million Tajiks work in Russia [S1].")
    ask(client, cid)
    streamed = ask(client, cid, "And what do they send home?")
    searched = dict(streamed)["question"]
    assert "Searched for:" in searched and QUESTION in searched  # the word-joining rewriter without a model
    assert generator.questions[-1] == f"{QUESTION} And what do they send home?"
    assert "Searched for:" in final(streamed)


def test_the_conversation_survives_a_reload_and_a_restart(make_client, tmp_path: Path) -> None:
    first = make_client()
    add_text(first.app.state.backends, tmp_path, "notes.txt", NOTES)
    script(first, "Some 3 million Tajiks work in Russia [S1]. Some 9 million Tajiks work in Russia [S1].")
    cid = conversation(first)
    ask(first, cid)
    make_client.stop(first)
    restarted = make_client()
    page = restarted.get(f"/c/{cid}").text
    assert QUESTION in page and "sse-connect" not in page
    assert 'class="claim supported"' in page and 'class="claim flagged unsupported"' in page
    assert "9 million not in the cited passages" in page
    assert "How many Tajiks work in Russia" in page.split('class="history"')[1]  # listed as an earlier conversation


@pytest.mark.parametrize("turn", ["0", "-1", "99999", str(2**63), "9" * 30])
def test_a_turn_that_does_not_exist_is_a_404(client: TestClient, turn: str) -> None:
    response = client.get(f"/c/{conversation(client)}/turns/{turn}/events")
    assert response.status_code == 404 and response.json()["error"]["code"] == "conversation_not_found"


def test_a_finished_turn_reconnected_to_sends_only_its_final_html(client: TestClient) -> None:
    cid = conversation(client)
    response = client.post(f"/c/{cid}/ask", data={"question": QUESTION})
    url = TURN_EVENTS.search(response.text).group(1)
    events(client, url)
    again = events(client, url)
    assert [name for name, _ in again] == ["done"] and 'data-state="done"' in again[0][1]


def test_one_question_at_a_time_per_conversation(client: TestClient) -> None:
    cid = conversation(client)
    assert client.post(f"/c/{cid}/ask", data={"question": QUESTION}).status_code == 200
    refused = client.post(f"/c/{cid}/ask", data={"question": "And then?"}, headers={"HX-Request": "true"})
    assert refused.status_code == 409 and "still being answered" in refused.text
    assert (refused.headers["hx-retarget"], refused.headers["hx-reswap"]) == ("#ask-error", "innerHTML")


@pytest.mark.parametrize(
    ("question", "generator", "status", "message"),
    [
        ("   ", "", 400, "the question is empty"),
        ("why? " * 20_000, "", 413, "the limit is 2000"),
        (QUESTION, "oracle", 400, "unknown generator"),
    ],
    ids=["empty", "100-KB", "unknown-generator"],
)
def test_a_bad_question_gets_a_clear_error_and_stores_nothing(
    client: TestClient, question: str, generator: str, status: int, message: str
) -> None:
    cid = conversation(client)
    response = client.post(f"/c/{cid}/ask", data={"question": question, "generator": generator})
    assert response.status_code == status and message in response.text
    assert 'class="turn"' not in client.get(f"/c/{cid}").text


def test_a_question_past_the_answer_limit_is_told_the_server_is_busy(client: TestClient) -> None:
    slots = client.app.state.answer_slots
    slots.taken = slots.limit  # every slot held by answers in progress
    done = final(ask(client, conversation(client), generator="extractive"))
    slots.taken = 0
    assert 'data-state="failed"' in done and "already being written or waiting" in done


def test_an_error_while_answering_is_shown_and_kept(client: TestClient) -> None:
    script(client, fail=BackendUnavailable("the model server is down"))
    cid = conversation(client)
    done = final(ask(client, cid))
    assert 'data-state="failed"' in done and "the model server is down" in done and "Ask again" in done
    assert "the model server is down" in client.get(f"/c/{cid}").text
    assert client.post(f"/c/{cid}/ask", data={"question": QUESTION}).status_code == 200  # not stuck


def test_a_question_the_documents_do_not_answer_says_so_plainly(client: TestClient) -> None:
    done = final(ask(client, conversation(client), OFF_TOPIC))
    assert f'<p class="not-found">{NOT_FOUND}</p>' in done and "claim" not in done


def test_a_draft_no_source_supports_is_shown_under_the_not_found_answer(client: TestClient) -> None:
    script(client, "Some 5 million Tajiks work in Russia [S1].")
    done = final(ask(client, conversation(client)))
    not_found, draft = done.split("The model's draft, which the documents do not support")
    assert f'<p class="not-found">{NOT_FOUND}</p>' in not_found and "claim" not in not_found
    assert 'class="claim flagged unsupported"' in draft and "1 not supported" in draft


def test_a_missing_model_is_answered_with_quotes_and_says_so(client: TestClient, tmp_path: Path) -> None:
    client.app.state.settings.generation.model = str(tmp_path / "missing.gguf")
    done = final(ask(client, conversation(client), generator="local"))
    assert "answered with the extractive generator" in done and 'class="note"' in done


def test_document_text_and_model_output_are_escaped(make_client, tmp_path: Path) -> None:
    made = make_client()
    doc_id = add_text(made.app.state.backends, tmp_path, "hostile.txt", HOSTILE)
    script(made, "Migrants wrote <script>alert('x')</script> on the wall [S1]. <b>Bold</b> claim.")
    cid = conversation(made)
    streamed = ask(made, cid, "What did migrants from Tajikistan write <script>?")
    page = made.get(f"/c/{cid}").text
    text = made.app.state.backends.docstore.document(doc_id).text.index("<script>")
    context = made.get(f"/documents/{doc_id}/context?start={text}&end={text + 10}", headers={"HX-Request": "true"})
    for html in [*(data for _, data in streamed), page, context.text]:
        assert "<script>alert" not in html and "<img src=x" not in html and "<b>Bold" not in html
    assert "&lt;script&gt;alert(&#39;pwned&#39;)" in streamed[0][1]  # the retrieved passage
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in final(streamed)  # the model's words
    assert '<mark id="quote">&lt;script&gt;al</mark>' in context.text
    assert "&lt;script&gt;?" in page  # the question


def test_a_citation_opens_its_quote_inside_the_surrounding_text(client: TestClient) -> None:
    done = final(ask(client, conversation(client), generator="extractive"))
    url = re.search(r'<a class="cite" href="([^"]+)"', done).group(1).replace("&amp;", "&")
    fragment = client.get(url, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    quote = re.search(r'<mark id="quote">(.*?)</mark>', fragment.text, re.DOTALL).group(1)
    assert quote in NOTES and "Tajik Migration Notes" in fragment.text
    assert '<span class="key">S1</span>' in fragment.text
    odd = client.get(url.replace("key=S1", "key=<i>S1</i>"), headers={"HX-Request": "true"})
    assert '<mark id="quote">' in odd.text and 'class="key"' not in odd.text and "<i>" not in odd.text
    assert NOTES.split(quote)[0].split()[-1] in fragment.text  # text before the quotation
    whole = client.get(url)  # opened in a tab of its own
    assert "<html" in whole.text and '<mark id="quote">' in whole.text


def test_a_pdf_citation_names_its_page(make_client) -> None:
    made = make_client()
    report = pipeline.ingest([SourceFile.from_path(GOOD / "orbits.pdf")], made.app.state.backends)
    document = made.app.state.backends.docstore.document(report.outcomes[0].doc_id)
    last = document.pages[-1]
    response = made.get(f"/documents/{document.doc_id}/context?start={last.start}&end={last.start + 20}")
    assert f"page {last.number}" in response.text and len(document.pages) > 1


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("start=5&end=2", 400, "offsets within"),
        ("start=0&end=99999", 400, "offsets within"),
        ("start=a&end=3", 400, "whole numbers"),
    ],
)
def test_bad_citation_offsets_are_refused(client: TestClient, query: str, status: int, message: str) -> None:
    doc_id = client.app.state.backends.docstore.list_documents()[0].doc_id
    response = client.get(f"/documents/{doc_id}/context?{query}")
    assert response.status_code == status and message in response.text


def test_context_of_a_deleted_document_says_so(client: TestClient) -> None:
    response = client.get("/documents/no-such-doc/context?start=0&end=1")
    assert response.status_code == 404 and "no longer stored" in response.text


def wait_for_job(client: TestClient, html: str) -> str:
    """Poll the job's rows (as the page does) until the job has ended; returns the last rows."""
    job = re.search(r'hx-get="/uploads/(\w+)"', html).group(1)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        response = client.get(f"/uploads/{job}")
        if 'hx-trigger="every' not in response.text:
            assert response.headers["hx-trigger"] == "documents-changed"
            return response.text
        time.sleep(0.2)
    raise AssertionError(f"job {job} did not end")


def statuses(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-name="([^"]+)" data-status="(\w+)"', html))


def test_an_upload_shows_each_file_rejected_or_ingested(make_client) -> None:
    made = make_client()
    files = [
        ("files", ("notes.txt", NOTES.encode(), "text/plain")),
        ("files", ("notes.xyz", (BAD / "notes.xyz").read_bytes(), "application/octet-stream")),
        ("files", ("empty.txt", b"", "text/plain")),
        ("files", ("corrupt.pdf", (BAD / "corrupt.pdf").read_bytes(), "application/pdf")),
        ("files", ("../../notes.txt", b"other text with the same name", "text/plain")),
    ]
    response = made.post("/uploads", files=files)
    assert response.status_code == 202
    rows = re.findall(r'data-name="([^"]+)" data-status="(\w+)"', response.text)
    assert rows[:3] == [("notes.xyz", "rejected"), ("empty.txt", "rejected"), ("notes.txt", "rejected")]
    assert [name for name, _ in rows[3:]] == ["notes.txt", "corrupt.pdf"]
    assert {status for _, status in rows[3:]} <= {"queued", "running"}
    for reason in ["unsupported file type", "file is empty", "another file in this upload is also named"]:
        assert reason in response.text
    done = wait_for_job(made, response.text)
    assert statuses(done) == {"notes.txt": "added", "corrupt.pdf": "failed"}
    assert "Tajik Migration Notes" in made.get("/documents").text


def test_the_page_polls_until_the_job_state_has_ended(make_client) -> None:
    """The worker sets `finished` and then `state`: a poll between the two must not stop polling with
    the rows still saying "running"."""
    made = make_client()
    jobs = made.app.state.jobs
    job = Job("a1b2c3", ["notes.txt"], state="running", finished=time.time())
    with jobs._lock:
        jobs._jobs[job.id] = job
    rows = made.get(f"/uploads/{job.id}")
    assert 'hx-trigger="every' in rows.text and "hx-trigger" not in rows.headers
    assert statuses(rows.text) == {"notes.txt": "running"}


def test_uploading_again_is_unchanged_and_a_new_version_replaces(make_client) -> None:
    made = make_client()
    for text, expected in [(NOTES, "added"), (NOTES, "unchanged"), (NOTES + " And more.", "replaced")]:
        response = made.post("/uploads", files=[("files", ("notes.txt", text.encode(), "text/plain"))])
        assert statuses(wait_for_job(made, response.text)) == {"notes.txt": expected}
    assert len(made.app.state.backends.docstore.list_documents()) == 1


def test_a_jsonl_upload_lists_each_record(make_client) -> None:
    made = make_client()
    response = made.post("/uploads", files=[("files", ("records.jsonl", (GOOD / "records.jsonl").read_bytes(), "x"))])
    done = wait_for_job(made, response.text)
    assert statuses(done) == {"records.jsonl": "added"} and done.count('class="upload-status added"') >= 3


def test_upload_limits_are_enforced(make_client) -> None:
    made = make_client(ingest={"max_file_mb": 0.0001}, server={"warm_up": False, "max_upload_files": 2})
    files = [("files", ("a.txt", b"x" * 500, "text/plain")), ("files", ("b.txt", b"small", "text/plain"))]
    response = made.post("/uploads", files=files)
    found = statuses(response.text)
    assert response.status_code == 202 and found["a.txt"] == "rejected" and found["b.txt"] in ("queued", "running")
    assert "over the 0.0 MB limit" in response.text
    too_many = made.post("/uploads", files=[*files, ("files", ("c.txt", b"small", "text/plain"))])
    assert too_many.status_code == 413 and "the limit is 2" in too_many.text
    assert made.post("/uploads").status_code == 400


def test_delete_removes_the_document_from_the_list_and_from_answers(client: TestClient) -> None:
    doc_id = client.app.state.backends.docstore.list_documents()[0].doc_id
    response = client.delete(f"/documents/{doc_id}")
    assert response.status_code == 200 and "Deleted “Tajik Migration Notes”" in response.text
    assert "No documents yet" in response.text
    assert "already been deleted" in client.delete(f"/documents/{doc_id}").text
    assert NOT_FOUND in final(ask(client, conversation(client), generator="extractive"))


def test_documents_whose_ids_hold_slashes_open_and_delete_from_the_list(make_client, tmp_path: Path) -> None:
    made = make_client()
    titles = {f"Title {doc_id}" for doc_id in ["a/b", "a/b/context", "/lead", "100% sure?#"]}
    records = [json.dumps({"id": t.removeprefix("Title "), "title": t, "text": f"Gannets, {t}."}) for t in titles]
    (tmp_path / "r.jsonl").write_text("\n".join(records))
    pipeline.ingest([SourceFile.from_path(tmp_path / "r.jsonl")], made.app.state.backends)
    listed = made.get("/documents").text
    opened = set()
    for link in re.findall(r'hx-get="(/documents/[^"]+/context\?start=0&amp;end=0)"', listed):
        context = made.get(link.replace("&amp;", "&"), headers={"HX-Request": "true"})
        opened |= set(re.findall(r'<span class="doc-title">([^<]+)</span>', context.text))
    assert opened == titles
    deleted = set()
    for url in re.findall(r'hx-delete="([^"]+)"', listed):
        deleted |= set(re.findall(r"Deleted “([^”]+)”", made.delete(url).text))
    assert deleted == titles and made.app.state.backends.docstore.list_documents() == []


def test_deleting_a_conversation_forgets_it(client: TestClient) -> None:
    cid = conversation(client)
    ask(client, cid, generator="extractive")
    assert client.post(f"/c/{cid}/delete").headers["location"] == "/"
    assert QUESTION not in client.get(f"/c/{cid}").text


def test_a_form_posted_from_another_site_is_refused(client: TestClient) -> None:
    cid = conversation(client)
    hostile = {"Origin": "http://evil.example"}
    assert client.post(f"/c/{cid}/ask", data={"question": QUESTION}, headers=hostile).status_code == 403
    doc_id = client.app.state.backends.docstore.list_documents()[0].doc_id
    assert client.delete(f"/documents/{doc_id}", headers=hostile).status_code == 403
    assert (
        client.post("/uploads", files=[("files", ("a.txt", b"text", "text/plain"))], headers=hostile).status_code == 403
    )
    assert client.app.state.backends.docstore.document(doc_id) is not None
    assert 'class="turn"' not in client.get(f"/c/{cid}").text


def test_with_an_api_key_the_chat_needs_the_login_cookie(make_client) -> None:
    made = make_client(server={"warm_up": False, "api_key": "s3cret"})
    assert made.get("/").headers["location"] == "/login?next=/"
    refused = made.get("/documents", headers={"HX-Request": "true"})
    assert refused.status_code == 401 and refused.headers["hx-redirect"] == "/login?next=/documents"
    assert made.get("/c/" + new_id()).status_code == 303
    wrong = made.post("/login", data={"key": "guess", "next": "/"})
    assert wrong.status_code == 401 and "not right" in wrong.text and COOKIE not in made.cookies
    right = made.post("/login", data={"key": "s3cret", "next": "//evil.example/"})
    assert right.status_code == 303 and right.headers["location"] == "/"  # no redirect off the site
    cookie = right.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "s3cret" not in cookie
    assert made.get("/").status_code == 303 and made.get(made.get("/").headers["location"]).status_code == 200
    assert made.post("/logout").headers["location"] == "/login"
    assert made.get("/").headers["location"].startswith("/login")


def test_a_logged_out_page_is_told_once_so_its_stream_closes(make_client) -> None:
    made = make_client(server={"warm_up": False, "api_key": "s3cret"})
    cid = new_id()
    streamed = events(made, f"/c/{cid}/turns/1/events")  # no cookie: logged out in another tab
    assert [name for name, _ in streamed] == ["done"]  # the event the page closes its stream on
    assert f'href="/login?next=/c/{cid}"' in streamed[0][1] and "logged out" in streamed[0][1]


def test_the_login_form_refuses_an_address_that_guessed_too_often(make_client) -> None:
    made = make_client(server={"warm_up": False, "api_key": "s3cret", "key_failures_per_minute": 2})
    assert [made.post("/login", data={"key": f"guess{i}"}).status_code for i in range(2)] == [401, 401]
    refused = made.post("/login", data={"key": "s3cret", "next": "/"})
    assert refused.status_code == 429 and COOKIE not in made.cookies
    assert "too many wrong keys" in refused.text and 1 <= int(refused.headers["retry-after"]) <= 60
    assert made.get("/documents", headers={"X-API-Key": "s3cret"}).status_code == 429  # the same count


def test_after_logging_in_a_page_comes_back_with_its_query(make_client) -> None:
    made = make_client(server={"warm_up": False, "api_key": "s3cret"})
    sent = made.get("/documents/abc/context?start=5&end=9")
    assert sent.headers["location"] == "/login?next=/documents/abc/context%3Fstart%3D5%26end%3D9"
    back = made.post("/login", data={"key": "s3cret", "next": "/documents/abc/context?start=5&end=9"})
    assert back.headers["location"] == "/documents/abc/context?start=5&end=9"


def test_the_api_key_header_also_opens_the_chat(make_client) -> None:
    made = make_client(server={"warm_up": False, "api_key": "s3cret"})
    assert made.get("/documents", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_without_an_api_key_there_is_no_login(client: TestClient) -> None:
    assert client.get("/login?next=/c/abc").headers["location"] == "/c/abc"
    assert "Log out" not in client.get(client.get("/").headers["location"]).text


def test_conversation_store_keeps_turns_in_order(tmp_path: Path) -> None:
    store = Conversations(tmp_path / "c.sqlite3")
    cid = new_id()
    first = store.ask(cid, "First?", None)
    with pytest.raises(TurnInProgress):
        store.ask(cid, "Too soon?", None)
    store.finish(first.id, {"answer": "One [S1].", "claims": []})
    second = store.ask(cid, "Second?", "extractive")
    store.fail(second.id, "backend_unavailable", "down")
    store.finish(second.id, {"answer": "late"})  # a failed turn stays failed
    turns = store.turns(cid)
    assert [(t.question, t.state, t.generator) for t in turns] == [
        ("First?", "done", None),
        ("Second?", "failed", "extractive"),
    ]
    assert [(turn.question, turn.answer) for turn in store.history(cid, before=second.id + 1)] == [
        ("First?", "One [S1].")
    ]
    assert store.history(cid, before=first.id) == []
    assert [(c.id, c.title, c.turns) for c in store.recent()] == [(cid, "First?", 2)]


def test_context_window_cuts_at_spaces_and_marks_the_quote() -> None:
    text = "alpha beta gamma delta epsilon zeta eta theta"
    document = ParsedDocument("d", "k", "T", "s.txt", text)
    start = text.index("delta")
    window = context_window(document, start, start + 5, chars=9)
    assert window["quote"] == "delta"
    assert (window["before"], window["after"]) == ("gamma ", " epsilon")
    assert window["clipped_before"] and window["clipped_after"] and window["pages"] is None
    whole = context_window(document, 0, len(text), chars=9)
    assert (whole["before"], whole["after"], whole["clipped_before"], whole["clipped_after"]) == ("", "", False, False)


def test_two_tabs_asking_at_once_get_one_turn(tmp_path: Path) -> None:
    store = Conversations(tmp_path / "c.sqlite3")
    cid = new_id()
    start = threading.Barrier(4)

    def ask_now(number: int) -> str:
        start.wait()
        try:
            store.ask(cid, f"Question {number}?", None)
        except TurnInProgress:
            return "refused"
        return "asked"

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(ask_now, range(4)))
    assert sorted(outcomes) == ["asked", "refused", "refused", "refused"]
    assert len(store.turns(cid)) == 1
