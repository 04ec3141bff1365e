"""Secure defaults and observability in the synthesized JSON (issue: production-grade defaults)."""

from __future__ import annotations

import json

import pytest

from pipeline_model.config import ConfigError, build_config
from constructs_lib.security import KEY_ADMIN_ACTIONS, SNS_OWNER_ACTIONS, SQS_OWNER_ACTIONS

KEY = "${aws_kms_key.messaging_key.arn}"
ACCOUNT = "${data.aws_caller_identity.current.account_id}"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
TLS_DENY = {
    "sid": "DenyInsecureTransport",
    "effect": "Deny",
    "principals": [{"type": "AWS", "identifiers": ["*"]}],
    "conditions": [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}],
}


def _key_policy(doc) -> dict:
    return json.loads(doc["resource"]["aws_kms_key"]["messaging_key"]["policy"])


def _statement(policy: dict, sid: str) -> dict:
    (found,) = [s for s in policy["Statement"] if s["Sid"] == sid]
    return found


# --- KMS ------------------------------------------------------------------------------------

def test_customer_managed_key_with_rotation(tf):
    key = tf["resource"]["aws_kms_key"]["messaging_key"]
    assert key["enable_key_rotation"] is True
    assert key["deletion_window_in_days"] == 30
    assert tf["resource"]["aws_kms_alias"]["messaging_key_alias"]["name"] == "alias/event-driven-pipeline"


SEND = ["kms:GenerateDataKey*", "kms:Decrypt"]  # as AWS documents the SNS/SQS grants


def test_key_policy_lets_exactly_the_users_use_the_key(tf):
    policy = _key_policy(tf)
    assert [s["Sid"] for s in policy["Statement"]] == [
        "KeyAdministration", "AccountUsesKeyThroughSqsAndSns", "SnsWritesEncryptedMessages",
        "RolesSendEncryptedMessages", "CloudWatchAlarmsPublish", "RolesReadEncryptedMessages",
    ]
    admin = _statement(policy, "KeyAdministration")
    assert admin["Principal"] == {"AWS": ROOT}
    assert admin["Action"] == KEY_ADMIN_ACTIONS
    assert not {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"} & set(admin["Action"])
    services = _statement(policy, "SnsWritesEncryptedMessages")
    # SNS delivers into the encrypted queues for this account's fan-out topic only.
    assert services["Principal"] == {"Service": "sns.amazonaws.com"}
    assert services["Action"] == SEND
    assert services["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnEquals": {"aws:SourceArn": [f"arn:aws:sns:us-east-1:{ACCOUNT}:data-processing-topic"]},
    }
    # CloudWatch publishes alarms of this account and region to the encrypted alarm topic.
    cloudwatch = _statement(policy, "CloudWatchAlarmsPublish")
    assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert cloudwatch["Action"] == SEND
    assert cloudwatch["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:*"},
    }
    producer = _statement(policy, "RolesSendEncryptedMessages")
    assert producer["Principal"] == {"AWS": ["${module.producer.lambda_role_arn}"]}
    assert producer["Action"] == SEND
    consumer = _statement(policy, "RolesReadEncryptedMessages")
    assert consumer["Principal"] == {"AWS": ["${module.consumer_main.lambda_role_arn}"]}
    assert consumer["Action"] == ["kms:Decrypt"]
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow" and statement["Resource"] == "*"  # "*" = this key, in a key policy
        assert set(statement["Action"]) <= set(KEY_ADMIN_ACTIONS) | set(SEND)
        if "*" in json.dumps(statement["Principal"]):
            # Only the AWS-managed-key form: callers of this account, through SQS or SNS.
            assert statement["Sid"] == "AccountUsesKeyThroughSqsAndSns"


def test_operators_of_the_account_use_the_key_only_through_sqs_and_sns(tf):
    """`make replay`, reading a DLQ and StartMessageMoveTask run with an operator's credentials:
    the key must let the account's principals decrypt and encrypt through SQS and SNS (their IAM
    permissions on the queue or topic decide), and through nothing else."""
    statement = _statement(_key_policy(tf), "AccountUsesKeyThroughSqsAndSns")
    assert statement["Principal"] == {"AWS": "*"}
    assert statement["Action"] == SEND
    assert statement["Condition"] == {"StringEquals": {
        "kms:CallerAccount": ACCOUNT,
        "kms:ViaService": ["sqs.us-east-1.amazonaws.com", "sns.us-east-1.amazonaws.com"],
    }}


def test_key_policy_follows_region_and_partition(synth_config):
    policy = _key_policy(synth_config([build_config(region="us-gov-west-1", alarms={"enabled": False})]).only)
    via = _statement(policy, "AccountUsesKeyThroughSqsAndSns")["Condition"]["StringEquals"]["kms:ViaService"]
    assert via == ["sqs.us-gov-west-1.amazonaws.com", "sns.us-gov-west-1.amazonaws.com"]
    sns = _statement(policy, "SnsWritesEncryptedMessages")["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert sns == [f"arn:aws-us-gov:sns:us-gov-west-1:{ACCOUNT}:data-processing-topic"]


def test_key_users_may_use_the_key_directly(synth_config):
    role = "arn:aws:iam::123456789012:role/ops/BreakGlass"
    policy = _key_policy(synth_config([build_config(security={"key_users": [role]})]).only)
    users = _statement(policy, "KeyUsers")
    assert (users["Principal"], users["Action"], "Condition" in users) == ({"AWS": [role]}, SEND, False)


@pytest.mark.parametrize(
    ("key_users", "message"),
    [
        (["arn:aws:iam::123456789012:user/alice"], "is not an IAM role ARN"),
        (["arn:aws:iam::12345:role/x"], "is not an IAM role ARN"),
        (["*"], "is not an IAM role ARN"),
        (["arn:aws:iam::123456789012:role/${file(\"x\")}"], "is not an IAM role ARN"),
        (["arn:aws-cn:iam::123456789012:role/x"], "is not in this region's partition 'aws'"),
    ],
)
def test_key_users_must_be_role_arns_of_the_partition(key_users, message):
    with pytest.raises(ConfigError) as caught:
        build_config(security={"key_users": key_users})
    assert "  security.key_users: " in str(caught.value) and message in str(caught.value)


def test_topics_and_every_queue_use_the_key(tf):
    for topic in ("topic", "alarm_topic"):
        assert tf["module"][topic]["kms_master_key_id"] == KEY
    for queue in ("queue_main", "stream_failures"):
        assert tf["module"][queue]["kms_master_key_id"] == KEY
        assert tf["module"][queue]["sqs_managed_sse_enabled"] is False
    assert tf["module"]["queue_main"]["dlq_kms_master_key_id"] == KEY
    assert tf["module"]["queue_main"]["dlq_sqs_managed_sse_enabled"] is False


def test_key_can_be_turned_off(synth_config):
    doc = synth_config([build_config(security={"customer_managed_key": False})]).only
    assert "aws_kms_key" not in doc["resource"]
    assert "kms_master_key_id" not in doc["module"]["queue_main"]
    assert "sqs_managed_sse_enabled" not in doc["module"]["queue_main"]  # module default: SSE-SQS


# --- resource policies ------------------------------------------------------------------------

@pytest.mark.parametrize("topic", ["topic", "alarm_topic"])
def test_topic_policy_owner_only_and_tls(tf, topic):
    module = tf["module"][topic]
    assert module["enable_default_topic_policy"] is False
    statements = module["topic_policy_statements"]
    assert statements["owner"] == {
        "sid": "OwnerOnly", "effect": "Allow", "actions": SNS_OWNER_ACTIONS,
        "principals": [{"type": "AWS", "identifiers": [ROOT]}],
    }
    # SNS checks topic-policy actions against its own list: explicit actions, Publish included.
    assert statements["deny_insecure_transport"] == {**TLS_DENY, "actions": SNS_OWNER_ACTIONS}
    assert "sns:Publish" in SNS_OWNER_ACTIONS


def test_no_topic_policy_statement_uses_a_wildcard_action(synth_config):
    docs = [synth_config([build_config()]).only,
            synth_config([build_config(subscribers=[{}, {"name": "audit"}])]).only]
    checked = 0
    for doc in docs:
        for block in doc["module"].values():
            for statement in block.get("topic_policy_statements", {}).values():
                assert all("*" not in action for action in statement["actions"]), statement
                checked += 1
    assert checked >= 6


def test_alarm_topic_admits_cloudwatch_of_this_account_only(tf):
    statements = tf["module"]["alarm_topic"]["topic_policy_statements"]
    assert set(statements) == {"owner", "deny_insecure_transport", "cloudwatch_alarms"}
    assert statements["cloudwatch_alarms"] == {
        "sid": "CloudWatchAlarmsPublish", "effect": "Allow", "actions": ["sns:Publish"],
        "principals": [{"type": "Service", "identifiers": ["cloudwatch.amazonaws.com"]}],
        "conditions": [
            {"test": "StringEquals", "variable": "aws:SourceAccount", "values": [ACCOUNT]},
            {"test": "ArnLike", "variable": "aws:SourceArn", "values": [f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:*"]},
        ],
    }
    assert set(tf["module"]["topic"]["topic_policy_statements"]) == {"owner", "deny_insecure_transport"}


@pytest.mark.parametrize(("queue", "key"), [("queue_main", "queue_policy_statements"),
                                             ("queue_main", "dlq_queue_policy_statements"),
                                             ("stream_failures", "queue_policy_statements"),
                                             ("queue_main_delivery_dlq", "queue_policy_statements")])
def test_queue_policies_owner_only_and_tls(tf, queue, key):
    statements = tf["module"][queue][key]
    assert statements["owner"] == {
        "sid": "OwnerOnly", "effect": "Allow", "actions": SQS_OWNER_ACTIONS,
        "principals": [{"type": "AWS", "identifiers": [ROOT]}],
    }
    assert statements["deny_insecure_transport"] == {**TLS_DENY, "actions": ["sqs:*"]}
    # SNS sends to the queue and to the delivery DLQ; the consumer's DLQ takes only the queue's redrives (#20).
    sends = queue == "queue_main_delivery_dlq" or (queue == "queue_main" and key == "queue_policy_statements")
    expected = {"owner", "deny_insecure_transport"} | ({"sns"} if sends else set())
    assert set(statements) == expected
    policy_flag = "create_dlq_queue_policy" if key.startswith("dlq") else "create_queue_policy"
    assert tf["module"][queue][policy_flag] is True


def test_tls_enforcement_can_be_turned_off(synth_config):
    doc = synth_config([build_config(security={"enforce_tls": False})]).only
    assert "deny_insecure_transport" not in doc["module"]["queue_main"]["queue_policy_statements"]
    assert "deny_insecure_transport" not in doc["module"]["topic"]["topic_policy_statements"]


# --- DynamoDB ---------------------------------------------------------------------------------

def test_table_encrypted_recoverable_protected_in_production(tf):
    table = tf["module"]["table"]
    assert table["server_side_encryption_enabled"] is True
    assert table["point_in_time_recovery_enabled"] is True
    assert table["deletion_protection_enabled"] is True
    assert tf["module"]["idempotency_main"]["server_side_encryption_enabled"] is True


def test_dev_environment_has_no_deletion_protection_unless_asked(synth_config):
    dev = synth_config([build_config(environment="dev")]).only
    assert dev["module"]["table"]["deletion_protection_enabled"] is False
    forced = synth_config([build_config(environment="dev", security={"deletion_protection": True,
                                                                      "point_in_time_recovery": False})]).only
    assert forced["module"]["table"]["deletion_protection_enabled"] is True
    assert forced["module"]["table"]["point_in_time_recovery_enabled"] is False


# --- Lambda -------------------------------------------------------------------------------------

@pytest.mark.parametrize("function", ["producer", "consumer_main"])
def test_functions_traced_logs_expire(tf, function):
    module = tf["module"][function]
    assert module["tracing_mode"] == "Active"
    assert module["attach_tracing_policy"] is True
    assert module["cloudwatch_logs_retention_in_days"] == 14
    assert module["attach_create_log_group_permission"] is False
    assert "reserved_concurrent_executions" not in module  # unreserved unless configured


def test_concurrency_memory_and_retention_are_configurable(synth_config):
    doc = synth_config([build_config(
        producer={"reserved_concurrency": 5, "memory_size": 512, "log_retention_days": 90},
        security={"tracing": False},
    )]).only
    producer = doc["module"]["producer"]
    assert (producer["reserved_concurrent_executions"], producer["memory_size"]) == (5, 512)
    assert producer["cloudwatch_logs_retention_in_days"] == 90
    assert "tracing_mode" not in producer and "attach_tracing_policy" not in producer


def test_execution_roles_have_no_wildcards(tf):
    """Inline statements name actions and resources exactly.

    Wildcards that remain, because AWS requires them, come from AWS-managed policies only:
    AWSXRayDaemonWriteAccess (X-Ray accepts no resource-level permissions) and the original
    design's AWSLambdaDynamoDBExecutionRole / AWSLambdaSQSQueueExecutionRole (stream and queue
    polling actions on "*").
    """
    for module_id, block in tf["module"].items():
        if not block["source"].endswith("/lambda/aws"):
            continue
        for statement in block["policy_statements"].values():
            assert statement["effect"] == "Allow"
            assert all("*" not in a for a in statement["actions"]), (module_id, statement)
            assert all("*" not in r for r in statement["resources"]), (module_id, statement)
        assert set(block) & {"attach_policy", "attach_policies", "attach_policy_json", "attach_policy_jsons"} == set()
    managed = {a["policy_arn"] for a in tf["resource"]["aws_iam_role_policy_attachment"].values()}
    assert managed == {
        "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
    }


def test_consumer_may_use_only_its_idempotency_table(tf):
    statements = tf["module"]["consumer_main"]["policy_statements"]
    assert statements == {
        "idempotency": {
            "effect": "Allow",
            "actions": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
            "resources": ["${module.idempotency_main.dynamodb_table_arn}"],
        }
    }


# --- alarms, dashboard, outputs --------------------------------------------------------------

EXPECTED_ALARMS = {
    # logical id: (namespace, metric, dimension, statistic, comparison, threshold)
    "alarm_queue_main_oldest_message": ("AWS/SQS", "ApproximateAgeOfOldestMessage",
                                        {"QueueName": "${module.queue_main.queue_name}"}, "Maximum", "GreaterThanThreshold", 300),
    "alarm_dlq_main_messages": ("AWS/SQS", "ApproximateNumberOfMessagesVisible",
                                {"QueueName": "${module.queue_main.dead_letter_queue_name}"}, "Maximum",
                                "GreaterThanOrEqualToThreshold", 1),
    # SNS delivery failures (#20): any failed delivery, any message moved to a delivery DLQ, a delivery DLQ not empty.
    "alarm_topic_notifications_failed": ("AWS/SNS", "NumberOfNotificationsFailed", {"TopicName": "data-processing-topic"},
                                         "Sum", "GreaterThanThreshold", 0),
    "alarm_topic_notifications_redriven": ("AWS/SNS", "NumberOfNotificationsRedrivenToDlq",
                                           {"TopicName": "data-processing-topic"}, "Sum", "GreaterThanThreshold", 0),
    "alarm_delivery_dlq_main_messages": ("AWS/SQS", "ApproximateNumberOfMessagesVisible",
                                         {"QueueName": "${module.queue_main_delivery_dlq.queue_name}"}, "Maximum",
                                         "GreaterThanOrEqualToThreshold", 1),
    "alarm_stream_failures_messages": ("AWS/SQS", "ApproximateNumberOfMessagesVisible",
                                       {"QueueName": "${module.stream_failures.queue_name}"}, "Maximum",
                                       "GreaterThanOrEqualToThreshold", 1),
    "alarm_producer_errors": ("AWS/Lambda", "Errors", {"FunctionName": "${module.producer.lambda_function_name}"},
                              "Sum", "GreaterThanThreshold", 0),
    "alarm_producer_throttles": ("AWS/Lambda", "Throttles", {"FunctionName": "${module.producer.lambda_function_name}"},
                                 "Sum", "GreaterThanThreshold", 0),
    "alarm_producer_iterator_age": ("AWS/Lambda", "IteratorAge",
                                    {"FunctionName": "${module.producer.lambda_function_name}"}, "Maximum",
                                    "GreaterThanThreshold", 60000),
    "alarm_consumer_main_errors": ("AWS/Lambda", "Errors",
                                   {"FunctionName": "${module.consumer_main.lambda_function_name}"}, "Sum",
                                   "GreaterThanThreshold", 0),
    "alarm_consumer_main_throttles": ("AWS/Lambda", "Throttles",
                                      {"FunctionName": "${module.consumer_main.lambda_function_name}"}, "Sum",
                                      "GreaterThanThreshold", 0),
}


def test_every_alarm_metric_threshold_and_action(tf):
    alarms = tf["resource"]["aws_cloudwatch_metric_alarm"]
    assert set(alarms) == set(EXPECTED_ALARMS)
    for logical_id, (namespace, metric, dimensions, statistic, comparison, threshold) in EXPECTED_ALARMS.items():
        alarm = alarms[logical_id]
        assert (alarm["namespace"], alarm["metric_name"], alarm["dimensions"]) == (namespace, metric, dimensions)
        assert (alarm["statistic"], alarm["comparison_operator"], alarm["threshold"]) == (statistic, comparison, threshold)
        assert alarm["alarm_actions"] == ["${module.alarm_topic.topic_arn}"]
        assert alarm["ok_actions"] == ["${module.alarm_topic.topic_arn}"]
        assert alarm["treat_missing_data"] == "notBreaching"
        assert (alarm["period"], alarm["evaluation_periods"]) == (300, 1)
    names = [a["alarm_name"] for a in alarms.values()]
    assert len(set(names)) == len(names)


def test_alarm_email_and_thresholds_from_configuration(synth_config):
    doc = synth_config([build_config(alarms={"email": "ops@example.com", "queue_age_seconds": 900})]).only
    email = doc["resource"]["aws_sns_topic_subscription"]["alarm_email"]
    assert email == {**email, "protocol": "email", "endpoint": "ops@example.com",
                     "topic_arn": "${module.alarm_topic.topic_arn}"}
    assert doc["resource"]["aws_cloudwatch_metric_alarm"]["alarm_queue_main_oldest_message"]["threshold"] == 900


def test_alarms_can_be_turned_off(synth_config):
    doc = synth_config([build_config(alarms={"enabled": False}, dashboard=False)]).only
    assert "aws_cloudwatch_metric_alarm" not in doc["resource"] and "alarm_topic" not in doc["module"]
    assert "aws_cloudwatch_dashboard" not in doc["resource"]
    sids = [statement["Sid"] for statement in _key_policy(doc)["Statement"]]
    assert "CloudWatchAlarmsPublish" not in sids


def test_dashboard_shows_the_pipeline_metrics(tf):
    dashboard = tf["resource"]["aws_cloudwatch_dashboard"]["dashboard"]
    assert dashboard["dashboard_name"] == "event-driven-pipeline"
    body = json.loads(dashboard["dashboard_body"])
    metrics = {(m[0], m[1], m[3]) for w in body["widgets"] for m in w["properties"]["metrics"]}
    producer, consumer = "${module.producer.lambda_function_name}", "${module.consumer_main.lambda_function_name}"
    for fn in (producer, consumer):
        for metric in ("Invocations", "Errors", "Duration", "Throttles"):
            assert ("AWS/Lambda", metric, fn) in metrics
    assert ("AWS/Lambda", "IteratorAge", producer) in metrics
    assert ("AWS/SNS", "NumberOfNotificationsFailed", "data-processing-topic") in metrics
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "${module.queue_main_delivery_dlq.queue_name}") in metrics
    assert ("AWS/SQS", "ApproximateAgeOfOldestMessage", "${module.queue_main.queue_name}") in metrics
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "${module.queue_main.queue_name}") in metrics
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "${module.queue_main.dead_letter_queue_name}") in metrics


def test_dashboard_url_uses_the_partitions_console(synth_config):
    gov = synth_config([build_config(region="us-gov-west-1")]).only
    assert gov["output"]["dashboard_url"]["value"].startswith(
        "https://console.amazonaws-us-gov.com/cloudwatch/home?region=us-gov-west-1#"
    )


def test_dashboards_one_per_environment(synth_config):
    import os

    from constructs_lib.app import load_environments

    result = synth_config(load_environments(os.path.join(os.path.dirname(__file__), "..", "examples", "fanout.toml"), ""))
    names = {d["resource"]["aws_cloudwatch_dashboard"]["dashboard"]["dashboard_name"] for d in result.documents.values()}
    assert names == {"event-driven-pipeline-dev", "event-driven-pipeline-prod"}


def test_outputs_users_need_after_deploy(tf):
    outputs = {k: v["value"] for k, v in tf["output"].items()}
    assert outputs == {
        "table_name": "${module.table.dynamodb_table_id}",
        "topic_arn": "${module.topic.topic_arn}",
        "producer_function_name": "${module.producer.lambda_function_name}",
        "stream_failure_queue_url": "${module.stream_failures.queue_url}",
        "queue_url_main": "${module.queue_main.queue_url}",
        "dlq_url_main": "${module.queue_main.dead_letter_queue_url}",
        "delivery_dlq_url_main": "${module.queue_main_delivery_dlq.queue_url}",
        "consumer_function_name_main": "${module.consumer_main.lambda_function_name}",
        "alarm_topic_arn": "${module.alarm_topic.topic_arn}",
        "dashboard_url": "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1"
        "#dashboards:name=event-driven-pipeline",
    }
