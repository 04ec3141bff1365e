"""Set-up and CLI behaviour: make help, what each target installs, the cdktf.json app launcher,
main.py's preflight, the install steps' output, and the --hcl leftover check. All offline."""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import check_stacks  # noqa: E402
import pipfile_requirements  # noqa: E402
import setup_env  # noqa: E402

#: Variables the calling make exports; a test that runs make or the launcher must not inherit them.
MAKE_ENV = ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES", "PIPELINE_PYTHON", "PIPELINE_CDK", "VIRTUAL_ENV",
            "PIPELINE_INSTALLER", "CDK", "TERRAFORM", "ARGS", "INSTALLER")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in MAKE_ENV}
    env.update(extra)
    return env


# --- make help -----------------------------------------------------------------------------

def makefile_targets_and_variables() -> tuple[set[str], set[str]]:
    text = (ROOT / "Makefile").read_text()
    targets = {m for m in re.findall(r"^([a-z][\w-]*)\s*:(?!=)", text, re.M)}
    variables = set(re.findall(r"^([A-Z][A-Z_]*)\s*\?=", text, re.M))
    return targets, variables


def test_make_help_lists_every_target_and_variable():
    targets, variables = makefile_targets_and_variables()
    assert {"synth", "test", "plan", "help"} <= targets and {"CDK", "TERRAFORM", "CONFIG", "ENVIRONMENTS"} <= variables
    out = subprocess.run(["make", "-s", "help"], cwd=ROOT, env=clean_env(), capture_output=True, text=True, check=True).stdout
    listed = set(re.findall(r"^\s+make ([\w-]+)", out, re.M))
    named = set(re.findall(r"^\s+([A-Z][A-Z_]*)=", out, re.M))
    assert targets - listed == set(), "targets missing from make help"
    assert variables - named == set(), "variables missing from make help"


def test_make_refuses_an_unknown_cdk():
    result = subprocess.run(["make", "-s", "help", "CDK=cdk8s"], cwd=ROOT, env=clean_env(), capture_output=True, text=True)
    assert result.returncode != 0
    assert "error: CDK: must be cdktf or cdktn, not 'cdk8s'" in result.stderr


def test_terraform_names_the_binary_make_plan_runs(tmp_path):
    tofu = tmp_path / "tofu"
    tofu.write_text("#!/bin/sh\n")
    tofu.chmod(0o755)
    env = clean_env(PATH=f"{tmp_path}:{os.environ['PATH']}")
    assert subprocess.run(["make", "-s", "terraform-on-path", "TERRAFORM=tofu"], cwd=ROOT, env=env,
                          capture_output=True, timeout=60).returncode == 0
    missing = subprocess.run(["make", "-s", "terraform-on-path", "TERRAFORM=tofu-nowhere"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode != 0
    assert missing.stdout.startswith("error: TERRAFORM: no 'tofu-nowhere' binary on PATH;")
    plan = subprocess.run(["make", "-n", "plan", "TERRAFORM=tofu"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60).stdout
    assert "tofu init -input=false && tofu plan -input=false" in plan and "scripts/check_stacks.py" in plan


# --- what each target installs (make -n in a copy with nothing installed) -------------------

@pytest.fixture(scope="module")
def bare_checkout(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("bare")
    for name in ("Makefile", "Pipfile", "package.json", "security/requirements.txt", "scripts/setup_env.py",
                 "scripts/pipfile_requirements.py", "scripts/tools-requirements.txt"):
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, work / name)
    return work


def dry_run(work: Path, target: str) -> str:
    env = clean_env(PATH=os.environ["PATH"])
    result = subprocess.run(["make", "-n", target], cwd=work, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_make_synth_installs_only_what_synth_needs(bare_checkout):
    out = dry_run(bare_checkout, "synth")
    assert "setup_env.py venv .venv --pipfile Pipfile" in out
    assert "setup_env.py npm ." in out
    assert ".venv-scan" not in out and "security/requirements.txt" not in out


def test_make_test_also_installs_checkov(bare_checkout):
    out = dry_run(bare_checkout, "test")
    assert "setup_env.py venv .venv-scan --requirements security/requirements.txt" in out
    assert "setup_env.py venv .venv --pipfile Pipfile" in out


def test_installer_pip_skips_uv(bare_checkout):
    env = clean_env()
    out = subprocess.run(["make", "-n", "synth", "INSTALLER=pip"], cwd=bare_checkout, env=env, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    assert "setup_env.py uv" not in out
    assert "setup_env.py uv .venv-tools" in dry_run(bare_checkout, "synth")


def test_make_refuses_an_old_or_missing_python_in_one_line(bare_checkout):
    missing = subprocess.run(["make", "synth", "PYTHON=python3.0-nowhere"], cwd=bare_checkout, env=clean_env(),
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode != 0
    assert missing.stdout.startswith("error: PYTHON: 'python3.0-nowhere' is not on PATH; install Python 3.11 or newer")
    if not old_pythons():
        pytest.skip("no Python older than 3.11 on this machine")
    old = subprocess.run(["make", "synth", f"PYTHON={old_pythons()[0]}"], cwd=bare_checkout, env=clean_env(),
                         capture_output=True, text=True, timeout=60)
    assert old.returncode != 0 and "Traceback" not in old.stderr
    assert re.search(r"^error: PYTHON: \S+ is Python [23]\.\d+; this project needs 3\.11 or newer", old.stderr, re.M)
    assert not (bare_checkout / ".venv").exists()


# --- the install steps ---------------------------------------------------------------------

def test_npm_missing_is_one_line(monkeypatch, capsys):
    monkeypatch.setattr(setup_env.shutil, "which", lambda name: None)
    assert setup_env.npm_install(ROOT) == 2
    assert capsys.readouterr().out == (
        "error: npm: not found on PATH; install Node.js 20 or newer with npm (it installs the CLI from package.json)\n")


def test_step_prints_start_progress_and_duration(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(setup_env, "LOG_DIR", tmp_path)
    monkeypatch.setattr(setup_env, "HEARTBEAT", 0.1)
    code = "import time; print('fetching things', flush=True); time.sleep(0.5)"
    setup_env.run_step("demo step", [[sys.executable, "-c", code]], "demo")
    out = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"==> demo step: done in \d+\.\d s", out[-1])  # any duration: a loaded machine is slow
    progress = [line for line in out if line.startswith("    ... demo step:")]
    assert progress and "(fetching things)" in progress[-1]
    assert "fetching things" in (tmp_path / "demo.log").read_text()


def test_failed_step_shows_its_log_and_raises(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(setup_env, "LOG_DIR", tmp_path)
    with pytest.raises(setup_env.StepFailed):
        setup_env.run_step("broken", [[sys.executable, "-c", "print('no such package: nothing'); raise SystemExit(3)"]],
                           "broken")
    out = capsys.readouterr().out
    assert "    | no such package: nothing" in out
    assert re.search(r"==> broken: FAILED after \d+\.\d s: .* exited with status 3 \(full log: ", out)


def test_installer_choice(monkeypatch, tmp_path):
    fake_uv = tmp_path / "uv"
    fake_uv.write_text("#!/bin/sh\n")
    fake_uv.chmod(0o755)
    monkeypatch.setenv("PIPELINE_UV", str(fake_uv))
    monkeypatch.delenv("PIPELINE_INSTALLER", raising=False)
    assert setup_env.find_uv() == str(fake_uv)
    monkeypatch.setenv("PIPELINE_INSTALLER", "pip")
    assert setup_env.find_uv() is None


def test_uv_failure_falls_back_to_pip(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(setup_env, "LOG_DIR", tmp_path / "logs")
    monkeypatch.setattr(setup_env, "find_uv", lambda: "/opt/uv")
    steps = []

    def fake_step(label, commands, log_name, env=None, cwd=ROOT):
        steps.append((label, commands))
        if any(argv[0] == "/opt/uv" for argv in commands):
            raise setup_env.StepFailed("index unreachable")
        return 0.0

    monkeypatch.setattr(setup_env, "run_step", fake_step)
    venv = tmp_path / ".venv"
    assert setup_env.make_venv(venv, ["six==1.17.0"], "Pipfile") == 0
    (uv_label, uv_commands), (pip_label, pip_commands) = steps
    assert uv_label.endswith(", uv)") and pip_label.endswith(", pip)")
    assert uv_commands[0][-2:] == ["--without-pip", str(venv)]
    assert pip_commands[0][1:] == ["-m", "venv", "--clear", str(venv)]  # a venv with pip this time
    assert pip_commands[1][:4] == [str(venv / "bin" / "python"), "-m", "pip", "install"]
    assert (tmp_path / "logs" / "venv-requirements.txt").read_text() == "six==1.17.0\n"
    assert "uv could not install them; trying pip" in capsys.readouterr().out


def test_pipfile_requirements_are_the_pipfiles_pins():
    import tomllib

    pipfile = tomllib.loads((ROOT / "Pipfile").read_text())
    lines = pipfile_requirements.requirements(ROOT / "Pipfile")
    declared = {**pipfile["packages"], **pipfile["dev-packages"]}
    assert len(lines) == len(declared)
    for name, spec in declared.items():
        version = spec if isinstance(spec, str) else spec["version"]
        assert any(re.fullmatch(rf"{re.escape(name)}(\[[\w,]+\])?{re.escape(version)}", line) for line in lines), name
    assert all("==" in line for line in lines), "every requirement is pinned exactly"


# --- cdktf.json's app launcher -------------------------------------------------------------

def test_cdktf_json_runs_the_launcher():
    import json

    assert json.loads((ROOT / "cdktf.json").read_text())["app"] == "sh scripts/cdktf-app"


def fake_python(path: Path, name: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    exe = path / "python"
    exe.write_text(f'#!/bin/sh\necho "{name} $*"\n')
    exe.chmod(0o755)
    return exe


@pytest.fixture
def project(tmp_path) -> Path:
    (tmp_path / "project" / "scripts").mkdir(parents=True)
    shutil.copy2(ROOT / "scripts" / "cdktf-app", tmp_path / "project" / "scripts" / "cdktf-app")
    (tmp_path / "bin").mkdir()
    return tmp_path / "project"


def launch(project: Path, **env: str) -> subprocess.CompletedProcess:
    path = f"{project.parent / 'bin'}:/usr/bin:/bin"
    base = {"PATH": path, "HOME": str(project.parent)}
    return subprocess.run(["sh", "scripts/cdktf-app", "--flag"], cwd=project, env={**base, **env},
                          capture_output=True, text=True, timeout=30)


def test_launcher_uses_makes_venv(project):
    fake_python(project / ".venv" / "bin", "make-venv")
    result = launch(project)
    assert result.stdout == f"make-venv {project}/main.py --flag\n"


def test_launcher_prefers_an_activated_virtualenv(project):
    fake_python(project / ".venv" / "bin", "make-venv")
    active = fake_python(project.parent / "active" / "bin", "activated")
    assert launch(project, VIRTUAL_ENV=str(active.parent.parent)).stdout.startswith("activated ")


def test_launcher_follows_make_and_cdk(project):
    fake_python(project / ".venv" / "bin", "make-venv")
    fake_python(project / ".venv-cdktn" / "bin", "cdktn-venv")
    chosen = fake_python(project.parent / "chosen" / "bin", "chosen")
    assert launch(project, PIPELINE_CDK="cdktn").stdout.startswith("cdktn-venv ")
    assert launch(project, PIPELINE_PYTHON=str(chosen), VIRTUAL_ENV="/nowhere").stdout.startswith("chosen ")


def test_launcher_finds_pipenvs_venv(project):
    pipenv_python = fake_python(project.parent / "pipenv-venv" / "bin", "pipenv-venv")
    pipenv = project.parent / "bin" / "pipenv"
    pipenv.write_text(f'#!/bin/sh\n[ "$1" = --venv ] && echo "{pipenv_python.parent.parent}"\n')
    pipenv.chmod(0o755)
    assert launch(project).stdout.startswith("pipenv-venv ")


def test_launcher_runs_jsii_on_the_installed_node(project):
    python = project / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text('#!/bin/sh\necho "node=$JSII_NODE"\n')
    python.chmod(0o755)
    for sub in ("node_modules", "cdktn/node_modules"):
        fake_python(project / sub / ".bin", "node").rename(project / sub / ".bin" / "node")
    assert launch(project).stdout == f"node={project}/node_modules/.bin/node\n"
    assert launch(project, PIPELINE_CDK="cdktn", PIPELINE_PYTHON=str(python)).stdout == (
        f"node={project}/cdktn/node_modules/.bin/node\n")
    assert launch(project, JSII_NODE="/opt/node").stdout == "node=/opt/node\n"


def test_launcher_says_how_to_install_when_nothing_is_found(project):
    result = launch(project)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: no Python environment with this project's packages: run `make synth`")
    assert "pipenv install --dev" in result.stderr
    assert "make synth CDK=cdktn" in launch(project, PIPELINE_CDK="cdktn").stderr


# --- main.py's preflight -------------------------------------------------------------------

def old_pythons() -> list[str]:
    names = [f"python3.{minor}" for minor in range(6, 11)] + ["python2"]
    found = [shutil.which(name) for name in names]
    found += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.10*/bin/python3")))
    for exe in filter(None, found):
        try:
            probe = subprocess.run([exe, "-c", "import sys; print(sys.version_info < (3, 11))"], capture_output=True,
                                   text=True, timeout=10)
        except OSError:
            continue
        if probe.stdout.strip() == "True":
            return [exe]
    return []


@pytest.mark.skipif(not old_pythons(), reason="no Python older than 3.11 on this machine")
def test_main_py_on_an_old_python_says_so_in_one_line():
    result = subprocess.run([old_pythons()[0], "main.py"], cwd=ROOT, env=clean_env(), capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert re.fullmatch(r"error: python: \S+ is Python [23]\.\d+; this project needs 3\.11 or newer: .*\n", result.stderr)


def test_main_py_without_the_packages_says_how_to_install(tmp_path):
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "bare")], check=True, timeout=60)
    result = subprocess.run([str(tmp_path / "bare" / "bin" / "python"), "main.py"], cwd=ROOT, env=clean_env(),
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert "lacks this project's packages (no cdktf, cdktf_cdktf_provider_aws, constructs, jsii, pydantic)" in result.stderr
    assert "run `make synth`" in result.stderr and "pipenv install --dev" in result.stderr


def load_main():
    import importlib.util

    spec = importlib.util.spec_from_file_location("pipeline_main", ROOT / "main.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_preflight_messages(tmp_path):
    main = load_main()
    everything = lambda name: object()  # noqa: E731
    ok = dict(version_info=(3, 11), find_spec=everything, executable="py")
    assert main.preflight(which=lambda n: "/usr/bin/node", environ={}, **ok) is None
    no_node = main.preflight(which=lambda n: None, environ={}, root=str(tmp_path), **ok)
    assert no_node.startswith("error: node: not found on PATH;") and "install Node.js 20 or newer" in no_node
    assert main.preflight(which=lambda n: None, environ={"JSII_NODE": "/no/node"}, **ok).startswith(
        "error: JSII_NODE: /no/node is not an executable node")
    assert main.preflight(which=lambda n: None, environ={"PIPELINE_CDK": "cdk8s"}, **ok) == (
        "error: PIPELINE_CDK: must be cdktf or cdktn, not 'cdk8s'")
    missing = main.preflight(version_info=(3, 12), find_spec=lambda n: None if n.startswith("cdktn") else object(),
                             which=lambda n: "node", environ={"PIPELINE_CDK": "cdktn"}, executable="py")
    assert "(no cdktn, cdktn_provider_aws)" in missing and "make synth CDK=cdktn" in missing
    only_cdktn = lambda name: None if name.startswith("cdktf") else object()  # noqa: E731
    assert main.preflight(version_info=(3, 12), find_spec=only_cdktn, which=lambda n: "node", environ={},
                          executable="py") is None  # unset PIPELINE_CDK: whichever library is installed
    assert "(no cdktf, cdktf_cdktf_provider_aws)" in main.preflight(
        version_info=(3, 12), find_spec=only_cdktn, which=lambda n: "node", environ={"PIPELINE_CDK": "cdktf"},
        executable="py")


# --- cdk.tf beside cdk.tf.json ---------------------------------------------------------------

def test_check_stacks_refuses_hcl_beside_json(tmp_path):
    good = tmp_path / "stacks" / "good"
    both = tmp_path / "stacks" / "both"
    for folder in (good, both):
        folder.mkdir(parents=True)
        (folder / "cdk.tf.json").write_text("{}")
    (both / "cdk.tf").write_text("")
    old = time.time() - 60
    os.utime(both / "cdk.tf", (old, old))
    assert check_stacks.problems(good) == []
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_stacks.py"), str(tmp_path)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (
        f"error: {both}: holds both cdk.tf (from `cdktf synth --hcl`) and cdk.tf.json, which terraform reads as "
        f"duplicate configuration; remove the older one: rm {both / 'cdk.tf'}\n")
    (both / "cdk.tf").unlink()
    assert check_stacks.main([str(tmp_path)]) == 0
