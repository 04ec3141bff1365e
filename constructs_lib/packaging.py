"""Deterministic Lambda packages.

The zip is built at synth time from ``functions/<name>/`` with fixed timestamps, fixed
permissions and sorted entries, so the same code gives the same bytes (and so the same
``source_code_hash``) on every checkout and machine. cdktf copies it into the stack
directory as a ``TerraformAsset``; the JSON then refers to it by a path relative to
``cdktf.out/stacks/<stack>/``, where terraform runs.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = PROJECT_ROOT / "functions"
BUILD_DIR = PROJECT_ROOT / ".build"

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_SKIP_DIRS = {"__pycache__", ".pytest_cache", "tests"}
_SKIP_SUFFIXES = {".pyc", ".pyo"}


class PackagingError(ValueError):
    """The function's code folder is missing or unusable."""


def package_files(source: Path) -> list[tuple[str, Path]]:
    """(archive name, file) pairs of a code folder, sorted, without caches."""
    files = []
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if any(part in _SKIP_DIRS for part in rel.parts) or path.suffix in _SKIP_SUFFIXES:
            continue
        if path.is_file():
            files.append((rel.as_posix(), path))
    return files


def build_package(name: str, source: Path | None = None, build_dir: Path | None = None) -> Path:
    """Zip ``functions/<name>`` reproducibly and return the zip's path."""
    source = source or FUNCTIONS_DIR / name
    if not source.is_dir():
        raise PackagingError(f"function code folder {source} does not exist (code = {name!r})")
    files = package_files(source)
    if not any(arc == "app.py" for arc, _ in files):
        raise PackagingError(f"function code folder {source} has no app.py with a handler")
    build_dir = build_dir or BUILD_DIR
    build_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    for arc, path in files:
        digest.update(arc.encode() + b"\0" + path.read_bytes() + b"\0")
    target = build_dir / f"{name}-{digest.hexdigest()[:16]}.zip"
    if not target.exists():
        partial = target.with_suffix(".tmp")
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for arc, path in files:
                info = zipfile.ZipInfo(arc, date_time=_FIXED_TIME)
                info.external_attr = 0o100644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes(), compresslevel=9)
        partial.replace(target)
    return target
