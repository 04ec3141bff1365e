"""cdktf and CDK Terrain (cdktn) from one code base (issue 11).

* Only ``constructs_lib/cdk.py`` and ``constructs_lib/runtime/`` may name the two libraries'
  packages; everything else goes through them.
* ``PIPELINE_CDK`` picks the flavour; a bad value or a missing package is one clear line.
* Both synthesize the same Terraform JSON for the default and the fan-out configuration:
  the suite runs in one virtual environment, so the other flavour synthesizes in its own
  (``.venv`` for cdktf, ``.venv-cdktn`` for cdktn) in a subprocess started at collection
  time, and the outputs are compared here. Only cdktf's metadata block differs (the
  library version it records). Skipped, with the reason, when the other environment is not
  built (``make test CDK=cdktn`` builds ``.venv-cdktn``; CI builds both).
* The S3 backend's ``use_lockfile`` is written the same way on both.
"""

from __future__ import annotations

import ast
import atexit
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import pytest

from constructs_lib.runtime.flavour import CDKTF, CDKTN, ENV, FlavourError, select

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FANOUT = PROJECT_ROOT / "examples" / "fanout.toml"

PACKAGES = {f.core for f in (CDKTF, CDKTN)} | {f.provider for f in (CDKTF, CDKTN)}
# Files allowed to load the packages: the compatibility module and the loader it uses.
ALLOWED = {"constructs_lib/cdk.py", "constructs_lib/runtime/flavour.py", "constructs_lib/runtime/provider.py",
           # a user's CDK Terrain app, written out and run with the installed library
           "tests/test_install.py"}
SKIP_DIRS = {".venv", ".venv-cdktn", ".venv-scan", "node_modules", "cdktf.out", ".build", ".git", "__pycache__"}
# An import statement of one of the packages, also inside code kept in strings (subprocess drivers).
_IMPORT_LINE = re.compile(
    r"^\s*(?:import|from)\s+(?:" + "|".join(sorted(PACKAGES)) + r")(?:[\s.]|$)", re.M
)
_IMPORT_CALL = re.compile(r"""import_module\(\s*["'](?:""" + "|".join(sorted(PACKAGES)) + r""")["'.]""")


def _python_files() -> list[Path]:
    files = []
    for dirpath, dirnames, filenames in os.walk(PROJECT_ROOT):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".venv")]
        files += [Path(dirpath, name) for name in filenames if name.endswith(".py")]
    return files


def _typing_only(text: str, position: int) -> bool:
    """Whether the line at ``position`` is inside an ``if TYPE_CHECKING:`` block (indented under it)."""
    lines = text[:position].splitlines()
    for line in reversed(lines):
        if line.strip() and not line.startswith((" ", "\t")):
            return line.startswith("if TYPE_CHECKING:")
    return False


def test_only_the_compatibility_module_imports_cdktf_or_cdktn():
    offenders = []
    files = _python_files()
    assert len(files) > 30, "the scan found too few files to be looking at the project"
    for path in files:
        rel = path.relative_to(PROJECT_ROOT).as_posix()
        if rel in ALLOWED:
            continue
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        # Imports under `if TYPE_CHECKING:` never run: they give type checkers cdktf's classes.
        typing_only = {id(inner) for node in ast.walk(tree) if isinstance(node, ast.If)
                       and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
                       for stmt in node.body for inner in ast.walk(stmt)}
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{rel}:{node.lineno}: imports {n}" for n in names if n.split(".")[0] in PACKAGES]
        offenders += [f"{rel}: {m.group(0).strip()!r}" for m in _IMPORT_LINE.finditer(text)
                      if not _typing_only(text, m.start())]
        offenders += [f"{rel}: {m.group(0)!r}" for m in _IMPORT_CALL.finditer(text)]
    assert not offenders, "use constructs_lib.cdk / constructs_lib.aws instead:\n" + "\n".join(sorted(set(offenders)))


def test_the_rule_above_would_catch_a_direct_import(tmp_path):
    """The scanner's patterns match the forms it must refuse (and not prose about them)."""
    caught = [
        "import cdktf\n",
        "from cdktn import App\n",
        "    import cdktn_provider_aws.provider\n",
        'DRIVER = """\nfrom cdktf_cdktf_provider_aws import provider\n"""\n',
    ]
    for text in caught:
        assert _IMPORT_LINE.search(text), text
    assert _IMPORT_CALL.search(f'importlib.import_module("{CDKTN.provider}.kms_key")')
    for text in ("the plain ``import cdktf_cdktf_provider_aws`` is slow\n", "import cdktf_helpers\n", "cdktf.out/\n"):
        assert not _IMPORT_LINE.search(text), text


# --- choosing the flavour --------------------------------------------------------------------

def _find_spec(installed: set[str]):
    return lambda name: object() if name in installed else None


def test_flavour_follows_pipeline_cdk_and_otherwise_what_is_installed():
    both = _find_spec(PACKAGES)
    assert select({}, both, loaded=set()) is CDKTF  # cdktf first
    assert select({ENV: "cdktn"}, both) is CDKTN
    assert select({ENV: " cdktf "}, both) is CDKTF
    assert select({}, _find_spec({"cdktn", "cdktn_provider_aws"})) is CDKTN
    # the core library without its provider is not enough
    assert select({}, _find_spec({"cdktf", "cdktn", "cdktn_provider_aws"})) is CDKTN


def test_with_both_installed_the_cdk_the_app_imported_wins():
    both = _find_spec(PACKAGES)
    assert select({}, both, loaded={"cdktn"}) is CDKTN  # a CDK Terrain app, cdktf installed too
    assert select({}, both, loaded={"cdktf"}) is CDKTF
    assert select({}, both, loaded={"cdktf", "cdktn"}) is CDKTF  # both imported: the usual order
    assert select({ENV: "cdktf"}, both, loaded={"cdktn"}) is CDKTF  # PIPELINE_CDK still decides


@pytest.mark.parametrize(
    ("environ", "installed", "message"),
    [
        ({ENV: "cdk"}, PACKAGES, "PIPELINE_CDK: must be cdktf or cdktn, not 'cdk'"),
        ({ENV: "cdktn"}, {"cdktf", "cdktf_cdktf_provider_aws"}, "PIPELINE_CDK: cdktn is selected but cdktn and cdktn_provider_aws"),
        ({}, set(), "PIPELINE_CDK: neither cdktf nor cdktn"),
    ],
)
def test_flavour_errors_name_the_variable_and_the_fix(environ, installed, message):
    with pytest.raises(FlavourError) as caught:
        select(environ, _find_spec(installed))
    assert str(caught.value).startswith(message)
    assert "make synth" in str(caught.value) or "must be cdktf or cdktn" in str(caught.value)


def test_main_py_with_an_unknown_flavour_prints_one_line_and_exits_2():
    env = dict(os.environ, **{ENV: "terraform"})
    result = subprocess.run([sys.executable, "main.py"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == "error: PIPELINE_CDK: must be cdktf or cdktn, not 'terraform'"


def test_cdktn_pipfile_keeps_the_pipfile_pins_except_the_cdk():
    """cdktn/Pipfile differs from the Pipfile only in the CDK packages; constructs suits both."""
    main = tomllib.loads((PROJECT_ROOT / "Pipfile").read_text())
    cdktn = tomllib.loads((PROJECT_ROOT / "cdktn" / "Pipfile").read_text())
    cdk_packages = {"cdktf", "cdktf-cdktf-provider-aws", "cdktn", "cdktn-provider-aws"}
    for section in ("packages", "dev-packages"):
        rest_main = {k: v for k, v in main.get(section, {}).items() if k not in cdk_packages}
        rest_cdktn = {k: v for k, v in cdktn.get(section, {}).items() if k not in cdk_packages}
        assert rest_main == rest_cdktn, section
    version = main["packages"]["constructs"].removeprefix("==")
    parts = tuple(int(p) for p in version.split("."))
    assert (10, 6) <= parts[:2] < (10, 8), f"constructs {version}: cdktn needs >=10.6,<10.8"
    assert cdktn["packages"]["cdktn"] == "==0.24.0"
    assert "source" not in cdktn  # names no package index, like the Pipfile
    package = json.loads((PROJECT_ROOT / "cdktn" / "package.json").read_text())
    assert package["devDependencies"]["cdktn-cli"] == "0.24.0"
    node = tuple(int(p) for p in package["devDependencies"]["node"].split("."))
    assert node[0] == 22 and node >= (22, 19, 0), "cdktn-cli needs Node >= 22.19"


# --- the S3 backend's use_lockfile -----------------------------------------------------------

def _backend(synth_config, **backend):
    from pipeline_model.config import build_config

    return synth_config([build_config(backend=dict(bucket="state-bucket", **backend))]).only["terraform"]["backend"]


def test_s3_backend_with_use_lockfile_only(synth_config):
    assert _backend(synth_config, use_lockfile=True) == {
        "s3": {
            "bucket": "state-bucket",
            "key": "event-driven-pipeline/terraform.tfstate",
            "region": "us-east-1",
            "encrypt": True,
            "use_lockfile": True,
        }
    }


def test_s3_backend_with_both_locks_while_migrating(synth_config):
    s3 = _backend(synth_config, use_lockfile=True, dynamodb_table="terraform-locks")["s3"]
    assert s3["use_lockfile"] is True
    assert s3["dynamodb_table"] == "terraform-locks"


def test_s3_backend_with_the_dynamodb_lock_writes_no_use_lockfile(synth_config):
    s3 = _backend(synth_config, dynamodb_table="terraform-locks")["s3"]
    assert "use_lockfile" not in s3
    assert s3["dynamodb_table"] == "terraform-locks"


def test_s3_backend_without_any_lock_is_refused():
    from pipeline_model.config import ConfigError, build_config

    with pytest.raises(ConfigError) as caught:
        build_config(backend={"bucket": "state-bucket"})
    assert "backend.use_lockfile: state must be locked" in str(caught.value)


# --- the same JSON from both -----------------------------------------------------------------

def _other():
    """(flavour, python) of the flavour the suite does not run on."""
    try:
        mine = select()
    except FlavourError:
        return None, None
    other = CDKTN if mine is CDKTF else CDKTF
    venv = ".venv-cdktn" if other is CDKTN else ".venv"
    return other, PROJECT_ROOT / venv / "bin" / "python"


# Runs in the other environment: synthesize each (config file, outdir) pair, report the flavour.
DRIVER = r"""
import json, os, sys
sys.path.insert(0, os.getcwd())
from constructs_lib.app import build_app, load_environments
from main import use_supported_node
use_supported_node()
from constructs_lib import cdk
jobs = json.loads(sys.argv[1])
for config, outdir in jobs:
    build_app(load_environments(config, ""), outdir).synth()
print(json.dumps({"flavour": cdk.FLAVOUR.name}))
"""


class _OtherSynth:
    """The other flavour's syntheses of the default and the fan-out configuration, in the background."""

    def __init__(self, flavour, python: Path) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="pipeline-cdk-compat-"))
        self.outdirs = {"default": self.tmp / "default" / "cdktf.out", "fanout": self.tmp / "fanout" / "cdktf.out"}
        for outdir in self.outdirs.values():
            outdir.parent.mkdir(parents=True)
        jobs = [["", str(self.outdirs["default"])], [str(FANOUT), str(self.outdirs["fanout"])]]
        env = {k: v for k, v in os.environ.items() if k not in ("PIPELINE_NAIVE_PROVIDER_IMPORT", "PIPELINE_EAGER_PROVIDER_JS", "CDKTF_OUTDIR", "PIPELINE_CONFIG", "PIPELINE_ENVIRONMENTS", "JSII_NODE", "VIRTUAL_ENV")}
        env[ENV] = flavour.name
        self.log = self.tmp / "log.txt"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [str(python), "-c", DRIVER, json.dumps(jobs)], cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=log
            )
        atexit.register(self.stop)

    def wait(self) -> dict:
        out, _ = self.process.communicate(timeout=600)
        assert self.process.returncode == 0, self.log.read_text(errors="replace")[-4000:]
        return json.loads(out.decode().strip().splitlines()[-1])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


OTHER, OTHER_PYTHON = _other()
_HAVE_OTHER = OTHER_PYTHON is not None and OTHER_PYTHON.exists()
_COLLECT_ONLY = any(arg in ("--collect-only", "--co") for arg in sys.argv)
_BACKGROUND = _OtherSynth(OTHER, OTHER_PYTHON) if _HAVE_OTHER and not _COLLECT_ONLY else None

needs_other = pytest.mark.skipif(
    not _HAVE_OTHER,
    reason=(
        f"the other CDK's environment is not built ({OTHER_PYTHON and OTHER_PYTHON.parent.parent.name} missing: "
        f"`make test CDK={OTHER and OTHER.name}` builds it; CI builds both)"
    ),
)


@pytest.fixture(scope="module")
def other_synth():
    background = _BACKGROUND or _OtherSynth(OTHER, OTHER_PYTHON)
    report = background.wait()
    assert report["flavour"] == OTHER.name, report
    return background.outdirs


def _stack_files(stacks_dir: Path) -> dict[str, object]:
    """Every file under stacks/: JSON documents parsed, without the library version; others as bytes."""
    files = {}
    for path in sorted(stacks_dir.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(stacks_dir).as_posix()
        if path.name == "cdk.tf.json":
            document = json.loads(path.read_text())
            version = document["//"]["metadata"].pop("version")
            assert re.fullmatch(r"0\.\d+\.\d+", version), version
            files[rel] = document
        else:
            files[rel] = path.read_bytes()
    return files


def _assert_same(mine: Path, theirs: Path) -> None:
    a, b = _stack_files(mine / "stacks"), _stack_files(theirs / "stacks")
    assert any(name.endswith("cdk.tf.json") for name in a), sorted(a)
    assert sorted(a) == sorted(b)
    for name in a:
        assert a[name] == b[name], f"{name} differs between {select().name} and {OTHER.name}"


@needs_other
def test_default_stack_is_the_same_on_cdktf_and_cdktn(default_synth, other_synth):
    _assert_same(default_synth.outdir, other_synth["default"])


@needs_other
def test_fanout_stacks_are_the_same_on_cdktf_and_cdktn(synth_config, other_synth):
    from constructs_lib.app import load_environments

    mine = synth_config(load_environments(str(FANOUT), ""))
    _assert_same(mine.outdir, other_synth["fanout"])
