"""Command line: `assistant ingest | search | docs list | docs delete`; `--json` for other tools."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from assistant import offline
from assistant.errors import AssistantError, InputError
from assistant.settings import get_settings

app = typer.Typer(
    help="Question answering over your documents, with cited quotations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
docs_app = typer.Typer(help="List and delete stored documents.", no_args_is_help=True)
app.add_typer(docs_app, name="docs")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document for other tools.")]


def _backends():
    from assistant.backends import Backends

    return Backends(get_settings())


def _emit(as_json: bool, payload: Any, text: str) -> None:
    typer.echo(json.dumps(payload, ensure_ascii=False) if as_json else text)


def _fail(error: AssistantError, as_json: bool) -> NoReturn:
    from assistant.present import error_json

    if as_json:
        typer.echo(json.dumps(error_json(error)))
    else:
        typer.echo(f"error: {error.message}", err=True)
    raise typer.Exit(2 if isinstance(error, InputError) else 1)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (.txt .md .html .pdf .docx .jsonl).")],
    as_json: JsonFlag = False,
) -> None:
    """Add documents; unchanged ones are skipped, changed ones replace their old version."""
    from assistant import pipeline
    from assistant.present import ProgressBars, report_json

    try:
        with ProgressBars() as bars:
            report = pipeline.ingest_paths(paths, _backends(), on_progress=bars.update)
    except AssistantError as error:
        _fail(error, as_json)
    _emit(as_json, report_json(report), _report_text(report))
    if report.failed:
        raise typer.Exit(1)


def _report_text(report) -> str:
    from assistant.present import report_counts

    lines = [f"{o.status:<7} {o.source}: {o.reason}" for o in report.outcomes if o.status in ("failed", "skipped")]
    counts = ", ".join(f"{count} {status}" for status, count in report_counts(report).items())
    lines.append(f"{counts}; {report.chunks} chunks in {report.seconds:.1f} s")
    return "\n".join(lines)


@app.command()
def search(
    question: Annotated[str | None, typer.Argument(help="The question.")] = None,
    k: Annotated[
        int | None,
        typer.Option("-k", "--top-k", min=1, max=100, help="How many passages (default: setting retrieval.top_k)."),
    ] = None,
    batch: Annotated[
        Path | None, typer.Option(help='JSONL of {"id","question"}; one JSON line out per record.')
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """The passages that answer QUESTION, best first."""
    if (question is None) == (batch is None):
        raise typer.BadParameter("give a QUESTION or --batch FILE, not both")
    backends = _backends()
    if batch is not None:
        _search_batch(backends, batch, k)
        return
    from assistant import pipeline
    from assistant.present import hits_json

    started = time.perf_counter()
    try:
        hits = pipeline.search(question, backends, k)
    except AssistantError as error:
        _fail(error, as_json)
    seconds = round(time.perf_counter() - started, 4)
    _emit(as_json, {"question": question, "seconds": seconds, "hits": hits_json(hits)}, _hits_text(hits))


def _search_batch(backends, path: Path, k: int | None) -> None:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        _fail(InputError(f"cannot read {path}: {error}"), False)
    for number, line in enumerate(lines, start=1):
        if line.strip():
            typer.echo(json.dumps(_batch_answer(line, number, backends, k), ensure_ascii=False))


def _batch_answer(line: str, number: int, backends, k: int | None) -> dict[str, Any]:
    from assistant import pipeline
    from assistant.present import error_json, hits_json

    try:
        record = json.loads(line)
    except ValueError as error:
        return {"id": None, **error_json(InputError(f"line {number}: not valid JSON ({error})"))}
    record_id = record.get("id") if isinstance(record, dict) else None
    question = record.get("question") if isinstance(record, dict) else None
    if not isinstance(question, str):
        return {"id": record_id, **error_json(InputError(f'line {number}: "question" must be a string'))}
    try:
        return {"id": record_id, "hits": hits_json(pipeline.search(question, backends, k))}
    except AssistantError as error:
        return {"id": record_id, **error_json(error)}


def _hits_text(hits) -> str:
    if not hits:
        return "No passages found."
    blocks = []
    for rank, hit in enumerate(hits, start=1):
        where = f"{hit.source}" + (f", p. {hit.chunk.page}" if hit.chunk.page else "")
        snippet = " ".join(hit.chunk.text.split())
        snippet = snippet if len(snippet) <= 300 else snippet[:297] + "..."
        blocks.append(f"{rank}. {hit.title or hit.chunk.doc_id}  [{hit.chunk.doc_id} | {where}]\n   {snippet}")
    return "\n\n".join(blocks)


@docs_app.command("list")
def docs_list(as_json: JsonFlag = False) -> None:
    """Every stored document."""
    from assistant.present import document_json

    try:
        documents = _backends().docstore.list_documents()
    except AssistantError as error:
        _fail(error, as_json)
    lines = [f"{d.doc_id}  {d.chunks:>4} chunks  {d.title or d.doc_id}  ({d.source})" for d in documents]
    payload = {"documents": [document_json(d) for d in documents]}
    _emit(as_json, payload, "\n".join(lines) or "No documents.")


@docs_app.command("delete")
def docs_delete(
    doc_id: Annotated[str, typer.Argument(help="The document id shown by `docs list`.")], as_json: JsonFlag = False
) -> None:
    """Remove a document from every index."""
    try:
        _backends().store.delete(doc_id)
    except AssistantError as error:
        _fail(error, as_json)
    _emit(as_json, {"deleted": doc_id}, f"deleted {doc_id}")


def main() -> None:
    offline()
    from pydantic import ValidationError

    try:
        app()
    except AssistantError as error:  # raised outside a command's own handling
        typer.echo(f"error: {error.message}", err=True)
        sys.exit(1)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        typer.echo(f"error: invalid setting ({problems}); see the ASSISTANT_* variables in the README", err=True)
        sys.exit(2)
