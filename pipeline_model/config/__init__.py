"""The pipeline's configuration: one typed, validated object (:class:`PipelineConfig`).

Split by concern; every name is re-exported here, so ``from pipeline_model.config import ...``
keeps working:

* :mod:`.schema`: the models and their defaults (the original design) and rules;
* :mod:`.filter_policy`: SNS subscription filter policies, checked as SNS would;
* :mod:`.files`: building the object from data and TOML/JSON files, with readable errors;
* :mod:`.naming`: AWS name rules, default names, collisions across environments;
* :mod:`.errors`: :class:`ConfigError`.

Invalid values are rejected when the object is built, before any cdktf or jsii code runs,
with a :class:`ConfigError` that names the field and the rule it broke.
"""

from .errors import ConfigError
from .files import (
    MAX_INT_DIGITS,
    build_config,
    check_plain_data,
    environments_from_dict,
    path_part,
    read_config_file,
)
from .filter_policy import (
    FILTER_POLICY_MAX_BYTES,
    FILTER_POLICY_MAX_COMBINATIONS,
    FILTER_POLICY_MAX_KEYS,
    MAX_DEPTH,
    NUMERIC_LIMIT,
    check_filter_policy,
)
from .naming import check_code, check_no_collisions, default_subscriber_names
from .schema import (
    DEFAULT_PUBLISH_CONCURRENCY,
    LOG_RETENTION_DAYS,
    MAX_PUBLISH_CONCURRENCY,
    POWERTOOLS_VERSION,
    AlarmsConfig,
    FunctionConfig,
    Memory,
    PipelineConfig,
    ProducerConfig,
    S3BackendConfig,
    Seconds,
    SecurityConfig,
    StreamConfig,
    SubscriberConfig,
)

__all__ = [
    "FILTER_POLICY_MAX_BYTES",
    "FILTER_POLICY_MAX_COMBINATIONS",
    "FILTER_POLICY_MAX_KEYS",
    "LOG_RETENTION_DAYS",
    "MAX_DEPTH",
    "MAX_INT_DIGITS",
    "NUMERIC_LIMIT",
    "POWERTOOLS_VERSION",
    "AlarmsConfig",
    "ConfigError",
    "FunctionConfig",
    "ProducerConfig",
    "DEFAULT_PUBLISH_CONCURRENCY",
    "MAX_PUBLISH_CONCURRENCY",
    "Memory",
    "PipelineConfig",
    "S3BackendConfig",
    "Seconds",
    "SecurityConfig",
    "StreamConfig",
    "SubscriberConfig",
    "build_config",
    "check_code",
    "check_filter_policy",
    "check_no_collisions",
    "check_plain_data",
    "default_subscriber_names",
    "environments_from_dict",
    "path_part",
    "read_config_file",
]
