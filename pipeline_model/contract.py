"""What the deployed stack and the local emulator (`make local`) must agree on, without cdktf.

Names and sizes live in :mod:`pipeline_model.config`; this module holds the few fixed facts of
the design and the functions' environments, so the constructs and ``local_pipeline`` read them
from one place. It imports nothing heavier than the configuration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the configuration's own rules read this module (no import cycle)
    from .config import PipelineConfig, SubscriberConfig

# The consumer's deadline rule lives in pipeline_model.limits (the configuration checks it too, and
# must not import this module); re-exported here, where the handlers' contract is read.
from . import defaults
from .limits import CONSUMER_DEADLINE_MARGIN_MS, CONSUMER_MESSAGE_BUDGET_MS, consumer_batch_ms
from .message_format import (
    MAX_LIFTED_ATTRIBUTES,
    MESSAGE_ATTRIBUTES,
    MESSAGE_ATTRIBUTES_ENV,
    MESSAGE_BODY_IMAGES,
    MESSAGE_BODY_KEYS,
    MESSAGE_BODY_OBJECTS,
)
from .names import SubscriberNames

__all__ = [
    "CONSUMER_DEADLINE_MARGIN_MS", "CONSUMER_MESSAGE_BUDGET_MS", "FAILED_MESSAGE_RETENTION_SECONDS", "HANDLER",
    "IDEMPOTENCY_HASH_KEY", "IDEMPOTENCY_TTL_ATTRIBUTE", "MAX_LIFTED_ATTRIBUTES", "MESSAGE_ATTRIBUTES",
    "MESSAGE_ATTRIBUTES_ENV", "MESSAGE_BODY_IMAGES", "MESSAGE_BODY_KEYS", "MESSAGE_BODY_OBJECTS", "STREAM_VIEW_TYPE", "TABLE_HASH_KEY", "consumer_batch_ms",
    "consumer_environment", "producer_environment",
]

#: The application table's partition key (name, DynamoDB type).
TABLE_HASH_KEY = ("id", "S")
STREAM_VIEW_TYPE = "NEW_AND_OLD_IMAGES"
#: Powertools idempotency persistence layout: partition key and TTL attribute.
IDEMPOTENCY_HASH_KEY = ("id", "S")
IDEMPOTENCY_TTL_ATTRIBUTE = "expiration"
#: Dead-letter and stream failure queues keep messages for SQS's maximum, 14 days.
FAILED_MESSAGE_RETENTION_SECONDS = 1209600
HANDLER = "app.handler"

def producer_environment(config: PipelineConfig, topic_arn: str,
                         stack_profile: str | None = None) -> dict[str, str]:
    """The producer's environment, exactly as the stack deploys it: the one function the construct, the local run
    and the replay tool (``tools/replay_stream_failures.py``) call.

    ``config``: anything with ``names``, ``producer`` and ``subscribers``, the configuration or the props. It holds
    the topic, the service name, the message size budget from each subscriber's delivery mode and the subscriber
    queues' maximum message size, which follows the stack profile (``stack_profile``, default the config's own
    ``stack_profile``, else the default profile: :func:`pipeline_model.stack_profiles.queue_max_message_size`),
    see :mod:`pipeline_model.message_size`, the lifted MESSAGE_ATTRIBUTES when set, and PUBLISH_CONCURRENCY only
    when it differs from the default, which the handler has too (a test keeps the two equal)."""
    from .message_size import budget_environment  # loads the shared message module: only when needed
    from .stack_profiles import queue_max_message_size

    if stack_profile is None:
        stack_profile = getattr(config, "stack_profile", None)
    max_message_size = queue_max_message_size(stack_profile)

    environment = {
        "SNS_TOPIC_ARN": topic_arn,
        "POWERTOOLS_SERVICE_NAME": config.names.producer_function,
        **budget_environment((max_message_size, sub.raw_message_delivery) for sub in config.subscribers),
    }
    if config.producer.publish_concurrency != defaults.PUBLISH_CONCURRENCY:
        # PublishBatch requests in flight (docs/producer-throughput.md).
        environment["PUBLISH_CONCURRENCY"] = str(config.producer.publish_concurrency)
    lifted = config.producer.message_attributes
    if lifted:  # only when set: the default stack's environment stays as it was
        environment[MESSAGE_ATTRIBUTES_ENV] = ",".join(lifted)
    return environment


def consumer_environment(sub: SubscriberConfig, names: SubscriberNames,
                         idempotency_table: str | None = None) -> dict[str, str]:
    """The consumer's environment; ``idempotency_table`` = the table's name as the stack refers to it
    (a Terraform reference), default its name (``names.idempotency_table``)."""
    return {
        "SUBSCRIBER_NAME": sub.name,
        "IDEMPOTENCY_TABLE": idempotency_table if idempotency_table is not None else names.idempotency_table,
        "IDEMPOTENCY_TTL_SECONDS": str(sub.idempotency_ttl_seconds),
        "POWERTOOLS_SERVICE_NAME": names.function,
    }
