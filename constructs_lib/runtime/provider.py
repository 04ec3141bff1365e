"""The prebuilt AWS provider's typed classes, loaded without its slow package import.

Works the same for cdktf (``cdktf_cdktf_provider_aws``) and CDK Terrain
(``cdktn_provider_aws``): ``load(flavour, submodules)`` takes the package names from a
``runtime.flavour.Flavour``. Two costs make the ordinary import slow, and this avoids both:

* Python: cdktf's package ``__init__`` imports all ~2,200 resource submodules eagerly (cdktn's
  is lazy, but runs the package's ``_jsii``, which loads the original tarball first). Each
  submodule only needs the package's ``_jsii`` module, so this registers the package without
  running its ``__init__`` and imports just the submodules the constructs use.
* Node: loading the jsii assembly makes the jsii kernel ``require`` the provider's
  ``lib/index.js``, which ``require``s all ~2,200 (cdktn: ~2,400) resource modules (3.5 s,
  ~500 MB of heap). This loads, once per process and before the submodules, a copy of the
  provider's jsii tarball whose ``lib/index.js`` exports the same names through lazy getters,
  so only the resource modules actually used are compiled. Both index forms are understood:
  cdktf's ``exports.x = require("./x");`` and cdktn's
  ``exports.x = __importStar(require("./x/index"));``. The copy is built once (about 5 s)
  into ``$PIPELINE_JSII_CACHE_DIR`` (this project's main.py and Makefile set it to ``.build/jsii/``),
  else the user's cache folder (``$XDG_CACHE_HOME`` or ``~/.cache``, ``constructs_lib/jsii``), and reused while the installed
  tarball is unchanged; everything in it except that one file is byte for byte the original.
  The package's own ``_jsii`` module then finds the assembly already loaded.

The Python classes are the very same objects either way. If anything does not look the way
this expects (another version or layout), the lazy tarball is skipped, and that verdict is
remembered next to where the copy would be (``*.failed``, keyed like the copy by the
installed tarball), so later runs go straight to the original tarball instead of reading
130 MB again to fail again; if the package itself is unusable this falls back to the ordinary
import. ``PIPELINE_NAIVE_PROVIDER_IMPORT=1`` forces the ordinary import,
``PIPELINE_EAGER_PROVIDER_JS=1`` keeps the original tarball. A test synthesizes with both
paths and compares the output byte for byte.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from dataclasses import dataclass
from types import ModuleType

from .flavour import Flavour


@dataclass
class LoadStatus:
    """How the provider was loaded (read by tests and the benchmark)."""

    #: "fast" or "naive": which Python path loaded the provider.
    import_path: str = "unloaded"
    #: "lazy" (the lazy-index tarball was loaded into the jsii kernel) or "eager" (the
    #: original tarball), with the reason in ``detail`` when it is "eager".
    js_index: str = "unloaded"
    detail: str = ""


#: Where the lazy-index tarball is kept; PIPELINE_JSII_CACHE_DIR overrides it.
def _default_cache_dir() -> Path:
    """The user's cache folder: the library never writes beside itself or into the project using it
    (site-packages may be read-only; an app chooses its own folder with PIPELINE_JSII_CACHE_DIR)."""
    cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache_home) / "constructs_lib" / "jsii"


CACHE_DIR = Path(os.environ.get("PIPELINE_JSII_CACHE_DIR") or _default_cache_dir())
#: Bump when the rewrite below changes, so old copies (and remembered failures) are not reused.
#: (Still 1: cdktf's lines are rewritten as before, and cdktn's never had a copy.)
_LAZY_FORMAT = 1
#: How long, and how many times per tarball, to wait for jsii's type index (see _await_index).
_INDEX_WAIT_SECONDS = 30.0
_INDEX_WAITS = 3

_LOAD_CALL = re.compile(
    r'jsii\.JSIIAssembly\.load\(\s*"(?P<name>[^"]+)",\s*"(?P<version>[^"]+)",\s*__name__\[0:-6\],\s*"(?P<file>[^"/\\]+)"\s*,?\s*\)'
)
_DEPENDENCY_IMPORT = re.compile(r"^import ([A-Za-z_][\w.]*)\._jsii\s*$", re.M)
# cdktf: exports.x = require("./x");   cdktn: exports.x = __importStar(require("./x/index"));
_EXPORT_REQUIRE = re.compile(
    r'^exports\.(?P<name>[A-Za-z_$][\w$]*) = (?P<star>__importStar\()?require\("(?P<path>\./[\w./-]+)"\)(?(star)\));$'
)
# TypeScript's helper that the cdktn form calls; it must be defined (without require) in the file.
_IMPORT_STAR_HELPER = re.compile(r"^var __importStar = ", re.M)


class LayoutError(ImportError):
    """The provider package is not laid out the way the fast path expects."""


def _fast_package(name: str) -> ModuleType:
    """Register the provider package ``name`` without executing its __init__."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise LayoutError(f"{name} is not installed as a package")
    locations = list(spec.submodule_search_locations)
    if not any(os.path.isfile(os.path.join(p, "_jsii", "__init__.py")) for p in locations):
        raise LayoutError(f"{name} has no _jsii submodule")
    package = importlib.util.module_from_spec(spec)
    package.__path__ = locations
    sys.modules[name] = package
    return package


# --- the lazy lib/index.js ----------------------------------------------------------------

def lazy_index(source: str) -> str:
    """``lib/index.js`` with each re-export turned into a lazy getter.

    ``exports.x = require("./x");`` (cdktf) becomes a getter returning ``require("./x")``, and
    ``exports.x = __importStar(require("./x/index"));`` (cdktn) one that computes
    ``__importStar(require("./x/index"))`` on first use and keeps it: the same value. Raises
    LayoutError unless every other line is free of ``require(`` (so nothing else is loaded
    eagerly and nothing is lost), the ``__importStar`` form comes with its helper, and there
    is a plausible number of exports.
    """
    lines = source.split("\n")
    exports = 0
    star = False
    for i, line in enumerate(lines):
        match = _EXPORT_REQUIRE.match(line)
        if match:
            name, path = match["name"], match["path"]
            if match["star"]:
                # __importStar may wrap the module in a new object: the first read replaces the
                # getter by the value, so every later read sees that same object.
                star = True
                lines[i] = (
                    f'Object.defineProperty(exports, "{name}", {{ enumerable: true, configurable: true, '
                    f'get: function () {{ var m = __importStar(require("{path}")); '
                    f'Object.defineProperty(exports, "{name}", {{ enumerable: true, configurable: true, writable: true, value: m }}); '
                    f"return m; }} }});"
                )
            else:  # require() caches: the same object on every read
                lines[i] = (
                    f'Object.defineProperty(exports, "{name}", {{ enumerable: true, configurable: true, '
                    f'get: function () {{ return require("{path}"); }} }});'
                )
            exports += 1
        elif "require(" in line:
            raise LayoutError(f"lib/index.js: unexpected require in {line[:120]!r}")
    if exports < 10:
        raise LayoutError(f"lib/index.js: only {exports} re-exported submodules")
    if star and not _IMPORT_STAR_HELPER.search(source):
        raise LayoutError("lib/index.js: uses __importStar without defining it")
    return "\n".join(lines)


def _check_syntax(text: str, directory: Path) -> None:
    """Parse the rewritten index with node (the one jsii uses) when one is available."""
    node = shutil.which(os.environ.get("JSII_NODE") or "node")
    if node is None:
        return
    probe = directory / f".index-check.{os.getpid()}.js"
    try:
        probe.write_text(text, encoding="utf-8")
        result = subprocess.run([node, "--check", str(probe)], capture_output=True, text=True, timeout=60)
    finally:
        probe.unlink(missing_ok=True)
    if result.returncode != 0:
        raise LayoutError(f"rewritten lib/index.js does not parse: {result.stderr.strip()[:300]}")


def build_lazy_tarball(source: Path, target: Path) -> None:
    """Copy the jsii tarball ``source`` to ``target`` with a lazy ``lib/index.js``.

    Streams the archive (one pass, nothing extracted to disk) and writes a deterministic
    gzip (no timestamp, no name), so the same input gives the same bytes, hence the same
    jsii package-cache entry, on every machine. Written to a temporary name, then renamed;
    the size of the new index goes to a side file first (see _await_index).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    index_member = main = None
    try:
        with tarfile.open(source, "r|gz") as src, open(partial, "wb") as raw:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=1, mtime=0) as gz:
                with tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as out:
                    for member in src:
                        data = src.extractfile(member) if member.isreg() else None
                        if member.name == "package/package.json":
                            content = data.read()
                            main = json.loads(content).get("main")
                            data = io.BytesIO(content)
                        elif member.name == "package/lib/index.js":
                            text = lazy_index(data.read().decode("utf-8"))
                            _check_syntax(text, target.parent)
                            content = text.encode("utf-8")
                            member.size = len(content)
                            data = io.BytesIO(content)
                            index_member = member
                        out.addfile(member, data)
        if index_member is None or os.path.normpath(main or "") != os.path.normpath("lib/index.js"):
            raise LayoutError(f"tarball has no lib/index.js as its main module (main={main!r})")
        target.with_suffix(".index-size").write_text(f"{index_member.size}\n")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


# --- loading it into the jsii kernel ------------------------------------------------------

def _assembly_call(locations: list[str]) -> tuple[str, str, Path, list[str]]:
    """Name, version, tarball and dependency modules from the package's ``_jsii/__init__.py``.

    The dependencies are the core library and constructs (``cdktf`` or ``cdktn``).
    """
    for location in locations:
        init = Path(location, "_jsii", "__init__.py")
        if init.is_file():
            text = init.read_text(encoding="utf-8")
            calls = list(_LOAD_CALL.finditer(text))
            if len(calls) != 1:
                raise LayoutError(f"{init}: expected one JSIIAssembly.load call, found {len(calls)}")
            call = calls[0]
            tarball = init.parent / call["file"]
            if not tarball.is_file():
                raise LayoutError(f"{tarball} is missing")
            return call["name"], call["version"], tarball, _DEPENDENCY_IMPORT.findall(text)
    raise LayoutError(f"no _jsii/__init__.py in {locations}")


def lazy_tarball_path(name: str, version: str, tarball: Path) -> Path:
    """Cache path of the lazy copy; changes whenever the installed tarball changes."""
    stat = tarball.stat()
    key = f"{_LAZY_FORMAT}|{name}|{version}|{tarball.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return CACHE_DIR / f"{name.replace('@', '').replace('/', '-')}-{version}-lazy-{digest}.tgz"


def _jsii_cache_entries(name: str, version: str) -> list[Path]:
    """jsii's package-cache directories for name@version (see @jsii/kernel's disk cache)."""
    if os.environ.get("JSII_RUNTIME_PACKAGE_CACHE", "enabled").lower() != "enabled":
        return []
    root = os.environ.get("JSII_RUNTIME_PACKAGE_CACHE_ROOT")
    if not root:
        home = Path.home()
        if sys.platform == "darwin":
            root = home / "Library" / "Caches" / "com.amazonaws.jsii" / "package-cache"
        elif sys.platform == "win32":
            root = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local") / "AWS" / "jsii" / "package-cache"
        else:
            root = home / ".cache" / "aws" / "jsii" / "package-cache"
    directory = Path(root, *name.split("/"), version)
    try:
        return [p for p in directory.iterdir() if p.is_dir()]
    except OSError:
        return []


def _index_state(name: str, version: str, lazy_index_size: int) -> str:
    """"ready", "building" or "unknown": jsii's runtime type index for the lazy tarball."""
    for entry in _jsii_cache_entries(name, version):
        try:
            if (entry / "lib" / "index.js").stat().st_size != lazy_index_size:
                continue
        except OSError:
            continue
        return "ready" if any(entry.glob(".jsii.runtime.v*.json")) else "building"
    return "unknown"


def _jsii_builds_indexes() -> bool:
    """Whether this jsii runtime has the index worker (jsii >= 1.14x embeds it)."""
    try:
        from importlib.resources import files

        return files("jsii._embedded.jsii").joinpath("lib__runtime-index-worker.js").is_file()
    except Exception:
        return False


def _await_index(name: str, version: str, lazy: Path) -> None:
    """Give jsii's background worker time to write the runtime type index of the lazy tarball.

    jsii 1.14x keeps an index of an assembly's type definitions (25,000 here) next to the
    extracted package in its cache, so later processes skip parsing the 130 MB ``.jsii``
    (1.3-2.6 s and ~1 GB of node heap). A worker thread of the kernel writes it after a load
    that found none, and dies with the process: a synth this short would exit first, every
    time. So when the index is still being built, this waits for it (bounded), at most
    ``_INDEX_WAITS`` times per tarball (counted in a marker file), in case this jsii never
    finishes one. Costs one directory listing when the index is there.
    """
    if os.environ.get("JSII_VALIDATE_ASSEMBLIES") or not _jsii_builds_indexes():
        return
    try:
        size = int(lazy.with_suffix(".index-size").read_text())
    except (OSError, ValueError):
        return
    if _index_state(name, version, size) != "building":
        return
    marker = lazy.with_suffix(".index-wait")
    try:
        waits = len(marker.read_text().split())
    except OSError:
        waits = 0
    if waits >= _INDEX_WAITS:
        return
    deadline = time.monotonic() + _INDEX_WAIT_SECONDS
    while _index_state(name, version, size) == "building" and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        with open(marker, "a") as f:
            f.write(_index_state(name, version, size) + "\n")
    except OSError:
        pass


def failure_marker(lazy: Path) -> Path:
    """Where a failed rewrite of the tarball behind ``lazy`` is remembered."""
    return lazy.with_suffix(".failed")


def prepare_lazy_tarball(name: str, version: str, tarball: Path) -> Path:
    """The lazy copy of ``tarball``: built on first use, reused after.

    A LayoutError (the tarball does not look as expected: that will not change until the
    installed tarball does) is written to the failure marker and raised again, without
    reading the tarball, on every later run while the tarball is unchanged. Other errors
    (a full disk, say) are not remembered.
    """
    lazy = lazy_tarball_path(name, version, tarball)
    if lazy.is_file():
        return lazy
    marker = failure_marker(lazy)
    try:
        reason = marker.read_text(encoding="utf-8").strip()
    except OSError:
        reason = None
    if reason is not None:
        raise LayoutError(f"{reason} (remembered in {marker}; delete it to retry)")
    try:
        build_lazy_tarball(tarball, lazy)
    except LayoutError as error:
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(f"{error}\n", encoding="utf-8")
        except OSError:
            pass
        raise
    return lazy


def _preload_lazy_assembly(flavour: Flavour, locations: list[str], status: LoadStatus) -> None:
    """Load the provider's assembly into the jsii kernel from the lazy-index tarball."""
    try:
        if os.environ.get("PIPELINE_EAGER_PROVIDER_JS") == "1":
            raise LayoutError("PIPELINE_EAGER_PROVIDER_JS=1")
        name, version, tarball, dependencies = _assembly_call(locations)
        if name != flavour.provider_assembly:
            raise LayoutError(f"{flavour.provider} loads assembly {name!r}, expected {flavour.provider_assembly!r}")
        lazy = prepare_lazy_tarball(name, version, tarball)
    except Exception as error:  # the original tarball still works: the package's _jsii loads it
        status.js_index, status.detail = "eager", f"{type(error).__name__}: {error}"
        return
    for module in dependencies:  # what the package's _jsii imports first (core library, constructs)
        importlib.import_module(f"{module}._jsii")
    from jsii._runtime import kernel

    kernel.load(name, version, str(lazy))
    status.js_index = "lazy"
    _await_index(name, version, lazy)


def load(flavour: Flavour, submodules: tuple[str, ...]) -> tuple[dict[str, ModuleType], LoadStatus]:
    """Import ``submodules`` of the flavour's provider package, the fast way when possible."""
    package_name = flavour.provider
    status = LoadStatus()
    if package_name not in sys.modules and os.environ.get("PIPELINE_NAIVE_PROVIDER_IMPORT") != "1":
        try:
            package = _fast_package(package_name)
            if f"{package_name}._jsii" not in sys.modules:
                _preload_lazy_assembly(flavour, package.__path__, status)
            modules = {}
            for name in submodules:
                modules[name] = importlib.import_module(f"{package_name}.{name}")
                setattr(package, name, modules[name])
            status.import_path = "fast"
            if status.js_index == "unloaded":
                status.js_index, status.detail = "eager", "provider assembly was already loaded"
            return modules, status
        except Exception as error:  # any surprise: undo and take the ordinary path
            status.detail = f"ordinary import after {type(error).__name__}: {error}"
            for key in [k for k in sys.modules if k == package_name or k.startswith(package_name + ".")]:
                del sys.modules[key]
    importlib.import_module(package_name)
    status.import_path = "naive" if status.import_path == "unloaded" else status.import_path
    if status.js_index == "unloaded":
        status.js_index = "eager"
        status.detail = status.detail or "ordinary import"
    return {name: importlib.import_module(f"{package_name}.{name}") for name in submodules}, status
