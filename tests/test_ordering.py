"""Per-item ordering (issue 14): configuration rules, FIFO names, synthesized FIFO resources, terraform validate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline_model import ordering
from constructs_lib.app import load_environments
from pipeline_model.config import ConfigError, build_config, environments_from_dict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = PROJECT_ROOT / "examples" / "ordered.toml"


# --- configuration -------------------------------------------------------------------------------


def test_default_is_the_original_standard_design():
    config = build_config()
    assert config.ordering == "none"
    assert config.names.topic == "data-processing-topic"
    assert config.names.subscribers[0].queue == "data-processing-queue"
    assert config.names.subscribers[0].dlq == "data-processing-queue-dlq"


def test_per_item_gives_default_names_the_fifo_suffix():
    config = build_config(ordering="per-item", subscribers=[{}, {"name": "audit"}])
    assert config.names.topic == "data-processing-topic.fifo"
    assert [(s.queue, s.dlq) for s in config.names.subscribers] == [
        ("data-processing-queue.fifo", "data-processing-queue-dlq.fifo"),
        ("audit-queue.fifo", "audit-queue-dlq.fifo"),
    ]
    # the stream's on-failure queue and the alarm topic stay standard
    assert config.names.stream_failure_queue == "dynamodb-stream-producer-failures"
    assert config.names.alarm_topic == "data-processing-alarms"


def test_name_suffix_goes_before_fifo():
    config = build_config(ordering="per-item", name_suffix="-dev", subscribers=[{"name": "a", "queue_name": "q.fifo"}])
    assert config.names.topic == "data-processing-topic-dev.fifo"
    assert config.names.subscribers[0].queue == "q-dev.fifo"
    assert config.names.subscribers[0].dlq == "q-dev-dlq.fifo"
    assert config.names.stream_failure_queue == "dynamodb-stream-producer-failures-dev"


def test_environments_form_builds_fifo_names_per_environment():
    dev, prod = environments_from_dict({"defaults": {"ordering": "per-item"}, "environments": {"dev": {}, "prod": {}}})
    assert dev.names.topic == "data-processing-topic-dev.fifo"
    assert prod.names.subscribers[0].queue == "data-processing-queue-prod.fifo"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"ordering": "per-item", "subscribers": [{}, {"name": "legacy", "queue_name": "legacy-queue"}]},
         "subscribers.1.queue_name: 'legacy-queue' is a standard queue, which would lose the per-item order"),
        ({"ordering": "per-item", "topic_name": "orders"}, "topic_name: 'orders' must end in '.fifo' with ordering = 'per-item'"),
        ({"topic_name": "orders.fifo"}, "topic_name: 'orders.fifo' ends in '.fifo', a FIFO topic's name; set ordering"),
        ({"subscribers": [{"queue_name": "q.fifo"}]}, "subscribers.0.queue_name: 'q.fifo' ends in '.fifo', a FIFO queue's name"),
        ({"ordering": "per-item", "stream_failure_queue_name": "failures.fifo"},
         "stream_failure_queue_name: 'failures.fifo' must not end in '.fifo': it is the stream mapping's on-failure destination"),
        ({"ordering": "per-item", "alarm_topic_name": "alarms.fifo"}, "alarm_topic_name: 'alarms.fifo' must not end in '.fifo'"),
        ({"ordering": "fifo"}, "ordering: Input should be 'none' or 'per-item'"),
        # Lambda's SQS mapping: FIFO queues take batches of at most 10 and no batching window
        ({"ordering": "per-item", "subscribers": [{"batch_size": 20, "maximum_batching_window_seconds": 1,
                                                   "function": {"timeout": 10}, "visibility_timeout_seconds": 60}]},
         "subscribers.0.batch_size: 20 is above 10: Lambda reads FIFO queues in batches of at most 10"),
        ({"ordering": "per-item", "subscribers": [{"maximum_batching_window_seconds": 5}]},
         "subscribers.0.maximum_batching_window_seconds: must be 0 with ordering = 'per-item'"),
        # the DLQ "<stem>-dlq.fifo" must fit SQS's 80 characters: stem at most 71
        ({"ordering": "per-item", "subscribers": [{"queue_name": "q" * 72 + ".fifo"}]},
         "is not a valid sqs queue name: use 1-76 characters"),
        ({"ordering": "per-item", "subscribers": [{"queue_name": "bad.name.fifo"}]}, "is not a valid sqs queue name"),
    ],
)
def test_incompatible_settings_are_config_errors(settings, message):
    with pytest.raises(ConfigError) as error:
        build_config(settings)
    assert message in str(error.value)


def test_longest_fifo_names_are_accepted():
    config = build_config(ordering="per-item", topic_name="t" * 251 + ".fifo", subscribers=[{"queue_name": "q" * 71 + ".fifo"}])
    assert len(config.names.subscribers[0].dlq) == 80  # SQS's maximum, as the module names it


def test_filter_policies_and_raw_delivery_are_allowed_under_per_item():
    """SNS FIFO topics filter on both scopes, and raw delivery to SQS FIFO queues works: no rule refuses them."""
    config = build_config(ordering="per-item", subscribers=[
        {"name": "a", "raw_message_delivery": True, "filter_policy": {"eventName": ["INSERT"]}, "filter_policy_scope": "MessageBody"},
        {"name": "b", "filter_policy": {"eventName": ["REMOVE"]}},
    ])
    assert [s.filter_policy_scope for s in config.subscribers] == ["MessageBody", "MessageAttributes"]


def test_with_suffix_and_dlq_name():
    assert ordering.with_suffix("q.fifo", "-dev") == "q-dev.fifo"
    assert ordering.with_suffix("q", "-dev") == "q-dev"
    assert ordering.dlq_name("q.fifo") == "q-dlq.fifo"
    assert ordering.dlq_name("q") == "q-dlq"


# --- synthesized stack --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ordered(synth_config):
    configs = load_environments(str(EXAMPLE), select="")
    return synth_config(configs)


def test_ordered_example_synthesizes_fifo_topic_and_queues(ordered):
    doc = ordered.only
    modules = doc["module"]
    topic = modules["topic"]
    assert topic["name"].endswith(".fifo")
    assert topic["fifo_topic"] is True and topic["content_based_deduplication"] is False
    queues = {k: v for k, v in modules.items() if k.startswith("queue_")}
    # each subscriber's queue (+ DLQ) and its SNS delivery DLQ (#20): FIFO, as SNS requires for a FIFO subscription
    assert set(queues) == {"queue_replica", "queue_search_index", "queue_replica_delivery_dlq",
                           "queue_search_index_delivery_dlq"}
    for queue in queues.values():
        assert queue["name"].endswith(".fifo")
        assert queue["fifo_queue"] is True and queue["content_based_deduplication"] is False
        # the module makes the DLQ FIFO too (fifo_queue applies to both); a delivery DLQ has none of its own
        assert queue.get("create_dlq") is (None if queue["name"].endswith("-delivery-dlq.fifo") else True)
    # the stream's on-failure destination stays standard (Lambda destinations take no FIFO queue)
    failures = modules["stream_failures"]
    assert "fifo_queue" not in failures and not failures["name"].endswith(".fifo")
    assert not modules["alarm_topic"]["name"].endswith(".fifo")
    # raw delivery and the body filter policy reach the subscription
    subscription = doc["resource"]["aws_sns_topic_subscription"]["subscription_search_index"]
    assert subscription["raw_message_delivery"] is True
    assert subscription["filter_policy_scope"] == "MessageBody"
    assert json.loads(subscription["filter_policy"]) == {"eventName": ["INSERT", "MODIFY"]}


def test_alarms_and_dashboard_cover_the_fifo_queues(ordered):
    doc = ordered.only
    alarms = doc["resource"]["aws_cloudwatch_metric_alarm"]
    watched = {a["dimensions"].get("QueueName") for a in alarms.values()}
    for name in ("replica", "search_index"):
        assert f"${{module.queue_{name}.queue_name}}" in watched
        assert f"${{module.queue_{name}.dead_letter_queue_name}}" in watched
    body = doc["resource"]["aws_cloudwatch_dashboard"]["dashboard"]["dashboard_body"]
    for name in ("replica", "search_index"):
        assert f"module.queue_{name}.queue_name" in body and f"module.queue_{name}.dead_letter_queue_name" in body


def test_default_stack_has_no_fifo_arguments(tf):
    for block in tf["module"].values():
        assert not any("fifo" in key or "deduplication" in key for key in block)


def test_ordered_stack_validates_offline_against_the_module_code(ordered):
    """terraform validate (and an offline plan) of the ordered stack: the FIFO inputs are module variables of the
    declared types, and the provider accepts the arguments the modules derive from them."""
    import scripts.terraform_validate as tv

    inputs = tv.offline_dir()
    if inputs is None or not Path(inputs).is_dir():
        pytest.skip(f"offline Terraform inputs absent: set {tv.OFFLINE_DIR_VARIABLE}")
    stack = ordered.stack_dir(next(iter(ordered.documents)))
    process = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / "terraform_validate.py"), "--offline", "--plan", str(stack)],
        capture_output=True, text=True, timeout=600, env={**os.environ, tv.OFFLINE_DIR_VARIABLE: str(inputs)},
    )
    assert process.returncode == 0, process.stdout + process.stderr
    assert "valid, plan:" in process.stdout, process.stdout
