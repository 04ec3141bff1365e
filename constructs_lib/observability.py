"""CloudWatch alarms (published to an alarm topic) and a dashboard for the pipeline."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from constructs import Construct

from .aws import CloudwatchDashboard, CloudwatchMetricAlarm
from .cdk import lazy_string
from .ids import set_logical_id
from .props import prop


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm: which metric, how it is reduced, and when it fires."""

    logical_id: str
    name: str
    description: str
    namespace: str
    metric: str
    dimensions: dict[str, str]
    statistic: str
    comparison: str
    threshold: float


def _threshold_alarm(logical_id: str, name: str, description: str, namespace: str, metric: str,
                     dimension: tuple[str, str], statistic: str, threshold: float,
                     comparison: str = "GreaterThanThreshold") -> AlarmSpec:
    return AlarmSpec(logical_id, name, description, namespace, metric, {dimension[0]: dimension[1]},
                     statistic, comparison, threshold)


def queue_age_alarm(key: str, alarm_name: str, queue_name: str, seconds: int) -> AlarmSpec:
    return _threshold_alarm(
        f"alarm_{key}_oldest_message", f"{alarm_name}-oldest-message",
        f"The oldest message in {alarm_name} waits longer than {seconds} s: consumers are behind or failing.",
        "AWS/SQS", "ApproximateAgeOfOldestMessage", ("QueueName", queue_name), "Maximum", seconds,
    )


def messages_waiting_alarm(key: str, alarm_name: str, queue_name: str) -> AlarmSpec:
    return _threshold_alarm(
        f"alarm_{key}_messages", f"{alarm_name}-not-empty",
        f"{alarm_name} holds messages that failed processing: inspect and redrive them.",
        "AWS/SQS", "ApproximateNumberOfMessagesVisible", ("QueueName", queue_name), "Maximum", 1,
        comparison="GreaterThanOrEqualToThreshold",
    )


def function_alarms(key: str, alarm_name: str, function_name: str) -> list[AlarmSpec]:
    return [
        _threshold_alarm(
            f"alarm_{key}_{metric.lower()}", f"{alarm_name}-{metric.lower()}",
            f"{alarm_name} reported {metric.lower()}.", "AWS/Lambda", metric,
            ("FunctionName", function_name), "Sum", 0,
        )
        for metric in ("Errors", "Throttles")
    ]


def sns_delivery_alarms(key: str, alarm_name: str, topic_name: str) -> list[AlarmSpec]:
    """SNS could not deliver a message to a subscription (NumberOfNotificationsFailed: e.g. a message too large
    for the queue, a queue policy or key problem), and moved one to a subscription's delivery DLQ
    (NumberOfNotificationsRedrivenToDlq)."""
    return [
        _threshold_alarm(
            f"alarm_{key}_notifications_failed", f"{alarm_name}-notifications-failed",
            f"SNS failed to deliver messages of {alarm_name} to a subscription: see the delivery DLQs and the "
            "delivery status logs.", "AWS/SNS", "NumberOfNotificationsFailed", ("TopicName", topic_name), "Sum", 0,
        ),
        _threshold_alarm(
            f"alarm_{key}_notifications_redriven", f"{alarm_name}-notifications-redriven-to-dlq",
            f"SNS moved messages of {alarm_name} to a delivery DLQ: inspect and redrive them.",
            "AWS/SNS", "NumberOfNotificationsRedrivenToDlq", ("TopicName", topic_name), "Sum", 0,
        ),
    ]


def iterator_age_alarm(key: str, alarm_name: str, function_name: str, milliseconds: int) -> AlarmSpec:
    return _threshold_alarm(
        f"alarm_{key}_iterator_age", f"{alarm_name}-iterator-age",
        f"{alarm_name} lags the table stream by more than {milliseconds} ms.",
        "AWS/Lambda", "IteratorAge", ("FunctionName", function_name), "Maximum", milliseconds,
    )


class Alarms(Construct):
    """Creates each alarm with the topic as alarm and OK action. ``alarms`` maps logical id -> alarm.

    More can be added later with :meth:`add` (a subscriber added after the pipeline was built).
    """

    def __init__(self, scope: Construct, id: str, *, specs: list[AlarmSpec], topic_arn: str,
                 period_seconds: int, evaluation_periods: int, logical_id_prefix: str = "") -> None:
        super().__init__(scope, id)
        self.topic_arn = topic_arn
        self.period_seconds = period_seconds
        self.evaluation_periods = evaluation_periods
        self.prefix = logical_id_prefix
        self.alarms: dict[str, Any] = {}
        self.add(specs)

    def add(self, specs: list[AlarmSpec]) -> None:
        for spec in specs:
            alarm = CloudwatchMetricAlarm(
                self,
                spec.logical_id,
                alarm_name=spec.name,
                alarm_description=spec.description,
                namespace=spec.namespace,
                metric_name=spec.metric,
                dimensions=spec.dimensions,
                statistic=spec.statistic,
                comparison_operator=spec.comparison,
                threshold=spec.threshold,
                period=self.period_seconds,
                evaluation_periods=self.evaluation_periods,
                treat_missing_data="notBreaching",
                alarm_actions=[self.topic_arn],
                ok_actions=[self.topic_arn],
            )
            set_logical_id(alarm, f"{self.prefix}{spec.logical_id}")
            self.alarms[spec.logical_id] = alarm


@dataclass(frozen=True)
class DashboardProps:
    name: str = prop(description="The dashboard's name.")
    region: str = prop(description="Region of the metrics (and of the console URL).")
    producer_function: str = prop(description="Name of the producer function (stream iterator age, errors, ...).")
    consumer_functions: tuple[str, ...] = prop(description="Names of the consumer functions.")
    queues: tuple[str, ...] = prop(description="Names of the subscriber queues (depth, oldest message).")
    dead_letter_queues: tuple[str, ...] = prop(description="Names of the dead-letter and failure queues.")
    topic: str = prop("", "Name of the topic (SNS delivery failures); empty = no SNS widget.")


def _widget(title: str, metrics: list[list[Any]], region: str, stat: str, y: int, x: int) -> dict[str, Any]:
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": 12,
        "height": 6,
        "properties": {"title": title, "metrics": metrics, "region": region, "stat": stat, "period": 60, "view": "timeSeries"},
    }


def dashboard_body(props: DashboardProps) -> dict[str, Any]:
    functions = [props.producer_function, *props.consumer_functions]

    def per_function(metric: str) -> list[list[Any]]:
        return [["AWS/Lambda", metric, "FunctionName", f] for f in functions]

    def per_queue(metric: str, queues: tuple[str, ...]) -> list[list[Any]]:
        return [["AWS/SQS", metric, "QueueName", q] for q in queues]

    widgets = [
        _widget("Invocations", per_function("Invocations"), props.region, "Sum", 0, 0),
        _widget("Errors", per_function("Errors"), props.region, "Sum", 0, 12),
        _widget("Duration (p99)", per_function("Duration"), props.region, "p99", 6, 0),
        _widget("Throttles", per_function("Throttles"), props.region, "Sum", 6, 12),
        _widget("Stream iterator age", [["AWS/Lambda", "IteratorAge", "FunctionName", props.producer_function]],
                props.region, "Maximum", 12, 0),
        _widget("Oldest message age", per_queue("ApproximateAgeOfOldestMessage", props.queues), props.region,
                "Maximum", 12, 12),
        _widget("Queue depth", per_queue("ApproximateNumberOfMessagesVisible", props.queues), props.region,
                "Maximum", 18, 0),
        _widget("Dead-letter and failure queues", per_queue("ApproximateNumberOfMessagesVisible",
                props.dead_letter_queues), props.region, "Maximum", 18, 12),
    ]
    if props.topic:
        widgets.append(_widget("SNS deliveries failed / redriven to a DLQ", [
            ["AWS/SNS", metric, "TopicName", props.topic]
            for metric in ("NumberOfNotificationsFailed", "NumberOfNotificationsRedrivenToDlq")
        ], props.region, "Sum", 24, 0))
    return {"widgets": widgets}


def console_host(region: str) -> str:
    """The AWS console's host for a region (GovCloud and China have their own)."""
    if "-gov-" in region:
        return "console.amazonaws-us-gov.com"
    if region.startswith("cn-"):
        return "console.amazonaws.cn"
    return f"{region}.console.aws.amazon.com"


class Dashboard(Construct):
    """A CloudWatch dashboard. ``props`` may be a callable returning the :class:`DashboardProps`:
    it is then called when the stack is synthesized, so the widgets include functions and
    queues added after the dashboard was created."""

    def __init__(self, scope: Construct, id: str, *, props: DashboardProps | Callable[[], DashboardProps],
                 name: str | None = None, region: str | None = None, logical_id: str = "dashboard") -> None:
        super().__init__(scope, id)
        current = props if callable(props) else (lambda: props)
        name = name or current().name
        region = region or current().region
        self.dashboard = CloudwatchDashboard(
            self, "dashboard", dashboard_name=name,
            dashboard_body=lazy_string(lambda: json.dumps(dashboard_body(current()))),
        )
        set_logical_id(self.dashboard, logical_id)
        self.url = f"https://{console_host(region)}/cloudwatch/home?region={region}#dashboards:name={name}"
