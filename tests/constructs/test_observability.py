"""Alarms and Dashboard alone: alarms added later, a dashboard body computed at synth."""

from __future__ import annotations

import json


def test_alarms_added_later_and_a_lazy_dashboard(stack, synth):
    from constructs_lib import Alarms, Dashboard
    from constructs_lib.observability import DashboardProps, messages_waiting_alarm, queue_age_alarm

    alarms = Alarms(stack, "alarms", specs=[queue_age_alarm("q", "q", "q-name", 300)], topic_arn="arn:t",
                    period_seconds=60, evaluation_periods=2, logical_id_prefix="p_")
    alarms.add([messages_waiting_alarm("dlq", "dlq", "dlq-name")])
    queues = ["q-name"]
    Dashboard(stack, "d", props=lambda: DashboardProps(
        name="dash", region="eu-west-1", producer_function="prod", consumer_functions=("cons",),
        queues=tuple(queues), dead_letter_queues=("dlq-name",)), logical_id="p_dashboard")
    queues.append("added-later")
    doc = synth(stack)["resource"]
    created = doc["aws_cloudwatch_metric_alarm"]
    assert set(created) == {"p_alarm_q_oldest_message", "p_alarm_dlq_messages"}
    assert created["p_alarm_dlq_messages"]["alarm_actions"] == ["arn:t"]
    assert created["p_alarm_q_oldest_message"]["evaluation_periods"] == 2
    body = json.loads(doc["aws_cloudwatch_dashboard"]["p_dashboard"]["dashboard_body"])
    depth = next(w for w in body["widgets"] if w["properties"]["title"] == "Queue depth")
    assert [m[-1] for m in depth["properties"]["metrics"]] == ["q-name", "added-later"]
