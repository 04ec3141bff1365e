"""Event source mappings and the managed policies they depend on (native resources)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from constructs import Construct

from pipeline_model import mapping as _mapping

from .aws import IamRolePolicyAttachment, LambdaEventSourceMapping, LambdaEventSourceMappingMetricsConfig
from .cdk import add_dependency
from .function import PythonFunction
from .ids import set_logical_id
from .props import prop

DYNAMODB_EXECUTION_ROLE = "AWSLambdaDynamoDBExecutionRole"
SQS_EXECUTION_ROLE = "AWSLambdaSQSQueueExecutionRole"


def managed_policy_arn(name: str, partition: str = "aws") -> str:
    """ARN of an AWS-managed service-role policy in the given partition."""
    return f"arn:{partition}:iam::aws:policy/service-role/{name}"


def mapping_metrics(enabled: bool) -> dict[str, Any]:
    """A mapping's ``metrics_config`` argument (EventCount) when ``enabled``, else nothing."""
    metrics = _mapping.metrics(enabled)
    return {} if metrics is None else {"metrics_config": LambdaEventSourceMappingMetricsConfig(metrics=metrics)}


@dataclass(frozen=True)
class TriggerProps:
    event_source_arn: str = prop(description="ARN of the stream or queue the function reads.")
    managed_policy_arn: str = prop(description="AWS-managed execution policy attached to the function's role first.")
    mapping: dict[str, Any] = prop(description="Arguments of aws_lambda_event_source_mapping beyond source and function.")
    depends_on: tuple[Any, ...] = prop((), "Resources the mapping must wait for besides its policy attachment "
                                           "(more can be added later with EventSourceTrigger.wait_for).")


class EventSourceTrigger(Construct):
    """Attach the managed execution policy, then map the event source to the function.

    The mapping ``depends_on`` the attachment: AWS validates the role's permissions on the
    source when it creates the mapping, and the attachment is outside the lambda module,
    so Terraform would otherwise create both at once and the mapping could fail.
    """

    def __init__(self, scope: Construct, id: str, *, function: PythonFunction, props: TriggerProps) -> None:
        super().__init__(scope, id)
        self.attachment = IamRolePolicyAttachment(
            self, "attachment", role=function.role_name, policy_arn=props.managed_policy_arn
        )
        set_logical_id(self.attachment, f"{function.logical_id}_execution_policy")
        self.mapping = LambdaEventSourceMapping(
            self,
            "mapping",
            event_source_arn=props.event_source_arn,
            function_name=function.function_arn,
            depends_on=[self.attachment, *props.depends_on],
            **props.mapping,
        )
        set_logical_id(self.mapping, f"{function.logical_id}_event_source")

    def wait_for(self, element: Any) -> None:
        """Create the mapping only after ``element`` (e.g. a subscription added later) exists."""
        add_dependency(self.mapping, element)
