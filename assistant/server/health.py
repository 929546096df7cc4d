"""Health: whether the store answers and the models are loaded. The warm-up at start loads them in a
thread and records how each one fared, so a health check never waits for a model."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Literal

from assistant import __version__
from assistant.backends import Backends
from assistant.errors import AssistantError
from assistant.settings import Settings

log = logging.getLogger(__name__)
State = Literal["ready", "loading", "lazy", "unavailable"]
MODELS = ("retriever", "generator", "judge")


class Readiness:
    """What the warm-up found for each model: `lazy` until it runs (or when it is off)."""

    def __init__(self) -> None:
        self._states: dict[str, tuple[State, str | None]] = {name: ("lazy", None) for name in MODELS}
        self._lock = threading.Lock()

    def state(self, name: str) -> tuple[State, str | None]:
        with self._lock:
            return self._states[name]

    def record(self, name: str, state: State, detail: str | None = None) -> None:
        with self._lock:
            self._states[name] = (state, detail)

    def start_warm_up(self, backends: Backends) -> threading.Thread:
        for name in MODELS:
            self.record(name, "loading")
        thread = threading.Thread(target=self.warm_up, args=(backends,), name="warm-up", daemon=True)
        thread.start()
        return thread

    def warm_up(self, backends: Backends) -> None:
        """Load the embedding model, the store and BM25, the generator's model, and the judge's."""
        self._load("retriever", backends, lambda: (backends.embedder.embed_query("warm-up"), backends.store.lexical()))
        self._load("generator", backends, backends.generator)
        self._load("judge", backends, lambda: backends.verifier)

    def _load(self, name: str, backends: Backends, load: Callable[[], object]) -> None:
        try:
            load()
        except AssistantError as error:  # answered later with the fallback, or a 503
            log.warning("warm-up of the %s: %s", name, error.message)
            self.record(name, "unavailable", error.message)
        except Exception as error:
            log.exception("warm-up of the %s failed", name)
            self.record(name, "unavailable", f"{type(error).__name__}: {error}")
        else:
            note = backends.judge_note if name == "judge" else None  # the judge fell back to word overlap
            self.record(name, "unavailable" if note else "ready", note)


def health_json(backends: Backends, readiness: Readiness) -> tuple[dict[str, Any], int]:
    """The health report and its HTTP status: 503 when no question can be answered."""
    settings = backends.settings
    store, documents, chunks = _store(backends)
    components = {name: _component(name, settings, *readiness.state(name)) for name in MODELS}
    body = {"version": __version__, "documents": documents, "chunks": chunks, "store": store, **components}
    body["status"] = _status(body, settings.generation.fallback)
    return body, 503 if body["status"] == "unavailable" else 200


def _store(backends: Backends) -> tuple[dict[str, Any], int | None, int | None]:
    url = backends.settings.store.chroma_url
    component = {"name": "chroma", "model": None, "detail": url or "embedded"}
    try:
        documents = backends.docstore.count()
        chunks = backends.store.vectors.count()
        missing = backends.docstore.chunk_count() - chunks
    except AssistantError as error:
        return {**component, "state": "unavailable", "detail": error.message}, None, None
    if missing > 0:  # a lost Chroma folder, a new Chroma server: those passages are found by words only
        note = f"{missing} stored passages have no vector; ingest the same files again to embed them"
        component["detail"] = f"{component['detail']}; {note}"
    return {**component, "state": "ready"}, documents, chunks


def _component(name: str, settings: Settings, state: State, detail: str | None) -> dict[str, Any]:
    kind, model = {
        "retriever": (settings.embedding.backend, settings.embedding.model),
        "generator": (settings.generation.generator, settings.generation.model),
        "judge": (settings.verification.judge, settings.verification.judge_model),
    }[name]
    if kind in ("hashing", "extractive", "overlap"):
        model = None
    elif kind == "openai":
        model = f"{settings.openai.model} at {settings.openai.base_url}"
    return {"name": kind, "model": model, "state": state, "detail": detail}


def _status(body: dict[str, Any], fallback: bool) -> str:
    states = {name: body[name]["state"] for name in ("store", *MODELS)}
    if "unavailable" in (states["store"], states["retriever"]):
        return "unavailable"
    if "unavailable" in (states["generator"], states["judge"]):
        return "degraded" if fallback else "unavailable"
    return "loading" if "loading" in states.values() else "ok"
