"""Vector store: chunk vectors in Chroma (embedded PersistentClient, or a server by URL)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

import numpy as np

from assistant.errors import BackendUnavailable


class VectorStore(Protocol):
    """Add, query and delete vectors by chunk id."""

    def add(self, ids: Sequence[str], vectors: np.ndarray) -> None: ...

    def query(self, vector: np.ndarray, n: int) -> list[tuple[str, float]]: ...

    def delete(self, ids: Sequence[str]) -> None: ...

    def count(self) -> int: ...

    def present(self, ids: Sequence[str]) -> set[str]:
        """Those of `ids` that have a vector."""
        ...

    def writing(self) -> AbstractContextManager[None]:
        """Held by the store's one writer around its changes (see `ChromaStore.writing`)."""
        ...


class ChromaStore:
    """One Chroma collection of unit vectors compared by cosine similarity.

    >>> store = ChromaStore.open(Path("assistant-data/chroma"), None, "chunks-0123abcd")
    >>> store.query(vector, 5)
    [('4f2a...', 0.71), ...]
    """

    def __init__(self, client, collection_name: str) -> None:
        self._name = collection_name
        self._connect(client)
        # Set by `open` for an embedded Chroma: its folder and the store's write counter, as it was when opened.
        self._embedded: tuple[Path, Callable[[], int]] | None = None
        self._seen = 0
        self._using = threading.Lock()  # a reopen, or this process's write: never both at once

    def _connect(self, client) -> None:
        with _translated("open the collection"):
            collection = client.get_or_create_collection(
                self._name, metadata={"hnsw:space": "cosine"}, embedding_function=None
            )
            self._max_batch = client.get_max_batch_size()
        self._client, self._collection = client, collection

    @classmethod
    def open(
        cls, path: Path, url: str | None, collection_name: str, generation: Callable[[], int] | None = None
    ) -> ChromaStore:
        """Embedded Chroma in `path`, or the Chroma server at `url` when one is set. `generation` is a
        counter every write to the store moves (the document store's): once it has moved, an embedded
        Chroma is reopened before the next query, to see what other processes wrote."""
        if url:
            return cls(_http_client(url), collection_name)
        seen = generation() if generation else 0  # read before opening: any write after it is caught up with
        store = cls(_persistent_client(path), collection_name)
        if generation:
            store._embedded, store._seen = (path, generation), seen
        return store

    def add(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        with _translated("store vectors"):
            for start in range(0, len(ids), self._max_batch):
                end = start + self._max_batch
                self._collection.upsert(ids=list(ids[start:end]), embeddings=vectors[start:end])

    def query(self, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
        if self._using.acquire(blocking=False):  # else this process is writing, and its view is current
            try:
                self._catch_up()
            finally:
                self._using.release()
        with _translated("query vectors"):
            result = self._collection.query(query_embeddings=[vector], n_results=n, include=["distances"])
        return [
            (id_, 1.0 - float(distance)) for id_, distance in zip(result["ids"][0], result["distances"][0], strict=True)
        ]

    def delete(self, ids: Sequence[str]) -> None:
        with _translated("delete vectors"):
            for start in range(0, len(ids), self._max_batch):
                self._collection.delete(ids=list(ids[start : start + self._max_batch]))

    def count(self) -> int:
        with _translated("count vectors"):
            return self._collection.count()

    def present(self, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        with _translated("look up vectors"):
            for start in range(0, len(ids), self._max_batch):
                found.update(self._collection.get(ids=list(ids[start : start + self._max_batch]), include=[])["ids"])
        return found

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Around a write by this process (the store holds the cross-process writer lock): first
        catch up with what other processes wrote, and afterwards count the write as seen, so this
        process's own writes never make it reopen, and no query reopens in the middle of one."""
        with self._using:
            self._catch_up()
            try:
                yield
            finally:
                if self._embedded is not None:
                    self._seen = self._embedded[1]()

    def _catch_up(self) -> None:
        """Reopen an embedded Chroma if another process changed the store since it was opened (the
        caller holds `_using`). Chroma keeps one view of a folder per process, and its queries never
        show vectors that another process (`assistant ingest` beside a running server) added after
        that view loaded."""
        if self._embedded is None:
            return
        path, generation = self._embedded
        seen = generation()  # read before reopening, as in `open`
        if seen == self._seen:
            return
        from chromadb.api.shared_system_client import SharedSystemClient

        # The cache holds every folder's view; clients opened before keep theirs until dropped.
        SharedSystemClient.clear_system_cache()
        self._connect(_persistent_client(path))
        self._seen = seen


def _persistent_client(path: Path):
    import chromadb

    with _translated(f"open Chroma in {path}"):
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=_chroma_settings())


def _http_client(url: str):
    import chromadb

    parsed = urlparse(url)
    with _translated(f"reach Chroma at {url}"):
        return chromadb.HttpClient(
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or (443 if parsed.scheme == "https" else 8000),
            ssl=parsed.scheme == "https",
            settings=_chroma_settings(),
        )


def _chroma_settings():
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False)


@contextmanager
def _translated(action: str) -> Iterator[None]:
    """Turn any Chroma or transport failure into BackendUnavailable, so callers see one error type."""
    try:
        yield
    except BackendUnavailable:
        raise
    except Exception as error:
        raise BackendUnavailable(f"could not {action}: {error}") from error
