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

from pipeline_model import packaging
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


def test_real_function_packages_hold_their_handlers(tmp_path):
    for name in ("producer", "consumer"):
        with zipfile.ZipFile(build_package(name, None, tmp_path)) as archive:
            names = archive.namelist()
        assert "app.py" in names
        assert not any("__pycache__" in n or n.endswith(".pyc") or n.startswith("tests/") for n in names)


# --- the shared function code: the message format in every zip ----------------------------------

def test_every_function_zip_carries_the_message_format_at_its_root(tmp_path):
    assert "pipeline_message.py" in SHARED
    for name in ("producer", "consumer"):
        with zipfile.ZipFile(build_package(name, None, tmp_path)) as archive:
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
    with zipfile.ZipFile(build_package(name, None, tmp_path / "build")) as archive:
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
        "lib/__init__.py": "",
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
        assert archive.namelist() == _with_shared("app.py", "lib/__init__.py", "lib/data.json", "lib/util.py")


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


# --- the explicit rule, include / exclude, the left-out line (issue 20, packaging) ---------------

def _names(zip_path: Path) -> list[str]:
    with zipfile.ZipFile(zip_path) as archive:
        return archive.namelist()


def test_secrets_state_and_node_modules_stay_out_and_are_named_on_stderr(tmp_path, capsys):
    source = tmp_path / "demo"
    _tree(source, {
        "app.py": "A = 1\n",
        "id_rsa": "-----BEGIN OPENSSH PRIVATE KEY-----\n",
        "credentials": "[default]\naws_secret_access_key = x\n",
        "server.pem": "-----BEGIN PRIVATE KEY-----\n",
        "terraform.tfstate": "{}",
        "terraform.tfstate.backup": "{}",
        "prod.tfvars": "password = 1\n",
        "prod.env": "SECRET=1\n",
        "node_modules/left-pad/index.js": "x",
        "__pycache__/app.cpython-312.pyc": "x",
        "README.md": "notes\n",
        "config.json": "{}\n",
    })
    names = _names(build_package("demo", source, tmp_path / "out", label="my-function"))
    assert names == _with_shared("app.py")
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "packaging my-function: left out 10 files: README.md, config.json, credentials, id_rsa, node_modules/, "
        "prod.env, prod.tfvars, server.pem, terraform.tfstate, terraform.tfstate.backup "
        "(secret-looking files ship only when an include entry names them exactly)"
    ]


def test_nothing_left_out_prints_nothing(tmp_path, capsys):
    source = tmp_path / "demo"
    _tree(source, {"app.py": "A = 1\n", "lib/__init__.py": "", "__pycache__/app.cpython-312.pyc": "x",
                   "lib/util.pyc": "x", ".pytest_cache/v/cache/nodeids": "[]"})
    build_package("demo", source, tmp_path / "out")
    assert capsys.readouterr().err == ""


def test_a_long_left_out_list_is_cut_on_one_line(tmp_path, capsys):
    source = tmp_path / "demo"
    _tree(source, {"app.py": "A = 1\n", **{f"note{i:02}.txt": "x" for i in range(14)}})
    build_package("demo", source, tmp_path / "out")
    (line,) = capsys.readouterr().err.splitlines()
    assert line == ("packaging demo: left out 14 files: " + ", ".join(f"note{i:02}.txt" for i in range(10))
                    + " ... and 4 more")


def test_python_modules_and_package_data_go_in_other_files_only_when_included(tmp_path):
    source = tmp_path / "demo"
    _tree(source, {
        "app.py": "A = 1\n",
        "typing_extensions.py": "X = 1\n",
        "_speedups.cpython-312-x86_64-linux-gnu.so": "elf",
        "vendored/__init__.py": "",
        "vendored/py.typed": "",
        "vendored/data/schema.json": "{}",
        "vendored-1.0.dist-info/METADATA": "Name: vendored\n",
        "ns/mod.py": "B = 2\n",  # a namespace package: its modules go in, its other files do not
        "ns/notes.txt": "x",
        "data/rules.json": "{}",
        "data/sub/more.json": "{}",
        "templates/mail.txt": "hi",
        "bin/tool": "#!/bin/sh\n",
    })
    assert _names(build_package("demo", source, tmp_path / "a")) == _with_shared(
        "_speedups.cpython-312-x86_64-linux-gnu.so", "app.py", "ns/mod.py", "typing_extensions.py",
        "vendored-1.0.dist-info/METADATA", "vendored/__init__.py", "vendored/data/schema.json", "vendored/py.typed",
    )
    # A folder pattern takes the folder's files; '**' crosses folders; a bare name matches in any folder.
    included = _names(build_package("demo", source, tmp_path / "b", include=["data", "**/*.txt"]))
    assert {"data/rules.json", "data/sub/more.json", "templates/mail.txt", "ns/notes.txt"} <= set(included)
    assert "bin/tool" not in included
    only_top = _names(build_package("demo", source, tmp_path / "c", include=["data/*.json"]))
    assert "data/rules.json" in only_top and "data/sub/more.json" not in only_top


def test_exclude_wins_over_the_rule_and_over_include(tmp_path, capsys):
    source = tmp_path / "demo"
    _tree(source, {
        "app.py": "A = 1\n",
        "scratch.py": "X = 1\n",
        "docs/__init__.py": "",
        "docs/guide.md": "x",
        "data/a.json": "{}",
        "data/big.json": "{}",
    })
    names = _names(build_package("demo", source, tmp_path / "out", include=["data"],
                                 exclude=["scratch.py", "docs/", "data/big.*"]))
    assert names == _with_shared("app.py", "data/a.json")
    assert capsys.readouterr().err.splitlines() == ["packaging demo: left out 3 files: data/big.json, docs/, scratch.py"]


def test_a_secret_looking_file_ships_only_when_named_exactly(tmp_path):
    source = tmp_path / "demo"
    _tree(source, {"app.py": "A = 1\n", "certs/ca-bundle.pem": "-----BEGIN CERTIFICATE-----\n", "deploy.key": "k"})
    assert "certs/ca-bundle.pem" not in _names(build_package("demo", source, tmp_path / "a", include=["certs", "*.pem"]))
    named = _names(build_package("demo", source, tmp_path / "b", include=["./certs/ca-bundle.pem"]))
    assert "certs/ca-bundle.pem" in named and "deploy.key" not in named


@pytest.mark.parametrize(("patterns", "message"), [
    (["/etc/passwd"], "include: '/etc/passwd' must be relative to the function's code folder"),
    (["../secrets/*"], "include: '../secrets/*' must stay inside the function's code folder (no '..')"),
    ([""], "include: '' must be a non-empty glob pattern"),
    (["data\\x.json"], "separate folders with '/'"),
    ("data/*.json", "include: 'data/*.json' must be a list of glob patterns, not one string"),
])
def test_bad_patterns_are_one_line_errors(tmp_path, patterns, message):
    source = tmp_path / "demo"
    _tree(source, {"app.py": "A = 1\n"})
    with pytest.raises(PackagingError) as caught:
        build_package("demo", source, tmp_path / "out", include=patterns)
    assert str(caught.value).startswith("packaging demo: include: ") and message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_config_patterns_are_checked_when_the_configuration_is_built():
    from pipeline_model.config import ConfigError, build_config

    with pytest.raises(ConfigError) as caught:
        build_config(producer={"package_exclude": ["../x"]})
    assert "  producer.package_exclude: '../x' must stay inside the function's code folder (no '..')" in str(caught.value)
    config = build_config(subscribers=[{"function": {"package_include": ["data/*.json"]}}])
    assert config.subscribers[0].function.package_include == ["data/*.json"]


# --- edge cases: names ---------------------------------------------------------------------------

def test_a_non_utf8_file_name_is_a_one_line_error_naming_the_file(tmp_path):
    source = tmp_path / "demo"
    _tree(source, {"app.py": "A = 1\n"})
    try:
        fd = os.open(os.path.join(os.fsencode(source), b"caf\xe9.py"), os.O_CREAT | os.O_WRONLY)
    except OSError as error:  # a file system that only takes UTF-8 names
        pytest.skip(f"this file system refuses a non-UTF-8 name: {error}")
    os.close(fd)
    with pytest.raises(PackagingError) as caught:
        build_package("demo", source, tmp_path / "out")
    text = str(caught.value)
    assert text.startswith("packaging demo: the file name b'caf\\xe9.py' in ") and "is not UTF-8: rename it" in text
    assert "\n" not in text


def test_a_name_with_a_newline_cannot_forge_a_line(tmp_path, capsys):
    source = tmp_path / "demo"
    _tree(source, {"app.py": "A = 1\n", "x\nerror: forged": "x"})
    build_package("demo", source, tmp_path / "out")
    assert capsys.readouterr().err.splitlines() == ["packaging demo: left out 1 files: x\\nerror: forged"]


# --- Lambda's size quotas --------------------------------------------------------------------------

def test_the_limits_are_lambdas_quotas():
    # https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html: 50 MB zipped for a direct
    # upload, 250 MB unzipped (the API's error: "Unzipped size must be smaller than 262144000 bytes").
    assert packaging.DIRECT_UPLOAD_LIMIT == 50 * 2**20
    assert packaging.UNZIPPED_LIMIT == 262_144_000


def test_above_the_unzipped_quota_packaging_stops_naming_function_and_size(tmp_path, monkeypatch):
    source = tmp_path / "demo"
    _tree(source, {"app.py": "A = 1\n", "big.py": "#" * 5000})
    monkeypatch.setattr(packaging, "UNZIPPED_LIMIT", 4096)
    with pytest.raises(PackagingError) as caught:
        build_package("demo", source, tmp_path / "out", label="orders-consumer")
    size = sum(p.stat().st_size for p in [source / "app.py", source / "big.py", *SHARED_CODE_DIR.glob("*.py")])
    assert str(caught.value).startswith(f"packaging orders-consumer: the code is 0.0 MiB ({size:,} bytes) unzipped, "
                                        "above Lambda's 0 MB (4,096 bytes)")
    assert not list((tmp_path / "out").glob("*.zip")), "nothing is written"


def test_above_the_direct_upload_size_a_warning_names_function_and_size(tmp_path, monkeypatch, capsys):
    source = tmp_path / "demo"
    _tree(source, {"app.py": "A = 1\n", "noise.py": os.urandom(3000).hex()})
    monkeypatch.setattr(packaging, "DIRECT_UPLOAD_LIMIT", 2048)
    package = build_package("demo", source, tmp_path / "out", label="orders-consumer")
    size = package.stat().st_size
    assert capsys.readouterr().err.splitlines() == [
        f"packaging orders-consumer: warning: the zip is 0.0 MiB ({size:,} bytes), above Lambda's 0 MB (2,048 bytes) "
        "for a direct upload, which terraform apply makes: leave files out (exclude) or move libraries to a layer "
        "(docs/packaging.md)"
    ]


# --- the build cache reuses only what it verified --------------------------------------------------

@pytest.fixture
def cached(tmp_path):
    """A code folder, its zip built in a clean folder (the reference), and the build folder."""
    source = tmp_path / "demo"
    _tree(source, {"app.py": "A = 1\n", "lib.py": "B = 2\n"})
    reference = build_package("demo", source, tmp_path / "reference")
    return source, reference, tmp_path / "build"


def _foreign_zip(path: Path, files: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)


def test_a_foreign_zip_with_the_cached_name_is_never_shipped(cached, capsys):
    source, reference, build = cached
    build.mkdir()
    planted = build / reference.name
    _foreign_zip(planted, {"app.py": b"import os; os.system('curl evil')\n"})
    assert build_package("demo", source, build).read_bytes() == reference.read_bytes()
    assert f"{reference.name} in {build} does not match its inputs; rebuilt it" in capsys.readouterr().err


def test_a_tampered_cached_zip_is_rebuilt_even_with_a_forged_record(cached):
    source, reference, build = cached
    built = build_package("demo", source, build)
    record = built.with_name(built.name + ".json")
    # The attacker rewrites app.py inside the zip and updates the record's hash of the zip to match.
    _foreign_zip(built, {name: b"EVIL = 1\n" for name in _names(reference)})
    forged = json.loads(record.read_text())
    forged["zip"] = hashlib.sha256(built.read_bytes()).hexdigest()
    record.write_text(json.dumps(forged))
    assert build_package("demo", source, build).read_bytes() == reference.read_bytes()
    # And a zip whose bytes changed but whose record was left alone.
    data = bytearray(built.read_bytes())
    data[-30] ^= 0xFF
    built.write_bytes(bytes(data))
    assert build_package("demo", source, build).read_bytes() == reference.read_bytes()


def test_a_verified_zip_is_reused(cached, capsys):
    source, reference, build = cached
    first = build_package("demo", source, build)
    before = first.stat().st_mtime_ns
    assert build_package("demo", source, build) == first and first.stat().st_mtime_ns == before
    assert capsys.readouterr().err == ""


def test_a_changed_input_gives_a_new_correct_zip(cached, tmp_path):
    source, _, build = cached
    build_package("demo", source, build)
    (source / "lib.py").write_text("B = 3\n")
    changed = build_package("demo", source, build)
    with zipfile.ZipFile(changed) as archive:
        assert archive.read("lib.py") == b"B = 3\n"
    assert changed.read_bytes() == build_package("demo", source, tmp_path / "fresh").read_bytes()


def test_links_planted_in_the_build_folder_are_neither_followed_nor_shipped(cached, tmp_path):
    source, reference, build = cached
    build.mkdir()
    outside = tmp_path / "outside.zip"
    _foreign_zip(outside, {"app.py": b"EVIL = 1\n"})
    planted = outside.read_bytes()
    (build / reference.name).symlink_to(outside)  # the cached name, as a link to a foreign zip
    # The temporary names the builder used to write through, as links too.
    for pid in range(os.getpid() - 2, os.getpid() + 3):
        (build / f"{reference.name}.{pid}.tmp").symlink_to(outside)
    package = build_package("demo", source, build)
    assert not package.is_symlink() and package.read_bytes() == reference.read_bytes()
    assert outside.read_bytes() == planted, "nothing was written through a link"


def test_the_configuration_chooses_what_each_pipeline_zip_holds(synth_config, tmp_path):
    import shutil

    from pipeline_model.config import build_config
    from pipeline_model.packaging import FUNCTIONS_DIR

    folder = tmp_path / "handlers" / "mine"
    shutil.copytree(FUNCTIONS_DIR / "consumer", folder, ignore=shutil.ignore_patterns("__pycache__"))
    _tree(folder, {"data/rules.json": "{}", "data/draft.json": "{}"})
    config = build_config(subscribers=[{"code": str(folder), "function": {
        "package_include": ["data/*.json"], "package_exclude": ["data/draft.json"]}}])
    result = synth_config([config])
    module = result.only["module"]["consumer_main"]
    names = _names(result.stack_dir("event-driven-pipeline") / module["local_existing_package"])
    assert "data/rules.json" in names and "data/draft.json" not in names and "business.py" in names
