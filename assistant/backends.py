"""Choose and build the back-ends named by settings; everything else receives them as arguments."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

from assistant.components.chunk import Chunker
from assistant.components.docstore import DocStore
from assistant.components.embed import Embedder, HashingEmbedder, SentenceTransformerEmbedder
from assistant.components.retrieve import HybridRetriever
from assistant.components.store import Store
from assistant.components.vectorstore import ChromaStore
from assistant.errors import InputError
from assistant.settings import EmbeddingSettings, Settings

EMBEDDERS: dict[str, Callable[[EmbeddingSettings], Embedder]] = {
    "sentence-transformers": lambda s: SentenceTransformerEmbedder(s.model, s.batch_size),
    "hashing": lambda s: HashingEmbedder(),
}


class Backends:
    """The back-ends of one settings object, each built on first use (so `docs list` loads no model
    and opens no Chroma). Tests replace any of them by assigning the attribute."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def embedder(self) -> Embedder:
        return EMBEDDERS[self.settings.embedding.backend](self.settings.embedding)

    @cached_property
    def docstore(self) -> DocStore:
        return DocStore(self.settings.index_dir / "docstore.sqlite3")

    @cached_property
    def store(self) -> Store:
        collection = f"chunks-{self.settings.index_fingerprint()}-{self.docstore.store_id()}"
        vectors = ChromaStore.open(self.settings.data_dir / "chroma", self.settings.store.chroma_url, collection)
        return Store(self.docstore, vectors, self.settings.index_dir)

    @cached_property
    def chunker(self) -> Chunker:
        ingest = self.settings.ingest
        if ingest.chunk_size > self.embedder.max_tokens:
            raise InputError(
                f"ingest.chunk_size {ingest.chunk_size} is over the embedding model's limit of "
                f"{self.embedder.max_tokens} tokens; the rest of each chunk would never be embedded"
            )
        return Chunker(ingest.chunk_size, ingest.chunk_overlap, tokenize=self.embedder.tokenize)

    @cached_property
    def retriever(self) -> HybridRetriever:
        return HybridRetriever(self.embedder, self.store, self.settings.retrieval)
