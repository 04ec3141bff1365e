"""N changes in -> every change processed exactly once, poison in the DLQ, nothing lost."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from pipeline_model.config import build_config
from local_pipeline import Workload, exit_status
from pipeline_model.lambda_runtime import shared_module

pipeline_message = shared_module("pipeline_message")

ITEMS, POISON = 30, 3


@pytest.fixture(scope="module")
def fan_out(run):
    """Two subscribers: 'main' (raw delivery) gets everything, 'audit' only REMOVE events."""
    config = build_config(
        {
            "subscribers": [
                {"name": "main", "max_receive_count": 2, "raw_message_delivery": True},
                {"name": "audit", "max_receive_count": 2, "filter_policy": {"eventName": ["REMOVE"]}},
            ]
        }
    )
    workload = Workload(items=ITEMS, poison=POISON)
    pipeline, result = run(config, workload=workload, duplicates=0.3, timeout_s=60)
    return config, workload, pipeline, result


def test_every_change_processed_exactly_once(fan_out):
    _config, workload, _pipeline, result = fan_out
    s = result.summary
    assert result.errors == [] and not result.timed_out
    changes = workload.changes
    assert s["written"] == changes == len(workload.plan()) > ITEMS  # INSERTs plus MODIFYs and REMOVEs
    assert s["in_stream"] == s["published"] == changes
    main = s["subscribers"]["main"]
    assert main["expected"] == changes
    assert main["processed"] == main["processed_once"] == changes - POISON
    assert s["processed_more_than_once"] == 0
    assert s["lost"] == 0 and result.ok


def test_poison_messages_are_in_the_dlq_with_their_payload(fan_out):
    _config, _workload, pipeline, result = fan_out
    dead = result.dead_letters["main"]
    assert len(dead) == POISON
    for message in dead:
        payload = json.loads(message["Body"], parse_float=Decimal)  # raw delivery: the producer's payload itself
        assert payload == pipeline_message.parse_body(message["Body"])
        assert payload["eventName"] == "INSERT"
        assert payload["keys"]["id"] in pipeline.ledger.poison
        assert payload["newImage"]["poison"] is True and payload["newImage"]["version"] == 1
        assert pipeline.ledger.stream[payload["eventID"]][0] == payload["keys"]["id"]
        assert int(message["Attributes"]["ApproximateReceiveCount"]) >= 2  # max_receive_count, then the DLQ


def test_filter_policy_subscriber_gets_only_its_events(fan_out):
    _config, workload, _pipeline, result = fan_out
    audit = result.summary["subscribers"]["audit"]
    removes = sum(1 for event, *_ in workload.plan() if event == "REMOVE")
    assert removes > 0
    assert audit["expected"] == audit["processed_once"] == audit["delivered"] - audit["duplicates_injected"] == removes
    assert audit["lost"] == 0 and result.dead_letters["audit"] == []


def test_redelivered_duplicates_are_suppressed(fan_out):
    s = fan_out[3].summary
    assert s["duplicates_injected"] > 0
    assert s["duplicates_suppressed"] == s["duplicates_injected"]
    assert s["acked_without_processing"] == 0


def test_summary_figures(fan_out):
    s = fan_out[3].summary
    for key in ("written", "processed", "dead_lettered", "lost", "duplicates_suppressed", "throughput_per_s", "p50_ms", "p99_ms"):
        assert key in s
    assert s["dead_lettered"] == s["dead_lettered_poison"] == POISON and s["outage_casualties"] == 0
    assert exit_status(fan_out[3]) == 0
    assert s["throughput_per_s"] > 0 and 0 < s["p50_ms"] <= s["p99_ms"]


def test_consumer_outage_then_recovery_loses_nothing(run):
    """The business logic fails for 2 s (every message during that time), then recovers.

    With a 1 s visibility timeout a message is received at most 3 times during the outage,
    below the default max_receive_count of 5: everything is retried and processed once.
    """
    workload = Workload(items=30)
    _pipeline, result = run(build_config(), workload=workload, outage_s=2.0, timeout_s=60)
    s = result.summary
    main = s["subscribers"]["main"]
    assert main["rejected_attempts"] > 0, "the outage must have rejected messages"
    assert s["lost"] == 0 and s["dead_lettered"] == 0
    assert s["processed"] == s["processed_once"] == workload.changes
    assert result.ok


def test_outage_casualties_are_told_apart_from_poison_and_set_the_exit_status(run):
    """An outage longer than max_receive_count deliveries: healthy changes end in the DLQ next to the poison ones.
    Nothing is lost (all are dead-lettered), but the summary counts the healthy ones as outage casualties and the
    exit status (3) says the outage cost messages to the DLQ."""
    config = build_config({"subscribers": [{"max_receive_count": 2}]})
    workload = Workload(items=8, poison=2, modify_share=0, remove_share=0)
    _pipeline, result = run(config, workload=workload, outage_s=3.0, timeout_s=60)
    s = result.summary
    assert s["lost"] == 0 and result.ok
    assert s["dead_lettered_poison"] == 2
    assert s["dead_lettered_outage"] == s["outage_casualties"] > 0
    assert s["dead_lettered_poison"] + s["dead_lettered_outage"] + s["processed"] == s["written"]
    assert exit_status(result) == 3


def test_producer_failures_end_in_the_on_failure_queue_not_lost(run):
    """The producer cannot publish (unknown topic): bisected retries, then the on-failure queue."""
    config = build_config({"stream": {"maximum_retry_attempts": 2}})
    workload = Workload(items=30, modify_share=0, remove_share=0)
    bad_topic = "arn:aws:sns:us-east-1:123456789012:no-such-topic"
    pipeline, result = run(
        config, workload=workload, timeout_s=60,
        environment_overrides={config.names.producer_function: {"SNS_TOPIC_ARN": bad_topic}},
    )
    s = result.summary
    assert s["published"] == 0 and s["processed"] == 0
    assert s["stream_failures"] == workload.changes  # every change is accounted for by the failure queue
    assert s["lost"] == 0 and s["producer_bisections"] > 0 and s["producer_retries"] > 0
    assert s["outage_casualties"] == workload.changes and exit_status(result) == 3  # healthy changes, not poison
    info = [json.loads(m["Body"])["DDBStreamBatchInfo"] for m in result.stream_failures]
    assert sum(i["batchSize"] for i in info) == workload.changes
    assert all(json.loads(m["Body"])["requestContext"]["condition"] == "RetryAttemptsExhausted" for m in result.stream_failures)


def test_stream_event_names_filter_drops_removes_like_lambda(run):
    """stream.event_names = ["INSERT", "MODIFY"]: the local stream mapping drops REMOVE changes before the producer,
    as Lambda's filter_criteria does; none is published, none is expected by a subscriber, none counts as lost."""
    config = build_config({"stream": {"event_names": ["INSERT", "MODIFY"]},
                           "subscribers": [{"name": "main"}, {"name": "audit", "filter_policy": {"eventName": ["REMOVE"]}}]})
    workload = Workload(items=30)
    removes = sum(1 for event, *_ in workload.plan() if event == "REMOVE")
    assert removes > 0
    pipeline, result = run(config, workload=workload, timeout_s=60)
    s = result.summary
    assert result.errors == [] and not result.timed_out
    assert s["written"] == s["in_stream"] == workload.changes  # every change reached the stream
    assert s["filtered_out"] == removes
    assert s["published"] == workload.changes - removes  # no REMOVE was handed to the producer
    published = {pipeline_message.parse_body(message)["eventName"]
                 for _mid, message, *_rest in _sent_notifications(pipeline)}
    assert published == {"INSERT", "MODIFY"}
    main, audit = s["subscribers"]["main"], s["subscribers"]["audit"]
    assert main["expected"] == main["processed_once"] == workload.changes - removes
    assert audit["expected"] == audit["processed"] == 0  # its REMOVEs were filtered out upstream, not lost
    assert s["lost"] == 0 and s["stream_failures"] == 0 and exit_status(result) == 0
    from local_pipeline.__main__ import table

    (row,) = [line for line in table(s).splitlines() if line.startswith("filtered out (stream.event_names)")]
    assert row.split()[-1] == str(removes)


def _sent_notifications(pipeline):
    from moto.sns.models import sns_backends

    from local_pipeline.emulator import ACCOUNT_ID

    return sns_backends[ACCOUNT_ID][pipeline.config.region].topics[pipeline.resources.topic_arn].sent_notifications


def test_a_real_loss_is_reported():
    """Negative control: purge the queue mid-run; the tally must count the purged changes as lost."""
    state = {"purged": False}
    holder = {}

    def purge_once(subscriber, message):
        if state["purged"]:
            return
        pipeline = holder["pipeline"]
        sqs, url = pipeline.clients.sqs, pipeline.resources.subscribers[subscriber].queue_url
        waiting = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        if int(waiting["Attributes"]["ApproximateNumberOfMessages"]) > 0:  # something to lose
            state["purged"] = True
            sqs.purge_queue(QueueUrl=url)

    from local_pipeline import LocalPipeline, Options

    pipeline = LocalPipeline(build_config(), Options(workload=Workload(items=60), fault=purge_once, timeout_s=60))
    holder["pipeline"] = pipeline
    result = pipeline.run()
    assert state["purged"]
    assert result.summary["lost"] > 0
    assert not result.ok
    assert result.summary["processed"] + result.summary["lost"] == result.summary["written"]
