"""Schemathesis against the app's own OpenAPI schema: generated requests to every operation (valid and
invalid, with and without the key) get no 500, and every response matches what the schema promises."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from conftest import NOTES, _free_port, fast_settings, ingest, without_models
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from assistant.backends import Backends
from assistant.server.app import create_app

KEY = "schema-key"
MAX_EXAMPLES = 8
# The schema is read when the module is collected, so the app exists then; it opens its store (in this
# folder) only when schemathesis sends the first request. (Schemathesis' fixture-based loader does not
# run under pytest 9.)
FOLDER = Path(tempfile.mkdtemp(prefix="assistant-schema-"))


def _backends() -> Backends:
    """No request may load a real model: `local` names a missing file (the extractive fallback answers),
    `openai` a closed port (a 503)."""
    overrides = {
        "generation": {"generator": "extractive", "model": str(FOLDER / "missing.gguf")},
        "verification": {"judge": "overlap"},
        "openai": {"base_url": f"http://127.0.0.1:{_free_port()}/v1", "timeout": 2},
        # schemathesis calls it "testserver", and sends many wrong keys: none may lock the right one out
        "server": {"api_key": KEY, "warm_up": False, "allowed_hosts": ["*"], "key_failures_per_minute": 10**6},
    }
    return Backends(fast_settings(FOLDER / "data", **without_models(**overrides)))


BACKENDS = _backends()
ACCEPTED = ["2xx", "401", "404"]
# What the schema cannot say, so a schema-valid request may still be refused: a file's type comes from
# its name and its size from its bytes (413, 415, 422, each with the files' reasons); the last of the
# OpenAI messages must be the user's, with text (400).
REFUSALS = [
    {
        "include-name": ["POST /api/v1/documents"],
        "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "413", "415", "422"]}},
    },
    {
        "include-name": ["POST /v1/chat/completions"],
        "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "400"]}},
    },
]
CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {"max-examples": MAX_EXAMPLES},
        "seed": 4,
        # 503 is the documented answer of the `openai` generator here (its endpoint is a closed port);
        # any other 5xx fails.
        "checks": {"not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "503"]}},
        "operations": REFUSALS,
    }
)
schema = schemathesis.openapi.from_asgi(
    "/openapi.json", create_app(BACKENDS.settings, BACKENDS), config=CONFIG, headers={"X-API-Key": KEY}
)


@pytest.fixture(scope="module", autouse=True)
def _stored_document() -> Iterator[None]:
    """One stored document, so searches and answers have something to find; the folder goes afterwards."""
    (FOLDER / "notes.txt").write_text(NOTES)
    ingest(BACKENDS, FOLDER / "notes.txt")
    yield
    BACKENDS.docstore.close()
    shutil.rmtree(FOLDER, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_own_schema(case: schemathesis.Case) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {KEY}", "X-API-Key": KEY})
