"""The pipeline's configuration: one typed, validated object (:class:`PipelineConfig`).

Split by concern; every name is re-exported here, so ``from pipeline_model.config import ...``
keeps working:

* :mod:`.schema`: the models and their defaults (the original design) and rules;
* :mod:`.filter_policy`: SNS subscription filter policies, checked as SNS would;
* :mod:`.files`: building the object from data and TOML/JSON files, with readable errors;
* :mod:`.naming`: AWS name rules on the computed names, collisions across environments;
* :mod:`.capacity`: the optional ``[capacity]`` section (the peak to carry);
* :mod:`.backend`: S3 state keys (default per stack; no two stacks of one app share one);
* :mod:`.text`: the one check of every user-supplied string (no cdktf token placeholders).

Defaults come from :mod:`pipeline_model.defaults`, names from :mod:`pipeline_model.names`
(``config.names``). Invalid values are rejected when the object is built, before any cdktf or
jsii code runs, with a :class:`ConfigError` listing every :class:`Problem` (field, rule, hint).
"""

from ..errors import ConfigError, Problem
from ..limits import LOG_RETENTION_DAYS
from .capacity import CapacityConfig
from .files import (
    CONFIG_ENV,
    PROFILE_ENV,
    MAX_INT_DIGITS,
    SELECT_ENV,
    build_config,
    check_plain_data,
    environments_from_dict,
    load_environments,
    path_part,
    read_config_file,
    with_subscriber,
)
from .filter_policy import (
    FILTER_POLICY_MAX_BYTES,
    FILTER_POLICY_MAX_COMBINATIONS,
    FILTER_POLICY_MAX_KEYS,
    MAX_DEPTH,
    NUMERIC_LIMIT,
    check_filter_policy,
)
from .naming import check_code, check_no_collisions, default_subscriber_names, named_resources
from .backend import check_backends, check_key, default_key
from .text import check_text, check_tree
from .schema import (
    DEFAULT_PUBLISH_CONCURRENCY,
    MAX_PUBLISH_CONCURRENCY,
    POWERTOOLS_VERSION,
    AlarmsConfig,
    DeliveryStatusLoggingConfig,
    FunctionConfig,
    IamMode,
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
    "CONFIG_ENV",
    "PROFILE_ENV",
    "SELECT_ENV",
    "FILTER_POLICY_MAX_BYTES",
    "FILTER_POLICY_MAX_COMBINATIONS",
    "FILTER_POLICY_MAX_KEYS",
    "LOG_RETENTION_DAYS",
    "MAX_DEPTH",
    "MAX_INT_DIGITS",
    "NUMERIC_LIMIT",
    "POWERTOOLS_VERSION",
    "AlarmsConfig",
    "CapacityConfig",
    "ConfigError",
    "DeliveryStatusLoggingConfig",
    "FunctionConfig",
    "IamMode",
    "ProducerConfig",
    "DEFAULT_PUBLISH_CONCURRENCY",
    "MAX_PUBLISH_CONCURRENCY",
    "Memory",
    "PipelineConfig",
    "Problem",
    "S3BackendConfig",
    "Seconds",
    "SecurityConfig",
    "StreamConfig",
    "SubscriberConfig",
    "build_config",
    "check_backends",
    "check_key",
    "check_code",
    "check_filter_policy",
    "check_no_collisions",
    "load_environments",
    "check_plain_data",
    "check_text",
    "check_tree",
    "default_key",
    "default_subscriber_names",
    "environments_from_dict",
    "named_resources",
    "path_part",
    "read_config_file",
    "with_subscriber",
]
