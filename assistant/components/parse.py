"""Parse: turn a file (.txt .md .html .pdf .docx .jsonl) into documents holding their full text.

Every error is a `DocumentError` with a one-line reason; nothing here touches a store.
"""

from __future__ import annotations

import json
import re
import unicodedata
import zipfile
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree

from assistant.errors import (
    CorruptDocument,
    EmptyDocument,
    EncryptedDocument,
    FileTooLarge,
    UnreadableEncoding,
    UnsupportedFileType,
)
from assistant.records import IngestOutcome, Page, ParsedDocument, ParsedFile, SourceFile, content_hash

TITLE_MAX_CHARS = 150
_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ufffd]")
_SPACES = re.compile(r"[ \t\u00a0]+")
Parser = Callable[[SourceFile, bytes], ParsedFile]
_BLANK_LINES = re.compile(r"\n{3,}")
_TAG = re.compile(r"<[^>]*>")
_MATH_IMAGE = re.compile(r"<img\b[^>]*?mwe-math-fallback-image[^>]*?\balt=\"([^\"]*)\"[^>]*>", re.IGNORECASE)


def parse(source: SourceFile, *, max_bytes: int) -> ParsedFile:
    """Parse one file into documents.

    >>> parse(SourceFile.from_path(Path("corpus/article.txt")), max_bytes=50_000_000).documents[0].title
    """
    parser = parser_for(source.path.name)
    data = _read(source.path, max_bytes)
    return parser(source, data)


def parser_for(name: str) -> Parser:
    """The parser of a file name's type; an unknown type is refused before any byte is read."""
    suffix = Path(name).suffix
    parser = PARSERS.get(suffix.lower())
    if parser is None:
        known = " ".join(sorted(PARSERS))
        raise UnsupportedFileType(f"unsupported file type {suffix or '(none)'!r}; supported: {known}")
    return parser


def _read(path: Path, max_bytes: int) -> bytes:
    size = path.stat().st_size
    if size > max_bytes:
        raise FileTooLarge(f"file is {_size(size)}, over the {_size(max_bytes)} limit")
    if size == 0:
        raise EmptyDocument("file is empty")
    return path.read_bytes()


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n:,} bytes"


def decode_text(data: bytes) -> str:
    """Bytes to text: BOM, then UTF-8, then a detected encoding; binary junk is refused."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return _checked_text(data.decode(encoding, errors="strict"))
            except UnicodeDecodeError as error:
                raise UnreadableEncoding(f"text marked as {encoding} could not be decoded") from error
    if b"\x00" in data[:8192]:
        raise CorruptDocument("binary data, not text")
    try:
        return _checked_text(data.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    if _scattered_high_bytes(data):
        # ASCII with a few other bytes between its letters: accented letters in Windows-1252 (Latin-1's
        # superset), by far the commonest case, where a detector guesses wildly from so little ("Café"
        # as Urdu). Cyrillic, Greek or CJK text has runs of them; with more such bytes, the detector decides.
        try:
            return _checked_text(data.decode("cp1252"))
        except UnicodeDecodeError:
            pass  # a byte cp1252 leaves undefined
    from charset_normalizer import from_bytes

    matches = from_bytes(data)
    best = matches.best()
    if best is None:
        raise UnreadableEncoding("text encoding could not be recognised")
    # cp1250 and cp1252 often tie; Western text in Windows-1252 is by far the commoner case.
    western = next((m for m in matches if m.encoding == "cp1252" and m.chaos <= best.chaos), None)
    return _checked_text(str(western or best))


FEW_HIGH_BYTES = 10  # more, and a detector has enough to go on (Polish in cp1250 is not cp1252)


def _scattered_high_bytes(data: bytes) -> bool:
    runs = re.findall(rb"[\x80-\xff]+", data)
    return sum(map(len, runs)) <= FEW_HIGH_BYTES and max(map(len, runs), default=0) <= 3


def _checked_text(text: str) -> str:
    sample = text[:20000]
    if sample and len(_CONTROL.findall(sample)) > 0.01 * len(sample):
        raise CorruptDocument("binary data, not text")
    return text


def normalise(text: str, *, compatibility: bool = False) -> str:
    """Canonical stored text: NFC (NFKC for PDFs, which expands ligatures), LF newlines, trimmed."""
    text = unicodedata.normalize("NFKC" if compatibility else "NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return text.strip()


def _title_from_text(text: str, fallback: str) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line if len(line) <= TITLE_MAX_CHARS else fallback
    return fallback


def _document(source: SourceFile, text: str, title: str | None, pages: tuple[Page, ...] = ()) -> ParsedDocument:
    if not text:
        raise EmptyDocument("no text found in file")
    title = " ".join(_TAG.sub("", title or "").split())
    return ParsedDocument(
        doc_id=content_hash(text)[:16],
        key=source.key,
        title=title or _title_from_text(text, Path(source.name).stem),
        source=source.name,
        text=text,
        pages=pages,
    )


def parse_text(source: SourceFile, data: bytes) -> ParsedFile:
    text = normalise(decode_text(data))
    return ParsedFile([_document(source, text, None)])


def parse_markdown(source: SourceFile, data: bytes) -> ParsedFile:
    text = normalise(decode_text(data))
    heading = re.search(r"^#\s+(.+)$", text, flags=re.MULTILINE)
    return ParsedFile([_document(source, text, heading.group(1) if heading else None)])


def parse_html(source: SourceFile, data: bytes) -> ParsedFile:
    import trafilatura

    html = decode_text(data)
    html = _math_as_text(html)
    extracted = trafilatura.extract(html, include_tables=True, include_comments=False, favor_recall=True)
    if not extracted:
        extracted = _html_fallback_text(html)
    lines = (_SPACES.sub(" ", line).strip().removesuffix("[edit]") for line in extracted.splitlines())
    text = normalise(_BLANK_LINES.sub("\n\n", "\n".join(lines)))
    metadata = trafilatura.extract_metadata(html)
    return ParsedFile([_document(source, text, metadata.title if metadata else None)])


def _math_as_text(html: str) -> str:
    """Wikipedia formulas would vanish in extraction (MathML hidden, image fallback): keep their TeX."""
    html = re.sub(r"<math\b.*?</math>", "", html, flags=re.DOTALL | re.IGNORECASE)
    return _MATH_IMAGE.sub(lambda m: f"<span>{_strip_displaystyle(m.group(1))}</span>", html)


def _strip_displaystyle(tex: str) -> str:
    match = re.fullmatch(r"\{\\displaystyle\s*(.*)\}", tex.strip(), flags=re.DOTALL)
    return match.group(1).strip() if match else tex


def _html_fallback_text(html: str) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "lxml")
    for tag in soup(["script", "style", "nav", "header", "footer", "noscript"]):
        tag.decompose()
    return soup.get_text("\n")


def parse_pdf(source: SourceFile, data: bytes) -> ParsedFile:
    # pypdfium2 rather than pypdf (which LlamaIndex's PDFReader wraps): same text here, 13x faster.
    import pypdfium2

    try:
        pdf = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as error:
        if "password" in str(error).lower():
            raise EncryptedDocument("PDF is encrypted (password required)") from error
        raise CorruptDocument(f"PDF could not be read ({error})") from error
    try:
        texts = [_pdf_page_text(pdf[i]) for i in range(len(pdf))]
        title = (pdf.get_metadata_dict().get("Title") or "").strip()
    finally:
        pdf.close()
    text, pages = _join_pages(texts)
    if not text:
        raise EmptyDocument("PDF has no extractable text (scanned images are not OCRed)")
    return ParsedFile([_document(source, text, title, pages)])


def _pdf_page_text(page) -> str:
    textpage = page.get_textpage()
    raw = textpage.get_text_range()
    textpage.close()
    # PDFium marks a hyphen it saw breaking a word at a line end with U+FFFE: join the word.
    raw = re.sub(r"\ufffe(\r?\n)?", "", raw)
    return normalise(raw, compatibility=True)


def _join_pages(texts: list[str]) -> tuple[str, tuple[Page, ...]]:
    parts: list[str] = []
    pages: list[Page] = []
    offset = 0
    for number, page_text in enumerate(texts, start=1):
        # No separator before the first text: blank leading pages must not shift the offsets.
        if offset and page_text:
            parts.append("\n\n")
            offset += 2
        pages.append(Page(number, offset, offset + len(page_text)))
        parts.append(page_text)
        offset += len(page_text)
    text = "".join(parts)
    return text, tuple(pages) if text else ()


def parse_docx(source: SourceFile, data: bytes) -> ParsedFile:
    import io

    import docx2txt

    try:
        text = docx2txt.process(io.BytesIO(data))
        title = _docx_title(data)
    except (zipfile.BadZipFile, KeyError, ValueError, ElementTree.ParseError) as error:
        raise CorruptDocument(f"DOCX could not be read ({error})") from error
    text = normalise(_BLANK_LINES.sub("\n\n", text or ""))
    return ParsedFile([_document(source, text, title)])


def _docx_title(data: bytes) -> str | None:
    import io

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        if "docProps/core.xml" not in archive.namelist():
            return None
        match = re.search(rb"<dc:title>([^<]*)</dc:title>", archive.read("docProps/core.xml"))
    return match.group(1).decode("utf-8", "replace") if match else None


def parse_jsonl(source: SourceFile, data: bytes) -> ParsedFile:
    """One `{"id", "text", "title"?, ...metadata}` record per line; the record id is the document id."""
    result = ParsedFile()
    seen: set[str] = set()
    # Only "\n" ends a record: splitlines() also breaks at U+2028, U+2029 and U+0085, which
    # json.dumps(ensure_ascii=False) leaves raw inside strings, and at \x0b \x0c \x1c-\x1e, which
    # would shift the line number of every record after them.
    for number, line in enumerate(decode_text(data).split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        label = f"{source.name}:{number}"
        try:
            document = _record_document(source, line, seen)
        except (EmptyDocument, CorruptDocument) as error:
            result.rejected.append(IngestOutcome(source=label, status="failed", reason=error.message))
            continue
        seen.add(document.doc_id)
        result.documents.append(document)
    if not result.documents and not result.rejected:
        raise EmptyDocument("no records in file")
    return result


def _record_document(source: SourceFile, line: str, seen: set[str]) -> ParsedDocument:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise CorruptDocument(f"not valid JSON ({error.msg})") from error
    if not isinstance(record, dict) or "id" not in record or not isinstance(record.get("text"), str):
        raise CorruptDocument('a record needs "id" and a string "text"')
    doc_id = str(record.pop("id")).strip()
    if not doc_id or doc_id in seen:
        raise CorruptDocument(f"missing or repeated id {doc_id!r}")
    text = normalise(record.pop("text"))
    if not text:
        raise EmptyDocument(f"record {doc_id!r} has no text")
    title = str(record.pop("title", "") or "")
    return ParsedDocument(
        doc_id=doc_id,
        key=f"record:{doc_id}",
        title=title,
        source=f"{source.name}#{doc_id}",
        text=text,
        metadata=record,
    )


PARSERS: dict[str, Parser] = {
    ".txt": parse_text,
    ".md": parse_markdown,
    ".markdown": parse_markdown,
    ".html": parse_html,
    ".htm": parse_html,
    ".pdf": parse_pdf,
    ".docx": parse_docx,
    ".jsonl": parse_jsonl,
}
