"""Logical ids: the names of resources and modules in the synthesized JSON (and so in the
Terraform state). Every construct sets them through :func:`set_logical_id`, the only caller of
``override_logical_id``, which keeps one registry per stack: a second element asking for an id
already taken in its stack is an error, never a silent replacement of the first."""

from __future__ import annotations

from typing import Any

from .cdk import TerraformStack

_REGISTRY_ATTRIBUTE = "_constructs_lib_logical_ids"


class DuplicateLogicalIdError(ValueError):
    """Two elements of one stack asked for the same logical id."""


def set_logical_id(element: Any, logical_id: str) -> None:
    """``element.override_logical_id(logical_id)``, refusing an id another element of the stack has."""
    stack = TerraformStack.of(element)
    registry: dict[str, str] | None = getattr(stack, _REGISTRY_ATTRIBUTE, None)
    if registry is None:
        registry = {}
        setattr(stack, _REGISTRY_ATTRIBUTE, registry)
    path = element.node.path
    owner = registry.get(logical_id)
    if owner is not None and owner != path:
        raise DuplicateLogicalIdError(
            f"logical id {logical_id!r} is used twice in stack {stack.node.id!r}: by {owner} and by {path}; "
            "give each EventPipeline its own id (or logical_id_prefix) and each construct its own logical_id"
        )
    registry[logical_id] = path
    element.override_logical_id(logical_id)
