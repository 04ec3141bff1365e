"""Encryption key and resource-policy statements shared by the topic and queue constructs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import jsii
from constructs import Construct, IValidation

from .aws import KmsAlias, KmsKey

# Key administration without the right to use the key for data. Listed one by one: no wildcard.
KEY_ADMIN_ACTIONS = [
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListAliases",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
]
#: What a sender needs to write to an encrypted topic or queue (and SNS to deliver into one).
KEY_SEND_ACTIONS = ["kms:GenerateDataKey", "kms:Decrypt"]
#: What a receiver needs to read from an encrypted queue.
KEY_RECEIVE_ACTIONS = ["kms:Decrypt"]

SNS_OWNER_ACTIONS = [
    "sns:GetTopicAttributes",
    "sns:SetTopicAttributes",
    "sns:AddPermission",
    "sns:RemovePermission",
    "sns:DeleteTopic",
    "sns:Subscribe",
    "sns:ListSubscriptionsByTopic",
    "sns:Publish",
]
SQS_OWNER_ACTIONS = [
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:ListDeadLetterSourceQueues",
    "sqs:PurgeQueue",
    "sqs:ReceiveMessage",
    "sqs:SendMessage",
    "sqs:SetQueueAttributes",
]


@dataclass(frozen=True)
class Account:
    """Who owns the stack's resources (``id`` may be a token such as the caller identity)."""

    id: str
    partition: str = "aws"

    @property
    def root(self) -> str:
        return f"arn:{self.partition}:iam::{self.id}:root"


def owner_statement(account: Account, actions: list[str], sid: str = "OwnerOnly") -> dict[str, Any]:
    """Resource-policy statement (sns/sqs module format) granting the owning account only."""
    return {
        "sid": sid,
        "effect": "Allow",
        "actions": list(actions),
        "principals": [{"type": "AWS", "identifiers": [account.root]}],
    }


def deny_insecure_transport(service: str) -> dict[str, Any]:
    """Resource-policy statement (sns/sqs module format) denying every request made without TLS.

    A Deny with ``<service>:*`` and principal ``*`` is the restrictive form: it removes rights,
    it grants none.
    """
    return {
        "sid": "DenyInsecureTransport",
        "effect": "Deny",
        "actions": [f"{service}:*"],
        "principals": [{"type": "AWS", "identifiers": ["*"]}],
        "conditions": [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}],
    }


@dataclass(frozen=True)
class KeyProps:
    account: Account
    #: Services that write into the encrypted topics/queues on the account's behalf, limited to
    #: requests made for this account (aws:SourceAccount).
    sending_services: tuple[str, ...] = ("sns.amazonaws.com",)
    #: CloudWatch publishing alarms to the encrypted alarm topic. AWS documents this grant
    #: without a condition, and alarms fail silently if CloudWatch does not pass one, so it
    #: stays unconditioned (the principal can only act on alarms of this account's topics).
    cloudwatch_alarms: bool = False
    sending_roles: tuple[str, ...] = ()
    receiving_roles: tuple[str, ...] = ()
    description: str = "Encrypts the pipeline's SNS topics and SQS queues"
    extra_statements: tuple[dict[str, Any], ...] = field(default_factory=tuple)


def _allow(sid: str, principal: dict[str, Any], actions: list[str], condition: dict | None = None) -> dict[str, Any]:
    statement = {"Sid": sid, "Effect": "Allow", "Principal": principal, "Action": actions, "Resource": "*"}
    if condition:
        statement["Condition"] = condition
    return statement


def key_policy(props: KeyProps) -> dict[str, Any]:
    """Key policy: the account administers the key; only the named services and roles use it.

    ``Resource: "*"`` in a key policy means "this key": AWS requires that form.
    """
    statements = [_allow("KeyAdministration", {"AWS": props.account.root}, KEY_ADMIN_ACTIONS)]
    if props.sending_services:
        statements.append(_allow(
            "ServicesWriteEncryptedMessages", {"Service": sorted(props.sending_services)}, KEY_SEND_ACTIONS,
            {"StringEquals": {"aws:SourceAccount": props.account.id}},
        ))
    if props.sending_roles:
        statements.append(_allow("RolesSendEncryptedMessages", {"AWS": list(props.sending_roles)}, KEY_SEND_ACTIONS))
    if props.cloudwatch_alarms:
        statements.append(_allow("CloudWatchAlarmsPublish", {"Service": "cloudwatch.amazonaws.com"}, KEY_SEND_ACTIONS))
    if props.receiving_roles:
        statements.append(
            _allow("RolesReadEncryptedMessages", {"AWS": list(props.receiving_roles)}, KEY_RECEIVE_ACTIONS)
        )
    statements.extend(props.extra_statements)
    return {"Version": "2012-10-17", "Statement": statements}


class MessagingKey(Construct):
    """A customer-managed KMS key with yearly rotation and an alias. Exposes ``key_arn``.

    The key is needed before the functions exist (topics and queues are encrypted with it)
    while its policy names the functions' roles, so the policy is set afterwards with
    :meth:`set_policy`; synthesis fails if it never is.
    """

    def __init__(self, scope: Construct, id: str, *, alias: str, deletion_window_days: int = 30,
                 description: str = "Encrypts the pipeline's SNS topics and SQS queues",
                 logical_id: str = "messaging_key") -> None:
        super().__init__(scope, id)
        self.key = KmsKey(
            self,
            "key",
            description=description,
            enable_key_rotation=True,
            deletion_window_in_days=deletion_window_days,
        )
        self.key.override_logical_id(logical_id)
        self.alias = KmsAlias(self, "alias", name=alias, target_key_id=self.key.key_id)
        self.alias.override_logical_id(f"{logical_id}_alias")
        self.key_arn = self.key.arn
        self.policy: dict[str, Any] | None = None
        self.node.add_validation(_PolicySet(self))

    def set_policy(self, props: KeyProps) -> None:
        self.policy = key_policy(props)
        self.key.policy = json.dumps(self.policy)


@jsii.implements(IValidation)
class _PolicySet:
    """Construct validation: a key without its policy would get AWS's default (account-wide) one."""

    def __init__(self, key: MessagingKey) -> None:
        self._key = key

    def validate(self) -> list[str]:
        return [] if self._key.policy is not None else [f"{self._key.node.path}: set_policy() was never called"]
