"""Ingestion speed beside the raw encoder's, on the same chunks in the same run.

    python scripts/bench_ingest.py [--passages 1500]

Takes the first N passages of ../shared/eval/corpus.jsonl, times the full ingest (parse, chunk,
embed, store in Chroma and SQLite, build BM25) into a fresh store, and times the bare
sentence-transformers encoder on exactly the texts that ingest embedded (before and after, averaged).
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from evaldata import eval_file

from assistant import offline
from assistant.backends import Backends
from assistant.components.chunk import indexed_text
from assistant.components.parse import parse
from assistant.pipeline import ingest
from assistant.records import SourceFile
from assistant.settings import Settings


def raw_encoder_rate(backends: Backends, texts: list[str]) -> float:
    model = backends.embedder._model
    started = time.perf_counter()
    model.encode(texts, batch_size=backends.settings.embedding.batch_size, normalize_embeddings=True)
    return len(texts) / (time.perf_counter() - started)


def main() -> None:
    offline()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=1500)
    args = parser.parse_args()
    lines = eval_file("corpus.jsonl").read_text(encoding="utf-8").splitlines()[: args.passages]
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "passages.jsonl"
        source.write_text("\n".join(lines) + "\n", encoding="utf-8")
        backends = Backends(Settings(data_dir=Path(scratch) / "store"))
        documents = parse(SourceFile.from_path(source), max_bytes=backends.settings.ingest.max_file_bytes).documents
        texts = [indexed_text(d.title, c.text) for d in documents for c in backends.chunker.chunk(d)]
        raw_encoder_rate(backends, texts[:64])  # warm-up
        raw_before = raw_encoder_rate(backends, texts)
        started = time.perf_counter()
        report = ingest([SourceFile.from_path(source)], backends)  # includes the BM25 build
        seconds = time.perf_counter() - started
        raw_after = raw_encoder_rate(backends, texts)
    raw = (raw_before + raw_after) / 2
    rate = report.chunks / seconds
    print(
        json.dumps(
            {
                "data": f"first {len(lines)} passages of shared/eval/corpus.jsonl",
                "chunks": report.chunks,
                "raw_encoder_chunks_per_s": round(raw, 2),
                "raw_encoder_runs": [round(raw_before, 2), round(raw_after, 2)],
                "ingest_chunks_per_s": round(rate, 2),
                "ingest_vs_raw": round(rate / raw, 3),
                "ingest_seconds": round(seconds, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
