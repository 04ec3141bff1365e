"""Function code is packaged so terraform finds it from the stack directory, reproducibly."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pipeline_model.packaging import SHARED_CODE_DIR, PackagingError, build_package
from local_pipeline.offline import apply_offline_environment

PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: What every zip carries besides the function's own files.
SHARED = sorted(p.name for p in SHARED_CODE_DIR.glob("*.py"))


def _with_shared(*names: str) -> list[str]:
    return sorted([*names, *SHARED])


def _code_paths(doc: dict) -> list[str]:
    return [
        block["local_existing_package"]
        for block in doc["module"].values()
        if block["source"] == "terraform-aws-modules/lambda/aws"
    ]


def test_every_code_path_resolves_from_the_stack_directory(default_synth):
    stack_dir = default_synth.stack_dir("event-driven-pipeline")
    paths = _code_paths(default_synth.only)
    assert len(paths) == 2
    for path in paths:
        assert not os.path.isabs(path), path
        package = stack_dir / path
        assert package.is_file(), f"{path} does not exist relative to {stack_dir}"
        with zipfile.ZipFile(package) as archive:
            assert "app.py" in archive.namelist()


def test_lambda_modules_never_package_at_plan_time(tf):
    for module_id, block in tf["module"].items():
        if block["source"] == "terraform-aws-modules/lambda/aws":
            assert block["create_package"] is False, module_id
            assert "source_path" not in block, module_id


def test_json_holds_no_machine_path(default_synth):
    text = json.dumps(default_synth.only)
    for forbidden in {str(PROJECT_ROOT), str(default_synth.outdir), os.path.expanduser("~")}:
        assert forbidden not in text


def test_package_bytes_do_not_depend_on_checkout(tmp_path):
    source = tmp_path / "src" / "demo"
    source.mkdir(parents=True)
    (source / "app.py").write_text("def handler(event, context):\n    return 1\n")
    (source / "lib.py").write_text("X = 1\n")
    (source / "__pycache__").mkdir()
    (source / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"junk")
    first = build_package("demo", source, tmp_path / "a")
    os.utime(source / "app.py", (1_000_000_000, 1_000_000_000))  # a fresh checkout has other mtimes
    (source / "lib.py").chmod(0o600)  # and maybe other modes
    second = build_package("demo", source, tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()
    assert first.name == second.name
    with zipfile.ZipFile(first) as archive:
        assert archive.namelist() == _with_shared("app.py", "lib.py")


def test_package_changes_with_code(tmp_path):
    source = tmp_path / "demo"
    source.mkdir()
    (source / "app.py").write_text("A = 1\n")
    before = hashlib.sha256(build_package("demo", source, tmp_path / "out").read_bytes()).hexdigest()
    (source / "app.py").write_text("A = 2\n")
    after = hashlib.sha256(build_package("demo", source, tmp_path / "out").read_bytes()).hexdigest()
    assert before != after


def test_missing_code_folder_is_a_clear_error(tmp_path):
    with pytest.raises(PackagingError, match="does not exist"):
        build_package("nope", tmp_path / "nope", tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(PackagingError, match="no app.py"):
        build_package("empty", tmp_path / "empty", tmp_path)


def test_real_function_packages_hold_their_handlers():
    for name in ("producer", "consumer"):
        with zipfile.ZipFile(build_package(name)) as archive:
            names = archive.namelist()
        assert "app.py" in names
        assert not any("__pycache__" in n or n.endswith(".pyc") or n.startswith("tests/") for n in names)


# --- the shared function code: the message format in every zip ----------------------------------

def test_every_function_zip_carries_the_message_format_at_its_root():
    assert "pipeline_message.py" in SHARED
    for name in ("producer", "consumer"):
        with zipfile.ZipFile(build_package(name)) as archive:
            for module in SHARED:
                assert archive.read(module) == (SHARED_CODE_DIR / module).read_bytes(), (name, module)


# Run in a fresh interpreter whose import path holds the unpacked zip and the installed libraries, nothing of
# this repository: the handler must import the shared modules from the zip alone.
_IMPORT_FROM_ZIP = """
import pathlib, sys
task = pathlib.Path(sys.argv[1]).resolve()
sys.path = [str(task)] + [p for p in sys.path[1:] if "site-packages" in p or "lib/python" in p]
import app
assert callable(app.handler)
for name in ("pipeline_message", "lambda_deadline"):
    module = sys.modules[name]
    assert pathlib.Path(module.__file__).resolve().parent == task, (name, module.__file__)
print(app.pipeline_message.__name__ if hasattr(app, "pipeline_message") else app.parse_body.__module__)
"""


@pytest.mark.parametrize("name", ["producer", "consumer"])
def test_a_handler_imports_the_message_format_from_its_zip_alone(name, tmp_path):
    task = tmp_path / "task"  # what Lambda does with the zip: unpack it into /var/task
    with zipfile.ZipFile(build_package(name)) as archive:
        archive.extractall(task)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    apply_offline_environment(environ=env)
    result = subprocess.run([sys.executable, "-c", _IMPORT_FROM_ZIP, str(task)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "pipeline_message"


def test_the_functions_own_module_wins_over_a_shared_one(tmp_path):
    source = tmp_path / "demo"
    _tree(source, {"app.py": "A = 1\n", "pipeline_message.py": "OWN = True\n"})
    with zipfile.ZipFile(build_package("demo", source, tmp_path / "out")) as archive:
        assert archive.read("pipeline_message.py") == b"OWN = True\n"
        assert archive.namelist() == _with_shared("app.py")


# --- hygiene: only code goes in (issue 10, item 9) ----------------------------------------------

def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_zips_leave_out_dotfiles_vcs_caches_and_editor_backups(tmp_path):
    source = tmp_path / "demo"
    _tree(source, {
        "app.py": "def handler(e, c):\n    return 1\n",
        "lib/util.py": "X = 1\n",
        "lib/data.json": "{}\n",
        ".env": "SECRET=1\n",
        "lib/.env.local": "SECRET=2\n",
        ".git/config": "[core]\n",
        ".hg/store": "x",
        ".svn/entries": "x",
        "CVS/Root": "x",
        ".venv/lib/site.py": "x",
        "__pycache__/app.cpython-312.pyc": "x",
        "lib/__pycache__/util.cpython-312.pyc": "x",
        "app.py~": "old",
        ".app.py.swp": "swap",
        "lib/util.py.swo": "swap",
        ".#app.py": "emacs lock",
        "#app.py#": "emacs autosave",
        "app.py.orig": "merge leftover",
        ".DS_Store": "x",
        "tests/test_app.py": "x",
    })
    with zipfile.ZipFile(build_package("demo", source, tmp_path / "out")) as archive:
        assert archive.namelist() == _with_shared("app.py", "lib/data.json", "lib/util.py")


def test_a_symlink_out_of_the_function_folder_is_refused(tmp_path):
    source = tmp_path / "demo"
    _tree(source, {"app.py": "A = 1\n"})
    secret = tmp_path / "secrets.txt"
    secret.write_text("password\n")
    (source / "config.txt").symlink_to(secret)
    with pytest.raises(PackagingError, match=r"config.txt is a symlink to .*secrets.txt, outside the function folder"):
        build_package("demo", source, tmp_path / "out")
    (source / "config.txt").unlink()
    (source / "shared").symlink_to(tmp_path, target_is_directory=True)  # a folder link out, too
    with pytest.raises(PackagingError, match=r"shared is a symlink to .*, outside the function folder"):
        build_package("demo", source, tmp_path / "out")


def test_a_symlink_inside_the_function_folder_is_packaged_as_the_file(tmp_path):
    source = tmp_path / "demo"
    _tree(source, {"app.py": "A = 1\n", "real/settings.py": "B = 2\n"})
    (source / "settings.py").symlink_to(source / "real" / "settings.py")
    (source / "loop").symlink_to(source, target_is_directory=True)  # a loop is not followed forever
    with zipfile.ZipFile(build_package("demo", source, tmp_path / "out")) as archive:
        names = archive.namelist()
        assert archive.read("settings.py") == b"B = 2\n"
    assert names == _with_shared("app.py", "real/settings.py", "settings.py")
    (source / "dangling").symlink_to(source / "gone.py")
    with pytest.raises(PackagingError, match="dangling is a symlink to .*gone.py, which does not exist"):
        build_package("demo", source, tmp_path / "out2")
