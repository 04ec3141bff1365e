"""Deterministic Lambda packages, by an explicit rule, from a verified build cache.

A function's code folder is zipped at synth time with fixed timestamps, fixed permissions and
sorted entries, so the same code gives the same bytes (and so the same ``source_code_hash``) on
every checkout and machine. cdktf copies the zip into the stack directory as a
``TerraformAsset``; the JSON refers to it by a path relative to ``cdktf.out/stacks/<stack>/``.

What goes in (docs/packaging.md is the user's description):

* Python modules anywhere in the folder (``*.py``, and ``*.so`` extension modules);
* every file of a Python package: a sub-folder holding ``__init__.py`` and everything below it
  (package data such as ``py.typed`` or a vendored library's data files), and ``*.dist-info`` /
  ``*.egg-info`` folders (what ``importlib.metadata`` reads);
* what an ``include`` pattern names.

What never goes in: dotfiles and dot-folders, ``__pycache__``, ``node_modules``, ``tests``, other
VCS folders, compiled Python and editor backups (whatever ``include`` says); what an ``exclude``
pattern names; and secret-looking files (:data:`SECRET_PATTERNS`: keys, credentials, Terraform
state and variables, ``*.env``) unless an ``include`` entry names that very file (no wildcard).
What the folder holds but the zip does not is printed, one line per function, on stderr.

A symlink that leads out of the function folder is refused rather than followed. Every zip
also carries the shared function code (``SHARED_CODE_DIR``) at its root, and with
``powertools_layer = "none"`` the Powertools bundle (:func:`powertools_bundle`).

The library knows nothing of the project that uses it: build folders are always given by the
caller (constructs_lib gives ``.build`` beside the app's output folder). A cached zip is reused
only when its record and its content match the inputs (:func:`build_package`).
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, NamedTuple

#: The default handlers: pipeline_model/handlers/ once installed (pyproject.toml ships the
#: source checkout's functions/ folder there as package data), else functions/ beside this package.
_INSTALLED_FUNCTIONS_DIR = Path(__file__).resolve().parent / "handlers"
FUNCTIONS_DIR = (_INSTALLED_FUNCTIONS_DIR if _INSTALLED_FUNCTIONS_DIR.is_dir()
                 else Path(__file__).resolve().parent.parent / "functions")
#: Modules every function zip carries at its root, beside the function's own files (which win
#: on a name clash), so ``import pipeline_message`` works in every function.
SHARED_CODE_DIR = FUNCTIONS_DIR / "shared"

#: Lambda's quotas for a .zip deployment package
#: (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html): 50 MB zipped when
#: uploaded directly through the Lambda API (larger zips go through S3), and 250 MB unzipped,
#: the function's code and its layers together (the API's error names 262,144,000 bytes).
DIRECT_UPLOAD_LIMIT = 50 * 1024 * 1024
UNZIPPED_LIMIT = 250 * 1024 * 1024

#: Bumped whenever the rule or the zip format changes, so older cached zips are not reused.
PACKAGE_FORMAT = 2
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644 << 16

#: Folders never packaged (besides every folder whose name starts with a dot), not even when an
#: include pattern names them.
NEVER_DIRS = frozenset({"__pycache__", "node_modules", "tests", "CVS", "_darcs"})
#: Files never packaged (besides every file whose name starts with a dot): compiled Python and
#: editor backups / swap / lock files.
NEVER_FILES = ("*.pyc", "*.pyo", "*~", "*.swp", "*.swo", "*.bak", "*.orig", "*.rej", "#*#")
#: Build products and tool caches, left out without a mention (Lambda compiles the sources itself).
_QUIET = ("__pycache__", "*.pyc", "*.pyo", ".pytest_cache", ".mypy_cache", ".ruff_cache")
#: Secret-looking file names (matched against the file's name, in any folder): shipped only when
#: an include entry names the very file, without wildcards.
SECRET_PATTERNS = (
    "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_rsa.*", "id_dsa.*", "id_ecdsa.*", "id_ed25519.*",
    "*.pem", "*.key", "*.p12", "*.pfx", "*.jks", "*.keystore", "*.ppk", "*.kdbx",
    "credentials", "credentials.json", "credentials.csv",
    "*.tfstate", "*.tfstate.*", "*.tfvars", "*.tfvars.json", "*.tfplan",
    "*.env",
)
#: Python modules: packaged wherever they are in the folder.
_MODULES = ("*.py", "*.so")
_METADATA_DIRS = ("*.dist-info", "*.egg-info")
#: How many left-out names the stderr line shows before "... and N more".
_SHOWN = 10


class PackagingError(ValueError):
    """The function's code folder is missing or unusable, or its package breaks a Lambda quota."""


def _shown(text: str) -> str:
    """``text`` safe for a one-line message: control and non-printable characters escaped."""
    return text if text.isprintable() else text.encode("unicode_escape", "backslashreplace").decode("ascii")


# --- include / exclude patterns -----------------------------------------------------------------

def check_pattern(pattern: object) -> str | None:
    """Why ``pattern`` is not a usable include/exclude pattern, or None."""
    if not isinstance(pattern, str) or not pattern.strip():
        return f"{pattern!r} must be a non-empty glob pattern such as 'data/*.json'"
    if any(ord(c) < 32 or ord(c) == 127 for c in pattern):
        return f"{_shown(pattern)!r}: no control characters"
    if "\\" in pattern:
        return f"{pattern!r}: separate folders with '/', not '\\'"
    if pattern.startswith("/") or re.match(r"[A-Za-z]:", pattern):
        return f"{pattern!r} must be relative to the function's code folder (no leading '/')"
    if ".." in pattern.split("/"):
        return f"{pattern!r} must stay inside the function's code folder (no '..')"
    return None


def _normal(pattern: str) -> str:
    while pattern.startswith("./"):
        pattern = pattern[2:]
    return pattern.rstrip("/")


def _glob(pattern: str) -> re.Pattern[str]:
    """``**`` = any number of folders, ``*`` / ``?`` = within one name, ``[...]`` = a class. A
    pattern without '/' matches a name in any folder (as in .gitignore)."""
    text = _normal(pattern)
    out: list[str] = [] if "/" in text else ["(?:.*/)?"]
    i = 0
    while i < len(text):
        if text.startswith("**/", i):
            out.append("(?:[^/]*/)*")
            i += 3
        elif text.startswith("**", i):
            out.append(".*")
            i += 2
        elif text[i] == "*":
            out.append("[^/]*")
            i += 1
        elif text[i] == "?":
            out.append("[^/]")
            i += 1
        elif text[i] == "[" and "]" in text[i + 2:]:
            end = text.index("]", i + 2)
            body = text[i + 1:end]
            out.append("[" + ("^" + re.escape(body[1:]) if body.startswith("!") else re.escape(body)) + "]")
            i = end + 1
        else:
            out.append(re.escape(text[i]))
            i += 1
    return re.compile("".join(out) + r"\Z", re.S)


@dataclass(frozen=True)
class _Patterns:
    patterns: tuple[str, ...]
    compiled: tuple[re.Pattern[str], ...] = field(default=(), repr=False)

    @classmethod
    def of(cls, patterns: Iterable[str], what: str) -> "_Patterns":
        if isinstance(patterns, (str, bytes)):
            raise PackagingError(f"{what}: {patterns!r} must be a list of glob patterns, not one string")
        patterns = tuple(patterns)
        for pattern in patterns:
            problem = check_pattern(pattern)
            if problem:
                raise PackagingError(f"{what}: {problem}")
        return cls(patterns, tuple(_glob(p) for p in patterns))

    def match(self, arc: str) -> bool:
        """Whether a pattern names the file ``arc`` or one of the folders it is in."""
        parts = arc.split("/")
        candidates = ["/".join(parts[:n]) for n in range(len(parts), 0, -1)]
        return any(regex.match(c) for regex in self.compiled for c in candidates)

    def names_exactly(self, arc: str) -> bool:
        return any(_normal(p) == arc and not any(ch in p for ch in "*?[") for p in self.patterns)


def _matches(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def secret_looking(name: str) -> bool:
    """Whether a file's name looks like a key, credentials, Terraform state or an env file."""
    return _matches(name, SECRET_PATTERNS)


# --- the rule -----------------------------------------------------------------------------------

@dataclass
class Selection:
    """What a code folder's zip holds (``files``: archive name, path) and what it leaves out
    (``left_out``: archive names, a folder left out whole as one ``name/``; build products such as
    ``__pycache__`` are not listed)."""

    files: list[tuple[str, Path]]
    left_out: list[str]
    secrets: list[str]


def _utf8_name(entry: Path, label: str) -> None:
    try:
        entry.name.encode("utf-8")
    except UnicodeEncodeError:
        raise PackagingError(
            f"packaging {label}: the file name {os.fsencode(entry.name)!r} in {_shown(str(entry.parent))} is not "
            "UTF-8: rename it (a zip for Lambda holds UTF-8 names)"
        ) from None


def _check_symlink(entry: Path, root: Path, label: str) -> None:
    target = entry.resolve()
    if not target.is_relative_to(root):
        raise PackagingError(
            f"packaging {label}: {_shown(str(entry))} is a symlink to {_shown(str(target))}, outside the function "
            f"folder {_shown(str(root))}; copy the file into the folder instead"
        )
    if not target.exists():
        raise PackagingError(f"packaging {label}: {_shown(str(entry))} is a symlink to {_shown(str(target))}, "
                             "which does not exist")


def _never(name: str, is_dir: bool) -> bool:
    if name.startswith("."):  # .env, .git, .hg, .svn, .venv, .DS_Store, .#lock, .app.py.swp
        return True
    return name in NEVER_DIRS if is_dir else _matches(name, NEVER_FILES)


def select_files(source: Path, include: Iterable[str] = (), exclude: Iterable[str] = (), *,
                 label: str | None = None, rule: bool = True) -> Selection:
    """Apply the packaging rule (module docstring) to the code folder ``source``.

    ``rule=False``: every file but the ones never packaged (for folders this library builds
    itself: the shared code, the Powertools bundle). A symlink is followed only while it stays
    inside ``source``; one that leads out of it (or nowhere) raises :class:`PackagingError`, as
    does a file name that is not UTF-8.
    """
    label = label or source.name
    includes = _Patterns.of(include, f"packaging {label}: include")
    excludes = _Patterns.of(exclude, f"packaging {label}: exclude")
    root = source.resolve()
    files: list[tuple[str, Path]] = []
    left_out: list[str] = []
    secrets: list[str] = []
    visited: set[Path] = set()

    def walk(folder: Path, prefix: str, in_package: bool) -> None:
        real = folder.resolve()
        if real in visited:  # a symlink loop inside the folder
            return
        visited.add(real)
        for entry in sorted(folder.iterdir(), key=lambda p: p.name):
            _utf8_name(entry, label)
            arc = f"{prefix}{entry.name}"
            if entry.is_symlink():
                _check_symlink(entry, root, label)
            is_dir = entry.is_dir()
            if _never(entry.name, is_dir):
                if not _matches(entry.name, _QUIET):
                    left_out.append(arc + "/" if is_dir else arc)
                continue
            if is_dir:
                if rule and excludes.match(arc):
                    left_out.append(arc + "/")
                    continue
                package = in_package or (entry / "__init__.py").is_file() or _matches(entry.name, _METADATA_DIRS)
                walk(entry, arc + "/", package)
            elif entry.is_file():
                if not rule:
                    files.append((arc, entry))
                elif excludes.match(arc):
                    left_out.append(arc)
                elif secret_looking(entry.name):
                    if includes.names_exactly(arc):
                        files.append((arc, entry))
                    else:
                        left_out.append(arc)
                        secrets.append(arc)
                elif in_package or _matches(entry.name, _MODULES) or includes.match(arc):
                    files.append((arc, entry))
                else:
                    left_out.append(arc)

    walk(source, "", False)
    return Selection(sorted(files), left_out, secrets)


def package_files(source: Path, include: Iterable[str] = (), exclude: Iterable[str] = ()) -> list[tuple[str, Path]]:
    """(archive name, file) pairs the zip of the code folder ``source`` holds, sorted."""
    return select_files(source, include, exclude).files


def left_out_line(label: str, selection: Selection) -> str | None:
    """The stderr line naming what the folder holds but the zip does not, or None."""
    if not selection.left_out:
        return None
    names = [_shown(n) for n in selection.left_out[:_SHOWN]]
    more = len(selection.left_out) - len(names)
    text = ", ".join(names) + (f" ... and {more} more" if more else "")
    hint = ""
    if selection.secrets:
        hint = " (secret-looking files ship only when an include entry names them exactly)"
    return f"packaging {_shown(label)}: left out {len(selection.left_out)} files: {text}{hint}"


# --- building, and the verified cache -----------------------------------------------------------

def entry_dir() -> Path:
    """The folder relative code paths are resolved against: the folder of the script that runs the app
    (``python app.py``, ``cdktf synth`` running ``main.py``), or the working directory when no script
    file runs it (``python -m ...``, ``python -c``, a notebook, pytest)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path and Path(path).name != "__main__.py":
        return Path(path).resolve().parent
    return Path.cwd()


def code_folder(code: str | Path, base: Path | None = None) -> Path:
    """Where a function's code lives.

    A bare name given as a string (no path separator: ``"producer"``, ``"consumer"``) names a
    handler shipped with the package; anything else is a folder path (``str`` or ``Path``):
    absolute, or relative to ``base`` (default :func:`entry_dir`: the folder of the app's entry
    file), never to the package or the working directory of a script run from elsewhere.
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
    path = Path(code).expanduser()
    return (path if path.is_absolute() else (base or entry_dir()) / path).resolve()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_zip(contents: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for arc, data in contents:
            info = zipfile.ZipInfo(arc, date_time=_FIXED_TIME)
            info.external_attr = _FILE_MODE
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data, compresslevel=9)
    return buffer.getvalue()


def _verified(target: Path, record: Path, inputs: str, hashes: list[tuple[str, str]]) -> bool:
    """Whether the cached ``target`` is the zip of these inputs: a regular file (not a link), whose
    record names these inputs and the zip's own hash, and whose entries are exactly the inputs
    (names, order, timestamps, modes and the content of each)."""
    try:
        if not target.is_file() or target.is_symlink() or record.is_symlink():
            return False
        recorded = json.loads(record.read_text(encoding="utf-8"))
        data = target.read_bytes()
        if (not isinstance(recorded, dict) or recorded.get("format") != PACKAGE_FORMAT
                or recorded.get("inputs") != inputs or recorded.get("zip") != _sha256(data)):
            return False
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
            if [e.filename for e in entries] != [arc for arc, _ in hashes] or archive.comment:
                return False
            for entry, (_, digest) in zip(entries, hashes):
                if (entry.date_time != _FIXED_TIME or entry.external_attr != _FILE_MODE or entry.extra
                        or entry.compress_type != zipfile.ZIP_DEFLATED or _sha256(archive.read(entry)) != digest):
                    return False
    except (OSError, ValueError, zipfile.BadZipFile, RuntimeError, EOFError):
        return False
    return True


def _write_atomically(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` through a new, randomly named file in the same folder, so no
    file (or link) someone placed there beforehand is written through or shipped."""
    handle, partial = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(partial, 0o644)
        os.replace(partial, target)  # replaces a link at target, never what it points to
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


def build_package(name: str, source: Path | None, build_dir: Path, *, extra: Path | None = None,
                  include: Iterable[str] = (), exclude: Iterable[str] = (), label: str | None = None,
                  warn: Callable[[str], None] | None = None) -> Path:
    """Zip the code folder ``source`` (default: the shipped handler ``name``) reproducibly into
    ``build_dir`` and return the zip's path, ``<name>-<hash of the inputs>.zip``.

    The files of :data:`SHARED_CODE_DIR` are added at the root of the zip, and so are those of
    ``extra`` (the Powertools bundle); the function's own files win on a name clash. ``label``
    names the function in messages (default ``name``); ``warn`` receives the lines for the user
    (default: stderr): what was left out, a zip above Lambda's direct-upload size. Raises
    :class:`PackagingError` for an unusable folder or a package above Lambda's unzipped size.

    A zip already in ``build_dir`` is reused only when its record (``<zip>.json``: the hash of the
    inputs and of the zip) matches and its entries are exactly the inputs; anything else there
    (a foreign or tampered zip, a stale one) is replaced by a fresh build.
    """
    label = label or name
    say = warn or (lambda line: print(line, file=sys.stderr, flush=True))
    source = source or FUNCTIONS_DIR / name
    if not source.is_dir():
        raise PackagingError(f"function code folder {_shown(str(source))} does not exist (code = {name!r})")
    selection = select_files(source, include, exclude, label=label)
    files = selection.files
    if not any(arc == "app.py" for arc, _ in files):
        raise PackagingError(f"function code folder {_shown(str(source))} has no app.py with a handler")
    for folder in (SHARED_CODE_DIR, extra):
        if folder is not None:
            own = {arc for arc, _ in files}
            library = select_files(folder, label=label, rule=False).files
            files = sorted(files + [(arc, path) for arc, path in library if arc not in own])
    line = left_out_line(label, selection)
    if line:
        say(line)

    contents = [(arc, path.read_bytes()) for arc, path in files]
    unzipped = sum(len(data) for _, data in contents)
    if unzipped > UNZIPPED_LIMIT:
        raise PackagingError(
            f"packaging {_shown(label)}: the code is {_mib(unzipped)} ({unzipped:,} bytes) unzipped, above Lambda's "
            f"{UNZIPPED_LIMIT // 2**20} MB ({UNZIPPED_LIMIT:,} bytes) for a function's code and layers together; leave files out (exclude) or move "
            "libraries out of the folder"
        )
    hashes = [(arc, _sha256(data)) for arc, data in contents]
    digest = hashlib.sha256(f"package-format {PACKAGE_FORMAT}\0".encode())
    for arc, file_hash in hashes:
        digest.update(arc.encode() + b"\0" + file_hash.encode() + b"\0")
    inputs = digest.hexdigest()

    build_dir.mkdir(parents=True, exist_ok=True)
    target = build_dir / f"{name}-{inputs[:16]}.zip"
    record = build_dir / f"{target.name}.json"
    if _verified(target, record, inputs, hashes):
        data = target.read_bytes()
    else:
        if target.exists() or target.is_symlink():
            say(f"packaging {_shown(label)}: {target.name} in {_shown(str(build_dir))} does not match its inputs; "
                "rebuilt it")
        data = _write_zip(contents)
        _write_atomically(target, data)
        _write_atomically(record, json.dumps(
            {"format": PACKAGE_FORMAT, "inputs": inputs, "zip": _sha256(data), "files": dict(hashes)},
            indent=1, sort_keys=True).encode())
    if len(data) > DIRECT_UPLOAD_LIMIT:
        say(f"packaging {_shown(label)}: warning: the zip is {_mib(len(data))} ({len(data):,} bytes), above Lambda's "
            f"{DIRECT_UPLOAD_LIMIT // 2**20} MB ({DIRECT_UPLOAD_LIMIT:,} bytes) for a direct upload, which terraform apply "
            "makes: leave files out (exclude) or move libraries to a layer (docs/packaging.md)")
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
    """The uv to install with where this Python has no pip: ``$PIPELINE_UV``, else uv on PATH."""
    for candidate in (os.environ.get("PIPELINE_UV"), shutil.which("uv")):
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
            "(on PATH or named by $PIPELINE_UV)"
        )
    return "uv", [uv, "pip", "install", "--quiet", "--python", sys.executable, *uv_options,
                  "--target", str(target), *packages]


#: The marker of a finished bundle: the requirement and the hash of every file, checked on reuse.
_BUNDLE_MARKER = ".complete"


def _tree_hash(folder: Path) -> str | None:
    """The hash of every file under ``folder`` (names and contents) but the marker, or None when
    the folder holds a symlink or something unreadable."""
    digest = hashlib.sha256()
    try:
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder).as_posix()
            if relative == _BUNDLE_MARKER:
                continue
            if path.is_symlink():
                return None
            if path.is_file():
                digest.update(relative.encode("utf-8", "surrogateescape") + b"\0" + _sha256(path.read_bytes()).encode() + b"\0")
    except OSError:
        return None
    return digest.hexdigest()


def _bundle_marker(requirement: str, folder: Path) -> dict[str, str | int | None]:
    return {"format": PACKAGE_FORMAT, "requirement": requirement, "files": _tree_hash(folder)}


def _bundle_verified(target: Path, requirement: str) -> bool:
    marker = target / _BUNDLE_MARKER
    try:
        if target.is_symlink() or not target.is_dir() or marker.is_symlink():
            return False
        recorded = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    expected = _bundle_marker(requirement, target)
    return expected["files"] is not None and recorded == expected


def powertools_bundle(version: str, runtime: str = "python3.12", architecture: str = "x86_64",
                      cache_dir: Path | None = None) -> Path:
    """A folder holding ``aws-lambda-powertools==version`` and what it requires, installed for
    the Lambda runtime; built once per (version, runtime, architecture) under ``cache_dir`` and
    reused, so synth needs the package index only the first time.

    A cached folder is reused only when its marker names the release and the hash of every file
    it holds; anything else (a foreign or changed folder, an older marker) is installed afresh.
    boto3 is not installed: the Lambda Python runtime provides it (and Powertools 3 does not
    require it). Raises :class:`PackagingError` when pip cannot install the release.
    """
    if cache_dir is None:
        raise TypeError("powertools_bundle(): cache_dir is required (the library keeps no build folder of its own)")
    python = runtime.removeprefix("python")
    requirement = f"aws-lambda-powertools=={version}"
    target = cache_dir / f"{version}-py{python}-{architecture}"
    if _bundle_verified(target, requirement):
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=cache_dir))
    packages = [requirement, *_dependency_pins(version)]
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
        shutil.rmtree(partial, ignore_errors=True)
        raise PackagingError(f"powertools_layer = 'none': {error}") from None
    result = subprocess.run(command, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"})
    if result.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        detail = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise PackagingError(
            f"powertools_layer = 'none': {installer} could not install {requirement} "
            f"for {runtime}/{architecture}: {detail}"
        )
    for record in partial.glob("*.dist-info/*"):
        if record.name in _PIP_RECORDS:
            record.unlink()
    (partial / ".lock").unlink(missing_ok=True)  # uv's lock on the target folder
    shutil.rmtree(partial / "bin", ignore_errors=True)  # console scripts: nothing Lambda runs
    (partial / _BUNDLE_MARKER).write_text(json.dumps(_bundle_marker(requirement, partial), sort_keys=True))
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.exists():  # a foreign or changed copy: replaced by the fresh install
        shutil.rmtree(target, ignore_errors=True)
    try:
        partial.rename(target)
    except OSError:  # another process finished first: use its copy if it holds what it says
        shutil.rmtree(partial, ignore_errors=True)
        if not _bundle_verified(target, requirement):
            raise PackagingError(f"powertools_layer = 'none': {target} could not be replaced by a fresh install") from None
    return target
