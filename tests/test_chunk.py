"""Chunk: exact offsets, full in-order coverage, content-derived ids, PDF page numbers."""

from __future__ import annotations

import pytest
from conftest import ARTICLE, GOOD

from assistant.components.chunk import Chunker, indexed_text, locate, split_sentences
from assistant.components.embed import PACKAGED_MINILM, HashingEmbedder, resolve_model_path
from assistant.components.parse import parse
from assistant.records import Chunk, ParsedDocument, SourceFile, content_hash

TOKENIZE = HashingEmbedder().tokenize


def _wordpiece():
    """The packaged model's own WordPiece tokenizer (what production chunking counts), without torch."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(resolve_model_path(PACKAGED_MINILM) / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return lambda text: tokenizer.encode(text, add_special_tokens=False).ids


TOKENIZERS = {"words": TOKENIZE, "wordpiece": _wordpiece()}


def make_document(text: str, title: str = "T") -> ParsedDocument:
    return ParsedDocument(doc_id=content_hash(text)[:16], key="k", title=title, source="s", text=text)


def parsed(path) -> ParsedDocument:
    return parse(SourceFile.from_path(path), max_bytes=10_000_000).documents[0]


def chunks_of(document: ParsedDocument, size: int = 64, overlap: int = 16, tokenize=TOKENIZE) -> list[Chunk]:
    return Chunker(size, overlap, tokenize=tokenize).chunk(document)


TEXTS = {
    "article": ARTICLE.read_text(encoding="utf-8"),
    "pdf": parsed(GOOD / "orbits.pdf").text,
    "markdown": (GOOD / "sourdough.md").read_text(encoding="utf-8").strip(),
    "one-long-line": " ".join(f"word{i}" for i in range(700)),
    "odd-whitespace": "".join(f"Sentence  {i}\tis here.\u00a0Then {i + 1}\n\n\n more   words. " for i in range(60)),
    "repeated-paragraphs": "Alpha beta gamma delta.\n\n" * 200 + "Omega.",
    "repeated-rows": "\n".join(f"Row {i % 3}: the value repeats here." for i in range(300)),
}
SIZES = [(16, 4), (64, 16), (192, 32)]


@pytest.mark.parametrize("tokenizer", list(TOKENIZERS))
@pytest.mark.parametrize("size_overlap", SIZES, ids=[f"{s}-{o}" for s, o in SIZES])
@pytest.mark.parametrize("name", list(TEXTS))
def test_chunk_text_is_exactly_its_slice_of_the_document(
    name: str, size_overlap: tuple[int, int], tokenizer: str
) -> None:
    document = make_document(TEXTS[name].strip())
    chunks = chunks_of(document, *size_overlap, tokenize=TOKENIZERS[tokenizer])
    assert chunks
    for chunk in chunks:
        assert document.text[chunk.start : chunk.end] == chunk.text
        assert chunk.text == chunk.text.strip() and chunk.doc_id == document.doc_id


@pytest.mark.parametrize("tokenizer", list(TOKENIZERS))
@pytest.mark.parametrize("size_overlap", SIZES, ids=[f"{s}-{o}" for s, o in SIZES])
@pytest.mark.parametrize("name", list(TEXTS))
def test_chunks_cover_the_whole_text_in_order(name: str, size_overlap: tuple[int, int], tokenizer: str) -> None:
    document = make_document(TEXTS[name].strip())
    chunks = chunks_of(document, *size_overlap, tokenize=TOKENIZERS[tokenizer])
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert all(a.start < b.start and a.end < b.end for a, b in zip(chunks, chunks[1:], strict=False))
    assert chunks[0].start == 0 and chunks[-1].end == len(document.text)
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert document.text[before.end : after.start].strip() == "", "a gap between chunks lost text"


def test_same_text_gives_same_chunk_ids_and_other_text_other_ids() -> None:
    text = TEXTS["article"]
    first, again = chunks_of(make_document(text)), chunks_of(make_document(text))
    changed = chunks_of(make_document(text.replace("Tajik", "Uzbek", 1)))
    assert [c.chunk_id for c in first] == [c.chunk_id for c in again]
    assert len({c.chunk_id for c in first}) == len(first)
    assert not {c.chunk_id for c in first} & {c.chunk_id for c in changed}


@pytest.mark.parametrize("tokenizer", list(TOKENIZERS))
def test_chunk_size_is_respected_in_tokens(tokenizer: str) -> None:
    tokenize = TOKENIZERS[tokenizer]
    chunks = chunks_of(make_document(TEXTS["article"]), 64, 16, tokenize)
    assert max(len(tokenize(chunk.text)) for chunk in chunks) <= 64
    assert len(chunks) > len(chunks_of(make_document(TEXTS["article"]), 192, 32, tokenize))


@pytest.mark.parametrize("tokenizer", list(TOKENIZERS))
@pytest.mark.parametrize("title", ["Notes on Tajik labour migration to Russia", "Заметки о миграции"])
def test_a_chunk_with_its_title_in_front_still_fits_the_chunk_size(tokenizer: str, title: str) -> None:
    """What the embedder reads is the title and the passage: together they must fit, or the
    passage's tail is cut off unread."""
    tokenize = TOKENIZERS[tokenizer]
    document = make_document(TEXTS["article"], title=title)
    chunks = chunks_of(document, 64, 16, tokenize)
    assert max(len(tokenize(indexed_text(title, chunk.text))) for chunk in chunks) <= 64


def test_a_title_longer_than_a_quarter_of_the_chunk_is_given_a_quarter() -> None:
    chunks = chunks_of(make_document(TEXTS["article"], title="word " * 200), 64, 16)
    assert chunks and max(len(TOKENIZE(chunk.text)) for chunk in chunks) <= 64 - 64 // 4


def test_pdf_chunks_carry_page_numbers() -> None:
    document = parsed(GOOD / "orbits.pdf")
    chunks = chunks_of(document, 16, 4)
    assert {chunk.page for chunk in chunks} == {1, 2}
    page_two_starts = document.pages[1].start
    assert all((chunk.page == 2) == (chunk.start >= page_two_starts) for chunk in chunks)
    assert any(chunk.page == 2 and "259 days" in chunk.text for chunk in chunks)


def test_documents_without_pages_have_no_page_numbers() -> None:
    assert {chunk.page for chunk in chunks_of(make_document(TEXTS["article"]))} == {None}


@pytest.mark.parametrize(
    ("text", "pieces", "spans"),
    [
        ("a b c a b c", ["a b", "c a", "b c"], [(0, 3), (4, 7), (8, 11)]),
        ("one  two\nthree", ["one two three"], [(0, 14)]),
        ("x y", ["  ", "x y "], [(0, 3)]),
    ],
)
def test_locate_finds_pieces_in_order(text: str, pieces: list[str], spans: list[tuple[int, int]]) -> None:
    assert locate(text, pieces) == spans


def test_locate_refuses_text_that_is_not_in_the_document() -> None:
    with pytest.raises(ValueError):
        locate("alpha beta", ["gamma"])


def test_split_sentences_keeps_every_character() -> None:
    text = "First one.  Second one!\n\nThird one?  "
    sentences = split_sentences(text)
    assert "".join(sentences) == text and len(sentences) == 3


@pytest.mark.parametrize(
    ("title", "text", "expected"),
    [
        ("Krakatoa 1883", "body", "Krakatoa 1883\nbody"),
        ("", "body", "body"),  # an untitled record
        ("Skerryvore", "Skerryvore\nThe keeper wrote", "Skerryvore\nThe keeper wrote"),  # a title line opens the text
    ],
)
def test_indexed_text_leads_with_the_title_unless_the_text_opens_with_it(title: str, text: str, expected: str) -> None:
    assert indexed_text(title, text) == expected
