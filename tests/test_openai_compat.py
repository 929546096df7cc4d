"""The OpenAI-compatible routes, driven by the official `openai` client against a real uvicorn server
(the extractive generator and the overlap judge: no model, nothing faked), plus table tests of how a
conversation becomes a question and its history."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import openai
import pytest
from conftest import NOTES, _free_port, fast_settings, ingest, without_models
from fastapi.testclient import TestClient
from live_server import serve
from test_api import FailingGenerator
from test_ask import QUESTION, scripted

from assistant.backends import Backends
from assistant.components.generate import NOT_FOUND
from assistant.server.app import create_app
from assistant.server.openai_compat import MODELS, _conversation
from assistant.server.openai_schemas import ChatMessage

pytestmark = pytest.mark.server
QUOTE = "Some 3 million Tajiks work in Russia as labour migrants."
ASK = [{"role": "user", "content": QUESTION}]
Server = Callable[..., tuple[str, Backends]]


@pytest.fixture(scope="module")
def start_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Start a real server over a store holding the Tajik notes; servers stop at the module's end."""
    stack = ExitStack()
    opened: list[Backends] = []

    def start(**overrides) -> tuple[str, Backends]:
        folder = tmp_path_factory.mktemp("openai")
        (folder / "notes.txt").write_text(NOTES)
        backends = Backends(fast_settings(folder / "data", **without_models(**overrides)))
        assert ingest(backends, folder / "notes.txt").count("added") == 1
        opened.append(backends)
        return stack.enter_context(serve(create_app(backends.settings, backends))), backends

    with stack:
        yield start
    for backends in opened:
        backends.docstore.close()


@pytest.fixture(scope="module")
def server(start_server: Server) -> str:
    return start_server()[0]


def client(url: str, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)


def test_models_are_listed(server: str) -> None:
    models = client(server).models.list()
    assert [model.id for model in models.data] == list(MODELS)
    assert {model.owned_by for model in models.data} == {"assistant"}
    assert client(server).models.retrieve("assistant-extractive").id == "assistant-extractive"


def test_completion_cites_in_the_text_and_in_the_extra_field(server: str) -> None:
    completion = client(server).chat.completions.create(model="assistant", messages=ASK)
    (choice,) = completion.choices
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    content = choice.message.content
    structured = completion.model_extra["assistant"]
    assert content.startswith(structured["answer"]) and "[S1]" in structured["answer"]
    assert f'\n\nSources:\n- [S1] Tajik Migration Notes: "{QUOTE}"' in content
    assert structured["claims"] and all(claim["verdict"] == "supported" for claim in structured["claims"])
    citation = structured["claims"][0]["citations"][0]
    document = httpx.get(f"{server}/api/v1/documents/{citation['doc_id']}").json()
    assert document["text"][citation["start"] : citation["end"]] == citation["quote"] == QUOTE
    assert completion.model == "assistant" and completion.id.startswith("chatcmpl-")


def test_streamed_completion_ends_with_the_sources_and_the_structured_answer(server: str) -> None:
    whole = client(server).chat.completions.create(model="assistant-extractive", messages=ASK)
    chunks = list(client(server).chat.completions.create(model="assistant-extractive", messages=ASK, stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len(chunks) >= 3  # the role, the tokens, the last chunk
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks) == whole.choices[0].message.content
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop" and last.choices[0].delta.content.startswith("\n\nSources:\n")
    assert [c["text"] for c in last.model_extra["assistant"]["claims"]] == [
        c["text"] for c in whole.model_extra["assistant"]["claims"]
    ]
    assert all(chunk.choices[0].finish_reason is None for chunk in chunks[:-1])
    assert len({chunk.id for chunk in chunks}) == 1


def test_follow_up_is_rewritten_with_the_earlier_turns(server: str) -> None:
    first = client(server).chat.completions.create(model="assistant", messages=ASK)
    messages = [
        {"role": "system", "content": "You are helpful."},
        *ASK,
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": [{"type": "text", "text": "And what do they send home?"}]},
    ]
    follow_up = client(server).chat.completions.create(model="assistant", messages=messages)
    assert follow_up.model_extra["assistant"]["standalone_question"] == f"{QUESTION} And what do they send home?"


def test_unknown_model_is_not_found(server: str) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        client(server).chat.completions.create(model="gpt-4o", messages=ASK)
    assert raised.value.code == "model_not_found" and "assistant-extractive" in raised.value.message
    assert raised.value.type == "invalid_request_error"
    with pytest.raises(openai.NotFoundError):
        client(server).models.retrieve("gpt-4o")


@pytest.mark.parametrize(
    ("messages", "error", "code"),
    [
        pytest.param(
            [*ASK, {"role": "assistant", "content": "Hm."}], openai.BadRequestError, "bad_input", id="not-last"
        ),
        pytest.param([{"role": "user", "content": ""}], openai.BadRequestError, "bad_input", id="empty"),
        pytest.param([], openai.UnprocessableEntityError, "invalid_request", id="no-messages"),
        pytest.param(
            [{"role": "robot", "content": "hi"}], openai.UnprocessableEntityError, "invalid_request", id="role"
        ),
        pytest.param(
            [{"role": "user", "content": "why " * 25_000}], openai.APIStatusError, "question_too_long", id="too-long"
        ),
    ],
)
def test_bad_requests_raise_the_client_error_for_their_status(server: str, messages, error, code: str) -> None:
    with pytest.raises(error) as raised:
        client(server).chat.completions.create(model="assistant", messages=messages)
    assert raised.value.code == code and raised.value.message


def test_a_100_kb_question_is_a_413_in_openai_shape(server: str) -> None:
    response = httpx.post(
        f"{server}/v1/chat/completions",
        json={"model": "assistant", "messages": [{"role": "user", "content": "why " * 25_000}]},
    )
    assert response.status_code == 413
    assert response.json() == {
        "error": {
            "message": "the question is 99999 characters; the limit is 2000",
            "type": "invalid_request_error",
            "code": "question_too_long",
            "param": None,
        }
    }


def test_the_api_key_is_needed_when_set(start_server: Server) -> None:
    url, _ = start_server(server={"api_key": "s3cret"})
    with pytest.raises(openai.AuthenticationError) as raised:
        client(url, "wrong").chat.completions.create(model="assistant", messages=ASK)
    assert raised.value.code == "unauthorized" and raised.value.type == "authentication_error"
    with pytest.raises(openai.AuthenticationError):
        client(url, "wrong").models.list()
    assert client(url, "s3cret").chat.completions.create(model="assistant", messages=ASK).choices


def test_an_unreachable_model_is_a_503(start_server: Server) -> None:
    closed = f"http://127.0.0.1:{_free_port()}/v1"
    url, _ = start_server(
        generation={"generator": "openai", "fallback": False}, openai={"base_url": closed, "timeout": 5}
    )
    for stream in (False, True):
        with pytest.raises(openai.InternalServerError) as raised:
            client(url).chat.completions.create(model="assistant", messages=ASK, stream=stream)
        assert raised.value.status_code == 503 and raised.value.code == "backend_unavailable", stream
        assert closed in raised.value.message


def test_a_model_failing_mid_stream_raises_in_the_client(start_server: Server) -> None:
    url, backends = start_server()
    backends.generator = lambda name=None: FailingGenerator()
    stream = client(url).chat.completions.create(model="assistant", messages=ASK, stream=True)
    received = []
    with pytest.raises(openai.APIError) as raised:
        for chunk in stream:
            received.append(chunk.choices[0].delta.content)
    assert received == ["", "Some 3 million "]
    assert raised.value.message == "the model endpoint stopped answering" and raised.value.code == "backend_unavailable"


class EndlessGenerator:
    """Writes for ever, unless the pipeline closes it; records that it was closed."""

    name = "endless"
    model = "endless-1"

    def __init__(self) -> None:
        self.closed = threading.Event()

    def draft(self, question: str, sources) -> Iterator[str]:
        try:
            while True:
                yield "word "
                time.sleep(0.01)
        finally:
            self.closed.set()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        pytest.param("/api/v1/ask", {"question": QUESTION, "stream": True}, id="api"),
        pytest.param("/v1/chat/completions", {"model": "assistant", "messages": ASK, "stream": True}, id="openai"),
    ],
)
def test_a_client_that_goes_away_stops_the_model(start_server: Server, path: str, body: dict) -> None:
    url, backends = start_server()
    generator = EndlessGenerator()
    backends.generator = lambda name=None: generator
    with httpx.stream("POST", f"{url}{path}", json=body, timeout=60) as response:
        for line in response.iter_lines():
            if "word" in line:
                break  # leave after the first words: the connection closes
    assert generator.closed.wait(30), "the model kept writing after the client left"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        pytest.param("/api/v1/ask", {"question": QUESTION}, id="api"),
        pytest.param("/v1/chat/completions", {"model": "assistant", "messages": ASK}, id="openai"),
    ],
)
def test_a_client_that_gives_up_on_a_whole_answer_stops_the_model(start_server: Server, path: str, body: dict) -> None:
    url, backends = start_server()
    generator = EndlessGenerator()
    backends.generator = lambda name=None: generator
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{url}{path}", json=body, timeout=1)
    assert generator.closed.wait(30), "the model kept writing after the client left"


def test_answers_past_the_limit_are_refused_as_busy(start_server: Server) -> None:
    url, backends = start_server(server={"max_answers": 1})
    generator = EndlessGenerator()
    backends.generator = lambda name=None: generator
    with httpx.stream("POST", f"{url}/api/v1/ask", json={"question": QUESTION, "stream": True}, timeout=60) as held:
        lines = held.iter_lines()  # kept: a closed iterator would close the connection, and free the slot
        next(line for line in lines if "word" in line)  # the one slot is taken
        refused = httpx.post(f"{url}/api/v1/ask", json={"question": QUESTION}, timeout=60)
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "busy"
        with pytest.raises(openai.InternalServerError) as raised:
            client(url).chat.completions.create(model="assistant", messages=ASK)
        assert raised.value.code == "busy"
    assert generator.closed.wait(30)
    scripted(backends, "Some 3 million Tajiks work in Russia [S1].")  # the slot is free again
    assert httpx.post(f"{url}/api/v1/ask", json={"question": QUESTION}, timeout=60).status_code == 200


def completion(tmp_path: Path, draft: str) -> dict:
    """The OpenAI route's reply when the model writes `draft` about the notes."""
    backends = Backends(fast_settings(tmp_path / "data", **without_models()))
    (tmp_path / "notes.txt").write_text(NOTES)
    ingest(backends, tmp_path / "notes.txt")
    scripted(backends, draft)
    with TestClient(create_app(backends.settings, backends), base_url="http://localhost") as test_client:
        body = test_client.post("/v1/chat/completions", json={"model": "assistant", "messages": ASK}).json()
    backends.docstore.close()
    return body


def test_flagged_sentences_are_listed_after_the_sources(tmp_path: Path) -> None:
    body = completion(
        tmp_path, "Some 3 million Tajiks work in Russia [S1]. Some 5 million send money [S1]. Tajiks like tea."
    )
    content = body["choices"][0]["message"]["content"]
    answer, appendix = content.split("\n\nSources:\n")
    assert answer == "Some 3 million Tajiks work in Russia [S1]. Some 5 million send money [S1]. Tajiks like tea."
    sources, flagged = appendix.split("\n\nNot supported by the sources:\n")
    assert sources.splitlines()[0] == f'- [S1] Tajik Migration Notes: "{QUOTE}"'
    assert flagged.splitlines() == [
        f'- "Some 5 million send money." (unsupported: {body["assistant"]["claims"][1]["reasons"][0]["detail"]})',
        '- "Tajiks like tea." (uncited: cites no source, and no retrieved passage states it)',
    ]


def test_a_withdrawn_draft_is_followed_by_the_not_found_sentence_and_its_flags(tmp_path: Path) -> None:
    body = completion(tmp_path, "Some 5 million Tajiks work in Russia [S1].")
    content = body["choices"][0]["message"]["content"]  # the draft, as a stream would have sent it
    answer, appendix = content.split("\n\nSources:\n")
    assert answer == "Some 5 million Tajiks work in Russia [S1]."
    none, flagged = appendix.split("\n\nNot supported by the sources:\n")
    assert none == f"None. {NOT_FOUND}" and flagged.startswith('- "Some 5 million Tajiks work in Russia." (unsupported')
    assert (body["assistant"]["answered"], body["assistant"]["answer"]) == (False, NOT_FOUND)


def test_a_quote_only_the_checker_found_says_so(tmp_path: Path) -> None:
    body = completion(tmp_path, "They send money home [S1]. Some 3 million Tajiks work in Russia.")
    sources = body["choices"][0]["message"]["content"].split("\n\nSources:\n")[1]
    assert sources.splitlines() == [
        '- [S1] Tajik Migration Notes: "They send money home to their families."',
        f'- [S1] Tajik Migration Notes: "{QUOTE}" (found by the checker for a sentence that cites nothing)',
    ]
    assert [claim["cited_by"] for claim in body["assistant"]["claims"]] == ["answer", "checker"]


def test_a_question_the_documents_do_not_answer_has_no_sources_list(server: str) -> None:
    messages = [{"role": "user", "content": "Which sourdough starter rises fastest in a cold kitchen?"}]
    completion = client(server).chat.completions.create(model="assistant", messages=messages)
    assert completion.choices[0].message.content == "The documents do not answer this question."
    assert completion.model_extra["assistant"]["answered"] is False


def _messages(*pairs: tuple[str, object]) -> list[ChatMessage]:
    return [ChatMessage(role=role, content=content) for role, content in pairs]


CONVERSATIONS = [
    # (messages, question, earlier (question, answer) pairs)
    pytest.param(_messages(("user", "Q")), "Q", [], id="one-question"),
    pytest.param(
        _messages(("system", "Be brief."), ("user", "Q1"), ("assistant", "A1"), ("user", "Q2")),
        "Q2",
        [("Q1", "A1")],
        id="system-ignored",
    ),
    pytest.param(
        _messages(("user", "Q1"), ("user", "Q2"), ("assistant", "A2"), ("user", "Q3")),
        "Q3",
        [("Q1", ""), ("Q2", "A2")],
        id="unanswered-question",
    ),
    pytest.param(
        _messages(("user", "Q1"), ("assistant", 'A1 [S1].\n\nSources:\n- [S1] T: "q"'), ("user", "Q2")),
        "Q2",
        [("Q1", "A1 [S1].")],
        id="sources-list-cut",
    ),
    pytest.param(
        _messages(("user", "Q1"), ("assistant", f"Invented [S1].\n\nSources:\nNone. {NOT_FOUND}"), ("user", "Q2")),
        "Q2",
        [("Q1", NOT_FOUND)],
        id="withdrawn-draft-is-not-found",
    ),
    pytest.param(
        _messages(("assistant", "Hello!"), ("user", "Q1"), ("tool", "{}"), ("user", "Q2")),
        "Q2",
        [("Q1", "")],
        id="greeting-and-tool",
    ),
    pytest.param(
        _messages(
            (
                "user",
                [{"type": "text", "text": "Look:"}, {"type": "image_url"}, {"type": "text", "text": "what is it?"}],
            )
        ),
        "Look:\nwhat is it?",
        [],
        id="content-parts",
    ),
]


@pytest.mark.parametrize(("messages", "question", "pairs"), CONVERSATIONS)
def test_conversation_becomes_a_question_and_earlier_turns(messages, question: str, pairs) -> None:
    assert _conversation(messages) == (question, pairs)
