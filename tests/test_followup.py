"""Follow-up questions: rewritten with the conversation before retrieval, by a model or by joining words."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_ask import QUESTION, scripted
from test_generate import ScriptedChat

from assistant import pipeline
from assistant.components.followup import ChatRewriter, JoinRewriter, usable_rewrite
from assistant.components.prompts import Prompts
from assistant.records import Turn

EARLIER = [Turn("How many Tajiks work in Russia?", "The notes state that some 3 million Tajiks work in Russia [S1].")]


def test_join_rewriter_puts_the_previous_question_in_front() -> None:
    assert (
        JoinRewriter().rewrite("And their families?", EARLIER) == "How many Tajiks work in Russia? And their families?"
    )


def test_no_history_means_no_rewrite() -> None:
    chat = ScriptedChat(["anything"])
    assert ChatRewriter(chat, Prompts()).rewrite("A question?", []) == "A question?"
    assert chat.calls == []


def test_chat_rewriter_sends_the_conversation_without_citation_markers() -> None:
    chat = ScriptedChat(["What do Tajik migrants in Russia ", "send to their families?"])
    rewritten = ChatRewriter(chat, Prompts()).rewrite("What do they send home?", EARLIER)
    assert rewritten == "What do Tajik migrants in Russia send to their families?"
    ((messages, _),) = chat.calls
    user = messages[-1]["content"]
    assert "How many Tajiks work in Russia?" in user and "some 3 million Tajiks" in user
    assert "[S1]" not in user and "What do they send home?" in user


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('"How many Tajiks worked in Russia in 2023?"', "How many Tajiks worked in Russia in 2023?"),
        ("Rewritten question: How many in 2023?\nThe answer is 3 million.", "How many in 2023?"),
        ("", None),
        ("   \n  ", None),
        ("x" * 500, None),  # an answer or an essay, not a rewritten question
    ],
)
def test_usable_rewrite(reply: str, expected: str | None) -> None:
    assert usable_rewrite(reply, "And in 2023?", EARLIER) == expected


def test_an_unusable_rewrite_falls_back_to_joining() -> None:
    rewritten = ChatRewriter(ScriptedChat([""]), Prompts()).rewrite("And in 2023?", EARLIER)
    assert rewritten == "How many Tajiks work in Russia? And in 2023?"


def test_ask_retrieves_and_generates_with_the_rewritten_follow_up(notes_dir: Path, open_backends) -> None:
    backends = open_backends(notes_dir)
    generator, _ = scripted(backends, "Some 3 million Tajiks work in Russia [S1].")
    events: list[tuple[str, object]] = []
    answer = pipeline.ask("And how many?", backends, history=EARLIER, on_event=lambda *event: events.append(event))
    assert answer.question == "And how many?"
    assert answer.standalone == "How many Tajiks work in Russia? And how many?"  # no model: the words joined
    assert generator.calls[0][0] == answer.standalone
    assert events[0] == ("question", answer.standalone)
    assert answer.claims[0].verdict == "supported"


def test_history_is_ignored_when_turned_off(notes_dir: Path, open_backends) -> None:
    backends = open_backends(notes_dir, generation={"history_turns": 0})
    generator, _ = scripted(backends, "Some 3 million Tajiks work in Russia [S1].")
    answer = pipeline.ask(QUESTION, backends, history=EARLIER)
    assert answer.standalone is None and generator.calls[0][0] == QUESTION


class RecordingRewriter:
    def __init__(self) -> None:
        self.seen: list[list[Turn]] = []

    def rewrite(self, question: str, history: list[Turn]) -> str:
        self.seen.append(history)
        return question


def test_only_the_last_turns_reach_the_rewriter(notes_dir: Path, open_backends) -> None:
    backends = open_backends(notes_dir, generation={"history_turns": 1})
    scripted(backends, "Some 3 million Tajiks work in Russia [S1].")
    recorder = RecordingRewriter()
    backends.rewriter = lambda generator: recorder
    pipeline.ask("And how many?", backends, history=[Turn("Where is Tajikistan?", "In Central Asia."), *EARLIER])
    assert recorder.seen == [EARLIER]
