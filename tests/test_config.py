"""Configuration: defaults are the original design; every rule fails with a named field."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from constructs_lib.config import ConfigError, PipelineConfig, build_config

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def test_defaults_are_the_original_design():
    config = build_config()
    assert config.region == "us-east-1"
    assert config.tags == {"Environment": "Production", "Project": "EventDrivenArchitecture"}
    assert config.table_name == "application-data-table"
    assert config.topic_name == "data-processing-topic"
    assert config.producer_function_name == "dynamodb-stream-producer"
    (sub,) = config.subscribers
    assert (sub.queue_name, sub.function_name, sub.batch_size) == ("data-processing-queue", "sqs-message-consumer", 10)
    assert config.runtime == "python3.12"


@pytest.mark.parametrize(
    ("overrides", "field", "rule"),
    [
        ({"table_name": "ab"}, "table_name", "3-255 characters"),
        ({"table_name": "bad name!"}, "table_name", "valid dynamodb table name"),
        ({"topic_name": "x" * 257}, "topic_name", "1-256 characters"),
        ({"topic_name": "has.dot"}, "topic_name", "valid sns topic name"),
        ({"producer_function_name": "f" * 65}, "producer_function_name", "1-64 characters"),
        ({"subscribers": [{"queue_name": "q" * 77}]}, "subscribers.0.queue_name", "80 minus the '-dlq' suffix"),
        ({"subscribers": [{"function_name": "has space"}]}, "subscribers.0.function_name", "valid lambda function name"),
        ({"subscribers": [{"batch_size": 11}]}, "subscribers.0", "batch_size 11 is above 10"),
        ({"subscribers": [{"batch_size": 0}]}, "subscribers.0.batch_size", "greater than or equal to 1"),
        ({"subscribers": [{"batch_size": 10001, "maximum_batching_window_seconds": 5}]}, "subscribers.0.batch_size", "less than or equal to 10000"),
        ({"region": "us-east"}, "region", "not an AWS region name"),
        ({"region": "mars-north-1"}, "region", "not an AWS region name"),
        ({"producer": {"timeout": 901}}, "producer.timeout", "less than or equal to 900"),
        ({"producer": {"memory_size": 64}}, "producer.memory_size", "greater than or equal to 128"),
        ({"subscribers": [{"visibility_timeout_seconds": 30, "function": {"timeout": 10}}]}, "subscribers.0", "at least 6x the consumer timeout"),
        ({"subscribers": [{"max_receive_count": 0}]}, "subscribers.0.max_receive_count", "greater than or equal to 1"),
        ({"tags": {"aws:reserved": "x"}}, "tags", "must not start with 'aws:'"),
        ({"tags": {f"k{i}": "v" for i in range(51)}}, "tags", "at most 50"),
        ({"stream": {"starting_position": "AT_TIMESTAMP"}}, "stream.starting_position", "'TRIM_HORIZON' or 'LATEST'"),
        ({"stack_name": "9stack"}, "stack_name", "start with a letter"),
        ({"tabel_name": "x"}, "tabel_name", "unknown field"),
        ({"subscribers": [{"name": "a"}, {"name": "a"}]}, "subscribers[].name", "'a' is used twice"),
        ({"subscribers": [{"code": "../etc"}]}, "subscribers.0.code", "folder name under functions/"),
        ({"subscribers": []}, "subscribers", "at least 1 item"),
        ({"alarm_topic_name": "data-processing-topic"}, "topic names (topic_name, alarm_topic_name)", "used twice"),
        ({"subscribers": [{"queue_name": "dynamodb-stream-producer-failures"}]}, "queue names (stream_failure_queue_name, subscribers[].queue_name and their '-dlq' queues)", "used twice"),
        ({"subscribers": [{"name": "a", "queue_name": "x"}, {"name": "b", "queue_name": "x-dlq"}]}, "queue names (stream_failure_queue_name, subscribers[].queue_name and their '-dlq' queues)", "'x-dlq' is used twice"),
        ({"table_name": "sqs-message-consumer-idempotency"}, "table names (table_name and the subscribers' idempotency tables)", "used twice"),
        ({"tags": {"Env!#": "x"}}, "tags", "use only letters, digits"),
        ({"region": "us-iso-east-1"}, "region", "not an AWS region name"),
        ({"name_suffix": 5}, "name_suffix", "must be 1-16 characters"),
        ({"name_suffix": "-dev", "subscribers": ["abc"]}, "subscribers", "must be a list of tables/objects"),
    ],
)
def test_invalid_values_name_field_and_rule(overrides, field, rule):
    with pytest.raises(ConfigError) as caught:
        build_config(overrides)
    message = str(caught.value)
    assert f"  {field}:" in message, message
    assert rule in message, message


def test_valid_batching_window_allows_large_batches():
    config = build_config(subscribers=[{"batch_size": 500, "maximum_batching_window_seconds": 5}])
    assert config.subscribers[0].batch_size == 500


def test_config_is_immutable():
    from pydantic import ValidationError

    config = build_config()
    with pytest.raises(ValidationError, match="frozen"):
        config.region = "eu-west-1"  # type: ignore[misc]


def test_name_suffix_applies_to_every_name_once():
    config = build_config(name_suffix="-dev", subscribers=[{}, {"name": "audit"}])
    assert config.stack_name == "event-driven-pipeline-dev"
    assert config.table_name == "application-data-table-dev"
    assert [s.queue_name for s in config.subscribers] == ["data-processing-queue-dev", "audit-queue-dev"]
    assert PipelineConfig(**config.model_dump()) == config  # rebuilding does not suffix twice


def _run_main(tmp_path: Path, config_text: str, suffix: str = ".json") -> subprocess.CompletedProcess:
    file = tmp_path / f"config{suffix}"
    file.write_text(config_text)
    env = {**os.environ, "PIPELINE_CONFIG": str(file), "CDKTF_OUTDIR": str(tmp_path / "out")}
    return subprocess.run(
        [sys.executable, "main.py"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_synth_fails_cleanly_on_bad_configuration(tmp_path):
    """`python main.py` (what `cdktf synth` runs): exit 2, the field and rule on stderr, no trace."""
    result = _run_main(tmp_path, json.dumps({"subscribers": [{"batch_size": 50}], "region": "moon-1"}))
    assert result.returncode == 2, result.stderr
    assert "batch_size 50 is above 10" in result.stderr
    assert "region: 'moon-1' is not an AWS region name" in result.stderr
    assert "Traceback" not in result.stderr and "jsii" not in result.stderr.lower()
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("text", "suffix", "expected"),
    [
        ('table_name = "x"\n', ".toml", "table_name: 'x' is not a valid dynamodb table name"),
        ("{not json", ".json", "is not valid JSON"),
        ("[1, 2]", ".json", "the top level must be a table/object"),
        ("region: x", ".yaml", "use a .toml or .json file"),
    ],
)
def test_bad_configuration_files_exit_2_with_the_rule(tmp_path, monkeypatch, capsys, text, suffix, expected):
    """The same entry point in-process (the error comes before any jsii call)."""
    from constructs_lib.app import run

    file = tmp_path / f"config{suffix}"
    file.write_text(text)
    monkeypatch.setenv("PIPELINE_CONFIG", str(file))
    with pytest.raises(SystemExit) as exited:
        run()
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and expected in err and "Traceback" not in err


def test_missing_function_code_fails_cleanly(tmp_path, monkeypatch, capsys, default_synth):
    """In-process (the session's jsii kernel is up already): exit 2, one clear line, no trace."""
    from constructs_lib.app import run

    config = tmp_path / "config.json"
    config.write_text(json.dumps({"subscribers": [{"name": "audit", "code": "no_such_folder"}]}))
    monkeypatch.setenv("PIPELINE_CONFIG", str(config))
    monkeypatch.setenv("CDKTF_OUTDIR", str(tmp_path / "out"))
    with pytest.raises(SystemExit) as exited:
        run()
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: function code folder") and "no_such_folder" in err
    assert not list(tmp_path.rglob("cdk.tf.json")), "nothing synthesized"


def test_make_plan_without_terraform_says_so_in_one_line(tmp_path):
    import shutil

    bin_dir = tmp_path / "bin"  # a PATH with make and the shell, but no terraform
    bin_dir.mkdir()
    for tool in ("make", "sh", "bash", "env"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    result = subprocess.run(
        ["make", "--no-print-directory", "plan"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "PATH": str(bin_dir)},
    )
    assert result.returncode != 0
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip() and "***" not in line]
    assert lines == [
        "error: TERRAFORM: no 'terraform' binary on PATH; install Terraform >= 1.3 or OpenTofu "
        "(make plan TERRAFORM=tofu) to plan (make synth writes cdktf.out/stacks without it)"
    ]
