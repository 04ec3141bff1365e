"""Every default of the design, written once. The configuration models (pipeline_model.config)
and the constructs' props (constructs_lib) read their defaults from here."""

from __future__ import annotations

from typing import Final

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

# --- the environment --------------------------------------------------------------------------
ENVIRONMENT = "production"
#: Environments whose table gets deletion protection unless the configuration says otherwise.
PRODUCTION_ENVIRONMENTS = ("production", "prod")
REGION = "us-east-1"
#: Default tags of every resource (read-only here; the models copy it).
TAGS: tuple[tuple[str, str], ...] = (("Environment", "Production"), ("Project", "EventDrivenArchitecture"))

# --- functions ---------------------------------------------------------------------------------
RUNTIME: Final = "python3.12"
ARCHITECTURE: Final = "x86_64"
#: Powertools for AWS Lambda (Python) release the handlers are written and tested against
#: (the Pipfile pins the same version; a test keeps the two equal).
POWERTOOLS_VERSION = "3.37.0"
#: "ssm" = AWS's public layer, its ARN read from the public SSM parameter.
POWERTOOLS_LAYER = "ssm"
PRODUCER_CODE = "producer"
CONSUMER_CODE = "consumer"
FUNCTION_TIMEOUT_SECONDS = 3
FUNCTION_MEMORY_MB = 128
#: -1 = unreserved (the account's pool).
RESERVED_CONCURRENCY = -1
LOG_RETENTION_DAYS = 14
#: PublishBatch requests the producer keeps in flight (functions/producer/app.py has the same number).
PUBLISH_CONCURRENCY = 8

# --- the stream mapping (producer) ---------------------------------------------------------------
STARTING_POSITION: Final = "TRIM_HORIZON"
STREAM_BATCH_SIZE = 100
STREAM_BATCHING_WINDOW_SECONDS = 0
STREAM_MAXIMUM_RETRY_ATTEMPTS = 10
#: 6 h of retries, then at least 18 h to replay before the stream's 24 h retention ends (docs/operations.md).
STREAM_MAXIMUM_RECORD_AGE_SECONDS = 21600
STREAM_PARALLELIZATION_FACTOR = 1
STREAM_BISECT_BATCH_ON_FUNCTION_ERROR = True
#: Where a batch that exhausted its retries goes: "queue" (metadata only, the original design) or "s3".
STREAM_ON_FAILURE: Final = "queue"
#: How long the failure bucket keeps a failed batch (and a replayed one's noncurrent version), in days.
STREAM_FAILURE_RETENTION_DAYS = 90

# --- SNS delivery status logging (fan-out topic -> SQS) ----------------------------------------------
#: Off: the original design has no delivery status logs (turning it on adds an IAM role and two log groups).
DELIVERY_STATUS_LOGGING = False
#: Percentage of successful deliveries logged; 0 = failed deliveries only (SNS logs every failure).
DELIVERY_SUCCESS_SAMPLE_RATE = 0
#: Retention of the two delivery status log groups, in days.
DELIVERY_LOG_RETENTION_DAYS = 14

# --- subscribers (queue -> consumer) ---------------------------------------------------------------
SUBSCRIBER_BATCH_SIZE = 10
SUBSCRIBER_BATCHING_WINDOW_SECONDS = 0
VISIBILITY_TIMEOUT_SECONDS = 30
MESSAGE_RETENTION_SECONDS = 345600  # 4 days (SQS's own default)
MAX_RECEIVE_COUNT = 5
IDEMPOTENCY_TTL_SECONDS = 432000  # 5 days: message retention + the stream's maximum record age
RAW_MESSAGE_DELIVERY = False
FILTER_POLICY_SCOPE: Final = "MessageAttributes"
ORDERING: Final = "none"

# --- stack -------------------------------------------------------------------------------------
STACK_PROFILE: Final = "tutorial"  # pipeline_model.stack_profiles: hashicorp/aws 5 and the tutorial's module majors

# --- security ----------------------------------------------------------------------------------
CUSTOMER_MANAGED_KEY = True
KEY_DELETION_WINDOW_DAYS = 30
ENFORCE_TLS = True
POINT_IN_TIME_RECOVERY = True
TRACING = True
#: The functions' permissions on their event sources: "managed" (the original design's AWS-managed
#: execution policies) or "scoped" (inline statements on the function's own stream or queue only).
IAM: Final = "managed"

# --- alarms and dashboard --------------------------------------------------------------------------
ALARMS_ENABLED = True
ALARM_QUEUE_AGE_SECONDS = 300
ALARM_ITERATOR_AGE_MS = 60000
ALARM_PERIOD_SECONDS: Final = 300
ALARM_EVALUATION_PERIODS = 1
DASHBOARD = True

# --- remote state (S3 backend) ---------------------------------------------------------------------
BACKEND_ENCRYPT = True
BACKEND_USE_LOCKFILE = False
