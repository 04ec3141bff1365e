"""PythonFunction alone: tracing, log retention, concurrency; code from any folder; artefacts
under the app's output folder."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest


def handler_folder(root: Path, name: str = "my_handler") -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "app.py").write_text("def handler(event, context):\n    return 'mine'\n")
    return folder


def function(stack, **props):
    from constructs_lib import PythonFunction, PythonFunctionProps

    return PythonFunction(stack, "fn", props=PythonFunctionProps(function_name="f", **props))


def test_defaults(stack, synth):
    function(stack, code="consumer")
    module = synth(stack)["module"]["fn"]
    assert module["function_name"] == "f"
    assert module["tracing_mode"] == "Active" and module["attach_tracing_policy"] is True
    assert module["cloudwatch_logs_retention_in_days"] == 14
    assert module["attach_create_log_group_permission"] is False
    assert "reserved_concurrent_executions" not in module
    assert module["create_package"] is False
    assert module["handler"] == "app.handler" and module["architectures"] == ["x86_64"]


def test_typed_props_and_overrides(stack, synth):
    function(stack, code="producer", tracing=False, reserved_concurrency=3, log_retention_days=30,
             extra={"tracing_mode": "PassThrough", "timeout": 20})
    module = synth(stack)["module"]["fn"]
    assert module["reserved_concurrent_executions"] == 3
    assert module["cloudwatch_logs_retention_in_days"] == 30
    assert module["tracing_mode"] == "PassThrough" and "attach_tracing_policy" not in module
    assert module["timeout"] == 20


@pytest.mark.parametrize(("extra", "key"), [
    ({"create_package": True}, "create_package"),
    ({"function_name": "g"}, "function_name"),
    ({"local_existing_package": "x.zip"}, "local_existing_package"),
])
def test_conflicts_with_requirements(stack, extra, key):
    from constructs_lib import PropsConflictError

    with pytest.raises(PropsConflictError, match=rf"PythonFunction test/fn: extra\['{key}'\]"):
        function(stack, code="consumer", extra=extra)


def test_code_from_a_folder_outside_the_package_relative_to_the_working_directory(stack, synth, tmp_path, monkeypatch):
    handler_folder(tmp_path / "app" / "handlers")
    monkeypatch.chdir(tmp_path / "app")
    function(stack, code="handlers/my_handler")
    module = synth(stack)["module"]["fn"]
    assert Path(module["local_existing_package"]).name.startswith("my_handler-")
    (package,) = (tmp_path / ".build").glob("my_handler-*.zip")
    with zipfile.ZipFile(package) as archive:
        assert archive.read("app.py").decode().endswith("return 'mine'\n")


def test_build_artefacts_go_beside_the_apps_output_folder(stack, tmp_path):
    import constructs_lib

    function(stack, code=str(handler_folder(tmp_path / "src")))
    built = list((tmp_path / ".build").glob("my_handler-*.zip"))
    assert len(built) == 1
    package_dir = Path(constructs_lib.__file__).parent
    assert not list(package_dir.parent.glob(".build/my_handler-*.zip"))


def test_unknown_shipped_handler_and_missing_folder_fail_clearly(stack, tmp_path):
    from constructs_lib import PackagingError

    with pytest.raises(PackagingError, match="'nope' is not a handler shipped with constructs_lib"):
        function(stack, code="nope")
    with pytest.raises(PackagingError, match="does not exist"):
        function(stack, code=str(tmp_path / "missing"))


def test_include_and_exclude_props_choose_what_the_zip_holds(stack, tmp_path, capsys):
    folder = handler_folder(tmp_path / "src")
    (folder / "data").mkdir()
    (folder / "data" / "rules.json").write_text("{}")
    (folder / "scratch.py").write_text("X = 1\n")
    (folder / "notes.txt").write_text("x")
    (folder / "deploy.pem").write_text("-----BEGIN PRIVATE KEY-----\n")
    function(stack, code=str(folder), include=("data/*.json", "*.pem"), exclude=("scratch.py",))
    (package,) = (tmp_path / ".build").glob("my_handler-*.zip")
    with zipfile.ZipFile(package) as archive:
        names = archive.namelist()
    assert "app.py" in names and "data/rules.json" in names
    assert not {"scratch.py", "notes.txt", "deploy.pem"} & set(names)
    # One line, naming the function (its AWS name) and what stayed out.
    assert capsys.readouterr().err.splitlines() == [
        "packaging f: left out 3 files: deploy.pem, notes.txt, scratch.py "
        "(secret-looking files ship only when an include entry names them exactly)"
    ]
