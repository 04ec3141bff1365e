"""Every default of the design, written once. The configuration models (pipeline_model.config)
and the constructs' props (constructs_lib) read their defaults from here."""

from __future__ import annotations

# --- names (pipeline_model.names applies name_suffix and the per-item '.fifo' to them) ----------
STACK_NAME = "event-driven-pipeline"
TABLE_NAME = "application-data-table"
TOPIC_NAME = "data-processing-topic"
PRODUCER_FUNCTION_NAME = "dynamodb-stream-producer"
STREAM_FAILURE_QUEUE_NAME = "dynamodb-stream-producer-failures"
ALARM_TOPIC_NAME = "data-processing-alarms"
#: The original design's single subscriber and its names.
SUBSCRIBER_NAME = "main"
MAIN_QUEUE_NAME = "data-processing-queue"
MAIN_FUNCTION_NAME = "sqs-message-consumer"
