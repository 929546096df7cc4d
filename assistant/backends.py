"""Choose and build the back-ends named by settings; everything else receives them as arguments."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable
from dataclasses import replace
from functools import cached_property

from assistant.components.chunk import Chunker
from assistant.components.docstore import DocStore
from assistant.components.embed import Embedder, HashingEmbedder, SentenceTransformerEmbedder
from assistant.components.followup import ChatRewriter, JoinRewriter, Rewriter
from assistant.components.generate import ChatGenerator, ExtractiveGenerator, Generator
from assistant.components.judge import Judge, LLMJudge, OverlapJudge
from assistant.components.llm import ChatModel, LlamaCppChat, OpenAIChat
from assistant.components.models import resolve_gguf
from assistant.components.prompts import Prompts
from assistant.components.retrieve import HybridRetriever
from assistant.components.store import Store
from assistant.components.vectorstore import ChromaStore
from assistant.components.verify import Verifier
from assistant.errors import BackendUnavailable, InputError
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
        self._local_models: dict[str, LlamaCppChat] = {}  # by model setting, so a file is hashed once
        self._loading = threading.Lock()
        self.judge_note: str | None = None  # set when the judge fell back to word overlap

    @cached_property
    def embedder(self) -> Embedder:
        return EMBEDDERS[self.settings.embedding.backend](self.settings.embedding)

    @cached_property
    def docstore(self) -> DocStore:
        return DocStore(self.settings.index_dir / "docstore.sqlite3")

    @cached_property
    def store(self) -> Store:
        collection = f"chunks-{self.settings.index_fingerprint()}-{self.docstore.store_id()}"
        chroma = self.settings.data_dir / "chroma"
        vectors = ChromaStore.open(chroma, self.settings.store.chroma_url, collection, self.docstore.generation)
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

    @cached_property
    def prompts(self) -> Prompts:
        return Prompts(self.settings.prompts_dir)

    def local_chat(self, model: str) -> LlamaCppChat:
        """The in-process model for a GGUF setting; generator and judge share one when they name the same file."""
        with self._loading:  # two threads must not load two copies of a 1 GB model
            if model not in self._local_models:
                if importlib.util.find_spec("llama_cpp") is None:
                    raise BackendUnavailable("llama-cpp-python is not installed: pip install llama-cpp-python")
                path = resolve_gguf(model, self.settings.generation.model_cache)
                same_file = [chat for chat in self._local_models.values() if chat.path == path]
                generation = self.settings.generation
                chat = same_file[0] if same_file else LlamaCppChat(path, generation.context_tokens, generation.threads)
                chat.load()  # a corrupt file fails here, where a fallback can still be taken
                self._local_models[model] = chat
            return self._local_models[model]

    @cached_property
    def openai_chat(self) -> OpenAIChat:
        endpoint = self.settings.openai
        return OpenAIChat(endpoint.base_url, endpoint.model, endpoint.api_key.get_secret_value(), endpoint.timeout)

    def generator(self, name: str | None = None) -> Generator:
        """The generator `name` (default: the `generation.generator` setting)."""
        return GENERATORS[check_generator(name or self.settings.generation.generator)](self)

    def rewriter(self, generator: Generator) -> Rewriter:
        """Rewrites follow-up questions with the generator's own model; no model: joins the words."""
        chat = getattr(generator, "chat", None)
        return ChatRewriter(chat, self.prompts) if chat is not None else JoinRewriter()

    @cached_property
    def judge(self) -> Judge:
        verification = self.settings.verification
        try:
            chat: ChatModel
            if verification.judge == "overlap":
                return OverlapJudge()
            chat = self.openai_chat if verification.judge == "openai" else self.local_chat(verification.judge_model)
        except BackendUnavailable as error:
            if not self.settings.generation.fallback:
                raise
            self.judge_note = f"{error.message}; sentences were judged by word overlap instead"
            return OverlapJudge()
        judge = LLMJudge(chat, self.prompts)
        if verification.threshold is not None:
            judge.calibration = replace(judge.calibration, threshold=verification.threshold)
        return judge

    @cached_property
    def verifier(self) -> Verifier:
        evidence = self.settings.verification.evidence_sentences
        return Verifier(self.embedder, self.judge, self.docstore.document, evidence)


def _chat_generator(backends: Backends, chat: ChatModel) -> Generator:
    return ChatGenerator(chat, backends.prompts, backends.settings.generation.max_answer_tokens)


GENERATORS: dict[str, Callable[[Backends], Generator]] = {
    "local": lambda b: _chat_generator(b, b.local_chat(b.settings.generation.model)),
    "openai": lambda b: _chat_generator(b, b.openai_chat),
    "extractive": lambda b: ExtractiveGenerator(b.embedder),
}


def check_generator(name: str | None) -> str | None:
    """`name` when it is a generator (None: the setting's), else a clear error; builds nothing."""
    if name is not None and name not in GENERATORS:
        raise InputError(f"unknown generator {name!r}; choose one of {', '.join(GENERATORS)}")
    return name
