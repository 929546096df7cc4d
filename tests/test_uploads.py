"""Upload file names made safe: the cases are the spec."""

from __future__ import annotations

import pytest

from assistant.server.uploads import MAX_NAME_BYTES, MAX_NAME_CHARS, safe_filename

NAMES = [
    # (as the browser sent it, as stored)
    pytest.param("report.pdf", "report.pdf", id="plain"),
    pytest.param("../../etc/passwd", "passwd", id="parent-folders"),
    pytest.param("C:\\Users\\me\\notes.md", "notes.md", id="windows-path"),
    pytest.param("<script>x</script>.txt", "script.txt", id="markup"),
    pytest.param("a#b:c.jsonl", "a_b_c.jsonl", id="record-separators"),
    pytest.param("tab\there\x00.txt", "tab_here.txt", id="control-characters"),
    pytest.param(".hidden.txt", "hidden.txt", id="leading-dot"),
    pytest.param("..", "upload", id="only-dots"),
    pytest.param("", "upload", id="empty"),
    pytest.param(None, "upload", id="none"),
    pytest.param("Cafe\u0301 menu.txt", "Caf\u00e9 menu.txt", id="unicode-normalised"),
]


@pytest.mark.parametrize(("sent", "stored"), NAMES)
def test_safe_filename(sent: str | None, stored: str) -> None:
    assert safe_filename(sent) == stored


def test_a_long_name_keeps_its_suffix() -> None:
    name = safe_filename("x" * 500 + ".docx")
    assert len(name) == MAX_NAME_CHARS and name.endswith("x.docx")


@pytest.mark.parametrize("char", ["\u6587", "\U0001f600", "\u00e9"], ids=["cjk", "emoji", "accented"])
def test_a_long_non_ascii_name_fits_a_file_system_name(tmp_path, char: str) -> None:
    name = safe_filename(char * 100 + ".txt")
    assert len(name.encode()) <= MAX_NAME_BYTES and name.endswith(char + ".txt")
    (tmp_path / name).write_text("stored")  # 255 bytes is the usual limit of one name
    assert safe_filename(char * 300) == char * (MAX_NAME_BYTES // len(char.encode()))
