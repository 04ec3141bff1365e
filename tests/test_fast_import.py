"""The fast provider import synthesizes exactly what the ordinary import does.

``constructs_lib/aws.py`` loads the prebuilt AWS provider two ways faster than
``import cdktf_cdktf_provider_aws`` (see its docstring): Python submodules only, and a jsii
tarball whose ``lib/index.js`` is lazy. Each run here is a separate process (jsii has one
kernel per process, and the provider package can be imported only once), writing to its own
output folder; every file they write must be byte-for-byte the same:

* fast: the default path; must really be taken (Python fast path and lazy JS index);
* python-layout: a simulated unexpected package layout (no package directory), so the whole
  thing must fall back to the ordinary ``import cdktf_cdktf_provider_aws`` (the naive path:
  all ~2,200 Python modules and the original jsii tarball).

The naive run takes 15-30 s, so both runs start in the background when this module is
imported, at collection time, and overlap the tests that run before these; the fixture only
waits for them. If these tests are deselected, the runs are killed when the session ends (and
not started at all under --collect-only).

The lazy tarball's own fallbacks (an unexpected ``_jsii/__init__.py`` or ``lib/index.js``
keeps the original tarball) are checked in-process on small fake packages, without a kernel.
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
PACKAGE = "cdktf_cdktf_provider_aws"
if simulate == "python-layout":
    real_find_spec = importlib.util.find_spec
    def find_spec(name, package=None):
        spec = real_find_spec(name, package)
        if name == PACKAGE and spec is not None:
            spec.submodule_search_locations = None  # looks like a plain module
        return spec
    importlib.util.find_spec = find_spec

sys.path.insert(0, os.getcwd())
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
    from constructs_lib.aws import LayoutError, lazy_index

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
    from constructs_lib.aws import build_lazy_tarball, lazy_index

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

    from constructs_lib.aws import LayoutError, build_lazy_tarball

    if "broken" in index and _shutil.which(os.environ.get("JSII_NODE") or "node") is None:
        pytest.skip("no node to check the syntax with")
    with pytest.raises(LayoutError):
        build_lazy_tarball(_tarball(tmp_path / "original.tgz", index, main), tmp_path / "out" / "lazy.tgz")
    assert not (tmp_path / "out" / "lazy.tgz").exists()
    assert not list((tmp_path / "out").glob("*.partial"))


def test_jsii_loader_is_recognised_and_an_unexpected_one_is_not(tmp_path):
    import importlib.util

    from constructs_lib.aws import PACKAGE, LayoutError, _assembly_call

    spec = importlib.util.find_spec(PACKAGE)
    name, version, tarball, dependencies = _assembly_call(list(spec.submodule_search_locations))
    assert name == "@cdktf/provider-aws" and tarball.is_file()
    assert tarball.name == f"provider-aws@{version}.jsii.tgz"
    assert set(dependencies) == {"cdktf", "constructs"}

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
