"""Document store: full document texts and chunk offsets in SQLite, the source of truth."""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path

from assistant.records import Chunk, DocumentInfo, Page, ParsedDocument

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, key TEXT NOT NULL UNIQUE, title TEXT NOT NULL, source TEXT NOT NULL,
    content_hash TEXT NOT NULL, text TEXT NOT NULL, pages TEXT NOT NULL, metadata TEXT NOT NULL,
    added_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id TEXT PRIMARY KEY, doc_id TEXT NOT NULL REFERENCES documents ON DELETE CASCADE,
    ordinal INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, page INTEGER,
    text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_by_doc ON chunks(doc_id);
-- Vector ids that may exist in the vector store without a committed chunk: cleaned on open.
CREATE TABLE IF NOT EXISTS pending_vectors (chunk_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
_CHUNK_COLUMNS = 'chunk_id, doc_id, ordinal, start, "end", text, page'


class DocStore:
    """SQLite tables of documents and chunks; every write is one transaction.

    >>> DocStore(Path("assistant-data/index-x/docstore.sqlite3")).generation()
    0
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def generation(self) -> int:
        """A counter bumped by every change, so derived indexes know when to rebuild."""
        row = self._db.execute("SELECT value FROM meta WHERE name = 'generation'").fetchone()
        return row[0] if row else 0

    def store_id(self) -> str:
        """A random id made when this store was created: its vectors' collection carries it, so two
        stores sharing one Chroma server never share a collection."""
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('store_id', ?)", (secrets.randbits(48),))
        row = self._db.execute("SELECT value FROM meta WHERE name = 'store_id'").fetchone()
        return f"{row[0]:012x}"

    def content_hash_of(self, doc_id: str) -> str | None:
        row = self._db.execute("SELECT content_hash FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return row[0] if row else None

    def doc_id_for_key(self, key: str) -> str | None:
        row = self._db.execute("SELECT doc_id FROM documents WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def chunk_ids_of(self, doc_ids: Iterable[str]) -> list[str]:
        ids = list(doc_ids)
        marks = ",".join("?" * len(ids))
        return [r[0] for r in self._db.execute(f"SELECT chunk_id FROM chunks WHERE doc_id IN ({marks})", ids)]

    def mark_pending(self, chunk_ids: Iterable[str]) -> None:
        with self._transaction(bump=False):
            self._db.executemany("INSERT OR IGNORE INTO pending_vectors VALUES (?)", ((i,) for i in chunk_ids))

    def clear_pending(self, chunk_ids: Iterable[str]) -> None:
        with self._transaction(bump=False):
            self._db.executemany("DELETE FROM pending_vectors WHERE chunk_id = ?", ((i,) for i in chunk_ids))

    def orphan_vectors(self) -> list[str]:
        """Pending vector ids with no committed chunk: left behind by an interrupted write."""
        query = "SELECT chunk_id FROM pending_vectors WHERE chunk_id NOT IN (SELECT chunk_id FROM chunks)"
        return [row[0] for row in self._db.execute(query)]

    def commit(self, documents: list[tuple[ParsedDocument, list[Chunk]]], replaced: list[str]) -> None:
        """Add documents with their chunks and drop the versions they replace, all or nothing."""
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self._transaction():
            self._delete(replaced)
            self._db.executemany(
                "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (_document_row(document, now) for document, _ in documents),
            )
            self._db.executemany(
                f"INSERT INTO chunks ({_CHUNK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (_chunk_row(chunk) for _, chunks in documents for chunk in chunks),
            )
            new_ids = [(chunk.chunk_id,) for _, chunks in documents for chunk in chunks]
            self._db.executemany("DELETE FROM pending_vectors WHERE chunk_id = ?", new_ids)

    def delete(self, doc_ids: list[str]) -> None:
        with self._transaction():
            self._delete(doc_ids)

    def _delete(self, doc_ids: list[str]) -> None:
        if not doc_ids:
            return
        marks = ",".join("?" * len(doc_ids))
        self._db.execute(
            f"INSERT OR IGNORE INTO pending_vectors SELECT chunk_id FROM chunks WHERE doc_id IN ({marks})", doc_ids
        )
        self._db.execute(f"DELETE FROM documents WHERE doc_id IN ({marks})", doc_ids)

    def chunks(self, chunk_ids: list[str]) -> dict[str, tuple[Chunk, str, str]]:
        """Chunks by id with their document's title and source; unknown ids are left out."""
        marks = ",".join("?" * len(chunk_ids))
        query = (
            f"SELECT {', '.join('c.' + c.strip() for c in _CHUNK_COLUMNS.split(','))}, d.title, d.source "
            f"FROM chunks c JOIN documents d USING (doc_id) WHERE c.chunk_id IN ({marks})"
        )
        return {row[0]: (Chunk(*row[:7]), row[7], row[8]) for row in self._db.execute(query, chunk_ids)}

    def all_chunks(self) -> Iterator[tuple[str, str, str, str]]:
        """(chunk_id, doc_id, title, text) of every chunk, in a stable order."""
        query = "SELECT c.chunk_id, c.doc_id, d.title, c.text FROM chunks c JOIN documents d USING (doc_id)"
        yield from self._db.execute(query + " ORDER BY c.chunk_id")

    def document(self, doc_id: str) -> ParsedDocument | None:
        row = self._db.execute(
            "SELECT doc_id, key, title, source, text, pages, metadata FROM documents WHERE doc_id = ?", (doc_id,)
        ).fetchone()
        if row is None:
            return None
        pages = tuple(Page(*page) for page in json.loads(row[5]))
        return ParsedDocument(*row[:5], pages=pages, metadata=json.loads(row[6]))

    def list_documents(self) -> list[DocumentInfo]:
        query = (
            "SELECT d.doc_id, d.title, d.source, COUNT(c.chunk_id), LENGTH(d.text), json_array_length(d.pages),"
            " d.added_at FROM documents d LEFT JOIN chunks c USING (doc_id) GROUP BY d.doc_id ORDER BY d.added_at, d.doc_id"
        )
        return [DocumentInfo(*row) for row in self._db.execute(query)]

    def _transaction(self, bump: bool = True) -> _Transaction:
        return _Transaction(self._db, bump)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on error; content changes also bump the generation."""

    def __init__(self, db: sqlite3.Connection, bump: bool) -> None:
        self._db = db
        self._bump = bump

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: type | None, *_: object) -> None:
        if kind is not None:
            self._db.execute("ROLLBACK")
            return
        if self._bump:
            self._db.execute(
                "INSERT INTO meta VALUES ('generation', 1) ON CONFLICT(name) DO UPDATE SET value = value + 1"
            )
        self._db.execute("COMMIT")


def _document_row(document: ParsedDocument, now: str) -> tuple:
    pages = json.dumps([[p.number, p.start, p.end] for p in document.pages])
    return (
        document.doc_id, document.key, document.title, document.source, document.content_hash,
        document.text, pages, json.dumps(document.metadata, ensure_ascii=False, default=str), now,
    )


def _chunk_row(chunk: Chunk) -> tuple:
    return (chunk.chunk_id, chunk.doc_id, chunk.ordinal, chunk.start, chunk.end, chunk.text, chunk.page)
