"""Vector store: chunk vectors in Chroma (embedded PersistentClient, or a server by URL)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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


class ChromaStore:
    """One Chroma collection of unit vectors compared by cosine similarity.

    >>> store = ChromaStore.open(Path("assistant-data/chroma"), None, "chunks-0123abcd")
    >>> store.query(vector, 5)
    [('4f2a...', 0.71), ...]
    """

    def __init__(self, client, collection_name: str) -> None:
        self._client = client
        with _translated("open the collection"):
            self._collection = client.get_or_create_collection(
                collection_name, metadata={"hnsw:space": "cosine"}, embedding_function=None
            )
            self._max_batch = client.get_max_batch_size()

    @classmethod
    def open(cls, path: Path, url: str | None, collection_name: str) -> ChromaStore:
        """Embedded Chroma in `path`, or the Chroma server at `url` when one is set."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        with _translated(f"reach Chroma at {url}" if url else f"open Chroma in {path}"):
            if url:
                parsed = urlparse(url)
                client = chromadb.HttpClient(
                    host=parsed.hostname or "127.0.0.1",
                    port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                    ssl=parsed.scheme == "https",
                    settings=chroma_settings,
                )
            else:
                path.mkdir(parents=True, exist_ok=True)
                client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
        return cls(client, collection_name)

    def add(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        with _translated("store vectors"):
            for start in range(0, len(ids), self._max_batch):
                end = start + self._max_batch
                self._collection.upsert(ids=list(ids[start:end]), embeddings=vectors[start:end])

    def query(self, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
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


@contextmanager
def _translated(action: str) -> Iterator[None]:
    """Turn any Chroma or transport failure into BackendUnavailable, so callers see one error type."""
    try:
        yield
    except BackendUnavailable:
        raise
    except Exception as error:
        raise BackendUnavailable(f"could not {action}: {error}") from error
