"""Store: keep the document store, the vector store and the BM25 index in step.

Write order makes every document all-or-nothing: vector ids are journalled as pending, vectors
are written, then documents and chunks commit in one SQLite transaction that also clears the
journal. Anything a crash leaves behind is still journalled and is deleted when the store opens.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from assistant.components.chunk import indexed_text
from assistant.components.docstore import DocStore
from assistant.components.lexical import BM25Index
from assistant.components.vectorstore import VectorStore
from assistant.errors import BackendUnavailable, DocumentNotFound
from assistant.records import Chunk, IngestStatus, ParsedDocument


class Store:
    """Documents, vectors and the lexical index of one index fingerprint.

    >>> store = Store(DocStore(path), ChromaStore.open(...), lexical_dir)
    >>> store.status(document)
    ('added', None)
    """

    def __init__(self, docstore: DocStore, vectors: VectorStore, lexical_dir: Path) -> None:
        self.docstore = docstore
        self.vectors = vectors
        self._lexical_dir = lexical_dir
        self._lexical: tuple[int, BM25Index] | None = None
        self.recover()

    def recover(self) -> None:
        """Delete vectors an interrupted write left without a committed chunk."""
        orphans = self.docstore.orphan_vectors()
        if orphans:
            self._discard(orphans)

    def status(self, document: ParsedDocument) -> tuple[IngestStatus, str | None]:
        """Whether `document` is new, already stored, or replaces the stored version with its key.

        The version to replace is returned with "unchanged" too: a file edited to equal another
        stored document still retires its own old version.
        """
        previous = self.docstore.doc_id_for_key(document.key)
        if self.docstore.content_hash_of(document.doc_id) == document.content_hash:
            return "unchanged", previous if previous != document.doc_id else None
        return ("replaced", previous) if previous else ("added", None)

    def write(self, batch: list[tuple[ParsedDocument, list[Chunk]]], vectors: np.ndarray, replaced: list[str]) -> None:
        """Store documents with their chunk vectors, dropping the versions they replace."""
        ids = [chunk.chunk_id for _, chunks in batch for chunk in chunks]
        doc_ids = [chunk.doc_id for _, chunks in batch for chunk in chunks]
        self.docstore.mark_pending(ids)
        try:
            old_ids = self.docstore.chunk_ids_of(replaced)
            self.vectors.add(ids, vectors, doc_ids)
            self.docstore.commit(batch, replaced)
        except Exception:
            self._discard(ids)
            raise
        self._discard(old_ids)

    def delete(self, doc_id: str) -> None:
        """Remove a document from every index."""
        if self.docstore.content_hash_of(doc_id) is None:
            raise DocumentNotFound(f"no document with id {doc_id!r}")
        ids = self.docstore.chunk_ids_of([doc_id])
        self.docstore.delete([doc_id])
        self._discard(ids)

    def lexical(self) -> BM25Index:
        """The BM25 index of the current chunks: from memory, from disk, or rebuilt."""
        generation = self.docstore.generation()
        if self._lexical and self._lexical[0] == generation:
            return self._lexical[1]
        index = BM25Index.load(self._lexical_dir, generation)
        if index is None:
            items = ((cid, indexed_text(title, doc_id, text)) for cid, doc_id, title, text in self.docstore.all_chunks())
            index = BM25Index.build(items)
            index.save(self._lexical_dir, generation)
        self._lexical = (generation, index)
        return index

    def _discard(self, ids: list[str]) -> None:
        """Delete vectors; if the vector store is down they stay journalled for the next open."""
        if not ids:
            return
        try:
            self.vectors.delete(ids)
        except BackendUnavailable:
            return
        self.docstore.clear_pending(ids)
