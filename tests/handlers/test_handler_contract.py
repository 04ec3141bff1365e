"""What the stack and the handlers must agree on: the consumer's deadline rule, checked at synth."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from handlers_support import ROOT

from pipeline_model import contract
from pipeline_model.config import ConfigError, build_config


def test_synth_rule_uses_the_consumers_own_numbers(consumer):
    assert contract.CONSUMER_DEADLINE_MARGIN_MS == consumer.DEADLINE_MARGIN_MS
    assert contract.CONSUMER_MESSAGE_BUDGET_MS == consumer.MESSAGE_BUDGET_MS


@pytest.mark.parametrize(
    "subscriber",
    [
        {},  # the original design: batch 10, 3 s
        {"batch_size": 15, "maximum_batching_window_seconds": 1},  # 15 x 50 + 2250 = 3000 ms: exactly fits
        {"batch_size": 100, "maximum_batching_window_seconds": 1, "function": {"timeout": 8},
         "visibility_timeout_seconds": 48},
    ],
    ids=["default", "exactly", "large"],
)
def test_batches_that_fit_the_timeout_are_accepted(subscriber):
    sub = build_config({"subscribers": [subscriber]}).subscribers[0]
    assert contract.consumer_batch_ms(sub.batch_size) <= sub.function.timeout * 1000


@pytest.mark.parametrize(
    "subscriber, advice",
    [
        ({"batch_size": 16, "maximum_batching_window_seconds": 1}, "lower batch_size to 15 or raise function.timeout to 4 s"),
        ({"function": {"timeout": 2}}, "raise function.timeout to 3 s"),
        ({"batch_size": 10000, "maximum_batching_window_seconds": 5, "function": {"timeout": 60},
          "visibility_timeout_seconds": 360}, "lower batch_size to 1155 or raise function.timeout to 503 s"),
    ],
    ids=["one-too-many", "short-timeout", "huge-batch"],
)
def test_batches_that_cannot_finish_are_rejected_naming_the_rule(subscriber, advice):
    with pytest.raises(ConfigError) as caught:
        build_config({"subscribers": [{"name": "ok"}, subscriber]})
    message = str(caught.value)
    assert re.search(r"subscribers(\.1|\[1\])\.batch_size: ", message), message
    assert "batch_size x 50 ms + 2250 ms <= function.timeout" in message and advice in message, message


def test_synth_reports_the_rule_as_a_clean_error(tmp_path):
    config = tmp_path / "pipeline.json"
    config.write_text(json.dumps({"subscribers": [{"batch_size": 20, "maximum_batching_window_seconds": 1}]}))
    env = {**os.environ, "PIPELINE_CONFIG": str(config), "CDKTF_OUTDIR": str(tmp_path / "out")}
    result = subprocess.run([sys.executable, "main.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert re.search(r"subscribers(\.0|\[0\])\.batch_size: 20 messages cannot finish within the consumer timeout of 3 s",
                     result.stderr), result.stderr


# ---------------------------------------------------------------------------------------------- publish concurrency


def test_publish_concurrency_default_and_range_are_the_producers_own(producer):
    from pipeline_model.config import DEFAULT_PUBLISH_CONCURRENCY, MAX_PUBLISH_CONCURRENCY, PipelineConfig

    assert DEFAULT_PUBLISH_CONCURRENCY == producer.DEFAULT_PUBLISH_CONCURRENCY
    assert MAX_PUBLISH_CONCURRENCY == producer.MAX_PUBLISH_CONCURRENCY
    assert PipelineConfig().producer.publish_concurrency == producer.DEFAULT_PUBLISH_CONCURRENCY


@pytest.mark.parametrize("value", [1, 3, 16])
def test_publish_concurrency_reaches_the_function_environment(value):
    config = build_config(producer={"publish_concurrency": value})
    environment = contract.producer_environment(config, "arn:aws:sns:us-east-1:123456789012:t")
    assert environment["PUBLISH_CONCURRENCY"] == str(value)


def test_the_default_publish_concurrency_leaves_the_environment_as_it_was(producer):
    """The default stack's JSON does not change: the handler's own default (equal to the config's) applies."""
    environment = contract.producer_environment(build_config(), "arn:aws:sns:us-east-1:123456789012:t")
    assert "PUBLISH_CONCURRENCY" not in environment
    assert producer.publish_concurrency(None) == build_config().producer.publish_concurrency


@pytest.mark.parametrize(("value", "rule"), [(0, "greater than or equal to 1"), (17, "less than or equal to 16"),
                                             ("4", "valid integer"), (True, "valid integer")])
def test_bad_publish_concurrency_is_a_config_error_naming_the_field(value, rule):
    with pytest.raises(ConfigError) as error:
        build_config(producer={"publish_concurrency": value})
    assert "producer.publish_concurrency" in str(error.value) and rule in str(error.value)


def test_the_local_run_uses_the_configured_concurrency(monkeypatch):
    """`make local` loads the producer with contract.producer_environment: the value the deployment gets."""
    import io
    from types import SimpleNamespace

    from local_pipeline.runner import LocalPipeline

    from pipeline_model.lambda_runtime import temporary_environment

    config = build_config(producer={"publish_concurrency": 3})
    run = LocalPipeline(config)
    run.resources = SimpleNamespace(
        topic_arn="arn:aws:sns:us-east-1:123456789012:t",
        subscribers={s.name: SimpleNamespace(idempotency_table="idem") for s in config.subscribers},
    )
    with temporary_environment({"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}):  # loopback, never contacted
        run._load_functions(io.StringIO())
    assert run.functions["__producer__"].module.PUBLISH_CONCURRENCY == 3


# ---------------------------------------------------------------------------------------------- what the producer publishes


def test_the_message_format_the_routing_check_knows_is_the_one_the_producer_builds(monkeypatch):
    """pipeline_model.message_format (read by the configuration's routing check) matches pipeline_message.py."""
    from handlers_support import pipeline_message, stream_record

    monkeypatch.delenv(contract.MESSAGE_ATTRIBUTES_ENV, raising=False)
    identity = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    full = pipeline_message.build(stream_record(1, "REMOVE", user_identity=identity))
    truncated = pipeline_message.build(stream_record(2, new={"pk": {"S": "item-2"}, "x": {"S": "y" * 300_000}}))
    keys = set(json.loads(full.body)) | set(json.loads(truncated.body))
    assert keys == set(contract.MESSAGE_BODY_KEYS)
    assert set(json.loads(full.body)["userIdentity"]) == set(contract.MESSAGE_BODY_OBJECTS["userIdentity"])
    assert tuple(full.attributes) == contract.MESSAGE_ATTRIBUTES
    assert pipeline_message.MESSAGE_ATTRIBUTES_ENV == contract.MESSAGE_ATTRIBUTES_ENV
    assert contract.MAX_LIFTED_ATTRIBUTES + len(contract.MESSAGE_ATTRIBUTES) == 10  # SNS -> raw SQS: at most 10


def test_lifted_fields_reach_the_producer_environment_only_when_set():
    topic = "arn:aws:sns:us-east-1:123456789012:t"
    assert contract.MESSAGE_ATTRIBUTES_ENV not in contract.producer_environment(build_config(), topic)
    config = build_config(producer={"message_attributes": ["kind", "amount"]})
    assert contract.producer_environment(config, topic)[contract.MESSAGE_ATTRIBUTES_ENV] == "kind,amount"
