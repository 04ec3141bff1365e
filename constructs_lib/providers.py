"""The aws provider constraint a stack ends up with must be one the pipeline's modules accept."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline_model.versions import ConstraintError, satisfiable


def stack_aws_constraint(stack: Any) -> str | None:
    """``terraform.required_providers.aws.version`` of the stack's JSON (overrides applied), or None."""
    document = stack.to_terraform()
    aws = ((document.get("terraform") or {}).get("required_providers") or {}).get("aws") or {}
    version = aws.get("version") if isinstance(aws, Mapping) else None
    return str(version) if version else None


def check_provider_constraint(stack: Any, requirements: Mapping[str, str]) -> str | None:
    """A message naming both constraints when none of the versions the stack's aws provider
    constraint admits is one every module accepts; None when they fit (or nothing is pinned)."""
    constraint = stack_aws_constraint(stack)
    if constraint is None:
        return None
    needed = ", ".join(f"{module} {req}" for module, req in requirements.items())
    try:
        fits = satisfiable([constraint, *requirements.values()])
    except ConstraintError as error:
        return f"required_providers.aws.version: {error}"
    if fits:
        return None
    return (f"required_providers.aws.version: the stack pins hashicorp/aws {constraint!r}, which none of the "
            f"versions the pipeline's modules accept satisfies ({needed}): widen the provider's constraint "
            "(constructs_lib.aws_provider(stack, region) writes one that fits)")
