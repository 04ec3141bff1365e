"""The aws provider constraint a stack ends up with must be one the pipeline's modules accept."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline_model.stack_profiles import StackProfile
from pipeline_model.versions import VersionError, compatible


def stack_aws_constraint(stack: Any) -> str | None:
    """``terraform.required_providers.aws.version`` of the stack's JSON (overrides applied), or None."""
    document = stack.to_terraform()
    aws = ((document.get("terraform") or {}).get("required_providers") or {}).get("aws") or {}
    version = aws.get("version") if isinstance(aws, Mapping) else None
    return str(version) if version else None


def check_provider_constraint(stack: Any, profile: StackProfile) -> str | None:
    """A message naming both constraints when none of the versions the stack's aws provider
    constraint admits is one every module of ``profile`` accepts; None when they fit (or nothing
    is pinned)."""
    constraint = stack_aws_constraint(stack)
    if constraint is None:
        return None
    requirements = profile.modules_aws_constraints()
    needed = ", ".join(f"{module} {req!r}" for module, req in requirements.items())
    try:
        fits = compatible(constraint, *requirements.values())
    except VersionError as error:
        return f"required_providers.aws.version: {error}"
    if fits:
        return None
    return (f"required_providers.aws.version: the stack pins hashicorp/aws {constraint!r}, which none of the "
            f"versions the pipeline's modules ({profile.name} profile) accept satisfies: {needed}; widen the "
            "provider's constraint or choose the other stack profile (constructs_lib.aws_provider(stack, region, "
            "profile=...) writes one that fits)")
