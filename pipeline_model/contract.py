"""What the deployed stack and the local emulator (`make local`) must agree on, without cdktf.

Names and sizes live in :mod:`pipeline_model.config`; this module holds the few fixed facts of
the design and the functions' environments, so the constructs and ``local_pipeline`` read them
from one place. It imports nothing heavier than the configuration.
"""

from __future__ import annotations

from .config import PipelineConfig, SubscriberConfig

#: The application table's partition key (name, DynamoDB type).
TABLE_HASH_KEY = ("id", "S")
STREAM_VIEW_TYPE = "NEW_AND_OLD_IMAGES"
#: Powertools idempotency persistence layout: partition key and TTL attribute.
IDEMPOTENCY_HASH_KEY = ("id", "S")
IDEMPOTENCY_TTL_ATTRIBUTE = "expiration"
#: Dead-letter and stream failure queues keep messages for SQS's maximum, 14 days.
FAILED_MESSAGE_RETENTION_SECONDS = 1209600
HANDLER = "app.handler"

#: The consumer's deadline rule (functions/consumer/app.py holds the same numbers; a test keeps them equal).
#: It starts no message with less than CONSUMER_DEADLINE_MARGIN_MS left (two bounded idempotency calls plus the
#: time to return), and a message costs about CONSUMER_MESSAGE_BUDGET_MS (two DynamoDB calls and light business
#: logic), so a batch fits in the function timeout when batch_size x budget + margin <= timeout.
CONSUMER_DEADLINE_MARGIN_MS = 2250
CONSUMER_MESSAGE_BUDGET_MS = 50


def consumer_batch_ms(batch_size: int) -> int:
    """Milliseconds a consumer invocation needs for a full batch under the deadline rule."""
    return batch_size * CONSUMER_MESSAGE_BUDGET_MS + CONSUMER_DEADLINE_MARGIN_MS


def producer_environment(config: PipelineConfig, topic_arn: str) -> dict[str, str]:
    return {
        "SNS_TOPIC_ARN": topic_arn,
        "POWERTOOLS_SERVICE_NAME": config.producer_function_name,
        # PublishBatch requests in flight (docs/producer-throughput.md); set even at the default, so the deployed
        # function and the local run (`make local`) read the configuration, not the handler's own default.
        "PUBLISH_CONCURRENCY": str(config.producer.publish_concurrency),
    }


def consumer_environment(sub: SubscriberConfig, idempotency_table: str) -> dict[str, str]:
    return {
        "SUBSCRIBER_NAME": sub.name,
        "IDEMPOTENCY_TABLE": idempotency_table,
        "IDEMPOTENCY_TTL_SECONDS": str(sub.idempotency_ttl_seconds),
        "POWERTOOLS_SERVICE_NAME": sub.function_name,
    }
