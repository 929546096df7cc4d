"""Search latency on the 5,504-passage evaluation corpus: p50/p95/max over the qa.jsonl questions.

    python scripts/bench_search.py [--k 10]

Uses the store that scripts/eval_retrieval.py fills (bench-data/eval), ingesting first if needed.
Times the whole search (question embedding, Chroma query, BM25 query, fusion, docstore lookup).
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from evaldata import eval_file, ingest_corpus, read_jsonl, scratch_settings  # noqa: E402

from assistant.backends import Backends  # noqa: E402
from assistant.pipeline import search  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()
    backends = Backends(scratch_settings("eval"))
    ingest_corpus(backends)
    questions = [q["question"] for q in read_jsonl(eval_file("qa.jsonl"))]
    limit = backends.settings.retrieval.max_question_chars
    for question in questions[:5]:  # warm-up: model, BM25 load, caches
        search(question, retriever=backends.retriever, k=args.k, max_chars=limit)
    timings = []
    for question in questions:
        started = time.perf_counter()
        search(question, retriever=backends.retriever, k=args.k, max_chars=limit)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    print(json.dumps({
        "data": "shared/eval corpus.jsonl (5,504 passages), qa.jsonl questions",
        "queries": len(timings),
        "k": args.k,
        "p50_ms": round(statistics.median(timings), 1),
        "p95_ms": round(timings[int(0.95 * (len(timings) - 1))], 1),
        "max_ms": round(timings[-1], 1),
        "chunks_in_store": backends.store.vectors.count(),
    }))


if __name__ == "__main__":
    main()
