"""SNS delivery status logging of one topic's deliveries to SQS (``[delivery_status_logging]``;
docs/operations.md, "Delivery status logging").

SNS writes the delivery status of a topic's messages to CloudWatch Logs with a role it assumes; the sns
module takes the role's ARN (``sqs_feedback``) but creates no role. This construct creates, as native
resources of the stack's AWS provider:

* the two log groups SNS writes, ``sns/<region>/<account>/<topic>`` (successful deliveries, sampled) and
  ``.../Failure`` (every failed delivery), with a retention, so that nothing is kept forever;
* the role, which only ``sns.amazonaws.com`` may assume, and only on behalf of this topic of this account
  (``aws:SourceAccount``, ``aws:SourceArn``: AWS's cross-service confused deputy guidance);
* its inline policy: the three actions AWS documents for delivery status logging (CreateLogGroup,
  CreateLogStream, PutLogEvents) on those two log groups and their streams only.

The topic's ARN in the trust policy is built from its name (not read from the topic), since the topic needs the
role's ARN first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from constructs import Construct

from pipeline_model.limits import LOG_RETENTION_DAYS
from pipeline_model.names import delivery_log_groups

from .aws import CloudwatchLogGroup, IamRole, IamRolePolicy
from .ids import set_logical_id
from .props import PropsConflictError, prop
from .security import Account, topic_arn

#: What SNS needs to write delivery status logs, as AWS documents it (Amazon SNS developer guide,
#: "Prerequisites for delivery status logging"). PutRetentionPolicy and PutMetricFilter, which the console's
#: generated role also holds, are left out: the retention is the pipeline's (set on the log groups below).
LOG_WRITER_ACTIONS = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]


@dataclass(frozen=True)
class SqsFeedback:
    """The sns module's ``sqs_feedback`` input: the topic attributes SQSSuccessFeedbackRoleArn,
    SQSSuccessFeedbackSampleRate and SQSFailureFeedbackRoleArn."""

    role_arn: str = prop(description="The role SNS assumes to write the logs (successes and failures).")
    success_sample_rate: int = prop(0, "Percentage (0-100) of successful deliveries logged; 0 = failures only.")
    depends_on: tuple[Any, ...] = prop((), "What the topic must wait for (the role's policy, the log groups), so that "
                                           "SNS can write from the first delivery.")

    def module_input(self) -> dict[str, Any]:
        """The input as both sns majors declare it (6: map(string), 7: an object of optional attributes)."""
        return {
            "failure_role_arn": self.role_arn,
            "success_role_arn": self.role_arn,
            "success_sample_rate": self.success_sample_rate,
        }


@dataclass(frozen=True)
class DeliveryStatusLoggingProps:
    topic_name: str = prop(description="The topic whose deliveries are logged.")
    account: Account = prop(description="The topic's account (the trust policy's aws:SourceAccount).")
    region: str = prop(description="The stack's region (the log groups' names and ARNs, the topic's ARN).")
    role_name_prefix: str = prop(description="The role's name prefix (Terraform appends a unique suffix).")
    success_sample_rate: int = prop(0, "Percentage (0-100) of successful deliveries logged; 0 = failures only.")
    retention_days: int = prop(14, "Retention of the two log groups, in days.")
    logical_id_prefix: str = prop("", "Prefix of the logical ids (the pipeline's).")


def log_group_arn(account: Account, region: str, name: str) -> str:
    return f"arn:{account.partition}:logs:{region}:{account.id}:log-group:{name}"


def trust_policy(account: Account, source_topic_arn: str) -> dict[str, Any]:
    """Only SNS may assume the role, and only for ``source_topic_arn`` of ``account``."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "SnsDeliveryStatusLogging",
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account.id},
                "ArnLike": {"aws:SourceArn": source_topic_arn},
            },
        }],
    }


def writer_policy(account: Account, region: str, groups: tuple[str, ...]) -> dict[str, Any]:
    """The log groups (and their streams) SNS writes, nothing else."""
    resources = [arn for name in groups for arn in (log_group_arn(account, region, name),
                                                    f"{log_group_arn(account, region, name)}:*")]
    return {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "WriteDeliveryStatusLogs", "Effect": "Allow", "Action": list(LOG_WRITER_ACTIONS),
                       "Resource": resources}],
    }


class DeliveryStatusLogging(Construct):
    """The role and log groups of a topic's delivery status logging. Exposes ``role_arn``,
    ``log_group_names`` (successes, failures) and ``sqs_feedback`` (for :class:`~constructs_lib.messaging.TopicProps`)."""

    def __init__(self, scope: Construct, id: str, *, props: DeliveryStatusLoggingProps) -> None:
        super().__init__(scope, id)
        owner = f"DeliveryStatusLogging {self.node.path}"
        rate = props.success_sample_rate
        if isinstance(rate, bool) or not isinstance(rate, int) or not 0 <= rate <= 100:
            raise PropsConflictError(f"{owner}: props.success_sample_rate: {rate!r} is not a percentage 0-100")
        if props.retention_days not in LOG_RETENTION_DAYS:
            raise PropsConflictError(f"{owner}: props.retention_days: {props.retention_days!r} is not a CloudWatch "
                                     f"Logs retention; use one of {', '.join(map(str, LOG_RETENTION_DAYS))}")
        account, region, prefix = props.account, props.region, props.logical_id_prefix
        self.log_group_names = delivery_log_groups(region, account.id, props.topic_name)
        self.log_groups = []
        for kind, name in zip(("success", "failure"), self.log_group_names):
            group = CloudwatchLogGroup(self, f"{kind}_log_group", name=name,
                                       retention_in_days=props.retention_days)
            set_logical_id(group, f"{prefix}topic_delivery_{kind}_logs")
            self.log_groups.append(group)
        self.role = IamRole(
            self, "role", name_prefix=props.role_name_prefix,
            description=f"SNS writes the delivery status of topic {props.topic_name} to CloudWatch Logs",
            assume_role_policy=json.dumps(trust_policy(account, topic_arn(account, region, props.topic_name))),
        )
        set_logical_id(self.role, f"{prefix}topic_delivery_logs_role")
        self.policy = IamRolePolicy(
            self, "policy", name="write-delivery-status-logs", role=self.role.id,
            policy=json.dumps(writer_policy(account, region, self.log_group_names)),
        )
        set_logical_id(self.policy, f"{prefix}topic_delivery_logs_policy")
        self.role_arn = self.role.arn
        self.sqs_feedback = SqsFeedback(role_arn=self.role_arn, success_sample_rate=props.success_sample_rate,
                                        depends_on=(self.policy, *self.log_groups))
