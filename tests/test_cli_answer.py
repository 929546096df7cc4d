"""The real `assistant ask` and `assistant verify` in a subprocess: extractive generator, overlap judge."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import ARTICLE, BIN

from assistant.components.generate import NOT_FOUND

NO_MODELS = {
    "ASSISTANT_EMBEDDING__BACKEND": "hashing",
    "ASSISTANT_GENERATION__GENERATOR": "extractive",
    "ASSISTANT_VERIFICATION__JUDGE": "overlap",
}
ARTICLE_TEXT = ARTICLE.read_text(encoding="utf-8")
QUESTION = "How many Tajik migrants numbered in Russia?"  # in the article's words: the hashing embedder is lexical


def run(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    environment.update(ASSISTANT_DATA_DIR=str(data_dir), **NO_MODELS, **(env or {}))
    command = [str(BIN / "assistant"), *args]
    return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120)


def run_json(data_dir: Path, *args: str, **kwargs) -> dict:
    result = run(data_dir, *args, "--json", **kwargs)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder holding the sample article."""
    folder = tmp_path_factory.mktemp("cli-answer") / "data"
    assert run_json(folder, "ingest", str(ARTICLE))["added"] == 1
    return folder


def assert_quotes_are_verbatim(citations: list[dict]) -> None:
    assert citations
    for citation in citations:
        assert ARTICLE_TEXT[citation["start"] : citation["end"]] == citation["quote"]


def test_ask_json_answers_with_verified_quotes(data_dir: Path) -> None:
    answer = run_json(data_dir, "ask", QUESTION)
    assert (answer["question"], answer["answered"], answer["generator"]) == (
        QUESTION, True, {"name": "extractive", "model": "none"},
    )  # fmt: skip
    assert answer["counts"] == {"supported": len(answer["claims"]), "unsupported": 0, "uncited": 0}
    assert [source["key"] for source in answer["sources"]] == [f"S{n}" for n in range(1, len(answer["sources"]) + 1)]
    for claim in answer["claims"]:
        assert (claim["verdict"], claim["reasons"], claim["stripped_keys"]) == ("supported", [], [])
        assert_quotes_are_verbatim(claim["citations"])
    quotes = " ".join(c["quote"] for claim in answer["claims"] for c in claim["citations"])
    assert "350,236" in quotes  # the counts side by side, with real embeddings: test_llm_end_to_end.py
    assert set(answer["timings"]) == {"rewrite", "retrieval", "first_token", "generation", "verification", "total"}


def test_ask_text_streams_the_draft_then_checked_sentences(data_dir: Path) -> None:
    result = run(data_dir, "ask", QUESTION)
    assert result.returncode == 0, result.stderr
    draft, _, report = result.stdout.partition("\n\n")
    assert draft.startswith("\"The Hegemon's 'K-Device': Tajiks in the crosshairs\" states: ")
    assert "✓ supported" in report and '[S1] "Registered Tajiks living in Russia numbered 350,236."' in report
    assert report.rstrip().splitlines()[-1].startswith("extractive (none): retrieval ")


def test_ask_off_topic_is_not_found(data_dir: Path) -> None:
    answer = run_json(data_dir, "ask", "Sourdough starter?", env={"ASSISTANT_GENERATION__MIN_RELEVANCE": "0.99"})
    assert (answer["answer"], answer["answered"], answer["claims"], answer["sources"]) == (NOT_FOUND, False, [], [])


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        pytest.param(["ask", ""], "the question is empty", id="ask-empty"),
        pytest.param(["verify", "  "], "the statement is empty", id="verify-blank"),
        pytest.param(["verify", "--batch", "no-such.jsonl"], "cannot read", id="verify-missing-batch"),
    ],
)
def test_user_errors_are_one_line(data_dir: Path, args: list[str], fragment: str) -> None:
    result = run(data_dir, *args)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0]


def test_ask_json_error_is_json(data_dir: Path) -> None:
    result = run(data_dir, "ask", "", "--json")
    assert result.returncode == 2 and json.loads(result.stdout)["error"]["code"] == "bad_input"


@pytest.mark.parametrize(
    ("args", "verdict", "reason"),
    [
        pytest.param(["Around 200 Tajiks fought in Syria."], "supported", None, id="corpus-supported"),
        pytest.param(["Around 900 Tajiks fought in Syria."], "unsupported", "number_not_in_source", id="corpus-number"),
        pytest.param(
            ["Prices rose in 2023.", "--evidence", "Prices rose sharply in 2023."], "supported", None, id="evidence"
        ),
    ],
)
def test_verify_json(data_dir: Path, args: list[str], verdict: str, reason: str | None) -> None:
    result = run_json(data_dir, "verify", *args)
    assert (result["id"], result["claim"], result["verdict"], result["reason"]) == (None, args[0], verdict, reason)
    if "--evidence" not in args:
        assert_quotes_are_verbatim(result["citations"])


BATCH = [
    # (line, id, verdict or error code)
    ('{"id": "a", "claim": "Around 200 Tajiks fought in Syria."}', "a", "supported"),
    ('{"id": 2, "claim": "Prices rose in 2022.", "evidence": "Prices rose in 2023."}', 2, "unsupported"),
    ('{"id": "c", "claim": "Prices rose in 2023.", "evidence": "Prices rose in 2023."}', "c", "supported"),
    ("{not json", None, "bad_input"),
    ('["claim", "list"]', None, "bad_input"),
    ('{"id": "f"}', "f", "bad_input"),
    ('{"id": "g", "claim": "x y z", "evidence": 5}', "g", "bad_input"),
    ('{"id": "h", "claim": "   "}', "h", "bad_input"),
    ('{"id": "i", "claim": "Prices\u2028rose in 2023.", "evidence": "Prices rose in 2023."}', "i", "supported"),
]


def test_verify_batch_gives_one_line_per_record_and_errors_as_objects(data_dir: Path, tmp_path: Path) -> None:
    batch = tmp_path / "claims.jsonl"
    batch.write_text("\n".join(line for line, _, _ in BATCH[:3]) + "\n\n" + "\n".join(line for line, _, _ in BATCH[3:]))
    result = run(data_dir, "verify", "--batch", str(batch))
    assert result.returncode == 1 and result.stderr.strip() == "5 of 9 records failed", result.stderr
    lines = [json.loads(line) for line in result.stdout.split("\n") if line]  # one holds a raw U+2028
    assert [line["id"] for line in lines] == [record_id for _, record_id, _ in BATCH]
    for line, (_, _, expected) in zip(lines, BATCH):
        assert line.get("verdict", line.get("error", {}).get("code")) == expected, line
        assert ("verdict" in line) != ("error" in line)
    assert lines[1]["reason"] == "number_not_in_source" and lines[2]["reason"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["verify"], "STATEMENT or --batch", id="neither"),
        pytest.param(["verify", "x", "--batch", "f.jsonl"], "STATEMENT or --batch", id="both"),
        pytest.param(
            ["verify", "--batch", "f.jsonl", "--evidence", "e"], "each record has its own", id="batch-evidence"
        ),
    ],
)
def test_verify_needs_a_statement_or_a_batch(data_dir: Path, args: list[str], message: str) -> None:
    result = run(data_dir, *args)
    assert result.returncode == 2 and "Traceback" not in result.stderr and message in result.stderr
