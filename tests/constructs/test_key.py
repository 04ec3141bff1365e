"""MessagingKey alone: its policy is computed at synth from the grants made until then."""

from __future__ import annotations

import json


def policy(synth, stack):
    return json.loads(synth(stack)["resource"]["aws_kms_key"]["messaging_key"]["policy"])


def test_policy_without_grants_keeps_administration_and_service_use(stack, synth, account):
    from constructs_lib import MessagingKey

    MessagingKey(stack, "key", alias="alias/k", account=account, region="us-east-1")
    sids = [s["Sid"] for s in policy(synth, stack)["Statement"]]
    assert sids == ["KeyAdministration", "AccountUsesKeyThroughSqsAndSns"]


def test_grants_made_after_construction_reach_the_policy(stack, synth, account):
    from constructs_lib import MessagingKey

    key = MessagingKey(stack, "key", alias="alias/k", account=account, region="us-east-1",
                       key_users=("arn:aws:iam::123456789012:role/breakglass",))
    key.grant_send("arn:aws:iam::123456789012:role/producer")
    key.grant_receive("arn:aws:iam::123456789012:role/consumer")
    key.grant_receive("arn:aws:iam::123456789012:role/consumer")  # once only
    key.allow_topic("events")
    key.allow_cloudwatch_alarms()
    statements = {s["Sid"]: s for s in policy(synth, stack)["Statement"]}
    assert statements["RolesReadEncryptedMessages"]["Principal"]["AWS"] == ["arn:aws:iam::123456789012:role/consumer"]
    assert statements["RolesSendEncryptedMessages"]["Principal"]["AWS"] == ["arn:aws:iam::123456789012:role/producer"]
    assert statements["SnsWritesEncryptedMessages"]["Condition"]["ArnEquals"]["aws:SourceArn"] == [
        "arn:aws:sns:us-east-1:123456789012:events"
    ]
    assert "CloudWatchAlarmsPublish" in statements and "KeyUsers" in statements


def test_rotation_and_alias(stack, synth, account):
    from constructs_lib import MessagingKey

    MessagingKey(stack, "key", alias="alias/k", account=account, region="us-east-1", deletion_window_days=7)
    doc = synth(stack)["resource"]
    assert doc["aws_kms_key"]["messaging_key"]["enable_key_rotation"] is True
    assert doc["aws_kms_key"]["messaging_key"]["deletion_window_in_days"] == 7
    assert doc["aws_kms_alias"]["messaging_key_alias"]["name"] == "alias/k"
