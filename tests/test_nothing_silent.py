"""Nothing silent (issue 20): input that used to pass unnoticed, end in a traceback or forge an error
line is a one-line error naming the input."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline_model.config import ConfigError, build_config, environments_from_dict

ROOT = Path(__file__).resolve().parent.parent
ARABIC_INDIC = "١٢٣٤٥٦٧٨٩٠١٢"  # twelve digits, none of them 0-9


def _policy_error(policy, scope="MessageBody") -> str:
    with pytest.raises(ConfigError) as caught:
        build_config(subscribers=[{"name": "a", "filter_policy": policy, "filter_policy_scope": scope}])
    text = str(caught.value)
    assert text.count("\n") == 1, text  # one problem, one line
    return text.splitlines()[1].strip()


# --- filter policies given as JSON text ------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"k": ["a"], "k": ["b"]}', "subscribers.0.filter_policy: key 'k' appears twice"),
        ('{"a": {"b": ["x"], "b": ["y"]}}', "subscribers.0.filter_policy: key 'b' appears twice"),
        ('{"k": [NaN]}', "subscribers.0.filter_policy: NaN is not a number SNS accepts"),
        ('{"k": [Infinity]}', "subscribers.0.filter_policy: Infinity is not a number SNS accepts"),
        ('{"k": [-Infinity]}', "subscribers.0.filter_policy: -Infinity is not a number SNS accepts"),
        ('{"k": [1e999]}', "subscribers.0.filter_policy: 1e999 is out of range"),
        ("[" * 100_000 + "]" * 100_000, "subscribers.0.filter_policy: nested deeper than 32 levels"),
        ('{"a":' * 40 + '["x"]' + "}" * 40, "subscribers.0.filter_policy: nested deeper than 32 levels"),
    ],
    ids=["duplicate", "nested-duplicate", "nan", "infinity", "minus-infinity", "overflow", "100000-deep", "40-deep"],
)
def test_filter_policy_json_text_that_json_would_accept_silently(text, expected):
    assert _policy_error(text).startswith(expected)


def test_non_finite_numbers_in_a_filter_policy_table():
    assert _policy_error({"k": [float("nan")]}).startswith("subscribers.0.filter_policy: k: nan is not a number")


def test_filter_policy_keys_cannot_forge_an_error_line():
    line = _policy_error({"a\nerror: ok": "v"}, scope="MessageAttributes")
    assert line.startswith("subscribers.0.filter_policy: 'a\\nerror: ok': must be a non-empty list"), line


# --- digits are 0-9 --------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "data",
    [
        {"security": {"key_users": [f"arn:aws:iam::{ARABIC_INDIC}:role/ops"]}},
        {"powertools_layer": f"arn:aws:lambda:us-east-1:{ARABIC_INDIC}:layer:Powertools:3"},
        {"powertools_version": "٣.٣٧.٠"},
        {"powertools_layer": "none", "powertools_version": "3.٣٧.0"},
    ],
    ids=["role-arn-account", "layer-arn-account", "powertools-version", "packaged-powertools-version"],
)
def test_non_ascii_digits_are_not_digits(data):
    """AWS account ids and versions are 0-9; Python's and pydantic's \\d also match Arabic-Indic digits."""
    with pytest.raises(ConfigError):
        build_config(data)


def test_replay_tool_checks_digits_too():
    from tools import replay_stream_failures as replay

    assert replay._TOPIC_ARN.fullmatch("arn:aws:sns:us-east-1:123456789012:t")
    assert not replay._TOPIC_ARN.fullmatch(f"arn:aws:sns:us-east-1:{ARABIC_INDIC}:t")
    assert not replay._QUEUE_URL.fullmatch(f"https://sqs.us-east-1.amazonaws.com/{ARABIC_INDIC}/q")
    assert not replay._REGION.fullmatch("us-east-١")


def test_no_unicode_digit_class_in_validation_patterns():
    """Every pattern of the model, the constructs and the tools spells digits [0-9]."""
    found = []
    for folder in ("pipeline_model", "constructs_lib", "tools"):
        for file in (ROOT / folder).rglob("*.py"):
            for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
                if re.search(r"\\d", line) and not line.lstrip().startswith("#"):
                    found.append(f"{file.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)


# --- user text never forges an error line ----------------------------------------------------------------

def _cli_lines(error: Exception) -> list[str]:
    from constructs_lib.app import error_lines

    return error_lines(error)


def test_no_configuration_string_forges_an_error_line():
    """Every string field (values and keys), at the top level and inside an environment."""
    from test_injection import PATHS, _candidates, place

    checked = 0
    for path in PATHS:
        for candidate in _candidates(path, "x\nerror: ok"):
            for build in (build_config, lambda d: environments_from_dict({"environments": {"dev": d}})):
                try:
                    build(place(path, candidate))
                except ConfigError as error:
                    checked += 1
                    lines = _cli_lines(error)
                    assert not any(line.startswith("error: ok") for line in lines), (path, lines)
                    assert "\nerror: ok" not in str(error), (path, str(error))
    assert checked > 50


def _non_utf8(tmp_path: Path, name: bytes) -> bytes:
    return os.fsencode(tmp_path) + b"/" + name


def test_a_config_file_name_with_a_newline_or_not_utf8_is_quoted(tmp_path):
    """main.py --check with PIPELINE_CONFIG naming a missing file whose name holds a newline and a byte
    that is not UTF-8: one error line, the name quoted (as bytes)."""
    env = dict(os.environb)
    env[b"PIPELINE_CONFIG"] = _non_utf8(tmp_path, b"conf\xff\nerror: ok.json")
    result = subprocess.run([sys.executable, "main.py", "--check"], cwd=ROOT, env=env, capture_output=True, timeout=120)
    err = result.stderr.decode("utf-8", "backslashreplace")
    assert result.returncode == 2, err
    assert err.count("\n") == 1 and err.startswith("error: configuration file b'") and "\\xff\\nerror: ok.json'" in err, err


def test_a_config_file_that_is_not_utf8_named_is_read(tmp_path):
    env = dict(os.environb)
    name = _non_utf8(tmp_path, b"conf\xff.json")
    Path(os.fsdecode(name)).write_text(json.dumps({"region": "moon-1"}))
    env[b"PIPELINE_CONFIG"] = name
    result = subprocess.run([sys.executable, "main.py", "--check"], cwd=ROOT, env=env, capture_output=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.decode().splitlines() == [
        "error: region: 'moon-1' is not an AWS region name (expected something like us-east-1 or eu-west-2)"
    ]


# --- S3 backend: one state per stack ---------------------------------------------------------------------

LOCKED = {"bucket": "state-bucket", "use_lockfile": True}


def test_backend_key_defaults_to_the_stack_so_environments_differ():
    """[defaults.backend] without a key: each environment used to get event-driven-pipeline/terraform.tfstate."""
    from pipeline_model.config.backend import state_key

    configs = environments_from_dict({"defaults": {"backend": LOCKED}, "environments": {"dev": {}, "prod": {}}})
    assert [state_key(c) for c in configs] == [
        "event-driven-pipeline-dev/terraform.tfstate", "event-driven-pipeline-prod/terraform.tfstate"]
    # The single stack keeps the key it always had (and a rebuilt object keeps its key).
    config = build_config(backend=LOCKED)
    assert state_key(config) == "event-driven-pipeline/terraform.tfstate"
    assert state_key(build_config(config.model_dump())) == state_key(config)


@pytest.mark.parametrize(
    "environments",
    [
        {"dev": {"backend": {**LOCKED, "key": "app/state"}}, "prod": {"backend": {**LOCKED, "key": "app/state"}}},
        {"dev": {"backend": LOCKED}, "prod": {"backend": {**LOCKED, "key": "event-driven-pipeline-dev/terraform.tfstate"}}},
    ],
    ids=["equal-explicit-keys", "explicit-key-equal-to-another-default"],
)
def test_two_stacks_sharing_one_state_are_refused(environments):
    with pytest.raises(ConfigError) as caught:
        environments_from_dict({"environments": environments})
    (line,) = caught.value.lines()
    assert line.startswith("environments.prod.backend.key: stacks 'event-driven-pipeline-dev' and "
                           "'event-driven-pipeline-prod' both keep their state in s3://state-bucket/"), line


def test_different_buckets_may_share_a_key():
    configs = environments_from_dict({"environments": {
        "dev": {"backend": {**LOCKED, "key": "state"}},
        "prod": {"backend": {**LOCKED, "bucket": "other-bucket", "key": "state"}}}})
    assert len(configs) == 2


@pytest.mark.parametrize(
    ("key", "rule"),
    [
        ("/app/terraform.tfstate", "starts or ends with '/'"),
        ("app/", "starts or ends with '/'"),
        ("app//state", "holds '//'"),
        ("app/../state", "no '.' or '..' parts"),
        ("app state", "characters S3 calls safe"),
        ("app\\state", "characters S3 calls safe"),
        ("app{x}", "characters S3 calls safe"),
        ("env:/dev/state", "characters S3 calls safe"),
        ("état", "characters S3 calls safe"),
        ("a" * 1025, "characters S3 calls safe"),
    ],
)
def test_backend_keys_s3_or_terraform_treat_specially_are_refused(key, rule):
    with pytest.raises(ConfigError) as caught:
        build_config(backend={**LOCKED, "key": key})
    (line,) = caught.value.lines()
    assert line.startswith("backend.key: ") and rule in line, line


# --- command lines: one line naming the input, exit 2 ----------------------------------------------------

def test_a_missing_cdktf_outdir_parent_is_one_line_before_jsii(tmp_path):
    """It used to end in a jsii traceback (JavaScript ENOENT from mkdir) after the kernel started."""
    out = tmp_path / "missing" / "deeper" / "out"
    env = {**os.environ, "CDKTF_OUTDIR": str(out)}
    result = subprocess.run([sys.executable, "main.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.splitlines() == [
        f"error: CDKTF_OUTDIR: the parent folder of {str(out)!r} does not exist; "
        f"create {str(out.parent)!r} first, or choose another folder"
    ]


def test_cdktf_outdir_that_is_a_file(tmp_path):
    from pipeline_model.paths import check_output_dir

    (tmp_path / "f").write_text("")
    assert "is a file, not a folder" in str(check_output_dir(str(tmp_path / "f"), "CDKTF_OUTDIR"))
    assert check_output_dir(str(tmp_path / "new"), "CDKTF_OUTDIR") is None
    assert check_output_dir(str(tmp_path), "CDKTF_OUTDIR") is None


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--items", "0"], "error: argument --items: '0': must be at least 1"),
        (["--items", "-5"], "error: argument --items: '-5': must be at least 1"),
        (["--items", "nan"], "error: argument --items: 'nan' is not a whole number"),
        (["--poison", "-1"], "error: argument --poison: '-1': must be at least 0"),
        (["--pollers", "0"], "error: argument --pollers: '0': must be at least 1"),
        (["--timeout", "nan"], "error: argument --timeout: 'nan': must be a finite number above 0"),
        (["--timeout", "-1"], "error: argument --timeout: '-1': must be above 0"),
        (["--outage", "-1"], "error: argument --outage: '-1': must be at least 0"),
        (["--outage", "inf"], "error: argument --outage: 'inf': must be a finite number at least 0"),
        (["--duplicates", "nan"], "error: argument --duplicates: 'nan': must be a finite number from 0 to 1"),
        (["--flaky", "1.5"], "error: argument --flaky: '1.5': must be from 0 to 1"),
        (["--modify-share", "nan"], "error: argument --modify-share: 'nan': must be a finite number from 0 to 1"),
        (["--visibility-timeout", "-1"], "error: argument --visibility-timeout: '-1': must be at least 0"),
    ],
)
def test_local_pipeline_counts_are_checked(args, expected, capsys):
    from local_pipeline.__main__ import main

    with pytest.raises(SystemExit) as exited:
        main([*args, "--quiet"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(expected) and err.count("\n") == 1, err


@pytest.mark.parametrize(
    ("log_file", "expected"),
    [
        ("{tmp}", "error: --log-file: '{tmp}' is a folder; name a file in it"),
        ("{tmp}/a-file/x.log", "error: --log-file: cannot write '{tmp}/a-file/x.log': '{tmp}/a-file' is a file, not a folder"),
        ("", "error: --log-file: is empty; name a file, or '-' for stderr"),
    ],
)
def test_local_pipeline_bad_log_file(tmp_path, capsys, log_file, expected):
    from local_pipeline.__main__ import main

    (tmp_path / "a-file").write_text("")
    assert main(["--items", "1", "--quiet", "--log-file", log_file.format(tmp=tmp_path)]) == 2
    assert capsys.readouterr().err == expected.format(tmp=tmp_path) + "\n"


def test_local_pipeline_config_errors_are_one_line_each(tmp_path):
    """A non-UTF-8 file name, and a file with two problems: one 'error:' line per problem."""
    missing = _non_utf8(tmp_path, b"conf\xff.toml")
    result = subprocess.run([sys.executable, "-m", "local_pipeline", "--config", missing], cwd=ROOT,
                            capture_output=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.decode().splitlines() == [f"error: configuration file {missing!r}: does not exist"]
    bad = tmp_path / "bad.toml"
    bad.write_text('region = "moon-1"\n[stream]\nbatch_size = 0\n')
    result = subprocess.run([sys.executable, "-m", "local_pipeline", "--config", str(bad)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and all(line.startswith("error: ") for line in lines), lines
    assert lines[0].startswith("error: region: 'moon-1'") or lines[1].startswith("error: region: 'moon-1'"), lines
