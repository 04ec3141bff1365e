"""Configuration: defaults are the original design; every rule fails with a named field."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline_model.config import ConfigError, PipelineConfig, build_config

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def test_defaults_are_the_original_design():
    config = build_config()
    assert config.region == "us-east-1"
    assert config.tags == {"Environment": "Production", "Project": "EventDrivenArchitecture"}
    assert config.names.table == "application-data-table"
    assert config.names.topic == "data-processing-topic"
    assert config.names.producer_function == "dynamodb-stream-producer"
    (sub,) = config.subscribers
    names = config.names.subscriber("main")
    assert (names.queue, names.function, sub.batch_size) == ("data-processing-queue", "sqs-message-consumer", 10)
    assert config.runtime == "python3.12"
    # the fields hold the user's input: no name given, none stored
    assert (config.table_name, sub.queue_name, config.name_suffix) == (None, None, "")


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
        ({"subscribers": [{"batch_size": 11}]}, "subscribers.0.batch_size", "11 is above 10"),
        ({"subscribers": [{"batch_size": 0}]}, "subscribers.0.batch_size", "greater than or equal to 1"),
        ({"subscribers": [{"batch_size": 10001, "maximum_batching_window_seconds": 5}]}, "subscribers.0.batch_size", "less than or equal to 10000"),
        ({"region": "us-east"}, "region", "not an AWS region name"),
        ({"region": "mars-north-1"}, "region", "not an AWS region name"),
        ({"producer": {"timeout": 901}}, "producer.timeout", "less than or equal to 900"),
        ({"producer": {"memory_size": 64}}, "producer.memory_size", "greater than or equal to 128"),
        ({"subscribers": [{"visibility_timeout_seconds": 30, "function": {"timeout": 10}}]}, "subscribers.0.visibility_timeout_seconds", "at least 6x the consumer timeout"),
        ({"subscribers": [{"max_receive_count": 0}]}, "subscribers.0.max_receive_count", "greater than or equal to 1"),
        ({"tags": {"aws:reserved": "x"}}, "tags", "must not start with 'aws:'"),
        ({"tags": {f"k{i}": "v" for i in range(51)}}, "tags", "at most 50"),
        ({"stream": {"starting_position": "AT_TIMESTAMP"}}, "stream.starting_position", "'TRIM_HORIZON' or 'LATEST'"),
        ({"stream": {"maximum_record_age_seconds": 86400}}, "stream.maximum_record_age_seconds", "leaves less than 6 h to replay"),
        ({"stream": {"maximum_record_age_seconds": 64801}}, "stream.maximum_record_age_seconds", "use at most 64800"),
        ({"stream": {"maximum_record_age_seconds": 59}}, "stream.maximum_record_age_seconds", "greater than or equal to 60"),
        ({"stack_name": "9stack"}, "stack_name", "start with a letter"),
        ({"tabel_name": "x"}, "tabel_name", "unknown field"),
        ({"subscribers": [{"name": "a"}, {"name": "a"}]}, "subscribers.1.name", "'a' is used twice"),
        ({"subscribers": [{"code": "Consumer"}]}, "subscribers.0.code", "must be a handler shipped with the package"),
        ({"subscribers": [{"code": "handlers/my handler"}]}, "subscribers.0.code", "the folder's name 'my handler'"),
        ({"producer_code": "x\ty/app"}, "producer_code", "no control characters"),
        ({"subscribers": []}, "subscribers", "at least 1 item"),
        ({"alarm_topic_name": "data-processing-topic"}, "alarm_topic_name", "used twice, by the topic and the alarm topic"),
        ({"subscribers": [{"queue_name": "dynamodb-stream-producer-failures"}]}, "subscribers.0.queue_name", "used twice, by the stream failure queue and subscriber main's queue"),
        ({"subscribers": [{"name": "a", "queue_name": "x"}, {"name": "b", "queue_name": "x-dlq"}]}, "subscribers.1.queue_name", "'x-dlq' is used twice, by subscriber a's dead-letter queue and subscriber b's queue"),
        # the user's field is named, not the default name it collides with
        ({"table_name": "sqs-message-consumer-idempotency"}, "table_name", "used twice, by the table and subscriber main's idempotency table"),
        # names are checked as computed: name_suffix can push one past AWS's limit
        ({"name_suffix": "-dev", "producer_function_name": "f" * 62}, "producer_function_name", "(with name_suffix '-dev') is not a valid lambda function name"),
        ({"name_suffix": "-dev", "subscribers": [{"name": "a", "queue_name": "q"}, {"name": "b", "queue_name": "q"}]}, "subscribers.1.queue_name", "'q-dev' is used twice"),
        ({"tags": {"Env!#": "x"}}, "tags", "use only letters, digits"),
        ({"region": "us-iso-east-1"}, "region", "not an AWS region name"),
        ({"name_suffix": 5}, "name_suffix", "must be 1-16 characters"),
        ({"name_suffix": "-dev", "subscribers": ["abc"]}, "subscribers.0", "Input should be a valid dictionary"),
    ],
)
def test_invalid_values_name_field_and_rule(overrides, field, rule):
    with pytest.raises(ConfigError) as caught:
        build_config(overrides)
    message = str(caught.value)
    assert f"  {field}:" in message, message
    assert rule in message, message


def test_stream_records_reach_the_failure_queue_with_time_left_to_replay():
    """The default leaves 18 of the stream's 24 h to replay; the longest allowed age leaves the 6 h margin."""
    from pipeline_model.limits import REPLAY_MARGIN_SECONDS, STREAM_RETENTION_SECONDS

    assert build_config().stream.maximum_record_age_seconds == 21600
    assert STREAM_RETENTION_SECONDS - build_config().stream.maximum_record_age_seconds == 18 * 3600
    longest = build_config({"stream": {"maximum_record_age_seconds": 64800}})
    assert STREAM_RETENTION_SECONDS - longest.stream.maximum_record_age_seconds == REPLAY_MARGIN_SECONDS == 6 * 3600


def test_valid_batching_window_allows_large_batches():
    config = build_config(subscribers=[{"batch_size": 500, "maximum_batching_window_seconds": 5,
                                        "function": {"timeout": 28}, "visibility_timeout_seconds": 168}])
    assert config.subscribers[0].batch_size == 500


def test_config_is_immutable():
    from pydantic import ValidationError

    config = build_config()
    with pytest.raises(ValidationError, match="frozen"):
        config.region = "eu-west-1"  # type: ignore[misc]


def test_name_suffix_applies_to_every_name_once():
    config = build_config(name_suffix="-dev", subscribers=[{}, {"name": "audit"}])
    assert config.names.stack == "event-driven-pipeline-dev"
    assert config.names.table == "application-data-table-dev"
    assert [s.queue for s in config.names.subscribers] == ["data-processing-queue-dev", "audit-queue-dev"]
    assert config.name_suffix == "-dev" and config.stack_name is None  # kept as given
    # rebuilding from the data gives the same object and the same names (nothing suffixed twice)
    again = PipelineConfig(**config.model_dump())
    assert again == config and again.names == config.names


def test_names_are_computed_once_and_empty_names_mean_the_default():
    config = build_config(table_name="", subscribers=[{"queue_name": "", "function_name": "fn"}])
    assert config.names is config.names
    assert (config.table_name, config.subscribers[0].queue_name) == (None, None)
    assert config.names.table == "application-data-table"
    assert config.names.subscriber("main").queue == "data-processing-queue"
    assert config.names.subscriber("main").idempotency_table == "fn-idempotency"
    # a copy with other fields gets its own names, not the original's
    copied = config.model_copy(update={"name_suffix": "-x"})
    assert copied.names.table == "application-data-table-x" and config.names.table == "application-data-table"


def test_every_broken_rule_is_reported_at_once():
    with pytest.raises(ConfigError) as caught:
        build_config(
            ordering="per-item", topic_name="orders", alarm_topic_name="orders",
            security={"key_users": ["arn:aws-cn:iam::123456789012:role/r"]},
            subscribers=[{"name": "a", "idempotency_ttl_seconds": 60, "maximum_batching_window_seconds": 5},
                         {"name": "b", "queue_name": "b.fifo", "function_name": "x" * 65}],
        )
    fields = [problem.field for problem in caught.value.problems]
    assert fields == [
        "subscribers.1.function_name", "alarm_topic_name", "topic_name",
        "subscribers.0.maximum_batching_window_seconds", "subscribers.0.idempotency_ttl_seconds",
        "security.key_users",
    ], caught.value.lines()
    assert all(problem.rule for problem in caught.value.problems)


def test_a_repeated_subscriber_name_is_the_one_problem_reported():
    """Its default queue, function and tables repeat the other's too: only the name is reported."""
    with pytest.raises(ConfigError) as caught:
        build_config(subscribers=[{}, {"name": "main", "batch_size": 5}])
    assert caught.value.lines() == ["subscribers.1.name: 'main' is used twice; each must be unique"]


def test_problems_are_data_with_field_rule_and_hint():
    with pytest.raises(ConfigError) as caught:
        build_config(subscribers=[{"batch_size": 10, "function": {"timeout": 2}, "visibility_timeout_seconds": 12}])
    (problem,) = caught.value.problems
    assert problem.field == "subscribers.0.batch_size"
    assert problem.rule.startswith("10 messages cannot finish within the consumer timeout of 2 s")
    assert problem.hint == "raise function.timeout to 3 s"
    assert caught.value.lines() == [str(problem)] and str(problem) == f"{problem.field}: {problem.rule}; {problem.hint}"


def test_with_subscriber_names_the_new_one_like_the_others():
    from pipeline_model.config import SubscriberConfig, with_subscriber

    config = build_config(name_suffix="-dev", ordering="per-item")
    added = with_subscriber(config, {"name": "audit"})
    assert added.names.subscriber("audit").queue == "audit-queue-dev.fifo"
    assert added.names.subscriber("audit").function == "audit-consumer-dev"
    assert added.names.subscriber("main") == config.names.subscriber("main")
    assert config.subscribers == build_config(name_suffix="-dev", ordering="per-item").subscribers  # unchanged
    # a SubscriberConfig built on its own: its unset names are the pipeline's defaults too
    again = with_subscriber(added, SubscriberConfig(name="index", queue_name="index.fifo", batch_size=5))
    assert again.names.subscriber("index").queue == "index-dev.fifo"
    assert [s.name for s in again.subscribers] == ["main", "audit", "index"]


@pytest.mark.parametrize(
    ("sub", "field", "rule"),
    [
        ({"name": "main"}, "subscribers.1.name", "'main' is used twice"),
        ({"name": "audit", "queue_name": "audit"}, "subscribers.1.queue_name", "is a standard queue"),
        ({"name": "audit", "batch_size": 20}, "subscribers.1.batch_size", "above 10"),
        ({"name": "audit", "colour": "red"}, "subscribers.1.colour", "unknown field"),
    ],
)
def test_with_subscriber_refuses_what_build_config_refuses(sub, field, rule):
    from pipeline_model.config import with_subscriber

    config = build_config(ordering="per-item")
    with pytest.raises(ConfigError) as caught:
        with_subscriber(config, sub)
    assert any(p.field == field and rule in p.rule for p in caught.value.problems), caught.value.lines()


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
    assert result.stderr.splitlines() == [
        "error: region: 'moon-1' is not an AWS region name (expected something like us-east-1 or eu-west-2)",
        "error: subscribers.0.batch_size: 50 is above 10: SQS event source mappings allow 1-10 unless "
        "maximum_batching_window_seconds is at least 1 (then up to 10000)",
        "error: subscribers.0.batch_size: 50 messages cannot finish within the consumer timeout of 3 s: the rule is "
        "batch_size x 50 ms + 2250 ms <= function.timeout, here 4750 ms; lower batch_size to 15 or raise "
        "function.timeout to 5 s",
    ]
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


# --- every bad input: exit 2, `error: <field>: <rule>`, no traceback (issue 10, item 8) ----------

def _deep_json(depth: int) -> bytes:
    return b'{"subscribers": ' + b"[" * depth + b"]" * depth + b"}"


def _numeric(rule: list, rule_message: str) -> tuple[bytes, str, str]:
    """A configuration whose filter policy uses ``{"numeric": rule}``, and the error it must give."""
    operator = json.dumps({"numeric": rule})
    config = {"subscribers": [{"name": "a", "filter_policy": {"n": [{"numeric": rule}]}}]}
    return json.dumps(config).encode(), ".json", f"error: subscribers.0.filter_policy: n: {operator}: {rule_message}"


def _deep_toml(depth: int) -> bytes:
    return b"tags = " + b"[" * depth + b"]" * depth + b"\n"


@pytest.mark.parametrize(
    ("content", "suffix", "expected"),
    [
        (b'{"region": "eu-west-1\xff"}', ".json", "error: configuration file {file}: is not UTF-8 text (byte 0xff at offset 21)"),
        (b'region = "caf\xe9"\n', ".toml", "is not UTF-8 text (byte 0xe9"),
        (_deep_json(100_000), ".json", "error: configuration file {file}: nested deeper than 32 levels"),
        (_deep_toml(100_000), ".toml", "error: configuration file {file}: nested deeper than 32 levels"),
        (_deep_json(40), ".json", "error: subscribers.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0: nested deeper than 32 levels"),
        (b'{"producer": {"timeout": ' + b"9" * 5000 + b"}}", ".json", "error: producer.timeout: a number longer than 18 digits"),
        (b"[producer]\ntimeout = " + b"9" * 5000 + b"\n", ".toml", "error: producer.timeout: a number longer than 18 digits"),
        (b'{"producer": {"timeout": ' + b"9" * 50_000 + b"}}", ".json", "is not valid JSON: a number is too long to read"),
        (b'{"region": "us-east-1", "region": "eu-west-1"}', ".json", "error: (top level): key 'region' appears twice"),
        (b'{"alarms": {"email": "a@b.co", "email": "c@d.co"}}', ".json", "error: alarms: key 'email' appears twice"),
        (b'{"producer": {"timeout": true}}', ".json", "error: producer.timeout: Input should be a valid integer"),
        (b'{"producer": {"memory_size": "256"}}', ".json", "error: producer.memory_size: Input should be a valid integer"),
        (b'{"producer": {"timeout": 3.0}}', ".json", "error: producer.timeout: Input should be a valid integer"),
        (b'{"producer": {"log_retention_days": true}}', ".json", "error: producer.log_retention_days: Input should be a valid integer"),
        (b'{"dashboard": 1}', ".json", "error: dashboard: Input should be a valid boolean"),
        (b'{"stream": {"bisect_batch_on_function_error": "yes"}}', ".json", "error: stream.bisect_batch_on_function_error: Input should be a valid boolean"),
        (b'{"producer": {"timeout": NaN}}', ".json", "is not valid JSON: NaN is not a number JSON allows"),
        (b"[producer]\ntimeout = inf\n", ".toml", "error: producer.timeout: inf is not a finite number"),
        (b'{"tags": {"Team": "data\\nops"}}', ".json", "error: tags: tag 'Team'='data\\nops': use only letters, digits, spaces"),
        (b'{"tags": {"Team": "data\\u0007"}}', ".json", "error: tags: tag 'Team'='data\\x07'"),
        (b'{"tags": {"Team\\t": "x"}}', ".json", "error: tags: tag 'Team\\t'='x'"),
        _numeric([">", 10, ">", 5], "a numeric range is"),
        _numeric(["<", 5, ">", 1], "a numeric range is"),
        _numeric([">", 10, "<", 5], "the range is empty"),
        _numeric(["=", 5, "=", 6], "a numeric range is"),
        _numeric(["<", 2e9], "SNS matches numbers from -1e9 to 1e9 only"),
    ],
    ids=["non-utf8-json", "non-utf8-toml", "json-100000-deep", "toml-100000-deep", "json-40-deep",
         "5000-digit-json", "5000-digit-toml", "50000-digit-json", "duplicate-key", "duplicate-nested-key",
         "true-for-int", "string-for-int", "float-for-int", "true-for-retention", "int-for-bool", "string-for-bool",
         "json-nan", "toml-inf", "tag-newline", "tag-bell", "tag-key-tab", "numeric-two-lower", "numeric-upper-first",
         "numeric-empty", "numeric-two-equals", "numeric-out-of-range"],
)
def test_every_bad_configuration_exits_2_naming_field_and_rule(tmp_path, monkeypatch, capsys, content, suffix, expected):
    from constructs_lib.app import run

    file = tmp_path / f"config{suffix}"
    file.write_bytes(content)
    monkeypatch.setenv("PIPELINE_CONFIG", str(file))
    with pytest.raises(SystemExit) as exited:
        run([])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert expected.replace("{file}", repr(str(file))) in err, err
    assert all(line.startswith("error: ") for line in err.splitlines()), err
    assert "Traceback" not in err and len(err) < 2000


def test_a_directory_given_as_the_file(tmp_path, monkeypatch, capsys):
    from constructs_lib.app import run

    folder = tmp_path / "config.json"
    folder.mkdir()
    monkeypatch.setenv("PIPELINE_CONFIG", str(folder))
    with pytest.raises(SystemExit) as exited:
        run([])
    assert exited.value.code == 2
    assert capsys.readouterr().err == f"error: configuration file {str(folder)!r}: is a directory; name a .toml or .json file\n"


def test_deep_filter_policy_from_code_is_a_config_error():
    policy: dict = {"leaf": ["x"]}
    for _ in range(5000):
        policy = {"n": policy}
    with pytest.raises(ConfigError, match=r"subscribers.0.filter_policy: nested deeper than 32 levels"):
        build_config(subscribers=[{"name": "a", "filter_policy": policy, "filter_policy_scope": "MessageBody"}])


def test_make_synth_prints_a_configuration_error_once(tmp_path):
    """`make synth` checks the configuration before the cdktf CLI, which would repeat the app's
    error output (once as it streams, once in its summary) under two error headings."""
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"region": "moon-1"}))
    result = subprocess.run(
        ["make", "--no-print-directory", "synth", f"CONFIG={bad}"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode != 0
    # Install steps, if a stamp is out of date, print their own "==> ..." and progress lines.
    lines = [line for line in (result.stdout + result.stderr).splitlines()
             if "***" not in line and not line.startswith(("==> ", "    ... "))]
    assert lines == ["error: region: 'moon-1' is not an AWS region name (expected something like us-east-1 or eu-west-2)"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"environments": {"de\nv": {}}}, "error: environments: 'de\\nv' is not an environment name"),
        ({"tags": {"a\x1b[31m": 5}}, "error: tags.'a\\x1b[31m': Input should be a valid string"),
        ({"environments": {"dev": {"tags": {"x\ny": [[[[]]]]}}}}, "error: environments.dev.tags.'x\\ny': Input should be a valid string"),
    ],
)
def test_odd_keys_are_quoted_in_messages(tmp_path, monkeypatch, capsys, data, expected):
    """A key holding a newline or a terminal escape must not split or colour the error line."""
    from constructs_lib.app import run

    file = tmp_path / "config.json"
    file.write_text(json.dumps(data))
    monkeypatch.setenv("PIPELINE_CONFIG", str(file))
    with pytest.raises(SystemExit):
        run([])
    err = capsys.readouterr().err
    assert expected in err, err
    assert "\x1b" not in err and all(line.startswith("error: ") for line in err.splitlines())


def test_the_configuration_imports_neither_the_contract_nor_cdktf():
    """contract -> config is one way (the deadline numbers come from pipeline_model.limits), and
    the model imports no construct layer."""
    code = ("import sys; import pipeline_model.config as c; c.build_config(subscribers=[{'batch_size': 10}]); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('cdktf', 'jsii', 'constructs', "
            "'constructs_lib') or m == 'pipeline_model.contract'))")
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# --- mapping controls (issue #22) -------------------------------------------------------------------------------

def test_mapping_controls_default_to_off():
    config = build_config()
    assert (config.stream.event_names, config.stream.metrics) == (None, False)
    assert (config.subscribers[0].maximum_concurrency, config.subscribers[0].metrics) == (None, False)


def test_mapping_controls_from_a_toml_file(tmp_path):
    from pipeline_model.config import load_environments

    file = tmp_path / "pipeline.toml"
    file.write_text('[stream]\nevent_names = ["INSERT", "MODIFY"]\nmetrics = true\n\n'
                    '[[subscribers]]\nname = "main"\nmaximum_concurrency = 1000\nmetrics = true\n')
    (config,) = load_environments(str(file))
    assert config.stream.event_names == ["INSERT", "MODIFY"] and config.stream.metrics is True
    assert config.subscribers[0].maximum_concurrency == 1000 and config.subscribers[0].metrics is True


@pytest.mark.parametrize(
    ("data", "field", "rule"),
    [
        ({"subscribers": [{"maximum_concurrency": 1}]}, "subscribers.0.maximum_concurrency", "greater than or equal to 2"),
        ({"subscribers": [{"maximum_concurrency": 1001}]}, "subscribers.0.maximum_concurrency", "less than or equal to 1000"),
        ({"subscribers": [{"maximum_concurrency": 2.0}]}, "subscribers.0.maximum_concurrency", "valid integer"),
        ({"subscribers": [{"maximum_concurrency": 20, "function": {"reserved_concurrency": 10}}]},
         "subscribers.0.maximum_concurrency", "above the consumer's function.reserved_concurrency (10)"),
        ({"subscribers": [{"maximum_concurrency": 2, "function": {"reserved_concurrency": 1}}]},
         "subscribers.0.maximum_concurrency", "leave maximum_concurrency unset"),
        ({"subscribers": [{"metrics": "true"}]}, "subscribers.0.metrics", "valid boolean"),
        ({"stream": {"metrics": 1}}, "stream.metrics", "valid boolean"),
        ({"stream": {"event_names": []}}, "stream.event_names", "an empty list would publish nothing"),
        ({"stream": {"event_names": ["INSERT", "INSERT"]}}, "stream.event_names", "INSERT given more than once"),
        ({"stream": {"event_names": ["insert"]}}, "stream.event_names.0", "'INSERT', 'MODIFY' or 'REMOVE'"),
        ({"stream": {"event_names": "INSERT"}}, "stream.event_names", "valid list"),
    ],
)
def test_mapping_controls_out_of_range_name_the_field(data, field, rule):
    with pytest.raises(ConfigError) as caught:
        build_config(data)
    text = "\n".join(caught.value.lines())
    assert any(p.field == field for p in caught.value.problems), text
    assert rule in text, text


def test_maximum_concurrency_within_reserved_concurrency_is_accepted():
    config = build_config(subscribers=[{"maximum_concurrency": 10, "function": {"reserved_concurrency": 10}}])
    assert config.subscribers[0].maximum_concurrency == 10


@pytest.mark.parametrize(
    ("event_names", "pattern", "passing"),
    [
        (None, None, {"INSERT", "MODIFY", "REMOVE"}),
        (["REMOVE", "INSERT", "MODIFY"], None, {"INSERT", "MODIFY", "REMOVE"}),
        (["MODIFY", "INSERT"], {"eventName": ["INSERT", "MODIFY"]}, {"INSERT", "MODIFY"}),
        (["REMOVE"], {"eventName": ["REMOVE"]}, {"REMOVE"}),
    ],
)
def test_the_stream_filter_and_the_local_run_agree(event_names, pattern, passing):
    """The pattern written into the mapping and the records the local run lets through are one rule."""
    from pipeline_model.mapping import stream_filter_pattern, stream_record_passes

    text = stream_filter_pattern(event_names)
    assert (json.loads(text) if text else None) == pattern
    assert text is None or len(text) <= 4096
    assert {name for name in ("INSERT", "MODIFY", "REMOVE")
            if stream_record_passes(event_names, {"eventName": name, "dynamodb": {}})} == passing


# ---------------------------------------------------------------------------------------------- routing (#20)


@pytest.mark.parametrize(("settings", "expected"), [
    ({"filter_policy": {"kind": ["order"]}},
     "subscribers.0.filter_policy: names the message attribute 'kind', which the producer never sends (it sends "
     "eventName, tableName): the queue would receive nothing; lift the item field into an attribute with "
     "producer.message_attributes = ['kind']"),
    ({"filter_policy": {"$or": [{"eventName": ["INSERT"]}, {"kind": ["order"], "size": [{"numeric": [">", 1]}]}]}},
     "names the message attributes 'kind', 'size', which the producer never sends"),
    ({"filter_policy": {"kind": ["order"]}, "filter_policy_scope": "MessageBody"},
     "subscribers.0.filter_policy: 'kind' is not a key of the message body (it has version, eventID, eventName"),
    ({"filter_policy": {"newImage": ["x"]}, "filter_policy_scope": "MessageBody"},
     "'newImage' is an object in the message body: match its fields"),
    ({"filter_policy": {"eventName": {"x": ["y"]}}, "filter_policy_scope": "MessageBody"},
     "'eventName' is not an object in the message body"),
    ({"filter_policy": {"userIdentity": {"typ": ["Service"]}}, "filter_policy_scope": "MessageBody"},
     "'userIdentity.typ' is not a key of the message body object (it has type, principalId)"),
])
def test_a_filter_policy_naming_what_the_producer_never_sends_is_an_error(settings, expected):
    with pytest.raises(ConfigError) as caught:
        build_config(subscribers=[{"name": "audit", **settings}])
    assert expected in str(caught.value)


@pytest.mark.parametrize("settings", [
    {"filter_policy": {"eventName": ["INSERT"], "tableName": [{"prefix": "app"}]}},
    {"filter_policy": {"eventName": ["INSERT"]}, "filter_policy_scope": "MessageBody"},
    {"filter_policy": {"newImage": {"any_item_field": ["x"]}, "keys": {"id": [{"prefix": "a"}]}},
     "filter_policy_scope": "MessageBody"},
    {"filter_policy": {"userIdentity": {"type": ["Service"]}, "truncated": [False]}, "filter_policy_scope": "MessageBody"},
])
def test_filter_policies_on_what_the_producer_sends_are_accepted(settings):
    assert build_config(subscribers=[{"name": "a", **settings}]).subscribers[0].filter_policy == settings["filter_policy"]


def test_lifted_item_fields_are_attributes_a_policy_may_name():
    config = build_config(producer={"message_attributes": ["kind", "amount"]},
                          subscribers=[{"name": "a", "filter_policy": {"kind": ["order"], "amount": [{"numeric": [">", 5]}]}}])
    assert config.producer.message_attributes == ["kind", "amount"]


@pytest.mark.parametrize(("names", "rule"), [
    (["a", "b", "c", "d", "e", "f", "g", "h", "i"], "9 fields given: at most 8"),
    (["eventName"], "'eventName' is sent on every message already"),
    (["kind", "kind"], "the same field is listed twice"),
    ([".kind"], "is not an SNS message attribute name"), (["kind."], "is not an SNS message attribute name"),
    (["a..b"], "is not an SNS message attribute name"), (["amazon.kind"], "is not an SNS message attribute name"),
    (["AWS.kind"], "is not an SNS message attribute name"), (["k ind"], "is not an SNS message attribute name"),
    (["x" * 257], "is not an SNS message attribute name"), ([""], "is not an SNS message attribute name"),
])
def test_bad_lifted_attribute_names_name_the_field_and_rule(names, rule):
    with pytest.raises(ConfigError) as caught:
        build_config(producer={"message_attributes": names})
    assert str(caught.value).splitlines()[1].strip().startswith("producer.message_attributes: ") and rule in str(caught.value)
