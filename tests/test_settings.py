"""Settings: the index fingerprint names what determines the vectors; ASSISTANT_* variables are read."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from assistant.settings import Settings, get_settings


@pytest.mark.parametrize(
    ("overrides", "same_index"),
    [
        ({"ingest": {"chunk_size": 128}}, False),
        ({"ingest": {"chunk_overlap": 8}}, False),
        ({"embedding": {"backend": "hashing"}}, False),
        ({"embedding": {"model": "/models/other"}}, False),
        ({"retrieval": {"top_k": 9, "candidates": 10}}, True),
        ({"ingest": {"max_file_mb": 1, "batch_chunks": 8}}, True),
        ({"embedding": {"batch_size": 4}}, True),
        ({"store": {"chroma_url": "http://127.0.0.1:8000"}}, True),
    ],
)
def test_index_fingerprint_changes_only_with_what_determines_the_vectors(overrides: dict, same_index: bool) -> None:
    base, other = Settings(), Settings(**overrides)
    assert (other.index_fingerprint() == base.index_fingerprint()) is same_index


@pytest.mark.parametrize(
    ("variable", "value", "read"),
    [
        ("ASSISTANT_RETRIEVAL__TOP_K", "8", lambda s: s.retrieval.top_k == 8),
        ("ASSISTANT_RETRIEVAL__CANDIDATES", "120", lambda s: s.retrieval.candidates == 120),
        ("ASSISTANT_INGEST__CHUNK_SIZE", "64", lambda s: s.ingest.chunk_size == 64),
        ("ASSISTANT_INGEST__MAX_FILE_MB", "0.5", lambda s: s.ingest.max_file_mb == 0.5),
        ("ASSISTANT_EMBEDDING__BACKEND", "hashing", lambda s: s.embedding.backend == "hashing"),
        ("ASSISTANT_STORE__CHROMA_URL", "http://10.0.0.2:8000", lambda s: s.store.chroma_url == "http://10.0.0.2:8000"),
        ("ASSISTANT_DATA_DIR", "/srv/assistant", lambda s: s.data_dir == Path("/srv/assistant")),
        ("ASSISTANT_DATA_DIR", "~/notes", lambda s: s.data_dir == Path.home() / "notes"),
        ("ASSISTANT_GENERATION__MODEL_CACHE", "~/m", lambda s: s.generation.model_cache == Path.home() / "m"),
    ],
)
def test_environment_variables_are_read(monkeypatch, variable: str, value: str, read) -> None:
    monkeypatch.setenv(variable, value)
    assert read(Settings())
    assert read(get_settings())


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ASSISTANT_RETRIEVAL__TOP_K", "0"),
        ("ASSISTANT_RETRIEVAL__TOP_K", "many"),
        ("ASSISTANT_INGEST__CHUNK_SIZE", "4"),
        ("ASSISTANT_EMBEDDING__BACKEND", "word2vec"),
        ("ASSISTANT_INGEST__MAX_FILE_MB", "-1"),
        ("ASSISTANT_INGEST__CHUNK_OVERLAP", "192"),  # not below the chunk size
    ],
)
def test_invalid_environment_values_are_refused(monkeypatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError):
        Settings()


def test_a_context_too_small_for_the_prompt_budget_is_refused() -> None:
    with pytest.raises(ValidationError, match="context_tokens"):
        Settings(generation={"context_tokens": 1024, "source_tokens": 900})
