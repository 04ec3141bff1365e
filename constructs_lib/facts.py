"""Facts about the environment, read from the stack, never from a copy in the configuration.

The region is the stack's AWS provider's, when that provider names a literal region (then
partition and DNS suffix follow from it, and the synthesized JSON holds plain values). Otherwise
(no provider, a provider without a region, or a region given as a token) every fact comes from the
``aws_region`` and ``aws_partition`` data sources, resolved by Terraform at plan time. The
account is always the ``aws_caller_identity`` data source's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from constructs import Construct

from pipeline_model.aws_facts import dns_suffix_of, partition_of

from .aws import AwsProvider, DataAwsPartition, DataAwsRegion
from .cdk import TerraformStack, Token
from .ids import set_logical_id
from .modules import stack_profile

_CACHE_ATTRIBUTE = "_constructs_lib_facts"


@dataclass(frozen=True)
class StackFacts:
    """Region, partition and DNS suffix of a stack: plain strings, or tokens Terraform resolves."""

    region: str
    partition: str
    dns_suffix: str
    #: Whether the region is a plain name known at synth (the provider's), not a token.
    region_known: bool

    def service_endpoint(self, service: str) -> str:
        """The endpoint name KMS puts in ``kms:ViaService`` (``sqs.us-east-1.amazonaws.com``)."""
        return f"{service}.{self.region}.{self.dns_suffix}"


def aws_provider_of(scope: Construct) -> Any | None:
    """The stack's default AWS provider (the one without an alias), or None."""
    stack = TerraformStack.of(scope)
    for element in stack.node.find_all():
        if isinstance(element, AwsProvider) and not element.alias:
            return element
    return None


def provider_region(scope: Construct) -> str | None:
    """The literal region of the stack's AWS provider, or None (no provider, no region, a token)."""
    provider = aws_provider_of(scope)
    region = provider.region if provider is not None else None
    if not region or Token.is_unresolved(region):
        return None
    return str(region)


def stack_facts(scope: Construct, region_attribute: str | None = None) -> StackFacts:
    """The facts of ``scope``'s stack, looked up once per stack.

    ``region_attribute``: which attribute of ``data.aws_region`` holds the region's name: ``name``
    on hashicorp/aws 5 (deprecated but present on 6), ``region`` on 6 only; None = the one of the
    stack's profile (:func:`constructs_lib.modules.stack_profile`).
    """
    stack = TerraformStack.of(scope)
    cached: StackFacts | None = getattr(stack, _CACHE_ATTRIBUTE, None)
    if cached is not None:
        return cached
    region = provider_region(stack)
    if region is not None:
        facts = StackFacts(region, partition_of(region), dns_suffix_of(region), True)
    else:
        region_data = DataAwsRegion(stack, "aws_region")
        set_logical_id(region_data, "current_region")
        partition = DataAwsPartition(stack, "aws_partition")
        set_logical_id(partition, "current_partition")
        if region_attribute is None:
            region_attribute = stack_profile(stack).region_data_attribute
        facts = StackFacts(getattr(region_data, region_attribute), partition.partition, partition.dns_suffix, False)
    setattr(stack, _CACHE_ATTRIBUTE, facts)
    return facts
