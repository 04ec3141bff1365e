"""The terraform-aws-modules this project uses: sources and versions, one place per stack profile.

The profiles are pure data and live in ``pipeline_model.stack_profiles`` (scripts and tests read them
without cdktf); this module re-exports them and keeps the one per-stack fact: which profile a stack is
built on (:func:`stack_profile`). ``aws_provider(stack, region, profile=...)`` records it; a construct
asking for none gets the stack's (``tutorial`` when nothing was recorded); two asking for different
ones in one stack is an error naming both. The module-level names below are the default
(``tutorial``) profile's values.
"""

from __future__ import annotations

from typing import Any

from pipeline_model.errors import ConfigError, Problem
from pipeline_model.stack_profiles import (  # noqa: F401  (re-exported)
    CURRENT,
    DEFAULT_PROFILE,
    PROFILES,
    TUTORIAL,
    ModuleSource,
    ProfileError,
    StackProfile,
    profile,
    SQS_DEFAULT_MAX_MESSAGE_SIZE,
    SQS_LARGEST_MAX_MESSAGE_SIZE,
    queue_max_message_size,
)

DYNAMODB_TABLE = TUTORIAL.dynamodb_table
SNS = TUTORIAL.sns
SQS = TUTORIAL.sqs
LAMBDA = TUTORIAL.lambda_

ALL = dict(TUTORIAL.modules)

# Provider and Terraform constraints written into the synthesized JSON by the tutorial profile. The
# pinned module majors need hashicorp/aws >= 5.98, which "~> 5.0" admits.
TERRAFORM_REQUIRED_VERSION = TUTORIAL.terraform_required_version
AWS_PROVIDER_SOURCE = TUTORIAL.aws_provider_source
AWS_PROVIDER_VERSION = TUTORIAL.aws_provider_version

_ATTRIBUTE = "_constructs_lib_stack_profile"  # (profile, who chose it) on the stack object


def stack_profile(scope: Any, requested: str | None = None, by: str | None = None) -> StackProfile:
    """The stack profile of ``scope``'s stack, recorded on first use.

    ``requested`` None: the profile recorded for the stack, else the default (``tutorial``, then
    recorded). A name: that profile, which must be the one recorded (one profile per stack: the
    modules of one stack share its one aws provider). ``by`` names who asks, for the error.
    Raises :class:`ConfigError` (field ``stack_profile``) for an unknown name or a second profile.
    """
    from .cdk import TerraformStack

    stack = TerraformStack.of(scope)
    who = by or scope.node.path or "the stack"
    try:
        chosen = profile(requested) if requested is not None else None
    except ProfileError as error:
        raise ConfigError(Problem(f"{who}: stack_profile", str(error).split(": ", 1)[1])) from None
    recorded: tuple[StackProfile, str] | None = getattr(stack, _ATTRIBUTE, None)
    if recorded is None:
        chosen = chosen or profile(None)
        setattr(stack, _ATTRIBUTE, (chosen, who))
        return chosen
    have, first = recorded
    if chosen is not None and chosen.name != have.name:
        raise ConfigError(Problem(
            "stack_profile",
            f"stack {stack.node.id!r} is built on profile {have.name!r} ({first}) but {who} asks for "
            f"{chosen.name!r}",
            "one profile per stack (its modules share the stack's aws provider): give both the same "
            "stack_profile, or put them in separate stacks",
        ))
    return have
