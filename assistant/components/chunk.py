"""Chunk: split a document into sentence-aligned passages with exact character offsets."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

from assistant.records import Chunk, ParsedDocument


def split_sentences(text: str) -> list[str]:
    """Sentences by blingfire (model inside the wheel, no download), keeping all whitespace."""
    import blingfire

    _, offsets = blingfire.text_to_sentences_and_offsets(text)
    starts = [0] + [start for start, _ in offsets[1:]]
    ends = starts[1:] + [len(text)]
    return [text[start:end] for start, end in zip(starts, ends, strict=True) if end > start]


class Chunker:
    """LlamaIndex's sentence-aware splitter, sized in the embedding model's own tokens.

    >>> Chunker(192, 32, tokenize=str.split).chunk(document)[0].start
    0
    """

    def __init__(self, chunk_size: int, chunk_overlap: int, tokenize: Callable[[str], list]) -> None:
        from llama_index.core.node_parser import SentenceSplitter

        self._splitter = SentenceSplitter(
            chunk_size=chunk_size,
            chunk_overlap=min(chunk_overlap, chunk_size // 2),
            tokenizer=tokenize,
            paragraph_separator="\n\n",
            chunking_tokenizer_fn=split_sentences,
        )

    def chunk(self, document: ParsedDocument) -> list[Chunk]:
        pieces = self._splitter.split_text(document.text)
        spans = locate(document.text, pieces)
        digest = document.content_hash
        return [
            Chunk(
                chunk_id=chunk_id(document.doc_id, digest, start, end),
                doc_id=document.doc_id,
                ordinal=ordinal,
                start=start,
                end=end,
                text=document.text[start:end],
                page=document.page_at(start),
            )
            for ordinal, (start, end) in enumerate(spans)
        ]


def chunk_id(doc_id: str, document_hash: str, start: int, end: int) -> str:
    """Ids derive from content, so re-ingesting the same text yields the same ids.

    The document id is part of it: two records may hold the same text under different ids.
    """
    return hashlib.sha256(f"{doc_id}:{document_hash}:{start}:{end}".encode()).hexdigest()[:20]


def locate(text: str, pieces: list[str]) -> list[tuple[int, int]]:
    """Character spans of each piece in `text`, searched in order (pieces may overlap)."""
    spans: list[tuple[int, int]] = []
    cursor = 0
    for piece in pieces:
        piece = piece.strip()
        if not piece:
            continue
        span = _find(text, piece, cursor) or _find(text, piece, 0)
        if span is None:
            raise ValueError(f"chunk not found in its document: {piece[:60]!r}")
        spans.append(span)
        cursor = span[0] + 1
    return spans


def _find(text: str, piece: str, cursor: int) -> tuple[int, int] | None:
    start = text.find(piece, cursor)
    if start >= 0:
        return start, start + len(piece)
    # The splitter may have rejoined words with other whitespace than the source had.
    pattern = r"\s+".join(re.escape(word) for word in piece.split())
    match = re.compile(pattern).search(text, cursor)
    return (match.start(), match.end()) if match else None


def indexed_text(title: str, doc_id: str, text: str) -> str:
    """What the embedder and BM25 see: the passage, led by its document's title when it has one."""
    return text if title == doc_id else f"{title}\n{text}"
