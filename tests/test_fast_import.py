"""The fast provider import synthesizes exactly what the ordinary import does.

``constructs_lib/runtime/provider.py`` loads the prebuilt AWS provider (cdktf's or CDK
Terrain's, whichever the suite runs on) two ways faster than the plain import of its package
(see its docstring): Python submodules only, and a jsii tarball whose ``lib/index.js`` is lazy. Each run here is a separate process (jsii has one
kernel per process, and the provider package can be imported only once), writing to its own
output folder; every file they write must be byte-for-byte the same:

* fast: the default path; must really be taken (Python fast path and lazy JS index);
* python-layout: a simulated unexpected package layout (no package directory), so the whole
  thing must fall back to the ordinary import of the provider package (the naive path: the
  package ``__init__`` and the original jsii tarball).

The naive run takes 15-30 s, so both runs start in the background when this module is
imported, at collection time, and overlap the tests that run before these; the fixture only
waits for them. If these tests are deselected, the runs are killed when the session ends (and
not started at all under --collect-only).

The lazy tarball's own fallbacks (an unexpected ``_jsii/__init__.py`` or ``lib/index.js``
keeps the original tarball, and that verdict is remembered) are checked in-process on small
fake packages in both index forms (cdktf's and cdktn's), without a kernel.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Runs in a child process: apply the simulation, synthesize to argv[1], report to argv[2].
DRIVER = r"""
import importlib.util, json, os, pathlib, sys, time
start = time.perf_counter()
simulate = os.environ.get("FAST_IMPORT_SIMULATE", "")
sys.path.insert(0, os.getcwd())
from constructs_lib.runtime.flavour import select
PACKAGE = select().provider
if simulate == "python-layout":
    real_find_spec = importlib.util.find_spec
    def find_spec(name, package=None):
        spec = real_find_spec(name, package)
        if name == PACKAGE and spec is not None:
            spec.submodule_search_locations = None  # looks like a plain module
        return spec
    importlib.util.find_spec = find_spec

from constructs_lib import aws
from constructs_lib.app import build_app, load_environments
build_app(load_environments(), sys.argv[1]).synth()
pathlib.Path(sys.argv[2]).write_text(json.dumps({
    "import_path": aws.IMPORT_PATH,
    "js_index": aws.JS_INDEX,
    "detail": aws.JS_INDEX_DETAIL,
    "seconds": round(time.perf_counter() - start, 2),
}))
"""


def _start(simulate: str, tmp: Path) -> tuple[subprocess.Popen, Path, Path]:
    # Same depth for every output folder: cdktf writes paths relative to the working directory.
    outdir = tmp / simulate / "cdktf.out"
    status = tmp / f"{simulate}.json"
    outdir.parent.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PIPELINE_NAIVE_PROVIDER_IMPORT", "PIPELINE_EAGER_PROVIDER_JS", "CDKTF_OUTDIR")}
    env["FAST_IMPORT_SIMULATE"] = simulate
    with open(tmp / f"{simulate}.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", DRIVER, str(outdir), str(status)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return process, outdir, status


def _finish(run: tuple[subprocess.Popen, Path, Path], timeout: float = 600) -> tuple[dict, Path]:
    process, outdir, status = run
    process.wait(timeout=timeout)
    log = status.with_suffix(".log").read_text(errors="replace")
    assert process.returncode == 0, log[-4000:]
    return json.loads(status.read_text()), outdir


def _files(outdir: Path) -> dict[str, bytes]:
    return {p.relative_to(outdir).as_posix(): p.read_bytes() for p in sorted(outdir.rglob("*")) if p.is_file()}


class _Background:
    """The two runs, each in its own process, started together."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="pipeline-fast-import-"))
        self.runs = {name: _start(name, self.tmp) for name in ("python-layout", "fast")}
        atexit.register(self.stop)

    def wait(self) -> dict[str, tuple[dict, Path]]:
        return {name: _finish(run) for name, run in self.runs.items()}

    def stop(self) -> None:
        for process, _, _ in self.runs.values():
            if process.poll() is None:
                process.kill()
                process.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


_COLLECT_ONLY = any(arg in ("--collect-only", "--co") for arg in sys.argv)
# Under pytest-xdist every worker collects every module, but only one runs these tests: start
# the runs when the fixture asks for them instead.
_EARLY = not _COLLECT_ONLY and "PYTEST_XDIST_WORKER" not in os.environ
_BACKGROUND = _Background() if _EARLY else None


@pytest.fixture(scope="module")
def runs():
    background = _BACKGROUND or _Background()
    return background.wait()


def test_fast_path_is_taken(runs):
    status, _ = runs["fast"]
    assert status["import_path"] == "fast", status
    assert status["js_index"] == "lazy", status


def test_unexpected_package_layout_falls_back_to_the_ordinary_import(runs):
    status, _ = runs["python-layout"]
    assert status["import_path"] == "naive", status
    assert "LayoutError" in status["detail"], status


def test_output_is_byte_identical(runs):
    fast = _files(runs["fast"][1])
    naive = _files(runs["python-layout"][1])
    assert any(name.endswith("cdk.tf.json") for name in fast), sorted(fast)
    assert sorted(fast) == sorted(naive)
    for name in fast:
        assert fast[name] == naive[name], f"{name} differs between the fast and the naive path"


def test_lazy_index_rewrites_only_the_re_exports():
    from constructs_lib.runtime.provider import LayoutError, lazy_index

    exports = "".join(f'exports.mod{i} = require("./mod-{i}");\n' for i in range(12))
    source = '"use strict";\nObject.defineProperty(exports, "__esModule", { value: true });\n' + exports
    rewritten = lazy_index(source)
    assert "exports.mod3 = require" not in rewritten
    assert 'Object.defineProperty(exports, "mod3", { enumerable: true, configurable: true, get: function () { return require("./mod-3"); } });' in rewritten
    assert rewritten.splitlines()[:2] == source.splitlines()[:2]
    with pytest.raises(LayoutError):
        lazy_index(source + '__exportStar(require("./other"), exports);\n')
    with pytest.raises(LayoutError):
        lazy_index('"use strict";\n')


# --- the lazy tarball's own checks, on small fake packages (no jsii kernel involved) --------

INDEX = '"use strict";\nObject.defineProperty(exports, "__esModule", { value: true });\n' + "".join(
    f'exports.mod{i} = require("./mod-{i}");\n' for i in range(12)
)


def _tarball(path: Path, index: str = INDEX, main: str = "lib/index.js") -> Path:
    import io
    import tarfile

    files = {
        "package/.jsii": b'{"name": "@fake/provider", "types": {}}',
        "package/lib/index.js": index.encode(),
        **{f"package/lib/mod-{i}/index.js": f"exports.Thing{i} = class {{}};\n".encode() for i in range(12)},
        "package/package.json": json.dumps({"name": "@fake/provider", "version": "1.0.0", "main": main}).encode(),
    }
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 499162500, 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


def _members(path: Path) -> dict[str, bytes]:
    import tarfile

    with tarfile.open(path, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isreg()}


def test_lazy_tarball_differs_from_the_original_only_in_its_index(tmp_path):
    from constructs_lib.runtime.provider import build_lazy_tarball, lazy_index

    original = _tarball(tmp_path / "original.tgz")
    build_lazy_tarball(original, tmp_path / "a" / "lazy.tgz")
    build_lazy_tarball(original, tmp_path / "b" / "lazy.tgz")
    before, after = _members(original), _members(tmp_path / "a" / "lazy.tgz")
    assert list(after) == list(before)
    assert {n for n in before if before[n] != after[n]} == {"package/lib/index.js"}
    assert after["package/lib/index.js"].decode() == lazy_index(INDEX)
    # deterministic, so every machine shares one jsii package-cache entry
    assert (tmp_path / "a" / "lazy.tgz").read_bytes() == (tmp_path / "b" / "lazy.tgz").read_bytes()
    assert (tmp_path / "a" / "lazy.index-size").read_text().strip() == str(len(after["package/lib/index.js"]))


@pytest.mark.parametrize(
    "index, main",
    [
        (INDEX + '__exportStar(require("./other"), exports);\n', "lib/index.js"),  # eager re-export
        (INDEX, "dist/index.js"),  # another entry point
        (INDEX + "exports.broken = (;\n", "lib/index.js"),  # does not parse (checked with node)
    ],
)
def test_unexpected_index_keeps_the_original_tarball(tmp_path, index, main):
    import shutil as _shutil

    from constructs_lib.runtime.provider import LayoutError, build_lazy_tarball

    if "broken" in index and _shutil.which(os.environ.get("JSII_NODE") or "node") is None:
        pytest.skip("no node to check the syntax with")
    with pytest.raises(LayoutError):
        build_lazy_tarball(_tarball(tmp_path / "original.tgz", index, main), tmp_path / "out" / "lazy.tgz")
    assert not (tmp_path / "out" / "lazy.tgz").exists()
    assert not list((tmp_path / "out").glob("*.partial"))


def test_jsii_loader_is_recognised_and_an_unexpected_one_is_not(tmp_path):
    import importlib.util

    from constructs_lib.runtime.flavour import select
    from constructs_lib.runtime.provider import LayoutError, _assembly_call

    flavour = select()
    spec = importlib.util.find_spec(flavour.provider)
    name, version, tarball, dependencies = _assembly_call(list(spec.submodule_search_locations))
    assert name == flavour.provider_assembly and tarball.is_file()
    assert tarball.name == f"provider-aws@{version}.jsii.tgz"
    assert set(dependencies) == {flavour.core, "constructs"}

    real = (tarball.parent / "__init__.py").read_text()
    fake = tmp_path / "pkg"
    (fake / "_jsii").mkdir(parents=True)
    (fake / "_jsii" / tarball.name).write_bytes(b"")
    for changed in (
        real.replace("jsii.JSIIAssembly.load(", "jsii.JSIIAssembly.load_assembly("),  # another loader
        real + "\n" + real[real.index("__jsii_assembly__ = "):],  # two assemblies
        real.replace(tarball.name, "elsewhere.tgz"),  # tarball not where it says
    ):
        (fake / "_jsii" / "__init__.py").write_text(changed)
        with pytest.raises(LayoutError):
            _assembly_call([str(fake)])
    (fake / "_jsii" / "__init__.py").write_text(real)
    assert _assembly_call([str(fake)])[:2] == (name, version)


# --- cdktn's index form, and a failed rewrite remembered ------------------------------------

# What TypeScript emits for `export * as x from "./x"` (cdktn's lib/index.js), shortened.
IMPORT_STAR_HELPER = """var __importStar = (this && this.__importStar) || function (mod) {
    if (mod && mod.__esModule) return mod;
    var result = {};
    if (mod != null) for (var k in mod) if (k !== "default" && Object.prototype.hasOwnProperty.call(mod, k)) result[k] = mod[k];
    result["default"] = mod;
    return result;
};"""
INDEX_CDKTN = (
    f'"use strict";\n{IMPORT_STAR_HELPER}\nObject.defineProperty(exports, "__esModule", {{ value: true }});\n'
    + "exports.mod11 = " + " = ".join(f"exports.mod{i}" for i in range(11)) + " = void 0;\n"
    + "".join(f'exports.mod{i} = __importStar(require("./mod-{i}/index"));\n' for i in range(12))
    + "// generated by cdktn get\n"
)


def test_lazy_index_understands_the_cdktn_form():
    from constructs_lib.runtime.provider import LayoutError, lazy_index

    rewritten = lazy_index(INDEX_CDKTN)
    assert "= __importStar(require" not in rewritten.replace("var m = __importStar(require", "")
    (line,) = [line for line in rewritten.splitlines() if '"./mod-3/index"' in line]
    assert line.startswith('Object.defineProperty(exports, "mod3", { enumerable: true, configurable: true, get: function () {')
    assert 'var m = __importStar(require("./mod-3/index"));' in line
    # the helper is kept as it was; without it the __importStar form is refused
    assert IMPORT_STAR_HELPER in rewritten
    with pytest.raises(LayoutError, match="__importStar without defining it"):
        lazy_index(INDEX_CDKTN.replace(IMPORT_STAR_HELPER, ""))
    # a mixed-up line (require outside the helper and the re-exports) is still refused
    with pytest.raises(LayoutError):
        lazy_index(INDEX_CDKTN + 'exports.x = __importStar(require("./x/index"), 1);\n')


NODE_CHECK = r"""
const path = require("path");
const before = Object.keys(require.cache).length;
const index = require(path.resolve(process.argv[1], "package/lib/index.js"));
const loadedByIndex = Object.keys(require.cache).length - before;
const names = Object.keys(index).sort();
const thing = typeof index.mod3.Thing3;
const same = index.mod3 === index.mod3;
console.log(JSON.stringify({ names, loadedByIndex, thing, same }));
"""


@pytest.mark.parametrize("form", ["cdktf", "cdktn"])
def test_lazy_index_exports_the_same_names_and_loads_nothing_up_front(tmp_path, form):
    """Run original and lazy lib/index.js in node: same exports, but the lazy one requires none."""
    import tarfile

    from constructs_lib.runtime.provider import build_lazy_tarball

    node = shutil.which(os.environ.get("JSII_NODE") or "node")
    if node is None:
        pytest.skip("no node to run the index with")
    original = _tarball(tmp_path / "original.tgz", INDEX if form == "cdktf" else INDEX_CDKTN)
    build_lazy_tarball(original, tmp_path / "lazy.tgz")
    results = {}
    for name in ("original", "lazy"):
        with tarfile.open(tmp_path / f"{name}.tgz") as tar:
            tar.extractall(tmp_path / name, filter="data")
        out = subprocess.run([node, "-e", NODE_CHECK, str(tmp_path / name)], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        results[name] = json.loads(out.stdout)
    assert results["lazy"]["names"] == results["original"]["names"] == sorted(f"mod{i}" for i in range(12))
    assert results["original"]["loadedByIndex"] == 13  # the index and its 12 modules
    assert results["lazy"]["loadedByIndex"] == 1  # the index alone
    assert results["lazy"]["thing"] == results["original"]["thing"] == "function"
    assert results["lazy"]["same"] is True


def test_a_failed_rewrite_is_remembered_until_the_tarball_changes(tmp_path, monkeypatch):
    from constructs_lib.runtime import provider

    monkeypatch.setattr(provider, "CACHE_DIR", tmp_path / "cache")
    tarball = _tarball(tmp_path / "provider-aws@1.0.0.jsii.tgz", INDEX_CDKTN + 'require("./eager");\n')
    with pytest.raises(provider.LayoutError, match="unexpected require"):
        provider.prepare_lazy_tarball("@fake/provider", "1.0.0", tarball)
    lazy = provider.lazy_tarball_path("@fake/provider", "1.0.0", tarball)
    marker = provider.failure_marker(lazy)
    assert "unexpected require" in marker.read_text()
    assert not lazy.exists()

    def must_not_build(*_args):
        raise AssertionError("the tarball was read again")

    monkeypatch.setattr(provider, "build_lazy_tarball", must_not_build)
    with pytest.raises(provider.LayoutError, match="remembered in .*delete it to retry"):
        provider.prepare_lazy_tarball("@fake/provider", "1.0.0", tarball)

    # a new tarball (here: a fixed one) gets a new key, so it is tried again and works
    monkeypatch.undo()
    monkeypatch.setattr(provider, "CACHE_DIR", tmp_path / "cache")
    fixed = _tarball(tmp_path / "provider-aws@1.0.0.jsii.tgz", INDEX_CDKTN)
    os.utime(fixed, ns=(1, 2))
    assert provider.prepare_lazy_tarball("@fake/provider", "1.0.0", fixed).is_file()


def test_a_transient_error_is_not_remembered(tmp_path, monkeypatch):
    from constructs_lib.runtime import provider

    monkeypatch.setattr(provider, "CACHE_DIR", tmp_path / "cache")
    tarball = _tarball(tmp_path / "provider-aws@1.0.0.jsii.tgz", INDEX_CDKTN)

    def disk_full(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(provider, "build_lazy_tarball", disk_full)
    with pytest.raises(OSError):
        provider.prepare_lazy_tarball("@fake/provider", "1.0.0", tarball)
    assert not provider.failure_marker(provider.lazy_tarball_path("@fake/provider", "1.0.0", tarball)).exists()
