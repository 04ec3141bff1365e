"""cdktf constructs for the DynamoDB stream -> SNS -> SQS -> Lambda pipeline.

The configuration names import without starting jsii; the constructs (which need cdktf and the
AWS provider) are loaded on first use, so ``from constructs_lib import EventPipeline`` works
and ``import pipeline_model.config`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pipeline_model.config import ConfigError as ConfigError
from pipeline_model.config import PipelineConfig as PipelineConfig
from pipeline_model.config import SubscriberConfig as SubscriberConfig
# The parts of EventPipelineProps (the same models as the configuration's sections).
from pipeline_model.config import AlarmsConfig as AlarmsConfig
from pipeline_model.config import FunctionConfig as FunctionConfig
from pipeline_model.config import ProducerConfig as ProducerConfig
from pipeline_model.config import SecurityConfig as SecurityConfig
from pipeline_model.config import StreamConfig as StreamConfig
from pipeline_model.config import build_config as build_config
from pipeline_model.errors import PipelineError as PipelineError
from pipeline_model.errors import Problem as Problem

#: Public name -> the module defining it (imported on first access).
_LAZY = {
    "App": "cdk",
    "TerraformStack": "cdk",
    "EventPipeline": "pipeline",
    "EventPipelineProps": "pipeline_props",
    "SynthesizedError": "pipeline",
    "Subscriber": "subscriber",
    "SubscriberProps": "subscriber",
    "StackFacts": "facts",
    "stack_facts": "facts",
    "PipelineStack": "stack",
    "aws_provider": "stack",
    "build_app": "app",
    "Queue": "messaging",
    "QueueProps": "messaging",
    "SubscribedQueue": "messaging",
    "SubscribedQueueProps": "messaging",
    "Topic": "messaging",
    "TopicProps": "messaging",
    "PythonFunction": "function",
    "PythonFunctionProps": "function",
    "Table": "table",
    "TableProps": "table",
    "EventSourceTrigger": "triggers",
    "TriggerProps": "triggers",
    "QUEUE_READ_ACTIONS": "triggers",
    "STREAM_READ_ACTIONS": "triggers",
    "MessagingKey": "security",
    "Account": "security",
    "Alarms": "observability",
    "FailureBucket": "bucket",
    "FailureBucketProps": "bucket",
    "DeliveryStatusLogging": "delivery_logging",
    "DeliveryStatusLoggingProps": "delivery_logging",
    "SqsFeedback": "delivery_logging",
    "Dashboard": "observability",
    "PropsConflictError": "props",
    "DuplicateLogicalIdError": "ids",
    "PackagingError": "pipeline_model.packaging",
}

__all__ = [
    "AlarmsConfig",
    "FunctionConfig",
    "ProducerConfig",
    "SecurityConfig",
    "StreamConfig",
    "Account",
    "Alarms",
    "App",
    "aws_provider",
    "build_app",
    "build_config",
    "ConfigError",
    "Dashboard",
    "DeliveryStatusLogging",
    "DeliveryStatusLoggingProps",
    "DuplicateLogicalIdError",
    "EventPipeline",
    "EventPipelineProps",
    "EventSourceTrigger",
    "FailureBucket",
    "FailureBucketProps",
    "MessagingKey",
    "PackagingError",
    "PipelineConfig",
    "PipelineError",
    "PipelineStack",
    "Problem",
    "PropsConflictError",
    "PythonFunction",
    "PythonFunctionProps",
    "QUEUE_READ_ACTIONS",
    "Queue",
    "QueueProps",
    "SqsFeedback",
    "STREAM_READ_ACTIONS",
    "stack_facts",
    "StackFacts",
    "SubscribedQueue",
    "SubscribedQueueProps",
    "Subscriber",
    "SubscriberConfig",
    "SubscriberProps",
    "SynthesizedError",
    "Table",
    "TableProps",
    "TerraformStack",
    "Topic",
    "TopicProps",
    "TriggerProps",
]

if TYPE_CHECKING:  # for type checkers and IDEs (explicit re-exports); at run time __getattr__ loads them
    from .app import build_app as build_app
    from .bucket import FailureBucket as FailureBucket, FailureBucketProps as FailureBucketProps
    from .delivery_logging import (
        DeliveryStatusLogging as DeliveryStatusLogging,
        DeliveryStatusLoggingProps as DeliveryStatusLoggingProps,
        SqsFeedback as SqsFeedback,
    )
    from .cdk import App as App, TerraformStack as TerraformStack
    from .facts import StackFacts as StackFacts, stack_facts as stack_facts
    from .function import PythonFunction as PythonFunction, PythonFunctionProps as PythonFunctionProps
    from .ids import DuplicateLogicalIdError as DuplicateLogicalIdError
    from .messaging import Queue as Queue, QueueProps as QueueProps, SubscribedQueue as SubscribedQueue, SubscribedQueueProps as SubscribedQueueProps, Topic as Topic, TopicProps as TopicProps
    from .observability import Alarms as Alarms, Dashboard as Dashboard
    from .pipeline import EventPipeline as EventPipeline, SynthesizedError as SynthesizedError
    from .pipeline_props import EventPipelineProps as EventPipelineProps
    from .props import PropsConflictError as PropsConflictError
    from .security import Account as Account, MessagingKey as MessagingKey
    from .stack import PipelineStack as PipelineStack, aws_provider as aws_provider
    from .subscriber import Subscriber as Subscriber, SubscriberProps as SubscriberProps
    from .table import Table as Table, TableProps as TableProps
    from .triggers import EventSourceTrigger as EventSourceTrigger, TriggerProps as TriggerProps
    from .triggers import QUEUE_READ_ACTIONS as QUEUE_READ_ACTIONS, STREAM_READ_ACTIONS as STREAM_READ_ACTIONS
    from pipeline_model.packaging import PackagingError as PackagingError


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'constructs_lib' has no attribute {name!r}")
    value = getattr(importlib.import_module(module if "." in module else f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
