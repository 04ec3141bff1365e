"""The redrive of a subscriber's dead-letter queue, as docs/operations.md documents it, on the local emulator.

An outage outlasts max_receive_count receives: healthy changes end in the DLQ next to the poison ones (exit status 3).
The redrive then moves the DLQ back to the subscriber's queue: every healthy change is processed exactly once, the
poison ones return to the DLQ, and nothing is lost. moto has no StartMessageMoveTask, so the procedure the page gives
for that case (receive, send, delete) is what runs; it is read from the page itself, so the page cannot drift.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from local_pipeline import LocalPipeline, Options, Workload, exit_status
from pipeline_model.config import build_config

OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def documented_redrive():
    """The ``redrive`` function of docs/operations.md ("Without StartMessageMoveTask")."""
    text = OPERATIONS.read_text(encoding="utf-8")
    (code,) = [block for block in re.findall(r"```python\n(.*?)```", text, re.S) if "def redrive(" in block]
    namespace: dict = {}
    exec(compile(code, str(OPERATIONS), "exec"), namespace)  # noqa: S102 - the project's own documentation
    return namespace["redrive"]


def _outage(config, workload, after_drain=None):
    pipeline = LocalPipeline(config, Options(workload=workload, outage_s=3.0, timeout_s=90, after_drain=after_drain))
    return pipeline, pipeline.run()


def test_the_documented_redrive_brings_outage_casualties_back_and_poison_returns():
    config = build_config({"subscribers": [{"max_receive_count": 2}]})
    workload = Workload(items=8, poison=2, modify_share=0, remove_share=0)
    seen: dict = {}

    def redrive_after_the_outage(pipeline: LocalPipeline) -> None:
        sqs, (sub,) = pipeline.clients.sqs, pipeline.resources.subscribers.values()
        seen["before"] = _count(sqs, sub.dlq_url)
        seen["moved"] = documented_redrive()(sqs, sub.dlq_url, sub.queue_url)

    _pipeline, result = _outage(config, workload, redrive_after_the_outage)

    s = result.summary
    assert result.errors == [] and not result.timed_out, result.errors
    assert seen["before"] > workload.poison  # the outage put healthy changes in the DLQ too
    assert seen["moved"] == seen["before"]
    main = s["subscribers"]["main"]
    # After the redrive: every healthy change processed, once; only the poison is dead-lettered; nothing lost.
    assert main["processed"] == main["processed_once"] == workload.changes - workload.poison
    assert s["dead_lettered_poison"] == workload.poison and s["dead_lettered_outage"] == 0
    assert s["lost"] == 0 and s["processed_more_than_once"] == 0 and result.ok
    assert exit_status(result) == 0  # it is 3 (outage casualties) without the redrive: see the next test


def test_without_a_redrive_the_outage_leaves_casualties():
    """The control: the same outage, no redrive: healthy changes stay in the DLQ (exit status 3)."""
    config = build_config({"subscribers": [{"max_receive_count": 2}]})
    workload = Workload(items=8, poison=2, modify_share=0, remove_share=0)
    _pipeline, result = _outage(config, workload)
    assert result.summary["dead_lettered_outage"] > 0 and exit_status(result) == 3


def _count(sqs, url: str) -> int:
    return int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
               ["Attributes"]["ApproximateNumberOfMessages"])


def test_start_message_move_task_back_to_the_source_queue(monkeypatch):
    """The API call the page gives first; skipped where the emulator does not implement it."""
    from botocore.config import Config
    from moto import mock_aws

    from local_pipeline.offline import UNSAFE_VARIABLES, offline_environment

    for name in UNSAFE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in offline_environment().items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        import boto3

        sqs = boto3.client("sqs", config=Config(retries={"max_attempts": 1}))
        dlq_url = sqs.create_queue(QueueName="q-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        queue_url = sqs.create_queue(QueueName="q", Attributes={
            "RedrivePolicy": f'{{"deadLetterTargetArn": "{dlq_arn}", "maxReceiveCount": 1}}'})["QueueUrl"]
        sqs.send_message(QueueUrl=dlq_url, MessageBody="a change")
        try:
            sqs.start_message_move_task(SourceArn=dlq_arn)
        except (ClientError, NotImplementedError) as error:
            pytest.skip(f"the local emulator (moto) does not implement StartMessageMoveTask "
                        f"({type(error).__name__}); the documented receive/send/delete redrive is tested instead")
        (message,) = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1)["Messages"]
        assert message["Body"] == "a change" and _count(sqs, dlq_url) == 0


# ---------------------------------------------------------------------------------------------- the delivery DLQ


def test_the_documented_redrive_of_a_delivery_dlq_delivers_once_the_queue_is_large_enough():
    """The subscriber's queue is smaller than the producer's budget assumes (1 KiB): SNS fails every delivery and
    keeps the message in the subscriber's delivery DLQ. After raising the queue's maximum message size (the fix),
    the procedure docs/operations.md gives for a delivery DLQ (receive, send to the subscriber's queue, delete: not
    StartMessageMoveTask, whose source cannot be an SNS subscription's DLQ) delivers every change, processed once."""
    config = build_config({})
    workload = Workload(items=6, modify_share=0, remove_share=0)
    seen: dict = {}

    def raise_the_queue_size_and_redrive(pipeline: LocalPipeline) -> None:
        sqs, (sub,) = pipeline.clients.sqs, pipeline.resources.subscribers.values()
        seen["before"] = _count(sqs, sub.delivery_dlq_url)
        seen["queue_before"] = _count(sqs, sub.queue_url)
        sqs.set_queue_attributes(QueueUrl=sub.queue_url, Attributes={"MaximumMessageSize": "262144"})
        seen["moved"] = documented_redrive()(sqs, sub.delivery_dlq_url, sub.queue_url)

    pipeline = LocalPipeline(config, Options(workload=workload, timeout_s=90, queue_message_bytes=1024,
                                             after_drain=raise_the_queue_size_and_redrive))
    result = pipeline.run()

    s = result.summary
    assert result.errors == [] and not result.timed_out, result.errors
    assert seen["queue_before"] == 0 and seen["before"] == seen["moved"] == workload.changes
    main = s["subscribers"]["main"]
    assert main["processed"] == main["processed_once"] == workload.changes
    assert s["delivery_failed"] == workload.changes and s["dead_lettered_delivery"] == 0
    assert s["lost"] == 0 and result.ok
    assert exit_status(result) == 4  # the failures happened: the run says so even after the redrive


def test_without_a_redrive_undelivered_changes_are_dead_lettered_by_delivery_not_lost():
    """The control, and the summary: every delivery failed, each change is in the delivery DLQ (not lost), the
    failures are counted per subscriber and the run exits with status 4."""
    from local_pipeline.__main__ import table

    config = build_config({})
    workload = Workload(items=6, modify_share=0, remove_share=0)
    result = LocalPipeline(config, Options(workload=workload, timeout_s=90, queue_message_bytes=1024)).run()

    s = result.summary
    assert result.errors == [] and not result.timed_out, result.errors
    assert s["published"] == workload.changes and s["processed"] == 0
    assert s["delivery_failed"] == s["dead_lettered_delivery"] == workload.changes
    main = s["subscribers"]["main"]
    assert main["delivery_failed"] == main["dead_lettered_delivery_expected"] == workload.changes
    assert len(result.delivery_dead_letters["main"]) == workload.changes
    assert s["lost"] == 0 and s["outage_casualties"] == 0 and result.ok
    assert exit_status(result) == 4
    assert re.search(rf"\ndelivery failed \(SNS to a queue\) +{workload.changes}\n", table(s)), table(s)
