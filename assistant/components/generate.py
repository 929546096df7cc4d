"""Generate: a draft answer citing source keys, from a chat model or extracted from the sources."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import numpy as np

from assistant.components.cite import MARKER, normalise, sentence_spans
from assistant.components.embed import Embedder
from assistant.components.llm import ChatModel
from assistant.components.prompts import Prompts
from assistant.records import Hit, Source

# What every generator says when the sources do not answer; the answer prompt asks for it verbatim.
NOT_FOUND = "The documents do not answer this question."
_INNER_QUOTES = str.maketrans(dict.fromkeys('"“”„‟«»', "'"))  # inside a quotation, so it is not cut short
CHARS_PER_TOKEN = 4  # a budget estimate for English prose; the tokenizer is not needed for it


class Generator(Protocol):
    """Writes a draft answer to `question` from `sources`, citing them by key, piece by piece."""

    name: str
    model: str

    def draft(self, question: str, sources: list[Source]) -> Iterator[str]: ...


def number_sources(hits: list[Hit], budget_tokens: int) -> list[Source]:
    """Key the hits S1, S2, ... in rank order, as many as the prompt budget holds.

    >>> [s.key for s in number_sources(hits, 900)]
    ['S1', 'S2', 'S3', 'S4']
    """
    sources, used = [], 0
    for hit in hits:
        used += len(hit.chunk.text) // CHARS_PER_TOKEN
        if sources and used > budget_tokens:
            break
        sources.append(Source(f"S{len(sources) + 1}", hit))
    return sources


def is_not_found(draft: str) -> bool:
    """Whether a draft is the not-found sentence alone (markers aside), however the model spaced it.
    A draft that says it and then answers anyway is verified like any other."""
    bare = normalise(MARKER.sub("", draft)).lower().strip(" .")
    return bare == NOT_FOUND.lower().strip(" .")


class ChatGenerator:
    """Renders the answer prompts and streams a chat model's reply."""

    def __init__(self, chat: ChatModel, prompts: Prompts, max_tokens: int) -> None:
        self.chat = chat
        self.prompts = prompts
        self.max_tokens = max_tokens
        self.name = chat.name
        self.model = chat.model

    def messages(self, question: str, sources: list[Source]) -> list[dict[str, str]]:
        shown = [
            {
                "key": s.key,
                "title": s.hit.title or s.hit.chunk.doc_id,
                "page": s.hit.chunk.page,
                "text": s.hit.chunk.text,
            }
            for s in sources
        ]
        return [
            {"role": "system", "content": self.prompts.render("answer_system", not_found=NOT_FOUND)},
            {"role": "user", "content": self.prompts.render("answer_user", sources=shown, question=question)},
        ]

    def draft(self, question: str, sources: list[Source]) -> Iterator[str]:
        yield from self.chat.stream(self.messages(question, sources), self.max_tokens)


class ExtractiveGenerator:
    """No model: quotes the source sentences closest in meaning to the question, each attributed
    to its document. Instant, and every sentence it writes is a verbatim quotation."""

    name = "extractive"
    model = "none"

    def __init__(self, embedder: Embedder, sentences: int = 3, min_similarity: float = 0.3) -> None:
        self.embedder = embedder
        self.sentences = sentences
        self.min_similarity = min_similarity

    def draft(self, question: str, sources: list[Source]) -> Iterator[str]:
        picked = self.pick(question, sources)
        if not picked:
            yield NOT_FOUND
            return
        for index, (source, sentence) in enumerate(picked):
            title = (source.hit.title or source.hit.chunk.doc_id).translate(_INNER_QUOTES)
            inner = sentence.translate(_INNER_QUOTES)  # its own "..." become '...', so the quotation stays whole
            yield f'{"" if index == 0 else chr(10)}"{title}" states: "{inner}" [{source.key}]'

    def pick(self, question: str, sources: list[Source]) -> list[tuple[Source, str]]:
        """The best sentences above the similarity floor, in source order, no sentence twice."""
        candidates = [
            (source, " ".join(source.hit.chunk.text[start:end].split()))
            for source in sources
            for start, end in sentence_spans(source.hit.chunk.text)
        ]
        candidates = [(s, text) for s, text in candidates if len(text.split()) >= 4]  # no headings or stubs
        if not candidates:
            return []
        vectors = self.embedder.embed_documents([text for _, text in candidates])
        similarity = vectors @ self.embedder.embed_query(question)
        best: list[int] = []
        for index in np.argsort(-similarity):
            if similarity[index] < self.min_similarity or len(best) == self.sentences:
                break
            if all(candidates[index][1] != candidates[other][1] for other in best):
                best.append(int(index))
        return [candidates[i] for i in sorted(best)]
