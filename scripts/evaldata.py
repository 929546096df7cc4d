"""Shared by the scripts: find ../shared/eval, read its JSONL, and ingest its corpus into a scratch store."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from assistant.backends import Backends
from assistant.pipeline import ingest
from assistant.present import ProgressBars
from assistant.records import IngestReport, SourceFile
from assistant.settings import Settings

REPO = Path(__file__).resolve().parents[1]
EVAL_DIR = Path(os.environ.get("ASSISTANT_EVAL_DIR", REPO.parent / "shared" / "eval"))
SCRATCH = REPO / "bench-data"


def eval_file(name: str) -> Path:
    """A file of the evaluation data, or exit with a message saying where it was looked for."""
    path = EVAL_DIR / name
    if not path.is_file():
        sys.exit(
            f"evaluation data not found: {path}\n"
            "These scripts read ../shared/eval (public QA and claim sets, not copied into the repository); "
            "set ASSISTANT_EVAL_DIR to its folder."
        )
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def scratch_settings(name: str, **overrides) -> Settings:
    """Settings for a store under bench-data/NAME; environment variables still apply."""
    return Settings(data_dir=SCRATCH / name, **overrides)


def ingest_corpus(backends: Backends) -> IngestReport:
    """Ingest corpus.jsonl (unchanged passages are skipped, so a second run is quick)."""
    with ProgressBars() as bars:
        return ingest([SourceFile.from_path(eval_file("corpus.jsonl"))], backends, on_progress=bars.update)
