"""Follow-up questions: "and what about in 2023?" rewritten with the conversation so far into a
question that retrieval can answer on its own."""

from __future__ import annotations

from typing import Protocol

from assistant.components.cite import MARKER, shortened
from assistant.components.llm import ChatModel
from assistant.components.prompts import Prompts
from assistant.records import Turn

ANSWER_CHARS = 600  # of each earlier answer shown to the rewriter: enough for what "it" refers to
REWRITE_TOKENS = 80


class Rewriter(Protocol):
    """Turns `question` into one that stands alone, given the earlier turns (oldest first)."""

    def rewrite(self, question: str, history: list[Turn]) -> str: ...


class JoinRewriter:
    """No model: the previous question in front of the follow-up, so retrieval sees the words of both.

    >>> JoinRewriter().rewrite("And in 2023?", [Turn("How many Tajiks work in Russia?", "...")])
    'How many Tajiks work in Russia? And in 2023?'
    """

    def rewrite(self, question: str, history: list[Turn]) -> str:
        if not history:
            return question
        return f"{history[-1].question.strip()} {question.strip()}"


class ChatRewriter:
    """A chat model asked to rewrite the follow-up; when its reply is unusable (empty, several lines of
    answer instead of a question, far longer than the conversation warrants) the words are joined."""

    def __init__(self, chat: ChatModel, prompts: Prompts) -> None:
        self.chat = chat
        self.prompts = prompts

    def rewrite(self, question: str, history: list[Turn]) -> str:
        if not history:
            return question
        shown = [Turn(turn.question, shortened(MARKER.sub("", turn.answer), ANSWER_CHARS)) for turn in history]
        messages = [
            {"role": "system", "content": self.prompts.render("rewrite_system")},
            {"role": "user", "content": self.prompts.render("rewrite_user", history=shown, question=question)},
        ]
        reply = "".join(self.chat.stream(messages, REWRITE_TOKENS))
        return usable_rewrite(reply, question, history) or JoinRewriter().rewrite(question, history)


def usable_rewrite(reply: str, question: str, history: list[Turn]) -> str | None:
    """The model's rewrite cleaned up, or None when it is not a plausible rewrite.

    >>> usable_rewrite('Rewritten question: "How many Tajiks lived in Russia in 2023?"', "And in 2023?", [])
    'How many Tajiks lived in Russia in 2023?'
    """
    lines = [line.strip() for line in reply.strip().splitlines() if line.strip()]
    if not lines:
        return None
    text = lines[0].removeprefix("Rewritten question:").strip().strip('"“”').strip()
    longest = len(question) + sum(len(turn.question) for turn in history) + 80
    if not text or len(text) > longest:
        return None
    return text
