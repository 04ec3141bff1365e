"""Event source mappings and the permissions they depend on (native resources).

``iam = "managed"`` (the original design) attaches the AWS-managed execution policy to the function's
role; ``iam = "scoped"`` gives the role an inline policy naming only the mapping's own stream or queue
(docs/security.md, "Least privilege"). Either way the mapping waits for the permission.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, get_args

from constructs import Construct

from pipeline_model import defaults
from pipeline_model import mapping as _mapping
from pipeline_model.config import IamMode

from .aws import IamRolePolicy, IamRolePolicyAttachment, LambdaEventSourceMapping, LambdaEventSourceMappingMetricsConfig
from .cdk import add_dependency
from .function import PythonFunction
from .ids import set_logical_id
from .props import PropsConflictError, prop

DYNAMODB_EXECUTION_ROLE = "AWSLambdaDynamoDBExecutionRole"
SQS_EXECUTION_ROLE = "AWSLambdaSQSQueueExecutionRole"

#: What Lambda's poller does on a DynamoDB stream with the function's role: the stream actions of
#: AWSLambdaDynamoDBExecutionRole, granted on the one stream (as AWS's own example policy for a Lambda
#: reading a table's stream does; docs/security.md cites it).
STREAM_READ_ACTIONS = ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                       "dynamodb:ListStreams")
#: What Lambda's poller does on an SQS queue with the function's role (the queue actions of
#: AWSLambdaSQSQueueExecutionRole). The consumer never calls ChangeMessageVisibility, so it is not granted.
QUEUE_READ_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
#: Name of the inline role policy of a scoped trigger (one trigger per function role).
SOURCE_POLICY_NAME = "event-source"


def managed_policy_arn(name: str, partition: str = "aws") -> str:
    """ARN of an AWS-managed service-role policy in the given partition."""
    return f"arn:{partition}:iam::aws:policy/service-role/{name}"


def mapping_metrics(enabled: bool) -> dict[str, Any]:
    """A mapping's ``metrics_config`` argument (EventCount) when ``enabled``, else nothing."""
    metrics = _mapping.metrics(enabled)
    return {} if metrics is None else {"metrics_config": LambdaEventSourceMappingMetricsConfig(metrics=metrics)}


def source_policy(event_source_arn: str, actions: tuple[str, ...]) -> dict[str, Any]:
    """The scoped trigger's policy document: ``actions`` on ``event_source_arn`` and nothing else."""
    return {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "ReadEventSource", "Effect": "Allow", "Action": list(actions),
                       "Resource": event_source_arn}],
    }


@dataclass(frozen=True)
class TriggerProps:
    event_source_arn: str = prop(description="ARN of the stream or queue the function reads.")
    managed_policy_arn: str = prop("", "AWS-managed execution policy attached to the function's role first "
                                       "(iam = \"managed\"; required there).")
    mapping: dict[str, Any] = prop(description="Arguments of aws_lambda_event_source_mapping beyond source and "
                                               "function.", factory=dict)
    depends_on: tuple[Any, ...] = prop((), "Resources the mapping must wait for besides its permission "
                                           "(more can be added later with EventSourceTrigger.wait_for).")
    iam: IamMode = prop(defaults.IAM, "\"managed\": attach managed_policy_arn; \"scoped\": an inline role policy "
                                      "granting source_actions on event_source_arn only (docs/security.md).")
    source_actions: tuple[str, ...] = prop((), "The actions granted on event_source_arn with iam = \"scoped\" "
                                               "(required there): STREAM_READ_ACTIONS or QUEUE_READ_ACTIONS.")


class EventSourceTrigger(Construct):
    """Give the function's role its permission on the source, then map the source to the function.

    The permission is the managed execution policy (``iam = "managed"``, ``attachment``) or an inline
    role policy on the source only (``iam = "scoped"``, ``source_policy``); ``permission`` is whichever
    was made. The mapping ``depends_on`` it: AWS validates the role's permissions on the source when it
    creates the mapping, and the permission is outside the lambda module, so Terraform would otherwise
    create both at once and the mapping could fail.
    """

    def __init__(self, scope: Construct, id: str, *, function: PythonFunction, props: TriggerProps) -> None:
        owner = f"EventSourceTrigger {scope.node.path}/{id}"
        if props.iam not in get_args(IamMode):
            raise PropsConflictError(f"{owner}: props.iam: {props.iam!r} is not one of "
                                     f"{', '.join(map(repr, get_args(IamMode)))}")
        if props.iam == "managed" and not props.managed_policy_arn:
            raise PropsConflictError(f"{owner}: props.managed_policy_arn: required with iam = \"managed\" "
                                     "(or set iam = \"scoped\" with source_actions)")
        if props.iam == "scoped" and (not props.source_actions or any(
                not isinstance(a, str) or "*" in a or ":" not in a for a in props.source_actions)):
            raise PropsConflictError(f"{owner}: props.source_actions: iam = \"scoped\" needs the actions on the "
                                     "source, each named exactly (service:Action, no '*'), e.g. QUEUE_READ_ACTIONS")
        super().__init__(scope, id)
        self.attachment: IamRolePolicyAttachment | None = None
        self.source_policy: IamRolePolicy | None = None
        if props.iam == "scoped":
            self.source_policy = IamRolePolicy(
                self, "policy", name=SOURCE_POLICY_NAME, role=function.role_name,
                policy=json.dumps(source_policy(props.event_source_arn, tuple(props.source_actions))),
            )
            set_logical_id(self.source_policy, f"{function.logical_id}_event_source_policy")
            self.permission: IamRolePolicy | IamRolePolicyAttachment = self.source_policy
        else:
            self.attachment = IamRolePolicyAttachment(
                self, "attachment", role=function.role_name, policy_arn=props.managed_policy_arn
            )
            set_logical_id(self.attachment, f"{function.logical_id}_execution_policy")
            self.permission = self.attachment
        self.mapping = LambdaEventSourceMapping(
            self,
            "mapping",
            event_source_arn=props.event_source_arn,
            function_name=function.function_arn,
            depends_on=[self.permission, *props.depends_on],
            **props.mapping,
        )
        set_logical_id(self.mapping, f"{function.logical_id}_event_source")

    def wait_for(self, element: Any) -> None:
        """Create the mapping only after ``element`` (e.g. a subscription added later) exists."""
        add_dependency(self.mapping, element)
