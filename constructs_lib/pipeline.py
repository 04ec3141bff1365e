"""The whole pipeline: table stream -> producer -> topic -> queue(s) -> consumer(s)."""

from __future__ import annotations

from constructs import Construct

from .config import PipelineConfig, SubscriberConfig
from .function import PythonFunction, PythonFunctionProps
from .messaging import SubscribedQueue, SubscribedQueueProps, Topic, TopicProps
from .table import StreamTable, StreamTableProps
from .triggers import DYNAMODB_EXECUTION_ROLE, SQS_EXECUTION_ROLE, EventSourceTrigger, TriggerProps


class Subscriber(Construct):
    """One subscriber: its queue, subscription, consumer function and trigger."""

    def __init__(self, scope: Construct, id: str, *, config: PipelineConfig, sub: SubscriberConfig, topic: Topic) -> None:
        super().__init__(scope, id)
        self.config = sub
        self.queue = SubscribedQueue(
            self,
            "queue",
            topic_arn=topic.topic_arn,
            props=SubscribedQueueProps(
                name=sub.queue_name,
                visibility_timeout_seconds=sub.visibility_timeout_seconds,
                message_retention_seconds=sub.message_retention_seconds,
                raw_message_delivery=sub.raw_message_delivery,
                filter_policy=sub.filter_policy,
                filter_policy_scope=sub.filter_policy_scope,
            ),
            module_id=f"queue_{sub.name}",
            subscription_id=f"subscription_{sub.name}",
        )
        self.function = PythonFunction(
            self,
            "consumer",
            props=PythonFunctionProps(
                function_name=sub.function_name,
                code=sub.code,
                runtime=config.runtime,
                timeout=sub.function.timeout,
                memory_size=sub.function.memory_size,
                environment={"SUBSCRIBER_NAME": sub.name},
            ),
            module_id=f"consumer_{sub.name}",
        )
        mapping: dict = {"batch_size": sub.batch_size}
        if sub.maximum_batching_window_seconds:
            mapping["maximum_batching_window_in_seconds"] = sub.maximum_batching_window_seconds
        self.trigger = EventSourceTrigger(
            self,
            "trigger",
            function=self.function,
            props=TriggerProps(
                event_source_arn=self.queue.queue_arn,
                managed_policy_arn=SQS_EXECUTION_ROLE,
                mapping=mapping,
            ),
        )


class EventPipeline(Construct):
    """Wires the stream table, producer, topic and subscribers from one :class:`PipelineConfig`."""

    def __init__(self, scope: Construct, id: str, *, config: PipelineConfig) -> None:
        super().__init__(scope, id)
        self.config = config
        self.table = StreamTable(self, "table", props=StreamTableProps(name=config.table_name))
        self.topic = Topic(self, "topic", props=TopicProps(name=config.topic_name))
        self.producer = PythonFunction(
            self,
            "producer",
            props=PythonFunctionProps(
                function_name=config.producer_function_name,
                code="producer",
                runtime=config.runtime,
                timeout=config.producer.timeout,
                memory_size=config.producer.memory_size,
                environment={"SNS_TOPIC_ARN": self.topic.topic_arn},
                policy_statements={
                    "publish": {"effect": "Allow", "actions": ["sns:Publish"], "resources": [self.topic.topic_arn]}
                },
            ),
            module_id="producer",
        )
        self.stream_trigger = EventSourceTrigger(
            self,
            "stream_trigger",
            function=self.producer,
            props=TriggerProps(
                event_source_arn=self.table.stream_arn,
                managed_policy_arn=DYNAMODB_EXECUTION_ROLE,
                mapping={
                    "starting_position": config.stream.starting_position,
                    "batch_size": config.stream.batch_size,
                },
            ),
        )
        self.subscribers = [
            Subscriber(self, f"subscriber_{sub.name}", config=config, sub=sub, topic=self.topic)
            for sub in config.subscribers
        ]
