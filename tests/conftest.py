"""Shared fixtures: fast settings (hashing embedder, embedded Chroma in tmp), the real model, a Chroma server."""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fixtures import make_fixtures

from assistant import offline, pipeline
from assistant.backends import Backends
from assistant.errors import (
    CorruptDocument,
    EmptyDocument,
    EncryptedDocument,
    UnreadableEncoding,
    UnsupportedFileType,
)
from assistant.records import Hit, IngestReport
from assistant.settings import Settings, get_settings

offline()

FIXTURES = Path(__file__).parent / "fixtures"
GOOD = FIXTURES / "good"
BAD = FIXTURES / "bad"
CORPUS = Path(__file__).parents[1] / "corpus"
ARTICLE = CORPUS / "hegemons-k-device-tajiks-in-the-crosshairs.txt"
BIN = Path(sys.executable).parent

# The good fixtures yield 5 file documents plus 3 JSONL records.
GOOD_DOCUMENTS = 8


def _zip(entries: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


BAD_INPUTS = [
    # (file name, bytes or a fixture path, error class)
    ("corrupt.pdf", BAD / "corrupt.pdf", CorruptDocument),
    ("encrypted.pdf", BAD / "encrypted.pdf", EncryptedDocument),
    ("empty.txt", BAD / "empty.txt", EmptyDocument),
    ("junk.txt", BAD / "junk.txt", CorruptDocument),
    ("notes.xyz", BAD / "notes.xyz", UnsupportedFileType),
    ("no-suffix", b"plain text without an extension", UnsupportedFileType),
    ("blank.txt", b"  \n\t \r\n ", EmptyDocument),
    ("junk.html", BAD / "junk.txt", CorruptDocument),
    ("scripts-only.html", b"<html><body><script>var a = 1;</script></body></html>", EmptyDocument),
    ("textless.pdf", make_fixtures.pdf_bytes([[]], "Nothing"), EmptyDocument),
    ("garbage.docx", b"PK\x03\x04 this is not really a zip archive", CorruptDocument),
    ("no-body.docx", _zip({"docProps/core.xml": "<x/>"}), CorruptDocument),
    ("bad-xml.docx", _zip({"word/document.xml": "<w:document><not closed"}), CorruptDocument),
    ("blank-lines.jsonl", b"\n\n   \n", EmptyDocument),
    ("truncated-utf16.txt", b"\xff\xfe" + "hello".encode("utf-16-le") + b"x", UnreadableEncoding),
]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No ASSISTANT_* variable of the developer's shell leaks into a test; the settings cache starts empty."""
    for name in list(os.environ):
        if name.startswith("ASSISTANT_"):
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def fast_settings(data_dir: Path, **overrides) -> Settings:
    """Settings with the hashing embedder and embedded Chroma under `data_dir`."""
    values = {"data_dir": data_dir, "embedding": {"backend": "hashing"}, **overrides}
    return Settings(**values)


def without_models(**overrides) -> dict:
    """Setting sections for a test that runs no language model unless it names one: the extractive
    generator, the word-overlap judge, no warm-up; `overrides` merge into them section by section."""
    values: dict = {
        "generation": {"generator": "extractive"},
        "verification": {"judge": "overlap"},
        "server": {"warm_up": False},
    }
    for section, fields in overrides.items():
        values[section] = {**values.get(section, {}), **fields} if isinstance(fields, dict) else fields
    return values


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return fast_settings(tmp_path / "data")


@pytest.fixture
def backends(settings: Settings) -> Iterator[Backends]:
    built = Backends(settings)
    yield built
    if "docstore" in built.__dict__:
        built.docstore.close()


def ingest(backends: Backends, *paths: Path) -> IngestReport:
    """Discover and ingest `paths` the way the CLI does."""
    return pipeline.ingest_paths(paths, backends)


def search(backends: Backends, question: str, k: int = 5) -> list[Hit]:
    return pipeline.search(question, backends, k)


def outcomes_by_source(report: IngestReport) -> dict[str, str]:
    return {outcome.source: outcome.status for outcome in report.outcomes}


@pytest.fixture
def good_copy(tmp_path: Path) -> Path:
    """A writable copy of the good fixtures."""
    return Path(shutil.copytree(GOOD, tmp_path / "good"))


@pytest.fixture(scope="session")
def real_embedder():
    """The packaged all-MiniLM-L6-v2, loaded once per session."""
    from assistant.components.embed import PACKAGED_MINILM, SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(PACKAGED_MINILM)
    assert embedder.embed_query("warm up").shape == (384,)
    return embedder


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def server_process(
    command: list[str], ready_url: str, log_path: Path, *, env: dict[str, str] | None = None, start_timeout: float = 120
) -> Iterator[None]:
    """Run a server process until the block ends: wait until `ready_url` answers 200 (or fail the test
    with the tail of its log), then terminate it, and kill it if it will not stop."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            if not _answers(ready_url, process, start_timeout):
                pytest.fail(f"{' '.join(command[:4])} did not answer {ready_url}:\n{log_path.read_text()[-3000:]}")
            yield
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _answers(url: str, process: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.5)
    return False


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `chroma run` server for the session; yields its URL."""
    folder = tmp_path_factory.mktemp("chroma-server")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(BIN / "chroma"), "run", "--path", str(folder / "data"), "--host", "127.0.0.1", "--port", str(port)]
    with server_process(command, f"{url}/api/v2/heartbeat", folder / "server.log", start_timeout=60):
        yield url


# A tiny corpus for answers: scripted generators and fake judges read it in test_ask and its kin.
NOTES = (
    "Tajik Migration Notes\n\n"
    "The economy of Tajikistan benefits from remittances. Some 3 million Tajiks work in Russia as labour "
    "migrants. They send money home to their families."
)


def _library(tmp_path_factory: pytest.TempPathFactory, *paths: Path) -> Path:
    data_dir = tmp_path_factory.mktemp("ask") / "data"
    built = Backends(fast_settings(data_dir))
    assert ingest(built, *paths).count("added") == len(paths)
    built.docstore.close()
    return data_dir


@pytest.fixture(scope="module")
def notes_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("notes")
    (folder / "notes.txt").write_text(NOTES)
    return _library(tmp_path_factory, folder / "notes.txt")


@pytest.fixture(scope="module")
def article_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _library(tmp_path_factory, ARTICLE)


@pytest.fixture
def open_backends() -> Iterator:
    opened: list[Backends] = []

    def make(data_dir: Path, **overrides: dict) -> Backends:
        """Backends with no language model unless a test names one; `overrides` merge per settings section."""
        opened.append(Backends(fast_settings(data_dir, **without_models(**overrides))))
        return opened[-1]

    yield make
    for built in opened:
        if "docstore" in built.__dict__:
            built.docstore.close()
