"""cdktf constructs for the DynamoDB stream -> SNS -> SQS -> Lambda pipeline.

The configuration names import without starting jsii; the constructs (which need cdktf and the
AWS provider) are loaded on first use, so ``from constructs_lib import EventPipeline`` works
and ``import pipeline_model.config`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pipeline_model.config import ConfigError, PipelineConfig, SubscriberConfig, build_config
from pipeline_model.errors import PipelineError, Problem

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
    "MessagingKey": "security",
    "Account": "security",
    "Alarms": "observability",
    "Dashboard": "observability",
    "PropsConflictError": "props",
    "DuplicateLogicalIdError": "ids",
    "PackagingError": "pipeline_model.packaging",
}

__all__ = ["ConfigError", "PipelineConfig", "PipelineError", "Problem", "SubscriberConfig", "build_config", *_LAZY]

if TYPE_CHECKING:  # for type checkers and IDEs; at run time __getattr__ loads them
    from .app import build_app
    from .cdk import App, TerraformStack
    from .function import PythonFunction, PythonFunctionProps
    from .ids import DuplicateLogicalIdError
    from .messaging import Queue, QueueProps, SubscribedQueue, SubscribedQueueProps, Topic, TopicProps
    from .observability import Alarms, Dashboard
    from pipeline_model.packaging import PackagingError
    from .facts import StackFacts, stack_facts
    from .pipeline import EventPipeline, SynthesizedError
    from .pipeline_props import EventPipelineProps
    from .props import PropsConflictError
    from .security import Account, MessagingKey
    from .stack import PipelineStack, aws_provider
    from .subscriber import Subscriber, SubscriberProps
    from .table import Table, TableProps
    from .triggers import EventSourceTrigger, TriggerProps


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'constructs_lib' has no attribute {name!r}")
    value = getattr(importlib.import_module(module if "." in module else f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
