"""Per-item ordering end to end: FIFO topic and queues on the emulator keep each item's changes in stream order.

The workload makes reordering likely in the standard design: few items, every item modified, so an item's INSERT
and MODIFY are in flight together (4 pollers), and half of the changes fail their first attempt (a transient
error: redelivered after the visibility timeout, behind the item's next change unless the queue holds it back).
"""

from __future__ import annotations

import pytest

from pipeline_model.config import build_config
from local_pipeline import Workload
from local_pipeline.ledger import Ledger

WORKLOAD = Workload(items=12, modify_share=1.0, remove_share=0.5)
SUBSCRIBERS = [{"name": "replica"}, {"name": "search", "raw_message_delivery": True,
                                     "filter_policy": {"eventName": ["INSERT", "MODIFY"]},
                                     "filter_policy_scope": "MessageBody"}]


def _run(run, ordering: str):
    config = build_config(ordering=ordering, subscribers=SUBSCRIBERS)
    return run(config, workload=WORKLOAD, duplicates=0.3, flaky=0.5, pollers_per_queue=4, timeout_s=60)


@pytest.fixture(scope="module")
def ordered(run):
    return _run(run, "per-item")


@pytest.fixture(scope="module")
def standard(run):
    return _run(run, "none")


def test_per_item_processes_every_change_once_and_in_order(ordered):
    pipeline, result = ordered
    s = result.summary
    assert result.errors == [] and not result.timed_out
    assert s["lost"] == 0 and s["processed_more_than_once"] == 0 and result.ok
    assert s["out_of_order"] == 0 and s["out_of_order_examples"] == []
    changes = WORKLOAD.changes
    assert s["subscribers"]["replica"]["processed"] == changes
    # the body filter policy and raw delivery work on the FIFO topic: REMOVEs are filtered out
    removes = sum(1 for name, *_ in WORKLOAD.plan() if name == "REMOVE")
    assert s["subscribers"]["search"]["processed"] == changes - removes > 0
    # the transient failures and injected duplicates happened, so the order was put to the test
    assert s["subscribers"]["replica"]["rejected_attempts"] > 0 and s["duplicates_injected"] > 0


def test_per_item_resources_are_fifo(ordered):
    pipeline, _result = ordered
    assert pipeline.resources.topic_arn.endswith(".fifo")
    assert all(sr.queue_url.endswith(".fifo") and sr.dlq_url.endswith(".fifo")
               for sr in pipeline.resources.subscribers.values())
    assert not pipeline.resources.failure_queue_url.endswith(".fifo")


def test_standard_design_reorders_the_same_workload(standard):
    """The same workload on standard queues: nothing lost, but items' changes processed out of order."""
    _pipeline, result = standard
    s = result.summary
    assert s["lost"] == 0 and result.ok
    assert s["out_of_order"] > 0, s


def test_out_of_order_counts_a_lower_sequence_after_a_higher_one():
    ledger = Ledger(["a"])
    for i, (name, version) in enumerate([("INSERT", 1), ("MODIFY", 2), ("REMOVE", 2)]):
        ledger.stream_record({"eventID": f"e{i}", "eventName": name,
                              "dynamodb": {"Keys": {"id": {"S": "k"}}, "SequenceNumber": str(100 + i),
                                           "NewImage": {"version": {"N": str(version)}}}})
    for event_id in ("e1", "e0", "e2", "e0"):  # e0 twice after e1: two out-of-order processings
        ledger.processed("a", event_id)
    assert ledger.subs["a"].out_of_order == 2
    assert ledger.subs["a"].highest == {"k": 102}


@pytest.mark.parametrize("share", ["1.5", "-0.1"])
def test_flaky_share_out_of_range_is_a_usage_error(share, capsys):
    from local_pipeline.__main__ import main

    with pytest.raises(SystemExit) as exited:
        main(["--flaky", share, "--quiet"])
    assert exited.value.code == 2
    assert capsys.readouterr().err == f"error: argument --flaky: {share!r}: must be from 0 to 1 (see --help)\n"


def test_emulator_redelivers_a_failed_fifo_batch_in_group_order():
    """moto alone hands out B before A here (local_pipeline/emulator.py, fifo_groups_in_flight)."""
    import time

    import boto3
    from moto import mock_aws

    from local_pipeline.emulator import atomic_fifo_receives, fifo_groups_in_flight

    saved = [fifo_groups_in_flight(), atomic_fifo_receives()]
    try:
        with mock_aws():
            sqs = boto3.client("sqs", region_name="us-east-1")
            url = sqs.create_queue(QueueName="q.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
            for body in ("A", "B"):
                sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="g", MessageDeduplicationId=body)
            first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=1)["Messages"]
            assert [m["Body"] for m in first] == ["A", "B"]  # both fail: neither is deleted
            time.sleep(1.1)
            again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
            assert [m["Body"] for m in again][:1] == ["A"]
    finally:
        for owner, attribute, original in reversed(saved):
            setattr(owner, attribute, original)
