"""Create the pipeline's resources on the emulator from the same PipelineConfig the stack uses.

Names and settings are read from the configuration object, and the design's fixed facts
(key schemas, retention, the functions' environments) from :mod:`pipeline_model.contract`,
which the cdktf constructs use too; nothing here repeats them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pipeline_model import contract, ordering
from pipeline_model.config import PipelineConfig, SubscriberConfig
from pipeline_model.message_size import DEFAULT_QUEUE_MESSAGE_BYTES
from pipeline_model.stack_profiles import queue_max_message_size

from .timing import Timing


@dataclass
class SubscriberResources:
    config: SubscriberConfig
    queue_url: str = ""
    queue_arn: str = ""
    dlq_url: str = ""
    dlq_arn: str = ""
    delivery_dlq_url: str = ""
    delivery_dlq_arn: str = ""
    subscription_arn: str = ""
    idempotency_table: str = ""
    visibility_timeout_s: int = 0


@dataclass
class Resources:
    table_name: str = ""
    table_arn: str = ""
    stream_arn: str = ""
    topic_arn: str = ""
    failure_queue_url: str = ""
    failure_queue_arn: str = ""
    #: With stream.on_failure = "s3": the failure bucket (versioned, like the stack's), instead of the queue.
    failure_bucket: str = ""
    subscribers: dict[str, SubscriberResources] = field(default_factory=dict)


#: The default profile's subscriber queues keep SQS's default maximum message size (pipeline_model.message_size);
#: a stack's queues follow its profile (:func:`_profile_queue_bytes`).
QUEUE_MESSAGE_BYTES = DEFAULT_QUEUE_MESSAGE_BYTES


def _profile_queue_bytes(config: PipelineConfig) -> int:
    """The subscriber queues' (and delivery DLQs') maximum message size, as the stack of ``config``'s profile sets
    it: what the producer's size budget (contract.producer_environment) is computed from."""
    return queue_max_message_size(config.stack_profile)


def _tags(config: PipelineConfig) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in config.tags.items()]


def queue_policy(queue_arn: str, topic_arn: str) -> str:
    """IAM form of constructs_lib.messaging.topic_send_statement: only this topic may send."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AllowThisTopicOnly",
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
                }
            ],
        }
    )


def _queue_arn(sqs: Any, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def provision(config: PipelineConfig, clients: Any, timing: Timing, *,
              queue_message_bytes: int | None = None) -> Resources:
    """Create the resources of ``config``; ``queue_message_bytes`` replaces the subscriber queues' maximum message
    size (default: the stack profile's, as deployed; their delivery DLQs keep it) to make deliveries fail."""
    ddb, sns, sqs = clients.dynamodb, clients.sns, clients.sqs
    names = config.names
    res = Resources(table_name=names.table)

    key, key_type = contract.TABLE_HASH_KEY
    table = ddb.create_table(
        TableName=names.table,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": key_type}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": contract.STREAM_VIEW_TYPE},
        Tags=_tags(config),
    )["TableDescription"]
    res.table_arn = table["TableArn"]
    res.stream_arn = table["LatestStreamArn"]

    fifo = ordering.is_fifo(config)
    # ordering = "per-item": FIFO topic and queues, content-based deduplication off (pipeline_model/ordering.py).
    topic_attributes = {"FifoTopic": "true", "ContentBasedDeduplication": "false"} if fifo else {}
    queue_attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "false"} if fifo else {}
    res.topic_arn = sns.create_topic(Name=names.topic, Attributes=topic_attributes, Tags=_tags(config))["TopicArn"]

    if config.stream.on_failure == "s3":
        # S3 names are global; the stack lets Terraform append a unique suffix to the prefix, here a fixed one.
        res.failure_bucket = f"{names.failure_bucket_prefix}local"
        create = {"Bucket": res.failure_bucket}
        if config.region != "us-east-1":
            create["CreateBucketConfiguration"] = {"LocationConstraint": config.region}
        clients.s3.create_bucket(**create)
        clients.s3.put_bucket_versioning(Bucket=res.failure_bucket, VersioningConfiguration={"Status": "Enabled"})
    else:
        res.failure_queue_url = sqs.create_queue(QueueName=names.stream_failure_queue)["QueueUrl"]
        res.failure_queue_arn = _queue_arn(sqs, res.failure_queue_url)

    dlq_bytes = str(_profile_queue_bytes(config))
    queue_bytes = str(queue_message_bytes) if queue_message_bytes is not None else dlq_bytes
    for sub in config.subscribers:
        sub_names = names.subscriber(sub.name)
        sr = SubscriberResources(config=sub, visibility_timeout_s=timing.visibility_timeout(sub))
        sr.dlq_url = sqs.create_queue(
            QueueName=sub_names.dlq,
            Attributes={"MessageRetentionPeriod": str(contract.FAILED_MESSAGE_RETENTION_SECONDS), **queue_attributes},
        )["QueueUrl"]
        sr.dlq_arn = _queue_arn(sqs, sr.dlq_url)
        # What SNS could not deliver (the subscription's redrive policy), as the stack builds it.
        sr.delivery_dlq_url = sqs.create_queue(
            QueueName=sub_names.delivery_dlq,
            Attributes={"MessageRetentionPeriod": str(contract.FAILED_MESSAGE_RETENTION_SECONDS),
                        "MaximumMessageSize": dlq_bytes, **queue_attributes},
        )["QueueUrl"]
        sr.delivery_dlq_arn = _queue_arn(sqs, sr.delivery_dlq_url)
        sr.queue_url = sqs.create_queue(
            QueueName=sub_names.queue,
            Attributes={
                "VisibilityTimeout": str(sr.visibility_timeout_s),
                "MaximumMessageSize": queue_bytes,
                "MessageRetentionPeriod": str(sub.message_retention_seconds),
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": sr.dlq_arn, "maxReceiveCount": sub.max_receive_count}),
                **queue_attributes,
            },
        )["QueueUrl"]
        sr.queue_arn = _queue_arn(sqs, sr.queue_url)
        sqs.set_queue_attributes(QueueUrl=sr.queue_url, Attributes={"Policy": queue_policy(sr.queue_arn, res.topic_arn)})

        attributes = {"RawMessageDelivery": "true" if sub.raw_message_delivery else "false",
                      "RedrivePolicy": json.dumps({"deadLetterTargetArn": sr.delivery_dlq_arn})}
        if sub.filter_policy:
            attributes["FilterPolicy"] = json.dumps(sub.filter_policy, sort_keys=True)
            attributes["FilterPolicyScope"] = sub.filter_policy_scope
        sr.subscription_arn = sns.subscribe(
            TopicArn=res.topic_arn, Protocol="sqs", Endpoint=sr.queue_arn, Attributes=attributes, ReturnSubscriptionArn=True
        )["SubscriptionArn"]

        sr.idempotency_table = sub_names.idempotency_table
        ikey, ikey_type = contract.IDEMPOTENCY_HASH_KEY
        ddb.create_table(
            TableName=sr.idempotency_table,
            KeySchema=[{"AttributeName": ikey, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": ikey, "AttributeType": ikey_type}],
            BillingMode="PAY_PER_REQUEST",
        )
        ddb.update_time_to_live(
            TableName=sr.idempotency_table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": contract.IDEMPOTENCY_TTL_ATTRIBUTE},
        )
        res.subscribers[sub.name] = sr
    return res

