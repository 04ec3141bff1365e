"""Fixed limits the configuration checks against: AWS's accepted values and the consumer's
deadline rule. Plain numbers, importing nothing, so that both the configuration
(pipeline_model.config) and the message contract (pipeline_model.contract) read them without
importing each other."""

from __future__ import annotations

#: The retention periods CloudWatch Logs accepts, in days (PutRetentionPolicy, retentionInDays).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653)

#: The consumer's deadline rule (functions/consumer/app.py holds the same numbers; a test keeps them equal).
#: It starts no message with less than CONSUMER_DEADLINE_MARGIN_MS left (two bounded idempotency calls plus the
#: time to return), and a message costs about CONSUMER_MESSAGE_BUDGET_MS (two DynamoDB calls and light business
#: logic), so a batch fits in the function timeout when batch_size x budget + margin <= timeout.
CONSUMER_DEADLINE_MARGIN_MS = 2250
CONSUMER_MESSAGE_BUDGET_MS = 50


def consumer_batch_ms(batch_size: int) -> int:
    """Milliseconds a consumer invocation needs for a full batch under the deadline rule."""
    return batch_size * CONSUMER_MESSAGE_BUDGET_MS + CONSUMER_DEADLINE_MARGIN_MS

#: DynamoDB Streams keeps a record 24 h, then trims it (AWS: "DynamoDB Streams" / TrimmedDataAccessException).
STREAM_RETENTION_SECONDS = 86400
#: Time a record spends in the stream failure queue, at least, before the stream trims it: the operator's time to
#: replay (stream.maximum_record_age_seconds <= STREAM_RETENTION_SECONDS - REPLAY_MARGIN_SECONDS).
REPLAY_MARGIN_SECONDS = 21600

#: Most PublishBatch requests the producer may keep in flight (its connection pool grows with it).
MAX_PUBLISH_CONCURRENCY = 16
#: The failure bucket's lifecycle expiry (stream.failure_retention_days): S3 takes any positive number of days
#: (LifecycleExpiration Days); this project caps it at 10 years.
FAILURE_RETENTION_DAYS_MAX = 3650
#: With on_failure = "s3", a batch must reach the bucket before the stream trims its records: the maximum record age
#: leaves this much of the 24 h (stream.maximum_record_age_seconds <= STREAM_RETENTION_SECONDS - this).
FAILURE_DELIVERY_MARGIN_SECONDS = 3600
