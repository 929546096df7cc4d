"""Model files: GGUF parts from installed packages assembled once into a cache, digest-checked."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from assistant.components import models
from assistant.components.models import PACKAGED, PackagedModel, assemble, resolve_gguf
from assistant.errors import BackendUnavailable

PARTS = [b"GGUF-header|", b"tensor-block-one|" * 50, b"tensor-block-two"]
WHOLE = b"".join(PARTS)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder on sys.path where fake part packages are installed."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return folder


def install_parts(site: Path, contents: list[bytes], sha256: str | None = None) -> PackagedModel:
    """Fake packages `tinypart1..N`, each holding one part, and the model made of them."""
    parts = []
    for number, content in enumerate(contents, start=1):
        package = site / f"tinypart{number}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "data" / "part.bin").write_bytes(content)
        parts.append((f"tinypart{number}", "data/part.bin"))
    digest = sha256 or hashlib.sha256(b"".join(contents)).hexdigest()
    return PackagedModel("tiny.gguf", tuple(parts), digest, f"pip install tinypart{{1..{len(contents)}}}")


def leftovers(cache: Path) -> list[str]:
    """What a failed assembly left in the cache, lock files aside."""
    return sorted(p.name for p in cache.iterdir() if not p.name.endswith(".lock")) if cache.exists() else []


def test_assembled_file_is_the_parts_concatenated(site: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(PACKAGED, "tiny", install_parts(site, PARTS))
    path = resolve_gguf("packaged:tiny", tmp_path / "cache")
    assert path == tmp_path / "cache" / "tiny.gguf"
    assert path.read_bytes() == WHOLE
    assert leftovers(tmp_path / "cache") == ["tiny.gguf"]


def test_a_digest_mismatch_raises_and_leaves_nothing(site: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(PACKAGED, "tiny", install_parts(site, PARTS, sha256="0" * 64))
    with pytest.raises(BackendUnavailable, match=r"tiny\.gguf has sha256 [0-9a-f]{64}, expected 0{64}"):
        resolve_gguf("packaged:tiny", tmp_path / "cache")
    assert leftovers(tmp_path / "cache") == []


def test_the_second_call_reuses_the_assembled_file(site: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(PACKAGED, "tiny", install_parts(site, PARTS))
    writes = []
    real_write = models._write_verified
    monkeypatch.setattr(models, "_write_verified", lambda *args: (writes.append(args), real_write(*args)))
    first = resolve_gguf("packaged:tiny", tmp_path / "cache")
    modified = first.stat().st_mtime_ns
    second = resolve_gguf("packaged:tiny", tmp_path / "cache")
    assert (second, len(writes), second.stat().st_mtime_ns) == (first, 1, modified)


def test_a_truncated_cached_file_is_assembled_again(site: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(PACKAGED, "tiny", install_parts(site, PARTS))
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "tiny.gguf").write_bytes(WHOLE[:10])  # an interrupted copy, or another version's file
    assert resolve_gguf("packaged:tiny", cache).read_bytes() == WHOLE


def test_a_single_part_model_is_used_in_place(site: Path, tmp_path: Path) -> None:
    packaged = install_parts(site, [WHOLE])
    path = assemble(packaged, tmp_path / "cache")
    assert path == site / "tinypart1" / "data" / "part.bin"
    assert not (tmp_path / "cache").exists()


def test_a_single_part_model_is_digest_checked(site: Path, tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable, match="reinstall"):
        assemble(install_parts(site, [WHOLE], sha256="f" * 64), tmp_path / "cache")


def test_a_missing_package_names_the_pip_command(site: Path, tmp_path: Path, monkeypatch) -> None:
    packaged = install_parts(site, PARTS[:1])
    missing = PackagedModel("tiny.gguf", (*packaged.parts, ("tinypart_absent", "data/part.bin")), "0" * 64,
                            "pip install tinypart{1..2}")  # fmt: skip
    monkeypatch.setitem(PACKAGED, "tiny", missing)
    with pytest.raises(BackendUnavailable) as raised:
        resolve_gguf("packaged:tiny", tmp_path / "cache")
    assert "tinypart_absent is not installed" in raised.value.message
    assert raised.value.message.endswith("pip install tinypart{1..2}")
    assert leftovers(tmp_path / "cache") == []


def test_a_package_without_its_data_file_says_reinstall(site: Path, tmp_path: Path) -> None:
    packaged = install_parts(site, PARTS)
    (site / "tinypart2" / "data" / "part.bin").unlink()
    with pytest.raises(BackendUnavailable, match=r"part\.bin is missing; reinstall with: pip install tinypart"):
        assemble(packaged, tmp_path / "cache")


def test_an_unknown_packaged_name_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable) as raised:
        resolve_gguf("packaged:gpt-17", tmp_path)
    assert "'gpt-17'" in raised.value.message and all(name in raised.value.message for name in PACKAGED)


@pytest.mark.parametrize(
    "model",
    [pytest.param("{tmp}/no-such-model.gguf", id="missing-file"), pytest.param("{tmp}", id="a-folder")],
)
def test_a_plain_path_must_be_a_file(tmp_path: Path, model: str) -> None:
    with pytest.raises(BackendUnavailable, match="no GGUF model file at"):
        resolve_gguf(model.format(tmp=tmp_path), tmp_path / "cache")


def test_a_plain_path_that_exists_is_used_as_it_is(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "model.gguf").write_bytes(WHOLE)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_gguf(str(tmp_path / "model.gguf"), tmp_path / "cache") == tmp_path / "model.gguf"
    assert resolve_gguf("~/model.gguf", tmp_path / "cache") == tmp_path / "model.gguf"
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("name", sorted(PACKAGED))
def test_packaged_table_entries_are_consistent(name: str) -> None:
    packaged = PACKAGED[name]
    assert packaged.filename.endswith(".gguf") and re.fullmatch(r"[0-9a-f]{64}", packaged.sha256)
    assert packaged.install.startswith("pip install ")
    if len(packaged.parts) > 1:  # "pip install x-part{1..N}" installs exactly the N parts
        assert f"{{1..{len(packaged.parts)}}}" in packaged.install
        assert len({package for package, _ in packaged.parts}) == len(packaged.parts)
