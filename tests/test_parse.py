"""Parse: every supported format gives its title and text; every bad input gives one clean DocumentError."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import BAD, BAD_INPUTS, GOOD
from fixtures import make_fixtures

from assistant.components.parse import decode_text, parse
from assistant.errors import DocumentError, FileTooLarge
from assistant.records import SourceFile, content_hash

MAX = 10_000_000


def parse_path(path: Path, max_bytes: int = MAX):
    return parse(SourceFile.from_path(path), max_bytes=max_bytes)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("name", "title", "snippet"),
    [
        ("skerryvore.txt", "The Keeper's Log of Skerryvore", "counted 1,847 gannets circling the reef"),
        ("sourdough.md", "Sourdough Hydration Guide", "starter kept at 78 percent hydration"),
        ("glacier.html", "Glacier Retreat in Patagonia", "The Perito Moreno glacier in Los Glaciares"),
        ("orbits.pdf", "Orbital Mechanics Primer", "Hohmann transfer orbit from Earth to Mars takes about 259 days"),
        ("beekeeping.docx", "Beekeeping in Winter", "near 35 degrees Celsius"),
    ],
)
def test_each_format_gives_title_and_text(name: str, title: str, snippet: str) -> None:
    [document] = parse_path(GOOD / name).documents
    assert document.title == title
    assert snippet in document.text
    assert document.source == name
    assert document.text == document.text.strip()


def test_file_document_id_is_its_content_hash() -> None:
    [document] = parse_path(GOOD / "skerryvore.txt").documents
    assert document.doc_id == content_hash(document.text)[:16]
    assert document.key == str((GOOD / "skerryvore.txt").resolve())


def test_jsonl_records_become_documents_with_their_ids_and_metadata() -> None:
    parsed = parse_path(GOOD / "records.jsonl")
    by_id = {document.doc_id: document for document in parsed.documents}
    assert list(by_id) == ["rec-sicilian", "rec-krakatoa", "rec-darjeeling"]
    krakatoa = by_id["rec-krakatoa"]
    assert (krakatoa.title, krakatoa.source) == ("Krakatoa 1883", "records.jsonl#rec-krakatoa")
    assert krakatoa.metadata == {"topic": "volcano", "year": 1883}
    assert "pressure wave" in krakatoa.text
    assert parsed.rejected == []


def test_jsonl_bad_lines_are_rejected_and_good_ones_kept() -> None:
    parsed = parse_path(BAD / "mixed.jsonl")
    assert [d.doc_id for d in parsed.documents] == ["mix-okapi", "mix-axolotl"]
    assert [(o.source, o.status) for o in parsed.rejected] == [("mixed.jsonl:2", "failed"), ("mixed.jsonl:3", "failed")]
    assert all(o.reason and "\n" not in o.reason for o in parsed.rejected)


@pytest.mark.parametrize(
    ("lines", "rejected_reason"),
    [
        (['{"id": "x", "text": "one"}', '{"id": "x", "text": "two"}'], "repeated id"),
        (['{"id": "x", "text": "one"}', '{"id": "y", "text": "   "}'], "no text"),
        (['{"id": "x", "text": "one"}', '["a", "list"]'], '"id"'),
        (['{"id": "x", "text": "one"}', '{"id": "y", "text": 42}'], '"text"'),
    ],
)
def test_jsonl_record_rules(tmp_path: Path, lines: list[str], rejected_reason: str) -> None:
    parsed = parse_path(write(tmp_path, "r.jsonl", "\n".join(lines).encode()))
    assert [d.doc_id for d in parsed.documents] == ["x"]
    [rejected] = parsed.rejected
    assert rejected.source == "r.jsonl:2" and rejected_reason in rejected.reason


@pytest.mark.parametrize(
    ("separator", "kept", "rejected"),
    [
        # Line and paragraph separators are legal raw inside JSON strings (ensure_ascii=False writes them).
        ("\u2028", ["a", "b"], ["r.jsonl:2"]),
        ("\u2029", ["a", "b"], ["r.jsonl:2"]),
        ("\x85", ["a", "b"], ["r.jsonl:2"]),
        # Raw control characters are not: the record fails alone, and later line numbers stay right.
        ("\x0b", ["b"], ["r.jsonl:1", "r.jsonl:2"]),
        ("\x0c", ["b"], ["r.jsonl:1", "r.jsonl:2"]),
        ("\x1c", ["b"], ["r.jsonl:1", "r.jsonl:2"]),
        ("\x1e", ["b"], ["r.jsonl:1", "r.jsonl:2"]),
    ],
)
def test_jsonl_splits_records_only_at_newlines(
    tmp_path: Path, separator: str, kept: list[str], rejected: list[str]
) -> None:
    text = f"Grey seals haul out on the skerries{separator}and pup in the autumn gales of Orkney."
    lines = [f'{{"id": "a", "text": "{text}"}}', "not json", '{"id": "b", "text": "Two."}']
    parsed = parse_path(write(tmp_path, "r.jsonl", "\r\n".join(lines).encode()))
    assert [d.doc_id for d in parsed.documents] == kept
    assert [o.source for o in parsed.rejected] == rejected
    assert all(d.text == text for d in parsed.documents if d.doc_id == "a")


def test_jsonl_record_without_title_stays_untitled(tmp_path: Path) -> None:
    [document] = parse_path(write(tmp_path, "r.jsonl", b'{"id": 7, "text": "Seven."}')).documents
    assert (document.doc_id, document.title) == ("7", "")


def test_pdf_pages_map_offsets_to_page_numbers() -> None:
    [document] = parse_path(GOOD / "orbits.pdf").documents
    assert [page.number for page in document.pages] == [1, 2]
    assert document.page_at(document.text.index("Kepler's first law")) == 1
    assert document.page_at(document.text.index("Hohmann transfer")) == 2
    for page in document.pages:
        assert document.text[page.start : page.end] == document.text[page.start : page.end].strip()


@pytest.mark.parametrize(
    "layout",
    [["", "Text on page two."], ["Page one text.", "", "Page three text."], ["Page one text.", "Page two text.", ""]],
    ids=["blank-first", "blank-middle", "blank-last"],
)
def test_blank_pdf_pages_keep_page_offsets_right(tmp_path: Path, layout: list[str]) -> None:
    pdf = make_fixtures.pdf_bytes([[line] if line else [] for line in layout], "Blank pages")
    [document] = parse_path(write(tmp_path, "blank-pages.pdf", pdf)).documents
    assert len(document.pages) == len(layout)
    for number, line in enumerate(layout, start=1):
        if line:
            page = document.pages[number - 1]
            assert document.text[page.start : page.end] == line
            assert document.page_at(document.text.index(line)) == number
    assert document.text == "\n\n".join(line for line in layout if line)


def test_html_keeps_the_article_and_drops_navigation_and_scripts() -> None:
    [document] = parse_path(GOOD / "glacier.html").documents
    for noise in ("trackVisitorBeacon", "Subscribe to the newsletter", "injected by script", "font-family"):
        assert noise not in document.text
    assert "Upsala glacier" in document.text


def test_html_script_text_never_survives_as_markup() -> None:
    """The page has two real <script>alert(1)</script> elements and the same string as escaped article text."""
    [document] = parse_path(GOOD / "glacier.html").documents
    assert document.text.count("alert(1)") == 1 and "<script>alert(1)</script>" in document.text
    without_literal = document.text.replace("<script>alert(1)</script>", "")
    assert "<" not in without_literal and ">" not in without_literal


def test_markdown_without_heading_takes_first_line_as_title(tmp_path: Path) -> None:
    [document] = parse_path(write(tmp_path, "plain.md", b"Just a first line\n\nAnd a body.")).documents
    assert document.title == "Just a first line"


def test_overlong_first_line_falls_back_to_file_stem(tmp_path: Path) -> None:
    [document] = parse_path(write(tmp_path, "long-one.txt", b"word " * 100)).documents
    assert document.title == "long-one"


@pytest.mark.parametrize(("name", "content", "error"), BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_raises_one_line_document_error(tmp_path: Path, name: str, content, error: type) -> None:
    data = content.read_bytes() if isinstance(content, Path) else content
    with pytest.raises(DocumentError) as caught:
        parse_path(write(tmp_path, name, data))
    assert type(caught.value) is error
    assert caught.value.message and "\n" not in caught.value.message


def test_oversize_file_is_refused_before_reading(tmp_path: Path) -> None:
    with pytest.raises(FileTooLarge) as caught:
        parse_path(GOOD / "skerryvore.txt", max_bytes=100)
    assert "limit" in caught.value.message and "\n" not in caught.value.message


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("Les élèves ont été très contents de la forêt.\n".encode("cp1252"), "élèves ont été très contents"),
        ("The café’s owner said “hello” – a naïve greeting.".encode("cp1252"), "café’s owner said “hello” – a naïve"),
        ("Grüße aus Köln, straße – naïve café.".encode("utf-16"), "Grüße aus Köln"),
        (b"\xfe\xff" + "Grüße aus Köln, straße.".encode("utf-16-be"), "Grüße aus Köln"),
        ("Grüße aus Köln.".encode("utf-8-sig"), "Grüße aus Köln"),
        ("Plain UTF-8: ½ € — 日本語".encode(), "½ € — 日本語"),
        ("Café".encode("cp1252"), "Café"),
        ("1.234,56 €\nFälligkeit: 30 Tage".encode("cp1252"), "1.234,56 €\nFälligkeit"),
        ("Привет, как дела? Всё хорошо, спасибо. До встречи в Москве.".encode("cp1251"), "Всё хорошо"),
        (
            ("Łódź jest dużym miastem w centralnej Polsce. Żółw i źrebię piją wodę. " * 8).encode("cp1250"),
            "Łódź jest dużym miastem",
        ),
    ],
    ids=[
        "cp1252-french",
        "cp1252-quotes",
        "utf16-le-bom",
        "utf16-be-bom",
        "utf8-bom",
        "utf8",
        "cp1252-short",
        "cp1252-short-euro",
        "cp1251-russian",
        "cp1250-polish",
    ],
)
def test_text_encodings_decode(data: bytes, expected: str) -> None:
    text = decode_text(data)
    assert expected in text
    assert not text.startswith("\ufeff")


def test_text_file_in_cp1252_parses(tmp_path: Path) -> None:
    data = "Crème brûlée à la française, s’il vous plaît.".encode("cp1252")
    [document] = parse_path(write(tmp_path, "legacy.txt", data)).documents
    assert document.text == "Crème brûlée à la française, s’il vous plaît."


@pytest.mark.parametrize(
    "name",
    ["..  spaced  ..txt", "ünïcødé 日本語 résumé.md", "$(touch pwned); 'q\" `x`.txt", "new\nline.txt", "-d.txt"],
)
def test_hostile_file_names_parse(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, name, b"A note about the harbour seals of Orkney.")
    [document] = parse_path(path).documents
    assert document.source == name
    assert "harbour seals" in document.text


def test_non_utf8_file_name_is_kept_as_escapes(tmp_path: Path) -> None:
    path = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9 \xff.txt"))  # a Latin-1 name on Linux
    path.write_bytes(b"A note about the harbour seals of Orkney.")
    [document] = parse_path(path).documents
    assert document.source == "caf\\xe9 \\xff.txt"
    assert document.key.endswith("/caf\\xe9 \\xff.txt")
