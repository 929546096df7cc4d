"""Store: keep the document store, the vector store and the BM25 index in step.

One writer at a time (a file lock). A write journals its vector ids as pending, writes the
vectors, then commits documents and chunks in one SQLite transaction; whatever is journalled and
not committed afterwards (a failed write's vectors, a replaced version's) is deleted from the
vector store, by this writer or, after a crash, by the next one. Search never needs the lock.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import numpy as np

from assistant.components.chunk import indexed_text
from assistant.components.docstore import DocStore
from assistant.components.lexical import BM25Index
from assistant.components.vectorstore import VectorStore
from assistant.errors import BackendUnavailable, DocumentNotFound
from assistant.records import ParsedDocument, PlannedDocument

# What storing a document needs: nothing, pointing its key at an identical stored document,
# or writing it as a new document (a new key) or a new version (a known key).
Plan = Literal["unchanged", "link", "added", "replaced", "repair"]


class Store:
    """Documents, vectors and the lexical index of one index fingerprint.

    >>> store = Store(DocStore(path), ChromaStore.open(...), index_dir)
    >>> store.plan(document)
    ('added', None)
    """

    def __init__(self, docstore: DocStore, vectors: VectorStore, index_dir: Path) -> None:
        self.docstore = docstore
        self.vectors = vectors
        self._lexical_dir = index_dir / "bm25"
        self._lock = _writer_lock(index_dir / "write.lock")
        self._lexical: tuple[int, BM25Index] | None = None
        self._complete: tuple[int, bool] | None = None  # (generation, every chunk has its vector)

    def plan(self, document: ParsedDocument) -> tuple[Plan, str | None]:
        """What storing `document` needs, and the document its key points at now. A stored document
        whose vectors are gone (a deleted Chroma folder, a new Chroma server) is to be embedded again."""
        current = self.docstore.doc_id_for_key(document.key)
        if self.docstore.version_of(document.doc_id) == document.version:
            if current == document.doc_id and self._vectors_missing(document.doc_id):
                return "repair", current
            return ("unchanged" if current == document.doc_id else "link"), current
        return ("replaced" if current else "added"), current

    def _vectors_missing(self, doc_id: str) -> bool:
        """Whether some chunk of the document has no vector; asked of the vector store per document
        only when it holds fewer vectors than there are chunks."""
        generation = self.docstore.generation()
        try:
            if self._complete is None or self._complete[0] != generation:
                self._complete = (generation, self.vectors.count() >= self.docstore.chunk_count())
            if self._complete[1]:
                return False
            ids = self.docstore.chunk_ids(doc_id)
            return len(self.vectors.present(ids)) < len(ids)
        except BackendUnavailable:  # unreachable: an unchanged file is still unchanged; new ones fail on writing
            return False

    def write(self, planned: list[PlannedDocument], vectors: np.ndarray) -> None:
        """Store new document versions with their chunk vectors; replaced versions go."""
        ids = [chunk.chunk_id for item in planned for chunk in item.chunks]
        with self._writing():
            self.docstore.mark_pending(ids)
            try:
                self.vectors.add(ids, vectors)
                self.docstore.commit(planned)
            finally:
                self._discard_orphans()

    def link(self, key: str, doc_id: str) -> None:
        """Point a source key at a stored document; the version it pointed at goes if nothing else uses it."""
        with self._writing():
            self.docstore.link(key, doc_id)
            self._discard_orphans()

    def delete(self, doc_id: str) -> None:
        """Remove a document from every index."""
        with self._writing():
            if self.docstore.version_of(doc_id) is None:
                raise DocumentNotFound(f"no document with id {doc_id!r}")
            self.docstore.delete([doc_id])
            self._discard_orphans()
        self.refresh_lexical()

    def refresh_lexical(self) -> None:
        """Build the BM25 index of the current chunks now, so the next search need not."""
        with self._writing():
            self.lexical()
            current = self._lexical_path(self.docstore.generation())
            for folder in self._lexical_dir.glob("*"):
                if folder != current and not folder.name.startswith("."):
                    shutil.rmtree(folder, ignore_errors=True)

    def lexical(self) -> BM25Index:
        """The BM25 index of the current chunks: from memory, from disk, or built."""
        generation = self.docstore.generation()
        if self._lexical and self._lexical[0] == generation:
            return self._lexical[1]
        folder = self._lexical_path(generation)
        index = BM25Index.load(folder)
        if index is None:
            chunks = self.docstore.all_chunks()
            index = BM25Index.build((chunk_id, indexed_text(title, text)) for chunk_id, _, title, text in chunks)
            index.save(folder)
        self._lexical = (generation, index)
        return index

    def _lexical_path(self, generation: int) -> Path:
        return self._lexical_dir / f"{self.docstore.store_id()}-{generation}"

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """The cross-process writer lock; each writer first deletes what a crashed one left."""
        from filelock import Timeout

        try:
            with self._lock, self.vectors.writing():
                self._discard_orphans()
                yield
        except Timeout as error:
            raise BackendUnavailable("another process has been writing to this store for 10 minutes") from error

    def _discard_orphans(self) -> None:
        """Delete journalled vectors without a committed chunk; if the vector store is down they stay journalled."""
        orphans = self.docstore.orphan_vectors()
        if not orphans:
            return
        try:
            self.vectors.delete(orphans)
        except BackendUnavailable:
            return
        self.docstore.clear_pending(orphans)


def _writer_lock(path: Path):
    from filelock import FileLock

    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(path, timeout=600)
