"""The chat's conversations in SQLite: each turn's question and its final answer, so a reload shows them again."""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from assistant.errors import BackendUnavailable, InputError, NotFound
from assistant.records import Turn

TurnState = Literal["pending", "done", "failed"]
MAX_TURNS = 200  # per conversation: a longer one is better started afresh
TITLE_CHARS = 80
_ID = re.compile(r"^[0-9a-f]{32}$")
_MAX_ROWID = 2**63 - 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL);
-- answer: the API's answer JSON once the turn is done; error: {"code", "message"} when it failed.
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation TEXT NOT NULL REFERENCES conversations ON DELETE CASCADE,
    question TEXT NOT NULL, generator TEXT, state TEXT NOT NULL, answer TEXT, error TEXT, created TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS turns_by_conversation ON turns(conversation, id);
"""


class ConversationNotFound(NotFound):
    code = "conversation_not_found"


class TurnInProgress(InputError):
    status = 409
    code = "answer_in_progress"


@dataclass(frozen=True, slots=True)
class StoredTurn:
    """One question of a conversation and, once answered, the answer as the API presents it."""

    id: int
    conversation: str
    question: str
    generator: str | None
    state: TurnState
    answer: dict[str, Any] | None
    error: dict[str, Any] | None
    created: str


@dataclass(frozen=True, slots=True)
class ConversationInfo:
    id: str
    title: str
    updated: str
    turns: int


def new_id() -> str:
    """An unguessable conversation id: knowing it is what lets a browser read the conversation."""
    return secrets.token_hex(16)


def valid_id(conversation: str) -> bool:
    return bool(_ID.match(conversation))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Conversations:
    """Conversations and their turns, one short transaction per call (safe from any thread).

    >>> store = Conversations(Path("assistant-data/conversations.sqlite3"))
    >>> turn = store.ask(new_id(), "How many Tajiks work in Russia?", None)
    >>> turn.state
    'pending'
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._transaction() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            with closing(sqlite3.connect(self.path, timeout=30)) as db, db:
                db.execute("PRAGMA foreign_keys = ON")
                yield db
        except sqlite3.Error as error:
            raise BackendUnavailable(f"the conversation store {self.path} failed: {error}") from error

    def turns(self, conversation: str) -> list[StoredTurn]:
        with self._transaction() as db:
            rows = db.execute("SELECT * FROM turns WHERE conversation = ? ORDER BY id", (conversation,)).fetchall()
        return [_turn(row) for row in rows]

    def turn(self, conversation: str, turn_id: int) -> StoredTurn:
        if not 0 < turn_id <= _MAX_ROWID:  # SQLite cannot even compare a larger number
            raise ConversationNotFound(f"no turn {turn_id} in this conversation")
        with self._transaction() as db:
            row = db.execute(
                "SELECT * FROM turns WHERE conversation = ? AND id = ?", (conversation, turn_id)
            ).fetchone()
        if row is None:
            raise ConversationNotFound(f"no turn {turn_id} in this conversation")
        return _turn(row)

    def ask(self, conversation: str, question: str, generator: str | None) -> StoredTurn:
        """Add a question, pending until `finish` or `fail`; refused while another answer is pending."""
        now = _now()
        with self._transaction() as db:
            db.execute("BEGIN IMMEDIATE")  # two tabs asking at once: one waits, then sees the other's turn
            states = [
                state for (state,) in db.execute("SELECT state FROM turns WHERE conversation = ?", (conversation,))
            ]
            if "pending" in states:
                raise TurnInProgress("the previous question is still being answered; ask again when it is done")
            if len(states) >= MAX_TURNS:
                raise InputError(f"this conversation has {MAX_TURNS} questions; start a new conversation")
            title = " ".join(question.split())[:TITLE_CHARS]
            db.execute("INSERT OR IGNORE INTO conversations VALUES (?, ?, ?, ?)", (conversation, title, now, now))
            db.execute("UPDATE conversations SET updated = ? WHERE id = ?", (now, conversation))
            cursor = db.execute(
                "INSERT INTO turns (conversation, question, generator, state, created) VALUES (?, ?, ?, 'pending', ?)",
                (conversation, question, generator, now),
            )
            turn_id = cursor.lastrowid
        assert turn_id is not None
        return self.turn(conversation, turn_id)

    def finish(self, turn_id: int, answer: dict[str, Any]) -> None:
        self._close(turn_id, "done", answer=json.dumps(answer, ensure_ascii=False))

    def fail(self, turn_id: int, code: str, message: str) -> None:
        self._close(turn_id, "failed", error=json.dumps({"code": code, "message": message}, ensure_ascii=False))

    def _close(self, turn_id: int, state: TurnState, answer: str | None = None, error: str | None = None) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE turns SET state = ?, answer = ?, error = ? WHERE id = ? AND state = 'pending'",
                (state, answer, error, turn_id),
            )

    def history(self, conversation: str, before: int, last: int = MAX_TURNS) -> list[Turn]:
        """The `last` answered turns before turn `before`, oldest first: questions and answer texts only."""
        query = (
            "SELECT question, json_extract(answer, '$.answer') FROM turns WHERE conversation = ? AND id < ?"
            " AND state = 'done' AND answer IS NOT NULL ORDER BY id DESC LIMIT ?"
        )
        with self._transaction() as db:
            rows = db.execute(query, (conversation, before, last)).fetchall()
        return [Turn(question, answer or "") for question, answer in reversed(rows)]

    def recent(self, limit: int = 20) -> list[ConversationInfo]:
        query = (
            "SELECT c.id, c.title, c.updated, COUNT(t.id) FROM conversations c LEFT JOIN turns t"
            " ON t.conversation = c.id GROUP BY c.id ORDER BY c.updated DESC, c.rowid DESC LIMIT ?"
        )
        with self._transaction() as db:
            return [ConversationInfo(*row) for row in db.execute(query, (limit,))]

    def delete(self, conversation: str) -> None:
        with self._transaction() as db:
            if db.execute("DELETE FROM conversations WHERE id = ?", (conversation,)).rowcount == 0:
                raise ConversationNotFound("no such conversation")


def _turn(row: tuple) -> StoredTurn:
    turn_id, conversation, question, generator, state, answer, error, created = row
    return StoredTurn(
        turn_id,
        conversation,
        question,
        generator,
        state,
        None if answer is None else json.loads(answer),
        None if error is None else json.loads(error),
        created,
    )
