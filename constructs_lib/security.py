"""Encryption key and resource-policy statements shared by the topic and queue constructs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from constructs import Construct

from pipeline_model.aws_facts import dns_suffix_of

from .aws import DataAwsCallerIdentity, KmsAlias, KmsKey
from .cdk import TerraformStack, lazy_string
from .facts import stack_facts
from .ids import set_logical_id
from .props import prop

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
#: What a sender needs to write to an encrypted topic or queue (and SNS to deliver into one), as
#: AWS documents it for SNS and SQS (``GenerateDataKey*`` covers GenerateDataKeyWithoutPlaintext).
KEY_SEND_ACTIONS = ["kms:GenerateDataKey*", "kms:Decrypt"]
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


#: Actions the TLS-only deny names. SNS checks topic-policy actions against its own list (AWS's
#: TLS-only example denies ``sns:Publish``), so topics get the explicit owner actions (Publish
#: included), never ``sns:*``; SQS accepts ``sqs:*`` in a queue policy.
TLS_DENY_ACTIONS = {"sns": SNS_OWNER_ACTIONS, "sqs": ["sqs:*"]}


def deny_insecure_transport(service: str) -> dict[str, Any]:
    """Resource-policy statement (sns/sqs module format) denying every request made without TLS.

    A Deny with principal ``*`` is the restrictive form: it removes rights, it grants none.
    """
    return {
        "sid": "DenyInsecureTransport",
        "effect": "Deny",
        "actions": list(TLS_DENY_ACTIONS[service]),
        "principals": [{"type": "AWS", "identifiers": ["*"]}],
        "conditions": [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}],
    }


#: Services whose requests with a caller's credentials may use the key (``kms:ViaService``).
VIA_SERVICES = ("sqs", "sns")


def service_endpoint(service: str, region: str, dns_suffix: str | None = None) -> str:
    """The endpoint name KMS puts in ``kms:ViaService`` (``.amazonaws.com.cn`` in China); ``dns_suffix``
    None = derived from a literal region."""
    return f"{service}.{region}.{dns_suffix or dns_suffix_of(region)}"


@dataclass(frozen=True)
class KeyProps:
    account: Account = prop(description="The key's owner: administers the key.")
    region: str = prop(description="The stack's region (for kms:ViaService and the CloudWatch alarm ARNs).")
    dns_suffix: str | None = prop(None, "The region's service DNS suffix (kms:ViaService); None = derived from region.")
    sns_topic_arns: tuple[str, ...] = prop(
        (), "Topics whose deliveries into the encrypted queues (and undeliverable messages into the DLQs) SNS "
        "encrypts: the sns.amazonaws.com grant requires one of them as aws:SourceArn. Built from names, not from "
        "the topic resources, which need the key first.")
    cloudwatch_alarms: bool = prop(False, "CloudWatch may publish alarms of this account and region to an "
                                          "encrypted topic.")
    sending_roles: tuple[str, ...] = prop((), "Role ARNs that send to encrypted topics or queues.")
    receiving_roles: tuple[str, ...] = prop((), "Role ARNs that read from encrypted queues.")
    via_services: tuple[str, ...] = prop(VIA_SERVICES, "Services through which principals of the owning account "
                                          "may use the key (kms:ViaService), when account_via_services.")
    account_via_services: bool = prop(
        True, "Principals of the owning account may use the key through SQS and SNS only, so that their IAM "
        "permissions on a queue or topic decide, as with an AWS-managed key.")
    key_users: tuple[str, ...] = prop((), "Role ARNs that may use the key directly (Decrypt, GenerateDataKey*), "
                                          "e.g. a break-glass role.")
    description: str = prop("Encrypts the pipeline's SNS topics and SQS queues", "The key's description.")
    extra_statements: tuple[dict[str, Any], ...] = prop((), "Further key policy statements (IAM JSON form).")


def _allow(sid: str, principal: dict[str, Any], actions: list[str], condition: dict | None = None) -> dict[str, Any]:
    statement = {"Sid": sid, "Effect": "Allow", "Principal": principal, "Action": actions, "Resource": "*"}
    if condition:
        statement["Condition"] = condition
    return statement


def key_policy(props: KeyProps) -> dict[str, Any]:
    """Key policy: the account administers the key; only the named services and roles use it,
    and principals of the account only through SQS and SNS.

    ``Resource: "*"`` in a key policy means "this key": AWS requires that form.
    """
    account = props.account
    statements = [_allow("KeyAdministration", {"AWS": account.root}, KEY_ADMIN_ACTIONS)]
    if props.account_via_services:
        # AWS-managed keys (alias/aws/sqs) use this form: principal "*" limited to callers of
        # this account (kms:CallerAccount) whose request comes through the named services.
        statements.append(_allow(
            "AccountUsesKeyThrough" + "And".join(s.capitalize() for s in props.via_services), {"AWS": "*"},
            KEY_SEND_ACTIONS,
            {"StringEquals": {
                "kms:CallerAccount": account.id,
                "kms:ViaService": [service_endpoint(s, props.region, props.dns_suffix) for s in props.via_services],
            }},
        ))
    if props.sns_topic_arns:
        statements.append(_allow(
            "SnsWritesEncryptedMessages", {"Service": "sns.amazonaws.com"}, KEY_SEND_ACTIONS,
            {"StringEquals": {"aws:SourceAccount": account.id},
             "ArnEquals": {"aws:SourceArn": list(props.sns_topic_arns)}},
        ))
    if props.sending_roles:
        statements.append(_allow("RolesSendEncryptedMessages", {"AWS": list(props.sending_roles)}, KEY_SEND_ACTIONS))
    if props.cloudwatch_alarms:
        statements.append(_allow(
            "CloudWatchAlarmsPublish", {"Service": "cloudwatch.amazonaws.com"}, KEY_SEND_ACTIONS,
            {"StringEquals": {"aws:SourceAccount": account.id},
             "ArnLike": {"aws:SourceArn": alarm_arn_pattern(account, props.region)}},
        ))
    if props.receiving_roles:
        statements.append(
            _allow("RolesReadEncryptedMessages", {"AWS": list(props.receiving_roles)}, KEY_RECEIVE_ACTIONS)
        )
    if props.key_users:
        statements.append(_allow("KeyUsers", {"AWS": list(props.key_users)}, KEY_SEND_ACTIONS))
    statements.extend(props.extra_statements)
    return {"Version": "2012-10-17", "Statement": statements}


def alarm_arn_pattern(account: Account, region: str) -> str:
    """Every CloudWatch alarm of the account in the region (CloudWatch passes the alarm's ARN as
    ``aws:SourceArn`` when it publishes an alarm action)."""
    return f"arn:{account.partition}:cloudwatch:{region}:{account.id}:alarm:*"


def topic_arn(account: Account, region: str, name: str) -> str:
    return f"arn:{account.partition}:sns:{region}:{account.id}:{name}"


class MessagingKey(Construct):
    """A customer-managed KMS key with yearly rotation and an alias. Exposes ``key_arn``.

    Topics and queues are encrypted with the key before the functions that use them exist,
    while its policy names those functions' roles; so the policy is computed when the stack
    is synthesized, from what was granted until then (:meth:`allow_topic`, :meth:`grant_send`,
    :meth:`grant_receive`, :meth:`allow_cloudwatch_alarms`), however late.
    """

    def __init__(self, scope: Construct, id: str, *, alias: str, account: Account | None = None,
                 region: str | None = None, deletion_window_days: int = 30, key_users: tuple[str, ...] = (),
                 description: str = "Encrypts the pipeline's SNS topics and SQS queues",
                 logical_id: str = "messaging_key", tags: dict[str, str] | None = None) -> None:
        super().__init__(scope, id)
        facts = stack_facts(self)
        self.account = account or stack_account(self)
        #: The stack's region unless told otherwise (facts from the stack, never a copy).
        self.region = region or facts.region
        self.dns_suffix = None if region else facts.dns_suffix
        self.key_users = tuple(key_users)
        self.description = description
        self._topics: list[str] = []
        self._sending_roles: list[str] = []
        self._receiving_roles: list[str] = []
        self._cloudwatch_alarms = False
        self._via_services: list[str] = list(VIA_SERVICES)
        self.key = KmsKey(
            self,
            "key",
            description=description,
            enable_key_rotation=True,
            deletion_window_in_days=deletion_window_days,
            policy=lazy_string(lambda: json.dumps(self.policy)),
            tags=dict(tags) if tags else None,
        )
        set_logical_id(self.key, logical_id)
        self.alias = KmsAlias(self, "alias", name=alias, target_key_id=self.key.key_id)
        set_logical_id(self.alias, f"{logical_id}_alias")
        self.key_arn = self.key.arn

    def allow_topic(self, topic_name: str) -> None:
        """SNS may encrypt what this topic (of the key's account and region) delivers into queues."""
        _append_once(self._topics, topic_arn(self.account, self.region, topic_name))

    def grant_send(self, role_arn: str) -> None:
        _append_once(self._sending_roles, role_arn)

    def grant_receive(self, role_arn: str) -> None:
        _append_once(self._receiving_roles, role_arn)

    def allow_cloudwatch_alarms(self) -> None:
        self._cloudwatch_alarms = True

    def allow_via_service(self, service: str) -> None:
        """Principals of the account may use the key through ``service`` too (e.g. "s3", reading objects it
        encrypts), as their IAM permissions there allow."""
        _append_once(self._via_services, service)

    @property
    def props(self) -> KeyProps:
        """What the key policy is made of, as granted so far."""
        return KeyProps(
            account=self.account,
            region=self.region,
            dns_suffix=self.dns_suffix,
            sns_topic_arns=tuple(self._topics),
            cloudwatch_alarms=self._cloudwatch_alarms,
            via_services=tuple(self._via_services),
            key_users=self.key_users,
            sending_roles=tuple(self._sending_roles),
            receiving_roles=tuple(self._receiving_roles),
            description=self.description,
        )

    @property
    def policy(self) -> dict[str, Any]:
        return key_policy(self.props)


def _append_once(values: list[str], value: str) -> None:
    if value not in values:
        values.append(value)


def caller_account(scope: Construct, id: str = "caller", logical_id: str = "current",
                   partition: str | None = None) -> Account:
    """The account running Terraform (``data.aws_caller_identity``) as an :class:`Account`, in the
    stack's partition unless told otherwise."""
    identity = DataAwsCallerIdentity(scope, id)
    set_logical_id(identity, logical_id)
    return Account(identity.account_id, partition or stack_facts(scope).partition)


def stack_account(scope: Construct, partition: str | None = None) -> Account:
    """One caller-identity lookup per stack, shared by constructs built without an account."""
    stack = TerraformStack.of(scope)
    identity = stack.node.try_find_child("caller_identity")
    if identity is None:
        return caller_account(stack, "caller_identity", "caller_identity", partition)
    return Account(identity.account_id, partition or stack_facts(scope).partition)
