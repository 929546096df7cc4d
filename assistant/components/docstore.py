"""Document store: full document texts, their source keys and chunk offsets in SQLite, the source of truth."""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from assistant.errors import BackendUnavailable
from assistant.records import Chunk, DocumentInfo, Page, ParsedDocument, PlannedDocument

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, title TEXT NOT NULL, source TEXT NOT NULL, version TEXT NOT NULL,
    text TEXT NOT NULL, pages TEXT NOT NULL, metadata TEXT NOT NULL, added_at TEXT NOT NULL);
-- Where documents came from (file paths, record ids); identical files share one document.
CREATE TABLE IF NOT EXISTS sources (
    key TEXT PRIMARY KEY, doc_id TEXT NOT NULL REFERENCES documents ON DELETE CASCADE);
CREATE INDEX IF NOT EXISTS sources_by_doc ON sources(doc_id);
-- Chunk text duplicates documents.text[start:end] on purpose: BM25 rebuilds read it in one pass.
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id TEXT PRIMARY KEY, doc_id TEXT NOT NULL REFERENCES documents ON DELETE CASCADE,
    ordinal INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, text TEXT NOT NULL,
    page INTEGER);
CREATE INDEX IF NOT EXISTS chunks_by_doc ON chunks(doc_id);
-- Vector ids that may exist in the vector store without a committed chunk: cleaned by the next writer.
CREATE TABLE IF NOT EXISTS pending_vectors (chunk_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class DocStore:
    """SQLite tables of documents, sources and chunks; every write is one transaction.

    >>> DocStore(Path("assistant-data/index-x/docstore.sqlite3")).generation()
    0
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._local = threading.local()  # one connection per thread: transactions never interleave
        path.parent.mkdir(parents=True, exist_ok=True)
        if self._value("store_id") is None:
            with self._transaction(bump=False):
                self._db.execute("INSERT OR IGNORE INTO meta VALUES ('store_id', ?)", (secrets.randbits(48),))

    @property
    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            try:
                db = sqlite3.connect(self._path, timeout=30, isolation_level=None, check_same_thread=False)
                db.execute("PRAGMA foreign_keys = ON")
                if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    db.execute("PRAGMA journal_mode = WAL")
                db.executescript(_SCHEMA)
            except sqlite3.Error as error:
                raise BackendUnavailable(f"could not open the document store {self._path}: {error}") from error
            self._local.db = db
        return db

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    def generation(self) -> int:
        """A counter bumped by every change, so derived indexes know when to rebuild."""
        return self._value("generation") or 0

    def store_id(self) -> str:
        """A random id made when this store was created: its vectors' collection carries it, so two
        stores sharing one Chroma server never share a collection."""
        return f"{self._value('store_id'):012x}"

    def _value(self, name: str) -> int | None:
        row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def version_of(self, doc_id: str) -> str | None:
        row = self._db.execute("SELECT version FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return row[0] if row else None

    def doc_id_for_key(self, key: str) -> str | None:
        row = self._db.execute("SELECT doc_id FROM sources WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def mark_pending(self, chunk_ids: Iterable[str]) -> None:
        with self._transaction(bump=False):
            self._db.executemany("INSERT OR IGNORE INTO pending_vectors VALUES (?)", ((i,) for i in chunk_ids))

    def clear_pending(self, chunk_ids: Iterable[str]) -> None:
        with self._transaction(bump=False):
            self._db.executemany("DELETE FROM pending_vectors WHERE chunk_id = ?", ((i,) for i in chunk_ids))

    def orphan_vectors(self) -> list[str]:
        """Journalled vector ids with no committed chunk: to be deleted from the vector store."""
        query = "SELECT chunk_id FROM pending_vectors WHERE chunk_id NOT IN (SELECT chunk_id FROM chunks)"
        return [row[0] for row in self._db.execute(query)]

    def commit(self, planned: list[PlannedDocument]) -> None:
        """Add new document versions with their chunks, point their keys at them, and drop the
        versions no key points at any more, all or nothing."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._transaction():
            for item in planned:
                self._commit_one(item, now)

    def _commit_one(self, item: PlannedDocument, now: str) -> None:
        document = item.document
        # An older version under the same id (an edited record) gives way; its keys stay with the id.
        keys = {document.key, *self._keys_of(document.doc_id)}
        self._delete([document.doc_id])
        self._db.execute("INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?)", _document_row(document, now))
        self._db.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?)", map(_chunk_row, item.chunks))
        self._db.executemany("DELETE FROM pending_vectors WHERE chunk_id = ?", ((c.chunk_id,) for c in item.chunks))
        for key in keys:
            self._point(key, document.doc_id)

    def link(self, key: str, doc_id: str) -> None:
        """Point `key` at an already stored document (a file whose text is stored under another)."""
        with self._transaction():
            self._point(key, doc_id)

    def _point(self, key: str, doc_id: str) -> None:
        previous = self.doc_id_for_key(key)
        self._db.execute("INSERT OR REPLACE INTO sources VALUES (?, ?)", (key, doc_id))
        if previous and previous != doc_id and not self._keys_of(previous):
            self._delete([previous])

    def _keys_of(self, doc_id: str) -> list[str]:
        return [row[0] for row in self._db.execute("SELECT key FROM sources WHERE doc_id = ?", (doc_id,))]

    def delete(self, doc_ids: list[str]) -> None:
        with self._transaction():
            self._delete(doc_ids)

    def _delete(self, doc_ids: list[str]) -> None:
        """Delete documents (their chunks and keys cascade), journalling their vectors for removal."""
        marks = ",".join("?" * len(doc_ids))
        self._db.execute(
            f"INSERT OR IGNORE INTO pending_vectors SELECT chunk_id FROM chunks WHERE doc_id IN ({marks})", doc_ids
        )
        self._db.execute(f"DELETE FROM documents WHERE doc_id IN ({marks})", doc_ids)

    def chunks(self, chunk_ids: list[str]) -> dict[str, tuple[Chunk, str, str]]:
        """Chunks by id with their document's title and source; unknown ids are left out."""
        marks = ",".join("?" * len(chunk_ids))
        query = (
            'SELECT c.chunk_id, c.doc_id, c.ordinal, c.start, c."end", c.text, c.page, d.title, d.source '
            f"FROM chunks c JOIN documents d USING (doc_id) WHERE c.chunk_id IN ({marks})"
        )
        return {row[0]: (Chunk(*row[:7]), row[7], row[8]) for row in self._db.execute(query, chunk_ids)}

    def all_chunks(self) -> Iterator[tuple[str, str, str, str]]:
        """(chunk_id, doc_id, title, text) of every chunk, in a stable order."""
        query = (
            "SELECT c.chunk_id, c.doc_id, d.title, c.text FROM chunks c JOIN documents d USING (doc_id)"
            " ORDER BY c.chunk_id"
        )
        yield from self._db.execute(query)

    def document(self, doc_id: str) -> ParsedDocument | None:
        row = self._db.execute(
            "SELECT d.doc_id, (SELECT MIN(key) FROM sources s WHERE s.doc_id = d.doc_id), d.title, d.source, d.text,"
            " d.pages, d.metadata FROM documents d WHERE d.doc_id = ?",
            (doc_id,),
        ).fetchone()
        if row is None:
            return None
        pages = tuple(Page(*page) for page in json.loads(row[5]))
        return ParsedDocument(*row[:5], pages=pages, metadata=json.loads(row[6]))

    def count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]

    def chunk_count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]

    def chunk_ids(self, doc_id: str) -> list[str]:
        return [row[0] for row in self._db.execute("SELECT chunk_id FROM chunks WHERE doc_id = ?", (doc_id,))]

    def list_documents(self) -> list[DocumentInfo]:
        query = (
            "SELECT d.doc_id, d.title, d.source, COUNT(c.chunk_id), LENGTH(d.text), json_array_length(d.pages),"
            " d.added_at FROM documents d LEFT JOIN chunks c USING (doc_id) GROUP BY d.doc_id ORDER BY d.added_at, d.doc_id"
        )
        return [DocumentInfo(*row) for row in self._db.execute(query)]

    @contextmanager
    def _transaction(self, bump: bool = True) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on error; content changes also bump the generation."""
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:
            raise BackendUnavailable(f"the document store is busy or unwritable: {error}") from error
        try:
            yield
            if bump:
                db.execute(
                    "INSERT INTO meta VALUES ('generation', 1) ON CONFLICT(name) DO UPDATE SET value = value + 1"
                )
            db.execute("COMMIT")
        except BaseException as error:
            db.execute("ROLLBACK")
            if isinstance(error, sqlite3.Error):
                raise BackendUnavailable(f"the document store refused a write: {error}") from error
            raise


def _document_row(document: ParsedDocument, now: str) -> tuple:
    pages = json.dumps([[p.number, p.start, p.end] for p in document.pages])
    metadata = json.dumps(document.metadata, ensure_ascii=False, default=str)
    return (document.doc_id, document.title, document.source, document.version, document.text, pages, metadata, now)


def _chunk_row(chunk: Chunk) -> tuple:
    return (chunk.chunk_id, chunk.doc_id, chunk.ordinal, chunk.start, chunk.end, chunk.text, chunk.page)
