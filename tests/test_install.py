"""The constructs as a library: installed with pip into a folder of their own, imported by an
app in another folder (this repository NOT on sys.path), which builds two pipelines and an extra
subscriber whose code lives in the app's folder, and synthesizes (issue #12).

The app is examples/two_pipelines_app.py, the code docs/library.md shows (tests/test_docs.py checks it). Installing builds the
package with setuptools in pip's isolated build environment, which needs the package index the
first time: without it the test skips.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = PROJECT_ROOT / "examples" / "two_pipelines_app.py"
#: What the package is built from (a copy, so the build leaves nothing in the repository).
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "constructs_lib", "pipeline_model", "functions", "tfschema_provider")


def _install_command(target: Path, source: Path) -> list[str]:
    from pipeline_model.packaging import PackagingError, target_install_command

    try:
        return target_install_command(target, [str(source)], pip_options=("--no-deps",), uv_options=("--no-deps",))[1]
    except PackagingError as error:
        pytest.skip(str(error))


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("install")
    source = root / "source"
    source.mkdir()
    for name in SOURCES:
        path = PROJECT_ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy(path, source / name)
    target = root / "site"
    result = subprocess.run(_install_command(target, source), capture_output=True, text=True, timeout=600,
                            env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"})
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        offline = ("No matching distribution", "Could not find a version", "Failed to establish a new connection",
                   "Network is unreachable", "Temporary failure in name resolution",
                   "Failed to fetch", "error sending request", "dns error")  # the last three: uv's wording
        if any(sign in result.stderr for sign in offline):
            pytest.skip(f"building the package needs setuptools from the package index: {detail}")
        pytest.fail(f"installing the project failed:\n{result.stderr}")
    return target


def test_the_package_ships_its_handlers_and_py_typed(installed):
    for package in ("constructs_lib", "pipeline_model"):
        assert (installed / package / "py.typed").is_file()
    for handler in ("producer", "consumer"):
        assert (installed / "pipeline_model" / "handlers" / handler / "app.py").is_file()


def test_an_app_elsewhere_builds_two_pipelines_and_an_extra_subscriber(installed, tmp_path):
    app = tmp_path / "my_app"
    (app / "handlers" / "audit").mkdir(parents=True)
    (app / "handlers" / "audit" / "app.py").write_text("def handler(event, context):\n    return {'batchItemFailures': []}\n")
    shutil.copy(EXAMPLE, app / "app.py")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIPELINE_CONFIG", "CDKTF_OUTDIR")}
    # The installed package first; the test environment's site-packages provide cdktf and the rest.
    env["PYTHONPATH"] = str(installed)
    # An installed package keeps its jsii copy in the user's cache folder, not beside itself.
    env.pop("PIPELINE_JSII_CACHE_DIR", None)
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    node = PROJECT_ROOT / "node_modules" / ".bin" / "node"
    if "JSII_NODE" not in env and os.access(node, os.X_OK):
        env["JSII_NODE"] = str(node)
    where = subprocess.run(
        [sys.executable, "-c", "import constructs_lib, sys; print(constructs_lib.__file__); "
         f"print(any(p.rstrip('/') == {str(PROJECT_ROOT)!r} for p in sys.path))"],
        cwd=app, env=env, capture_output=True, text=True, timeout=60,
    )
    module_file, repo_on_path = where.stdout.split()
    assert Path(module_file).is_relative_to(installed) and repo_on_path == "False"

    result = subprocess.run([sys.executable, "app.py"], cwd=app, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    doc = json.loads((app / "cdktf.out" / "stacks" / "shop" / "cdk.tf.json").read_text())
    modules = doc["module"]
    for prefix in ("orders_", "billing_"):
        assert {f"{prefix}{m}" for m in ("table", "topic", "producer", "queue_main", "consumer_main")} <= set(modules)
    assert modules["orders_queue_audit"]["name"] == "audit-queue-orders"  # the pipeline's name_suffix, as for its configured subscribers
    audit_package = modules["orders_consumer_audit"]["local_existing_package"]
    assert Path(audit_package).name.startswith("audit-")
    assert (app / "cdktf.out" / "stacks" / "shop" / audit_package).is_file()
    mapping = doc["resource"]["aws_lambda_event_source_mapping"]["orders_producer_event_source"]
    assert "aws_sns_topic_subscription.orders_subscription_audit" in mapping["depends_on"]
    # Build artefacts beside the app's output folder, none in the installed package.
    assert list((app / ".build").glob("audit-*.zip"))
    assert not list(installed.rglob("*.zip"))
    assert not (installed / ".build").exists()
    assert list((tmp_path / "cache" / "constructs_lib" / "jsii").glob("*.tgz"))


TYPED_APP = '''\
from pathlib import Path

from constructs_lib import (
    App, ConfigError, EventPipeline, EventPipelineProps, PipelineError, Problem, SubscriberConfig, TerraformStack,
    aws_provider, build_config,
)

app = App()
stack = TerraformStack(app, "shop")
aws_provider(stack, "eu-west-1")
orders = EventPipeline(stack, "orders", props=EventPipelineProps(name_suffix="-orders", tags={"team": "orders"}))
billing = EventPipeline.from_config(stack, "billing", build_config(region="eu-west-1", name_suffix="-billing"))
audit = orders.add_subscriber(SubscriberConfig(name="audit", code=Path("handlers/audit")))
queue: str = audit.names.queue
problems: list[Problem] = []
try:
    build_config(region="moon-1")
except ConfigError as error:
    problems = list(error.problems)
base: type[Exception] = PipelineError
'''


def _mypy(installed: Path, folder: Path, source: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("mypy", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("mypy is not installed in this environment (make test installs it from the Pipfile)")
    (folder / "app.py").write_text(source)
    env = {**os.environ, "PYTHONPATH": str(installed)}  # installed like a user's: mypy checks the app, not the library
    # One cache for both runs of a test: the library and cdktf are analysed once.
    return subprocess.run([sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(folder.parent / "mypy-cache"),
                           "--python-executable", sys.executable, "app.py"],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=600)


def test_an_app_using_the_public_names_passes_mypy_strict(installed, tmp_path):
    """The lazy public names type-check (explicit re-exports), props are typed field by field, and a
    wrong type in the app is caught (so the check is real)."""
    result = _mypy(installed, tmp_path, TYPED_APP)
    assert result.returncode == 0, result.stdout + result.stderr
    wrong = _mypy(installed, tmp_path, TYPED_APP + 'size: int = audit.names.queue\n'
                  'bad = EventPipelineProps(name_suffix=3)\n')
    assert wrong.returncode == 1
    assert 'app.py:21: error: Incompatible types in assignment (expression has type "str", variable has type "int")' \
        in wrong.stdout
    assert 'app.py:22: error: Argument "name_suffix" to "EventPipelineProps" has incompatible type "int"' in wrong.stdout


def test_the_cdk_comes_with_an_extra_one_at_a_time(installed):
    """`pip install '.[cdktn]'` brings no cdktf: neither CDK is a plain dependency."""
    metadata = next(installed.glob("event_pipeline_constructs-*.dist-info")) / "METADATA"
    requires = [line.removeprefix("Requires-Dist: ") for line in metadata.read_text().splitlines()
                if line.startswith("Requires-Dist: ")]
    for package, extra in (("cdktf", "cdktf"), ("cdktf-cdktf-provider-aws", "cdktf"), ("cdktn", "cdktn"),
                           ("cdktn-provider-aws", "cdktn")):
        lines = [r for r in requires if r.split(">")[0].split("<")[0].split("=")[0].strip() == package]
        assert lines and all(f'extra == "{extra}"' in r for r in lines), (package, lines)


CDKTN_APP = '''\
from cdktn import App, TerraformStack
from constructs_lib import EventPipeline, aws_provider

app = App(outdir="out")
stack = TerraformStack(app, "shop")
aws_provider(stack, "eu-west-1")
EventPipeline(stack, "orders")
app.synth()
'''


def test_a_cdk_terrain_app_needs_no_environment_variable(installed, tmp_path):
    """With CDK Terrain installed (and no cdktf), the library takes it, PIPELINE_CDK unset."""
    python = PROJECT_ROOT / ".venv-cdktn" / "bin" / "python"
    if not python.exists():
        pytest.skip(".venv-cdktn is not built (make install CDK=cdktn; CI builds it)")
    (tmp_path / "app.py").write_text(CDKTN_APP)
    env = {k: v for k, v in os.environ.items() if k not in ("PIPELINE_CDK", "PYTHONPATH", "PIPELINE_CONFIG")}
    env["PYTHONPATH"] = str(installed)
    node = PROJECT_ROOT / "cdktn" / "node_modules" / ".bin" / "node"
    if os.access(node, os.X_OK):
        env["JSII_NODE"] = str(node)
    env["PIPELINE_JSII_CACHE_DIR"] = str(tmp_path / "jsii")
    result = subprocess.run([str(python), "app.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    doc = json.loads((tmp_path / "out" / "stacks" / "shop" / "cdk.tf.json").read_text())
    assert "orders_table" in doc["module"]


# --- offline validate as an installed command (issue #19: `pipeline-validate`) --------------------------------------
# Kept together at the end of the file: the console script and its module, run from the installed copy only.

#: The offline inputs of this machine, passed to the installed command explicitly (it looks nowhere else).
SHARED_TERRAFORM = PROJECT_ROOT.parent / "shared" / "terraform"


def _installed_env(installed: Path, tmp_path: Path) -> dict[str, str]:
    """The installed package first, no repository on the path, no offline inputs from the environment."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PIPELINE_CONFIG", "CDKTF_OUTDIR", "PIPELINE_TERRAFORM_OFFLINE_DIR",
                        "PIPELINE_JSII_CACHE_DIR")}
    env["PYTHONPATH"] = str(installed)
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    node = PROJECT_ROOT / "node_modules" / ".bin" / "node"
    if "JSII_NODE" not in env and os.access(node, os.X_OK):
        env["JSII_NODE"] = str(node)
    return env


def test_the_validate_command_is_a_console_script_with_its_schemas(installed):
    dist_info = next(installed.glob("event_pipeline_constructs-*.dist-info"))
    entry_points = (dist_info / "entry_points.txt").read_text().splitlines()
    section = entry_points[entry_points.index("[console_scripts]") + 1:]
    assert "pipeline-validate = tfschema_provider.validate:main" in section
    shipped = {p.name for p in (installed / "tfschema_provider" / "schemas").glob("*.json")}
    assert shipped == {p.name for p in (PROJECT_ROOT / "tfschema_provider" / "schemas").glob("*.json")}
    assert (installed / "tfschema_provider" / "validate.py").is_file()


def test_the_validate_extra_admits_the_pipfile_pins(installed):
    """`pip install '.[validate]'` brings what the schema-only provider needs, in ranges that hold the
    versions the Pipfile pins (the ones the suite runs with)."""
    import tomllib

    from packaging.requirements import Requirement

    metadata = next(installed.glob("event_pipeline_constructs-*.dist-info")) / "METADATA"
    extra = {}
    for line in metadata.read_text().splitlines():
        if line.startswith("Requires-Dist: ") and 'extra == "validate"' in line:
            requirement = Requirement(line.removeprefix("Requires-Dist: "))
            extra[requirement.name] = requirement.specifier
    pipfile = tomllib.loads((PROJECT_ROOT / "Pipfile").read_text())
    pins = {**pipfile["packages"], **pipfile["dev-packages"]}
    assert set(extra) == {"tf", "grpcio", "protobuf", "msgpack"}
    for name, specifier in extra.items():
        pinned = pins[name].removeprefix("==")
        assert specifier.contains(pinned), (name, str(specifier), pinned)


def test_the_installed_validate_module_runs_from_another_folder(installed, tmp_path):
    env = _installed_env(installed, tmp_path)
    where = subprocess.run(
        [sys.executable, "-c", "import tfschema_provider.validate as v, sys; print(v.__file__); "
         f"print(any(p.rstrip('/') == {str(PROJECT_ROOT)!r} for p in sys.path))"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )
    module_file, repo_on_path = where.stdout.split()
    assert Path(module_file).is_relative_to(installed) and repo_on_path == "False"
    result = subprocess.run([sys.executable, "-m", "tfschema_provider.validate", "--help"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: pipeline-validate ") and "--offline-dir DIR" in result.stdout


VALIDATED_APP = '''\
from constructs_lib import App, EventPipeline, EventPipelineProps, TerraformStack, aws_provider

app = App(outdir="out")
stack = TerraformStack(app, "shop")
aws_provider(stack, "eu-west-1")
EventPipeline(stack, "orders", props=EventPipelineProps(name_suffix="-orders"))
app.synth()
'''


def test_the_installed_command_validates_a_stack_offline(installed, tmp_path):
    """An app outside the repository, built with the installed package, validated and planned offline by the
    installed `pipeline-validate` script, the offline inputs named by --offline-dir alone."""
    import re

    if not ((SHARED_TERRAFORM / "modules").is_dir() and list((SHARED_TERRAFORM / "schemas").glob("aws-*.json"))):
        pytest.skip(f"offline Terraform inputs absent: {SHARED_TERRAFORM} (modules/, schemas/aws-*.json)")
    if shutil.which(os.environ.get("TERRAFORM") or "terraform") is None:
        pytest.skip("needs a terraform binary on PATH (or $TERRAFORM)")
    script = installed / "bin" / "pipeline-validate"
    assert os.access(script, os.X_OK), sorted(p.name for p in (installed / "bin").glob("*"))
    env = _installed_env(installed, tmp_path)
    (tmp_path / "app.py").write_text(VALIDATED_APP)
    synth = subprocess.run([sys.executable, "app.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=300)
    assert synth.returncode == 0, synth.stderr[-3000:]

    result = subprocess.run([str(script), "--offline-dir", str(SHARED_TERRAFORM), "--plan", "out/stacks/shop"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"offline, modules and schema from {SHARED_TERRAFORM.resolve()}" in result.stdout
    assert re.search(r"shop: valid, plan: \d+ to add, 0 to change, 0 to destroy", result.stdout), result.stdout

    without = subprocess.run([str(script), "--offline", "out/stacks/shop"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=120)
    assert without.returncode == 2 and "pass --offline-dir DIR" in without.stderr, without.stderr
