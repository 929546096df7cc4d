"""Command line: `assistant ingest | search | ask | verify | serve | docs list | docs delete`; `--json` for tools."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
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
        _fail(InputError("give a QUESTION or --batch FILE (one of the two)"), as_json)
    backends = _backends()
    if batch is not None:
        _each_record(batch, lambda record, number: _search_record(record, number, backends, k), as_json)
    from assistant import pipeline
    from assistant.present import hits_json

    started = time.perf_counter()
    try:
        hits = pipeline.search(question, backends, k)
    except AssistantError as error:
        _fail(error, as_json)
    seconds = round(time.perf_counter() - started, 4)
    _emit(as_json, {"question": question, "seconds": seconds, "hits": hits_json(hits)}, _hits_text(hits))


def _each_record(path: Path, handle: Callable[[dict[str, Any], int], dict[str, Any]], as_json: bool) -> NoReturn:
    """One JSON line out per JSONL record in, with the record's "id"; a bad line or a failed record
    gives an error line and the batch goes on, and then exits 1 (as `ingest` does for a failed file)."""
    from assistant.present import error_json

    lines = _jsonl_lines(path, as_json)
    failed = 0
    for number, line in lines:
        record: dict[str, Any] = {}
        try:
            record = _parsed(line, number)
            result = {"id": record.get("id"), **handle(record, number)}
        except AssistantError as failure:
            result = {"id": record.get("id"), **error_json(failure)}
            failed += 1
        typer.echo(json.dumps(result, ensure_ascii=False))
    if failed:
        typer.echo(f"{failed} of {len(lines)} records failed", err=True)
    raise typer.Exit(1 if failed else 0)


def _parsed(line: str, number: int) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError as error:
        raise InputError(f"line {number}: not valid JSON ({error})") from error
    if not isinstance(record, dict):
        raise InputError(f"line {number}: not a JSON object")
    return record


def _search_record(record: dict[str, Any], number: int, backends, k: int | None) -> dict[str, Any]:
    from assistant import pipeline
    from assistant.present import hits_json

    question = record.get("question")
    if not isinstance(question, str):
        raise InputError(f'line {number}: "question" must be a string')
    return {"hits": hits_json(pipeline.search(question, backends, k))}


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


GeneratorOption = Annotated[
    str | None,
    typer.Option("--generator", "-g", help="local | openai | extractive (default: setting generation.generator)."),
]


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    generator: GeneratorOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Answer QUESTION from the documents: cited sentences, each checked against its quotes."""
    from assistant import pipeline
    from assistant.present import answer_json

    def stream(kind: str, payload: object) -> None:
        if kind == "token" and not as_json:
            typer.echo(payload, nl=False)

    try:
        answer = pipeline.ask(question, _backends(), generator=generator, on_event=stream)
    except AssistantError as error:
        _fail(error, as_json)
    if as_json:
        _emit(True, answer_json(answer), "")
    else:
        typer.echo("\n\n" + _answer_text(answer))


_MARKS = {"supported": "✓", "unsupported": "✗", "uncited": "?"}


def _answer_text(answer) -> str:
    """The checked sentences with their quotes, then notes and timings."""
    lines = [] if answer.draft is None else [f"{answer.text} Not one sentence of the draft is supported by them:"]
    for claim in answer.claims:
        found = " (uncited; sources found by the checker)" if claim.cited_by == "checker" else ""
        lines.append(f"{_MARKS[claim.verdict]} {claim.verdict:<11} {claim.text}{found}")
        lines.extend(f"    - {reason.code}: {reason.detail}" for reason in claim.reasons)
        for citation in claim.citations:
            page = f", p. {citation.page}" if citation.page else ""
            lines.append(
                f'    [{citation.key}] "{_short(citation.quote)}" ({citation.title}{page}, '
                f"chars {citation.start}-{citation.end})"
            )
    if answer.stripped_keys:
        lines.append(f"Citations to sources that do not exist were removed: {', '.join(answer.stripped_keys)}")
    lines.extend(f"note: {note}" for note in answer.notes)
    t = answer.timings
    first = "-" if t.first_token is None else f"{t.first_token:.1f} s"
    lines.append(
        f"{answer.generator} ({answer.model}): retrieval {t.retrieval:.2f} s, first token {first}, "
        f"verification {t.verification:.1f} s, total {t.total:.1f} s"
    )
    return "\n".join(lines)


def _short(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@app.command()
def verify(
    statement: Annotated[str | None, typer.Argument(help="The statement to check.")] = None,
    evidence: Annotated[str | None, typer.Option(help="Check against this text instead of the corpus.")] = None,
    batch: Annotated[
        Path | None,
        typer.Option(help='JSONL of {"id","claim","evidence"?}; one JSON line out per record, same "id".'),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Is STATEMENT supported by the documents (or by --evidence)? A verdict, reasons and quotes."""
    if (statement is None) == (batch is None):
        _fail(InputError("give a STATEMENT or --batch FILE (one of the two)"), as_json)
    if batch is not None and evidence is not None:
        _fail(
            InputError('--evidence is for one STATEMENT; in a --batch file each record has its own "evidence"'), as_json
        )
    backends = _backends()
    if batch is not None:
        _each_record(batch, lambda record, number: _verify_record(record, number, backends), as_json)
    from assistant import pipeline
    from assistant.present import verify_json

    try:
        claim = pipeline.verify(statement, backends, evidence=evidence)
    except AssistantError as error:
        _fail(error, as_json)
    result = verify_json(claim)
    _emit(as_json, result, _verify_text(claim, result))


def _verify_text(claim, result: dict[str, Any]) -> str:
    lines = [f"{_MARKS[result['verdict']]} {result['verdict']}"]  # verify_json's verdict: supported or unsupported
    lines.extend(f"  - {reason.code}: {reason.detail}" for reason in claim.reasons)
    lines.extend(f'  [{c.key}] "{_short(c.quote)}" ({c.title})' for c in claim.citations)
    return "\n".join(lines)


def _jsonl_lines(path: Path, as_json: bool) -> list[tuple[int, str]]:
    """The file's non-blank lines, numbered. Split at newlines only: JSON strings may hold U+2028 and
    the other characters `str.splitlines` also breaks at."""
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except (OSError, UnicodeDecodeError) as error:
        _fail(InputError(f"cannot read {path}: {error}"), as_json)
    return [(number, line) for number, line in enumerate(lines, start=1) if line.strip()]


def _verify_record(record: dict[str, Any], number: int, backends) -> dict[str, Any]:
    from assistant import pipeline
    from assistant.present import verify_json

    claim, evidence = record.get("claim"), record.get("evidence")
    if not isinstance(claim, str) or not (evidence is None or isinstance(evidence, str)):
        raise InputError(f'line {number}: "claim" must be a string, and "evidence" a string when given')
    return verify_json(pipeline.verify(claim, backends, evidence=evidence), record.get("id"))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface (default: setting server.host, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: setting server.port, 8000).")] = None,
) -> None:
    """The web chat and the HTTP API, at http://HOST:PORT (API documentation at /docs)."""
    import uvicorn

    from assistant.server.app import create_app

    settings = get_settings()
    server = settings.server.model_copy(
        update={"host": host or settings.server.host, "port": port or settings.server.port}
    )
    settings = settings.model_copy(update={"server": server})  # the allowed host names follow the interface
    typer.echo(
        f"Chat: http://{server.host}:{server.port}/   API documentation: http://{server.host}:{server.port}/docs",
        err=True,
    )
    uvicorn.run(
        create_app(settings),
        host=server.host,
        port=server.port,
        log_level="info",
        # A client's address is the connection's, unless it comes through a proxy named here: an
        # X-Forwarded-For from anyone else is ignored (it would dodge the wrong-key limit).
        proxy_headers=bool(server.trusted_proxies),
        forwarded_allow_ips=server.trusted_proxies or None,
    )


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
