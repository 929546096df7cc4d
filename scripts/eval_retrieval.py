"""Retrieval quality on ../shared/eval: recall@1/5/10 and all-gold@10, hybrid vs a plain LlamaIndex baseline.

    python scripts/eval_retrieval.py [--no-baseline] [--limit N]

Ingests corpus.jsonl into bench-data/eval (kept between runs), asks every question of qa.jsonl
that has gold passages, and prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys

from evaldata import eval_file, ingest_corpus, read_jsonl, scratch_settings

from assistant import offline
from assistant.backends import Backends
from assistant.pipeline import search

KS = (1, 5, 10)


def score(ranked: list[list[str]], questions: list[dict]) -> dict:
    """recall@k: any gold passage in the top k; all-gold@10 over multi-hop (HotpotQA) questions."""
    result = {}
    for k in KS:
        found = [bool(set(ids[:k]) & set(q["gold_passages"])) for ids, q in zip(ranked, questions, strict=True)]
        result[f"recall@{k}"] = round(sum(found) / len(found), 4)
    multi = [(ids, q) for ids, q in zip(ranked, questions, strict=True) if len(q["gold_passages"]) > 1]
    if multi:
        result["all_gold@10"] = round(sum(set(q["gold_passages"]) <= set(ids[:10]) for ids, q in multi) / len(multi), 4)
    by_dataset: dict[str, list[bool]] = {}
    for ids, q in zip(ranked, questions, strict=True):
        by_dataset.setdefault(q["dataset"], []).append(bool(set(ids[:5]) & set(q["gold_passages"])))
    result["recall@5_by_dataset"] = {name: round(sum(v) / len(v), 4) for name, v in by_dataset.items()}
    return result


def hybrid_rankings(backends: Backends, questions: list[dict]) -> list[list[str]]:
    return [_unique([hit.chunk.doc_id for hit in search(q["question"], backends, 10)]) for q in questions]


def baseline_rankings(backends: Backends, questions: list[dict]) -> list[list[str]]:
    """A plain dense LlamaIndex VectorStoreIndex: same Chroma client, same model, LlamaIndex defaults."""
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.core.embeddings import BaseEmbedding
    from llama_index.vector_stores.chroma import ChromaVectorStore

    embedder = backends.embedder

    class SameModel(BaseEmbedding):
        def _get_query_embedding(self, query: str) -> list[float]:
            return embedder.embed_query(query).tolist()

        def _get_text_embedding(self, text: str) -> list[float]:
            return embedder.embed_documents([text])[0].tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return embedder.embed_documents(texts).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

    client = backends.store.vectors._client
    collection = client.get_or_create_collection("llamaindex-baseline", metadata={"hnsw:space": "cosine"})
    vector_store = ChromaVectorStore(chroma_collection=collection)
    model = SameModel(embed_batch_size=64)
    if collection.count() == 0:
        records = read_jsonl(eval_file("corpus.jsonl"))
        documents = [Document(text=r["text"], id_=r["id"], metadata={"title": r["title"]}) for r in records]
        storage = StorageContext.from_defaults(vector_store=vector_store)
        index = VectorStoreIndex.from_documents(
            documents, storage_context=storage, embed_model=model, show_progress=True
        )
    else:
        index = VectorStoreIndex.from_vector_store(vector_store, embed_model=model)
    retriever = index.as_retriever(similarity_top_k=10)
    return [_unique([n.node.ref_doc_id for n in retriever.retrieve(q["question"])]) for q in questions]


def _unique(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def main() -> None:
    offline()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-baseline", action="store_true", help="skip the LlamaIndex baseline")
    parser.add_argument("--limit", type=int, default=0, help="only the first N questions")
    args = parser.parse_args()
    questions = [q for q in read_jsonl(eval_file("qa.jsonl")) if q["gold_passages"]]
    questions = questions[: args.limit] if args.limit else questions
    backends = Backends(scratch_settings("eval"))
    report = ingest_corpus(backends)
    ranked = hybrid_rankings(backends, questions)
    line = {
        "data": "shared/eval corpus.jsonl + qa.jsonl",
        "questions": len(questions),
        "passages_added": report.count("added"),
        "hybrid": score(ranked, questions),
    }
    if not args.no_baseline:
        line["llamaindex_dense_baseline"] = score(baseline_rankings(backends, questions), questions)
    print(json.dumps(line))


if __name__ == "__main__":
    sys.exit(main())
