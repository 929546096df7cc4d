"""Command line: `assistant ingest | search | docs list | docs delete`; `--json` for other tools."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

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


def _offline() -> None:
    """Models load from packages on disk; never reach for a hub, and keep library chatter quiet."""
    for name, value in {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "TRANSFORMERS_VERBOSITY": "error",
        "TOKENIZERS_PARALLELISM": "false",
    }.items():
        os.environ.setdefault(name, value)


def _backends():
    from assistant.backends import Backends

    return Backends(get_settings())


def _emit(as_json: bool, payload: Any, text: str) -> None:
    typer.echo(json.dumps(payload, ensure_ascii=False) if as_json else text)


def _fail(error: AssistantError, as_json: bool) -> NoReturn:
    if as_json:
        typer.echo(json.dumps({"error": {"code": error.code, "message": error.message}}))
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
    from assistant.present import report_json
    from assistant.records import IngestReport

    backends = _backends()
    report = IngestReport()
    sources = pipeline.discover(paths, report)
    try:
        with _ProgressBars() as bars:
            pipeline.ingest(
                sources,
                chunker=backends.chunker,
                embedder=backends.embedder,
                store=backends.store,
                max_bytes=int(backends.settings.ingest.max_file_mb * 1_000_000),
                batch_chunks=backends.settings.ingest.batch_chunks,
                on_progress=bars.update,
                report=report,
            )
    except AssistantError as error:
        _fail(error, as_json)
    _emit(as_json, report_json(report), _report_text(report))
    if report.failed:
        raise typer.Exit(1)


def _report_text(report) -> str:
    lines = [f"failed  {o.source}: {o.reason}" for o in report.failed]
    lines += [f"skipped {o.source}: {o.reason}" for o in report.outcomes if o.status == "skipped"]
    lines.append(
        f"{report.count('added')} added, {report.count('replaced')} replaced, {report.count('unchanged')} unchanged, "
        f"{report.count('skipped')} skipped, {report.count('failed')} failed; {report.chunks} chunks "
        f"in {report.seconds:.1f} s"
    )
    return "\n".join(lines)


class _ProgressBars:
    """tqdm bars on stderr, one per pipeline stage."""

    def __enter__(self) -> _ProgressBars:
        self._bars: dict[str, Any] = {}
        return self

    def update(self, stage: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if stage not in self._bars:
            unit = "file" if stage == "parse" else "chunk"
            self._bars[stage] = tqdm(total=total, desc=stage, unit=unit, file=sys.stderr, leave=True)
        bar = self._bars[stage]
        bar.total = total
        bar.update(done - bar.n)

    def __exit__(self, *_: object) -> None:
        for bar in self._bars.values():
            bar.close()


@app.command()
def search(
    question: Annotated[str | None, typer.Argument(help="The question.")] = None,
    k: Annotated[int | None, typer.Option("-k", "--top-k", min=1, max=100, help="How many passages (default: setting retrieval.top_k).")] = None,
    batch: Annotated[Path | None, typer.Option(help='JSONL of {"id","question"}; one JSON line out per record.')] = None,
    as_json: JsonFlag = False,
) -> None:
    """The passages that answer QUESTION, best first."""
    if (question is None) == (batch is None):
        raise typer.BadParameter("give a QUESTION or --batch FILE, not both")
    backends = _backends()
    k = k or backends.settings.retrieval.top_k
    if batch is not None:
        _search_batch(backends, batch, k)
        return
    started = time.perf_counter()
    try:
        hits = _search(backends, question, k)
    except AssistantError as error:
        _fail(error, as_json)
    from assistant.present import hits_json

    payload = {"question": question, "k": k, "seconds": round(time.perf_counter() - started, 4), "hits": hits_json(hits)}
    _emit(as_json, payload, _hits_text(hits))


def _search(backends, question: str, k: int):
    from assistant import pipeline

    return pipeline.search(
        question, retriever=backends.retriever, k=k, max_chars=backends.settings.retrieval.max_question_chars
    )


def _search_batch(backends, path: Path, k: int) -> None:
    from assistant.present import hits_json

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        _fail(InputError(f"cannot read {path}: {error}"), False)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        record_id: Any = None
        try:
            record = json.loads(line)
            record_id = record.get("id")
            out = {"id": record_id, "hits": hits_json(_search(backends, str(record["question"]), k))}
        except (ValueError, KeyError, AttributeError) as error:
            out = {"id": record_id, "error": {"code": "bad_input", "message": f"line {number}: {error!r}"}}
        except AssistantError as error:
            out = {"id": record_id, "error": {"code": error.code, "message": error.message}}
        typer.echo(json.dumps(out, ensure_ascii=False))


def _hits_text(hits) -> str:
    if not hits:
        return "No passages found."
    blocks = []
    for rank, hit in enumerate(hits, start=1):
        where = f"{hit.source}" + (f", p. {hit.chunk.page}" if hit.chunk.page else "")
        snippet = " ".join(hit.chunk.text.split())
        snippet = snippet if len(snippet) <= 300 else snippet[:297] + "..."
        blocks.append(f"{rank}. {hit.title}  [{hit.chunk.doc_id} | {where}]\n   {snippet}")
    return "\n\n".join(blocks)


@docs_app.command("list")
def docs_list(as_json: JsonFlag = False) -> None:
    """Every stored document."""
    from assistant.present import document_json

    try:
        documents = _backends().store.docstore.list_documents()
    except AssistantError as error:
        _fail(error, as_json)
    lines = [f"{d.doc_id}  {d.chunks:>4} chunks  {d.title}  ({d.source})" for d in documents]
    payload = {"documents": [document_json(d) for d in documents]}
    _emit(as_json, payload, "\n".join(lines) or "No documents.")


@docs_app.command("delete")
def docs_delete(doc_id: Annotated[str, typer.Argument(help="The document id shown by `docs list`.")], as_json: JsonFlag = False) -> None:
    """Remove a document from every index."""
    try:
        _backends().store.delete(doc_id)
    except AssistantError as error:
        _fail(error, as_json)
    _emit(as_json, {"deleted": doc_id}, f"deleted {doc_id}")


def main() -> None:
    _offline()
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
