"""The real console entry point, run as a subprocess with the hashing embedder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import BAD, BIN, GOOD, GOOD_DOCUMENTS, _free_port, fast_settings, server_process

from assistant import pipeline
from assistant.backends import Backends

GANNETS = "Gannets dive for mackerel off Bass Rock."
PUFFINS = "Puffins nest in burrows on Mykines."
TITLES = {
    "The Keeper's Log of Skerryvore",
    "Sourdough Hydration Guide",
    "Glacier Retreat in Patagonia",
    "Orbital Mechanics Primer",
    "Beekeeping in Winter",
    "Sicilian Defence",
    "Krakatoa 1883",
    "Darjeeling First Flush",
}


def run(data_dir: Path, *args: str, env: dict[str, str] | None = None, module: bool = False):
    """`assistant ARGS` with its data in `data_dir`; returns the CompletedProcess."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    environment.update(ASSISTANT_DATA_DIR=str(data_dir), ASSISTANT_EMBEDDING__BACKEND="hashing", **(env or {}))
    command = [sys.executable, "-m", "assistant"] if module else [str(BIN / "assistant")]
    return subprocess.run([*command, *args], env=environment, capture_output=True, text=True, timeout=120)


def run_json(data_dir: Path, *args: str, **kwargs) -> dict:
    result = run(data_dir, *args, "--json", **kwargs)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def assert_one_line_error(result, code: int | None = None) -> None:
    assert result.returncode != 0 if code is None else result.returncode == code
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> tuple[Path, dict]:
    """A data folder holding the good fixtures, and the `ingest --json` report that made it."""
    data_dir = tmp_path_factory.mktemp("cli") / "data"
    return data_dir, run_json(data_dir, "ingest", str(GOOD))


def test_ingest_json_reports_counts(library) -> None:
    _, report = library
    assert (report["added"], report["failed"], report["documents"]) == (GOOD_DOCUMENTS, 0, GOOD_DOCUMENTS)
    assert report["chunks"] == sum(o["chunks"] for o in report["outcomes"]) >= GOOD_DOCUMENTS
    assert {o["title"] for o in report["outcomes"]} == TITLES
    assert all(o["doc_id"] for o in report["outcomes"])


def test_ingest_again_reports_everything_unchanged(library) -> None:
    data_dir, _ = library
    again = run_json(data_dir, "ingest", str(GOOD))
    assert (again["unchanged"], again["added"], again["chunks"]) == (GOOD_DOCUMENTS, 0, 0)


def test_search_json_returns_k_hits_best_first(library) -> None:
    data_dir, _ = library
    payload = run_json(data_dir, "search", "How long does the Hohmann transfer orbit to Mars take in days?", "-k", "3")
    hits = payload["hits"]
    assert 1 <= len(hits) <= 3
    assert [hit["rank"] for hit in hits] == list(range(1, len(hits) + 1))
    top = hits[0]
    assert (top["title"], top["source"], top["page"]) == ("Orbital Mechanics Primer", "orbits.pdf", 2)
    assert "Hohmann" in top["text"] and top["end"] - top["start"] == len(top["text"])


def test_search_text_output_names_title_and_page(library) -> None:
    data_dir, _ = library
    result = run(data_dir, "search", "Hohmann transfer to Mars takes 259 days", "-k", "1")
    assert result.returncode == 0
    assert result.stdout.startswith("1. Orbital Mechanics Primer") and "orbits.pdf, p. 2" in result.stdout


def test_search_batch_gives_one_json_line_per_record(library, tmp_path: Path) -> None:
    data_dir, _ = library
    questions = tmp_path / "questions.jsonl"
    records = [
        {"id": "q1", "question": "Krakatoa eruption"},
        {"id": 2, "question": "sourdough rye starter"},
        {"id": "q3"},
        {"id": "q4", "question": "   "},
        {"id": "q5", "question": None},
    ]
    lines = [json.dumps(record) for record in records]
    questions.write_text("\n".join(lines[:2]) + "\n\n" + "\n".join(lines[2:]))  # a blank line is skipped
    result = run(data_dir, "search", "--batch", str(questions), "-k", "2")
    assert result.returncode == 1 and result.stderr.strip() == "3 of 5 records failed", result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["id"] for line in lines] == ["q1", 2, "q3", "q4", "q5"]
    assert all(1 <= len(line["hits"]) <= 2 and all(hit["doc_id"] for hit in line["hits"]) for line in lines[:2])
    assert lines[0]["hits"][0]["doc_id"] == "rec-krakatoa"
    assert lines[1]["hits"][0]["title"] == "Sourdough Hydration Guide"
    assert "error" in lines[2] and lines[3]["error"]["code"] == "bad_input"
    assert "hits" not in lines[4] and "must be a string" in lines[4]["error"]["message"]


def test_docs_list_json_shows_every_document(library) -> None:
    data_dir, report = library
    documents = run_json(data_dir, "docs", "list")["documents"]
    assert {d["title"] for d in documents} == TITLES
    assert {d["doc_id"] for d in documents} == {o["doc_id"] for o in report["outcomes"]}
    pdf = next(d for d in documents if d["source"] == "orbits.pdf")
    assert pdf["pages"] == 2 and pdf["chunks"] >= 1 and pdf["chars"] > 300


def test_delete_then_delete_again_is_a_clean_error(tmp_path: Path) -> None:
    report = run_json(tmp_path, "ingest", str(GOOD / "skerryvore.txt"), str(GOOD / "sourdough.md"))
    doc_id = report["outcomes"][0]["doc_id"]
    assert run_json(tmp_path, "docs", "delete", doc_id) == {"deleted": doc_id}
    remaining = run_json(tmp_path, "docs", "list")["documents"]
    assert [d["doc_id"] for d in remaining] == [report["outcomes"][1]["doc_id"]]
    assert_one_line_error(run(tmp_path, "docs", "delete", doc_id), code=1)
    again = run(tmp_path, "docs", "delete", doc_id, "--json")
    assert again.returncode == 1 and json.loads(again.stdout)["error"]["code"] == "document_not_found"


def test_module_help_lists_the_commands(tmp_path: Path) -> None:
    result = run(tmp_path, "--help", module=True)
    assert result.returncode == 0
    for command in ("ingest", "search", "docs"):
        assert command in result.stdout


USER_ERRORS = [
    # (arguments, extra environment, exit code, message fragment)
    (["search", ""], {}, 2, "empty"),
    (["search", "x" * 100_000], {}, 2, "limit is 2000"),
    (["search", "--batch", "no-such-questions.jsonl"], {}, 2, "cannot read"),
    (["docs", "delete", "no-such-doc"], {}, 1, "no document"),
    (["search", "seals"], {"ASSISTANT_STORE__CHROMA_URL": "http://127.0.0.1:9"}, 1, "Chroma"),
    (["docs", "list"], {"ASSISTANT_RETRIEVAL__TOP_K": "many"}, None, "top_k"),
]


@pytest.mark.parametrize(
    ("args", "env", "code", "fragment"),
    USER_ERRORS,
    ids=["empty-question", "100KB-question", "missing-batch-file", "unknown-doc", "chroma-down", "bad-setting"],
)
def test_user_errors_print_one_line_without_traceback(tmp_path: Path, args, env, code, fragment) -> None:
    result = run(tmp_path, *args, env=env)
    assert_one_line_error(result, code)
    assert fragment in result.stderr


def test_json_errors_are_json(tmp_path: Path) -> None:
    result = run(tmp_path, "search", "", "--json")
    assert result.returncode == 2
    assert json.loads(result.stdout)["error"]["code"] == "bad_input"


def test_ingest_reports_failures_in_text_and_exits_non_zero(tmp_path: Path) -> None:
    result = run(tmp_path, "ingest", str(BAD / "corrupt.pdf"), str(GOOD / "skerryvore.txt"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "failed  corrupt.pdf: PDF could not be read" in result.stdout
    assert "1 added, 0 replaced, 0 unchanged, 0 skipped, 1 failed" in result.stdout


def test_max_file_size_setting_refuses_large_files(tmp_path: Path) -> None:
    tiny = {"ASSISTANT_INGEST__MAX_FILE_MB": "0.0001"}
    result = run(tmp_path, "ingest", str(GOOD / "glacier.html"), "--json", env=tiny)
    report = json.loads(result.stdout)
    assert result.returncode == 1 and report["failed"] == 1 and report["added"] == 0
    assert "limit" in report["outcomes"][0]["reason"]


def test_hostile_file_name_ingests_from_the_command_line(tmp_path: Path) -> None:
    name = "..  ünï cødé $(touch pwned) 'q' ..txt"
    (tmp_path / name).write_text("Puffins nest in burrows on the cliffs of Mykines.")
    report = run_json(tmp_path / "data", "ingest", str(tmp_path / name))
    assert [(o["source"], o["status"]) for o in report["outcomes"]] == [(name, "added")]
    assert run_json(tmp_path / "data", "search", "puffins Mykines")["hits"][0]["source"] == name
    assert not (tmp_path / "pwned").exists()


def test_non_utf8_file_name_ingests_alongside_the_others(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "good.txt").write_text(GANNETS)
    Path(os.fsdecode(bytes(folder) + b"/caf\xe9.txt")).write_text(PUFFINS)  # Latin-1 bytes in the name
    Path(os.fsdecode(bytes(folder) + b"/photo\xe9.png")).write_bytes(b"\x89PNG")  # skipped, and said so
    report = run_json(tmp_path / "data", "ingest", str(folder))
    outcomes = sorted((o["source"].rsplit("/", 1)[-1], o["status"]) for o in report["outcomes"])
    assert outcomes == [("caf\\xe9.txt", "added"), ("good.txt", "added"), ("photo\\xe9.png", "skipped")]
    assert run_json(tmp_path / "data", "search", "puffins Mykines")["hits"][0]["source"] == "caf\\xe9.txt"


def test_a_running_process_finds_by_vector_what_the_cli_ingested_after_it_opened_the_store(tmp_path: Path) -> None:
    """An embedded Chroma keeps one view of its folder per process; the server's must catch up."""
    data_dir = tmp_path / "data"
    for name, text in [("gannets.txt", GANNETS), ("puffins.txt", PUFFINS)]:
        (tmp_path / name).write_text(text)
    run_json(data_dir, "ingest", str(tmp_path / "gannets.txt"))
    server = Backends(fast_settings(data_dir))
    assert pipeline.search("puffins Mykines", server)[0].title == GANNETS  # its view of the folder is loaded
    run_json(data_dir, "ingest", str(tmp_path / "puffins.txt"))
    hits = pipeline.search("puffins Mykines", server)
    assert (hits[0].title, hits[0].dense_rank) == (PUFFINS, 1)
    server.docstore.close()


def test_top_k_setting_is_the_default_number_of_hits(library) -> None:
    data_dir, _ = library
    question = "glacier lighthouse honeybees sourdough"
    payload = run_json(data_dir, "search", question, env={"ASSISTANT_RETRIEVAL__TOP_K": "2"})
    assert len(payload["hits"]) == 2


def test_serve_on_every_interface_answers_any_host_name_and_counts_clients_by_connection(tmp_path: Path) -> None:
    """`--host 0.0.0.0` is reachable by the machine's name, and an X-Forwarded-For from a client that
    is not a trusted proxy does not make each wrong key look like a new client."""
    port = _free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    environment.update(
        ASSISTANT_DATA_DIR=str(tmp_path / "data"),
        ASSISTANT_EMBEDDING__BACKEND="hashing",
        ASSISTANT_SERVER__WARM_UP="false",
        ASSISTANT_SERVER__API_KEY="s3cret",
        ASSISTANT_SERVER__KEY_FAILURES_PER_MINUTE="3",
    )
    command = [str(BIN / "assistant"), "serve", "--host", "0.0.0.0", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with server_process(command, f"{url}/static/chat.css", tmp_path / "server.log", env=environment):
        by_name = httpx.get(f"{url}/static/chat.css", headers={"Host": f"assistant.example:{port}"})
        assert by_name.status_code == 200
        statuses = [
            httpx.get(f"{url}/v1/models", headers={"X-API-Key": "guess", "X-Forwarded-For": f"10.9.{n}.1"}).status_code
            for n in range(4)
        ]
        assert statuses == [401, 401, 401, 429]
