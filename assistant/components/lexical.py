"""Lexical index: BM25 (bm25s, English stemming) over the stored chunks, rebuilt when they change."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

TOKEN_PATTERN = r"(?u)\b\w+\b"


class BM25Index:
    """A BM25 index over (chunk_id, text) pairs, saved to and loaded from a folder.

    >>> index = BM25Index.build([("c1", "Tajik migrants in Russia"), ("c2", "Charles Hermite")])
    >>> index.query("migrants", 1)
    [('c1', 0.55)]
    """

    def __init__(self, retriever, ids: list[str]) -> None:
        self._retriever = retriever
        self._ids = ids

    @classmethod
    def build(cls, items: Iterable[tuple[str, str]]) -> BM25Index:
        import bm25s

        pairs = list(items)
        retriever = bm25s.BM25()
        if not pairs:
            return cls(retriever, [])
        tokens = bm25s.tokenize(
            [text for _, text in pairs],
            token_pattern=TOKEN_PATTERN,
            stopwords="en",
            stemmer=_stemmer(),
            return_ids=True,
            show_progress=False,
        )
        if not tokens.vocab:  # nothing but stopwords: bm25s cannot index it, and nothing could match
            return cls(retriever, [])
        retriever.index(tokens, show_progress=False)
        return cls(retriever, [chunk_id for chunk_id, _ in pairs])

    def save(self, folder: Path) -> None:
        """Write into a private scratch folder, then rename it into place; if another process got
        there first, theirs stands (both indexed the same chunks)."""
        folder.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".building-"))
        try:
            if self._ids:
                self._retriever.save(str(scratch), show_progress=False)
            (scratch / "ids.json").write_text(json.dumps(self._ids))
            os.rename(scratch, folder)
        except OSError:
            shutil.rmtree(scratch, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path) -> BM25Index | None:
        """The index saved in `folder`, or None if there is none (or it vanished while being read)."""
        import bm25s

        try:
            ids = json.loads((folder / "ids.json").read_text())
            retriever = bm25s.BM25.load(str(folder), show_progress=False, verbosity=0) if ids else bm25s.BM25()
        except (OSError, ValueError):
            return None
        return cls(retriever, ids)

    def query(self, text: str, n: int) -> list[tuple[str, float]]:
        import bm25s

        if not self._ids:
            return []
        tokens = bm25s.tokenize(
            [text],
            token_pattern=TOKEN_PATTERN,
            stopwords="en",
            stemmer=_stemmer(),
            return_ids=False,
            show_progress=False,
        )
        vocabulary = self._retriever.vocab_dict
        known = [[token for token in tokens[0] if token in vocabulary]]
        if not known[0]:
            return []
        documents, scores = self._retriever.retrieve(known, k=min(n, len(self._ids)), show_progress=False)
        return [(self._ids[int(i)], float(s)) for i, s in zip(documents[0], scores[0], strict=True) if s > 0]


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")
