"""Tags on every resource a construct created: the modules' ``tags`` input and the ``tags`` of
native resources that take them. Tags the stack's AWS provider already sets as ``default_tags``
(same key and value) are left to the provider, so nothing is written twice."""

from __future__ import annotations

from collections.abc import Mapping
from constructs import Construct

from .cdk import TerraformHclModule, Token
from .facts import aws_provider_of


def provider_default_tags(scope: Construct) -> dict[str, str]:
    """The literal ``default_tags`` of the stack's AWS provider ({} when none or not literal)."""
    provider = aws_provider_of(scope)
    blocks = getattr(provider, "default_tags", None) if provider is not None else None
    tags: dict[str, str] = {}
    if not blocks or Token.is_unresolved(blocks):
        return tags
    for block in blocks:
        values = getattr(block, "tags", None)
        if isinstance(values, Mapping):
            tags.update({str(k): str(v) for k, v in values.items()})
    return tags


def apply_tags(scope: Construct, tags: Mapping[str, str]) -> None:
    """Tag every module and taggable resource under ``scope`` with ``tags``, minus the provider's
    identical default tags; tags a resource already has win."""
    defaults = provider_default_tags(scope)
    extra = {key: value for key, value in tags.items() if defaults.get(key) != value}
    if not extra:
        return
    for element in scope.node.find_all():
        if isinstance(element, TerraformHclModule):
            current = dict((element.variables or {}).get("tags") or {})
            element.set("tags", {**extra, **current})
        elif hasattr(type(element), "tags_input"):  # a resource with a tags argument
            element.tags = {**extra, **dict(element.tags_input or {})}
