"""Typed classes of the prebuilt AWS provider, loaded without its 9-16 second package import.

Two costs make ``import cdktf_cdktf_provider_aws`` slow, and this module avoids both:

* Python: the package ``__init__`` imports all ~2,200 resource submodules eagerly. Each
  submodule only needs the package's ``_jsii`` module, so this module registers the package
  without running its ``__init__`` and imports just the submodules the constructs use.
* Node: loading the jsii assembly makes the jsii kernel ``require`` the provider's
  ``lib/index.js``, which ``require``s all ~2,200 resource modules (3.5 s, ~500 MB of heap).
  This module loads, once per process and before the submodules, a copy of the provider's
  jsii tarball whose ``lib/index.js`` exports the same names through lazy getters, so only
  the resource modules actually used are compiled. The copy is built once (about 5 s) into
  ``.build/jsii/`` (``PIPELINE_JSII_CACHE_DIR`` moves it) and reused while the installed
  tarball is unchanged; everything in it except that one file is byte for byte the original.
  The package's own ``_jsii`` module then finds the assembly already loaded.

The Python classes are the very same objects either way. If anything does not look the way
this expects (another version or layout), the lazy tarball is skipped, and if the package
itself is unusable this falls back to the ordinary import; ``PIPELINE_NAIVE_PROVIDER_IMPORT=1``
forces the ordinary import, ``PIPELINE_EAGER_PROVIDER_JS=1`` keeps the original tarball. A
test synthesizes with both paths and compares the output byte for byte.
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
from types import ModuleType

PACKAGE = "cdktf_cdktf_provider_aws"
_SUBMODULES = (
    "provider",
    "iam_role_policy_attachment",
    "lambda_event_source_mapping",
    "sns_topic_subscription",
    "kms_key",
    "kms_alias",
    "cloudwatch_metric_alarm",
    "cloudwatch_dashboard",
    "data_aws_caller_identity",
    "data_aws_ssm_parameter",
)

#: "fast" or "naive": which path loaded the provider (read by tests and the benchmark).
IMPORT_PATH = "unloaded"
#: "lazy" (the lazy-index tarball was loaded into the jsii kernel) or "eager" (the original
#: tarball), with the reason in ``JS_INDEX_DETAIL`` when it is "eager".
JS_INDEX = "unloaded"
JS_INDEX_DETAIL = ""

#: Where the lazy-index tarball is kept; PIPELINE_JSII_CACHE_DIR overrides it.
CACHE_DIR = Path(os.environ.get("PIPELINE_JSII_CACHE_DIR") or Path(__file__).resolve().parent.parent / ".build" / "jsii")
#: Bump when the rewrite below changes, so old copies are not reused.
_LAZY_FORMAT = 1
#: How long, and how many times per tarball, to wait for jsii's type index (see _await_index).
_INDEX_WAIT_SECONDS = 30.0
_INDEX_WAITS = 3

_LOAD_CALL = re.compile(
    r'jsii\.JSIIAssembly\.load\(\s*"(?P<name>[^"]+)",\s*"(?P<version>[^"]+)",\s*__name__\[0:-6\],\s*"(?P<file>[^"/\\]+)"\s*,?\s*\)'
)
_DEPENDENCY_IMPORT = re.compile(r"^import ([A-Za-z_][\w.]*)\._jsii\s*$", re.M)
_EXPORT_REQUIRE = re.compile(r'^exports\.([A-Za-z_$][\w$]*) = require\("(\./[\w./-]+)"\);$')


class LayoutError(ImportError):
    """The provider package is not laid out the way the fast path expects."""


def _fast_package() -> ModuleType:
    """Register the provider package without executing its __init__."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LayoutError(f"{PACKAGE} is not installed as a package")
    locations = list(spec.submodule_search_locations)
    if not any(os.path.isfile(os.path.join(p, "_jsii", "__init__.py")) for p in locations):
        raise LayoutError(f"{PACKAGE} has no _jsii submodule")
    package = importlib.util.module_from_spec(spec)
    package.__path__ = locations
    sys.modules[PACKAGE] = package
    return package


# --- the lazy lib/index.js ----------------------------------------------------------------

def lazy_index(source: str) -> str:
    """``lib/index.js`` with each ``exports.x = require("./x");`` turned into a lazy getter.

    Raises LayoutError unless every other line is free of ``require(`` (so nothing else is
    loaded eagerly and nothing is lost) and there is a plausible number of exports.
    """
    lines = source.split("\n")
    exports = 0
    for i, line in enumerate(lines):
        match = _EXPORT_REQUIRE.match(line)
        if match:
            name, path = match.groups()
            lines[i] = (
                f'Object.defineProperty(exports, "{name}", {{ enumerable: true, configurable: true, '
                f'get: function () {{ return require("{path}"); }} }});'
            )
            exports += 1
        elif "require(" in line:
            raise LayoutError(f"lib/index.js: unexpected require in {line[:120]!r}")
    if exports < 10:
        raise LayoutError(f"lib/index.js: only {exports} re-exported submodules")
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
    """Name, version, tarball and dependency modules from the package's ``_jsii/__init__.py``."""
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
    raise LayoutError(f"{PACKAGE} has no _jsii/__init__.py")


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


def _preload_lazy_assembly(locations: list[str]) -> None:
    """Load the provider's assembly into the jsii kernel from the lazy-index tarball."""
    global JS_INDEX, JS_INDEX_DETAIL
    try:
        if os.environ.get("PIPELINE_EAGER_PROVIDER_JS") == "1":
            raise LayoutError("PIPELINE_EAGER_PROVIDER_JS=1")
        name, version, tarball, dependencies = _assembly_call(locations)
        lazy = lazy_tarball_path(name, version, tarball)
        if not lazy.is_file():
            build_lazy_tarball(tarball, lazy)
    except Exception as error:  # the original tarball still works: the package's _jsii loads it
        JS_INDEX, JS_INDEX_DETAIL = "eager", f"{type(error).__name__}: {error}"
        return
    for module in dependencies:  # what the package's _jsii imports first (cdktf, constructs)
        importlib.import_module(f"{module}._jsii")
    from jsii._runtime import kernel

    kernel.load(name, version, str(lazy))
    JS_INDEX = "lazy"
    _await_index(name, version, lazy)


def _load() -> dict[str, ModuleType]:
    global IMPORT_PATH, JS_INDEX, JS_INDEX_DETAIL
    if PACKAGE not in sys.modules and os.environ.get("PIPELINE_NAIVE_PROVIDER_IMPORT") != "1":
        try:
            package = _fast_package()
            if f"{PACKAGE}._jsii" not in sys.modules:
                _preload_lazy_assembly(package.__path__)
            modules = {}
            for name in _SUBMODULES:
                modules[name] = importlib.import_module(f"{PACKAGE}.{name}")
                setattr(package, name, modules[name])
            IMPORT_PATH = "fast"
            if JS_INDEX == "unloaded":
                JS_INDEX, JS_INDEX_DETAIL = "eager", "provider assembly was already loaded"
            return modules
        except Exception as error:  # any surprise: undo and take the ordinary path
            JS_INDEX_DETAIL = f"ordinary import after {type(error).__name__}: {error}"
            for key in [k for k in sys.modules if k == PACKAGE or k.startswith(PACKAGE + ".")]:
                del sys.modules[key]
    importlib.import_module(PACKAGE)
    IMPORT_PATH = "naive" if IMPORT_PATH == "unloaded" else IMPORT_PATH
    if JS_INDEX == "unloaded":
        JS_INDEX = "eager"
        JS_INDEX_DETAIL = JS_INDEX_DETAIL or "ordinary import"
    return {name: importlib.import_module(f"{PACKAGE}.{name}") for name in _SUBMODULES}


_modules = _load()

AwsProvider = _modules["provider"].AwsProvider
AwsProviderDefaultTags = _modules["provider"].AwsProviderDefaultTags
IamRolePolicyAttachment = _modules["iam_role_policy_attachment"].IamRolePolicyAttachment
LambdaEventSourceMapping = _modules["lambda_event_source_mapping"].LambdaEventSourceMapping
LambdaEventSourceMappingDestinationConfig = _modules["lambda_event_source_mapping"].LambdaEventSourceMappingDestinationConfig
LambdaEventSourceMappingDestinationConfigOnFailure = _modules[
    "lambda_event_source_mapping"
].LambdaEventSourceMappingDestinationConfigOnFailure
SnsTopicSubscription = _modules["sns_topic_subscription"].SnsTopicSubscription
KmsKey = _modules["kms_key"].KmsKey
KmsAlias = _modules["kms_alias"].KmsAlias
CloudwatchMetricAlarm = _modules["cloudwatch_metric_alarm"].CloudwatchMetricAlarm
CloudwatchDashboard = _modules["cloudwatch_dashboard"].CloudwatchDashboard
DataAwsCallerIdentity = _modules["data_aws_caller_identity"].DataAwsCallerIdentity
DataAwsSsmParameter = _modules["data_aws_ssm_parameter"].DataAwsSsmParameter
