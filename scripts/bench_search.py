"""Search latency on the 5,504-passage evaluation corpus: p50/p95/max over the qa.jsonl questions.

    python scripts/bench_search.py [--k 10]

Uses the store that scripts/eval_retrieval.py fills (bench-data/eval), ingesting first if needed.
Times the whole search (question embedding, Chroma query, BM25 query, fusion, docstore lookup).
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from evaldata import eval_file, ingest_corpus, read_jsonl, scratch_settings

from assistant import offline
from assistant.backends import Backends
from assistant.pipeline import search


def main() -> None:
    offline()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()
    backends = Backends(scratch_settings("eval"))
    ingest_corpus(backends)
    questions = [q["question"] for q in read_jsonl(eval_file("qa.jsonl"))]
    for question in questions[:5]:  # warm-up: model, BM25 load, caches
        search(question, backends, args.k)
    timings = []
    for question in questions:
        started = time.perf_counter()
        search(question, backends, args.k)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    print(
        json.dumps(
            {
                "data": "shared/eval corpus.jsonl (5,504 passages), qa.jsonl questions",
                "queries": len(timings),
                "k": args.k,
                "p50_ms": round(statistics.median(timings), 1),
                "p95_ms": round(timings[int(0.95 * (len(timings) - 1))], 1),
                "max_ms": round(timings[-1], 1),
                "chunks_in_store": backends.store.vectors.count(),
            }
        )
    )


if __name__ == "__main__":
    main()
