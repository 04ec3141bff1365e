"""Deterministic Lambda packages.

The zip is built at synth time from ``functions/<name>/`` with fixed timestamps, fixed
permissions and sorted entries, so the same code gives the same bytes (and so the same
``source_code_hash``) on every checkout and machine. cdktf copies it into the stack
directory as a ``TerraformAsset``; the JSON then refers to it by a path relative to
``cdktf.out/stacks/<stack>/``, where terraform runs.

Only code goes in: dotfiles and dot-folders (``.env``, ``.git``), other VCS folders, caches,
tests and editor backups stay out, and a symlink that leads out of the function folder is
refused rather than followed. Every zip also carries the shared function code
(``SHARED_CODE_DIR``: the message format ``pipeline_message.py``, the deadline helper
``lambda_deadline.py``) at its root. With
``powertools_layer = "none"`` it also carries Powertools for AWS Lambda, installed once per
release into ``.build/powertools/``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import NamedTuple

PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: The default handlers: functions/ in this repository, pipeline_model/handlers/ once installed
#: (pyproject.toml ships functions/ there as package data).
_INSTALLED_FUNCTIONS_DIR = Path(__file__).resolve().parent / "handlers"
FUNCTIONS_DIR = _INSTALLED_FUNCTIONS_DIR if _INSTALLED_FUNCTIONS_DIR.is_dir() else PROJECT_ROOT / "functions"
BUILD_DIR = PROJECT_ROOT / ".build"
#: Modules every function zip carries at its root, beside the function's own files (which win
#: on a name clash), so ``import pipeline_message`` works in every function.
SHARED_CODE_DIR = FUNCTIONS_DIR / "shared"

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
#: Folders never packaged (besides every folder whose name starts with a dot).
_SKIP_DIRS = {"__pycache__", "tests", "CVS", "_darcs"}
#: Files never packaged (besides every file whose name starts with a dot): compiled Python and
#: editor backups / swap / lock files.
_SKIP_FILES = ("*.pyc", "*.pyo", "*~", "*.swp", "*.swo", "*.bak", "*.orig", "*.rej", "#*#")


class PackagingError(ValueError):
    """The function's code folder is missing or unusable."""


def _skipped(name: str, is_dir: bool) -> bool:
    if name.startswith("."):  # .env, .git, .hg, .svn, .venv, .DS_Store, .#lock, .app.py.swp
        return True
    if is_dir:
        return name in _SKIP_DIRS
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in _SKIP_FILES)


def package_files(source: Path) -> list[tuple[str, Path]]:
    """(archive name, file) pairs of a code folder, sorted, without dotfiles, VCS folders,
    caches, tests and editor backups.

    A symlink is followed only while it stays inside ``source``; one that leads out of it (or
    nowhere) raises :class:`PackagingError`, so a zip never carries files from elsewhere.
    """
    root = source.resolve()
    files: list[tuple[str, Path]] = []
    visited: set[Path] = set()

    def walk(folder: Path, prefix: str) -> None:
        real = folder.resolve()
        if real in visited:  # a symlink loop inside the folder
            return
        visited.add(real)
        for entry in sorted(folder.iterdir(), key=lambda p: p.name):
            arc = f"{prefix}{entry.name}"
            if entry.is_symlink():
                target = entry.resolve()
                if not target.is_relative_to(root):
                    raise PackagingError(
                        f"{entry} is a symlink to {target}, outside the function folder {root}; "
                        "copy the file into the folder instead"
                    )
                if not target.exists():
                    raise PackagingError(f"{entry} is a symlink to {target}, which does not exist")
            is_dir = entry.is_dir()
            if _skipped(entry.name, is_dir):
                continue
            if is_dir:
                walk(entry, arc + "/")
            elif entry.is_file():
                files.append((arc, entry))

    walk(source, "")
    return sorted(files)


def code_folder(code: str | Path) -> Path:
    """Where a function's code lives.

    A bare name (no path separator: ``"producer"``, ``"consumer"``) names a handler shipped with
    the package; anything else is a folder path, absolute or relative to the current working
    directory (the app's folder), never to the package.
    """
    text = str(code)
    if isinstance(code, str) and "/" not in text and "\\" not in text and text not in (".", ".."):
        shipped = FUNCTIONS_DIR / text
        if not shipped.is_dir():
            names = sorted(p.name for p in FUNCTIONS_DIR.iterdir() if (p / "app.py").is_file()) if FUNCTIONS_DIR.is_dir() else []
            raise PackagingError(
                f"function code folder {text!r} is not a handler shipped with constructs_lib ({', '.join(names)}); "
                "give a folder path (e.g. './handlers/mine', relative to the app's folder) for your own code"
            )
        return shipped
    return Path(code).expanduser().resolve()


def build_package(name: str, source: Path | None = None, build_dir: Path | None = None,
                  extra: Path | None = None) -> Path:
    """Zip ``functions/<name>`` reproducibly and return the zip's path.

    The files of :data:`SHARED_CODE_DIR` are added at the root of the zip. ``extra``: a folder
    whose files are added at the root of the zip too (the Powertools bundle). The function's own
    files win on a name clash.
    """
    source = source or FUNCTIONS_DIR / name
    if not source.is_dir():
        raise PackagingError(f"function code folder {source} does not exist (code = {name!r})")
    files = package_files(source)
    if not any(arc == "app.py" for arc, _ in files):
        raise PackagingError(f"function code folder {source} has no app.py with a handler")
    for folder in (SHARED_CODE_DIR, extra):
        if folder is not None:
            own = {arc for arc, _ in files}
            files = sorted(files + [(arc, path) for arc, path in package_files(folder) if arc not in own])
    build_dir = build_dir or BUILD_DIR
    build_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    for arc, path in files:
        digest.update(arc.encode() + b"\0" + path.read_bytes() + b"\0")
    target = build_dir / f"{name}-{digest.hexdigest()[:16]}.zip"
    if not target.exists():
        partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for arc, path in files:
                info = zipfile.ZipInfo(arc, date_time=_FIXED_TIME)
                info.external_attr = 0o100644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes(), compresslevel=9)
        partial.replace(target)
    return target


# --- Powertools in the zip (powertools_layer = "none") -----------------------------------------

#: pip's installation records: they name this machine's paths and pip's own version, so they
#: would make the zip differ per machine. The package metadata (METADATA, WHEEL) stays.
_PIP_RECORDS = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
class _Platform(NamedTuple):
    pip: str  # pip's --platform
    uv: str  # uv's --python-platform


_RUNTIME_PLATFORMS = {
    "x86_64": _Platform("manylinux2014_x86_64", "x86_64-manylinux2014"),
    "arm64": _Platform("manylinux2014_aarch64", "aarch64-manylinux2014"),
}


def _dependency_pins(version: str) -> list[str]:
    """The versions this project's environment holds of what Powertools requires, so the zip
    carries the libraries the tests ran with (and the same ones on every machine)."""
    from importlib import metadata

    try:
        if metadata.version("aws-lambda-powertools") != version:
            return []
        requirements = metadata.requires("aws-lambda-powertools") or []
    except metadata.PackageNotFoundError:
        return []
    pins = []
    for requirement in requirements:
        if ";" in requirement:  # an extra or a marker: not installed by default
            continue
        name = re.match(r"[A-Za-z0-9_.-]+", requirement)
        if name is None:
            continue
        try:
            pins.append(f"{name[0]}=={metadata.version(name[0])}")
        except metadata.PackageNotFoundError:
            continue
    return pins


def _has_pip() -> bool:
    return importlib.util.find_spec("pip") is not None


def find_uv() -> str | None:
    """The uv that `make` installs with (``$PIPELINE_UV``, on PATH, or the project's ``.venv-tools``)."""
    for candidate in (os.environ.get("PIPELINE_UV"), shutil.which("uv"), str(PROJECT_ROOT / ".venv-tools" / "bin" / "uv")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def target_install_command(target: Path, packages: list[str], *, pip_options: tuple[str, ...] = (),
                           uv_options: tuple[str, ...] = ()) -> tuple[str, list[str]]:
    """The command installing ``packages`` into the folder ``target``: this Python's pip, or uv where
    the environment has no pip (`make` builds ``.venv`` with uv, without pip). Returns the installer's
    name and the command; raises :class:`PackagingError` when there is neither."""
    if _has_pip():
        return "pip", [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                       *pip_options, "--target", str(target), *packages]
    uv = find_uv()
    if uv is None:
        raise PackagingError(
            f"installing into {target} needs pip in this Python ({sys.executable}) or uv "
            "(on PATH, $PIPELINE_UV or .venv-tools/bin/uv, which `make synth` installs)"
        )
    return "uv", [uv, "pip", "install", "--quiet", "--python", sys.executable, *uv_options,
                  "--target", str(target), *packages]


def powertools_bundle(version: str, runtime: str = "python3.12", architecture: str = "x86_64",
                      cache_dir: Path | None = None) -> Path:
    """A folder holding ``aws-lambda-powertools==version`` and what it requires, installed for
    the Lambda runtime; built once per (version, runtime, architecture) under ``.build/`` and
    reused, so synth needs the package index only the first time.

    boto3 is not installed: the Lambda Python runtime provides it (and Powertools 3 does not
    require it). Raises :class:`PackagingError` when pip cannot install the release.
    """
    python = runtime.removeprefix("python")
    cache_dir = cache_dir or BUILD_DIR / "powertools"
    target = cache_dir / f"{version}-py{python}-{architecture}"
    if (target / ".complete").is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = cache_dir / f".{target.name}.{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    packages = [f"aws-lambda-powertools=={version}", *_dependency_pins(version)]
    platform = _RUNTIME_PLATFORMS[architecture]
    try:
        # Both install the same wheels for the runtime; their records are removed below.
        installer, command = target_install_command(
            partial, packages,
            pip_options=("--no-compile", "--only-binary=:all:", "--implementation", "cp",
                         "--python-version", python, "--platform", platform.pip),
            uv_options=("--only-binary", ":all:", "--python-version", python, "--python-platform", platform.uv),
        )
    except PackagingError as error:
        raise PackagingError(f"powertools_layer = 'none': {error}") from None
    result = subprocess.run(command, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"})
    if result.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        detail = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise PackagingError(
            f"powertools_layer = 'none': {installer} could not install aws-lambda-powertools=={version} "
            f"for {runtime}/{architecture}: {detail}"
        )
    for record in partial.glob("*.dist-info/*"):
        if record.name in _PIP_RECORDS:
            record.unlink()
    (partial / ".lock").unlink(missing_ok=True)  # uv's lock on the target folder
    shutil.rmtree(partial / "bin", ignore_errors=True)  # console scripts: nothing Lambda runs
    (partial / ".complete").write_text(f"aws-lambda-powertools=={version}\n")
    try:
        partial.rename(target)
    except OSError:  # another process finished first: use its copy
        shutil.rmtree(partial, ignore_errors=True)
    return target
