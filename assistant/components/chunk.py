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


_WHITESPACE = re.compile(r"\s*")


class Chunker:
    """LlamaIndex's sentence-aware splitter, sized in the embedding model's own tokens.

    >>> Chunker(192, 32, tokenize=str.split).chunk(document)[0].start
    0
    """

    def __init__(self, chunk_size: int, chunk_overlap: int, tokenize: Callable[[str], list]) -> None:
        from llama_index.core.node_parser import SentenceSplitter

        self._tokenize = tokenize
        self._splitter = SentenceSplitter(
            chunk_size=chunk_size,
            chunk_overlap=chunk_overlap,
            tokenizer=tokenize,
            paragraph_separator="\n\n",
            chunking_tokenizer_fn=split_sentences,
        )

    def chunk(self, document: ParsedDocument) -> list[Chunk]:
        """The document's passages, each small enough that with the title in front (`indexed_text`)
        it still fits the chunk size, so the embedder reads it whole. A title longer than a quarter
        of the chunk size is given only that quarter (its tail is what gets cut)."""
        size = self._splitter.chunk_size
        title = len(self._tokenize(indexed_text(document.title, ""))) if document.title else 0
        pieces = self._splitter._split_text(document.text, chunk_size=size - min(title, size // 4))
        spans = locate(document.text, pieces)
        return [
            Chunk(
                chunk_id=chunk_id(document.doc_id, document.version, start, end),
                doc_id=document.doc_id,
                ordinal=ordinal,
                start=start,
                end=end,
                text=document.text[start:end],
                page=document.page_at(start),
            )
            for ordinal, (start, end) in enumerate(spans)
        ]


def chunk_id(doc_id: str, version: str, start: int, end: int) -> str:
    """Ids derive from content, so re-ingesting the same document yields the same ids.

    The document id is part of it (two records may hold the same text under different ids), and
    so is the version (the old and new versions' chunks coexist until the new one commits).
    """
    return hashlib.sha256(f"{doc_id}:{version}:{start}:{end}".encode()).hexdigest()[:20]


def locate(text: str, pieces: list[str]) -> list[tuple[int, int]]:
    """Character spans of each piece in `text`, in order, leaving no text uncovered.

    Pieces overlap and text may repeat, so a piece can match in several places. A piece must
    continue the previous one: start after its start, no later than the whitespace after its end,
    and reach past its end. Candidates are tried with the least overlap first, backtracking
    (with memory of dead ends) where repeated text led the choice astray.
    """
    pieces = [piece.strip() for piece in pieces if piece.strip()]
    chosen: list[tuple[int, int]] = []
    options: list[list[tuple[int, int]]] = []
    dead: set[tuple[int, int]] = set()
    while len(chosen) < len(pieces):
        i = len(chosen)
        if len(options) == i:
            previous = chosen[-1] if chosen else (-1, 0)
            options.append([s for s in _candidates(text, pieces[i], previous) if (i, s[0]) not in dead])
        if options[i]:
            chosen.append(options[i].pop(0))
            continue
        options.pop()
        if not chosen:
            raise ValueError(f"chunk not found in its document: {pieces[i][:60]!r}")
        dead.add((i - 1, chosen.pop()[0]))
    return chosen


def _candidates(text: str, piece: str, previous: tuple[int, int]) -> list[tuple[int, int]]:
    latest_start = _WHITESPACE.match(text, previous[1]).end()
    found = _occurrences(text, piece, previous[0] + 1, latest_start)
    return sorted((span for span in found if span[1] > previous[1]), reverse=True)


def _occurrences(text: str, piece: str, first: int, last: int) -> list[tuple[int, int]]:
    spans = []
    start = text.find(piece, first, last + len(piece))
    while start >= 0:
        spans.append((start, start + len(piece)))
        start = text.find(piece, start + 1, last + len(piece))
    if spans:
        return spans
    # The splitter may have rejoined words with other whitespace than the source had.
    pattern = re.compile(r"\s+".join(re.escape(word) for word in piece.split()))
    match = pattern.search(text, first)
    while match and match.start() <= last:
        spans.append((match.start(), match.end()))
        match = pattern.search(text, match.start() + 1)
    return spans


def indexed_text(title: str, text: str) -> str:
    """What the embedder and BM25 see: the passage, led by its document's title unless it opens with it."""
    return f"{title}\n{text}" if title and not text.startswith(title) else text
