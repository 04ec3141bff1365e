"""The one override rule every construct applies to its module inputs.

    construct defaults  <  user overrides (typed props, then ``extra``)  <  what the construct requires

Defaults are the secure settings a construct applies on its own (TLS-only policies, encryption,
tracing, ...); a user may change any of them. Requirements are what the construct cannot work
without (the name it was given, ``create_package = false``, the statement letting only its topic
send, ...): an override that disagrees with one is rejected up front with
:class:`PropsConflictError`, naming the prop, rather than silently ignored or applied.
"""

from __future__ import annotations

from dataclasses import MISSING, field
from typing import Any


class PropsConflictError(ValueError):
    """A user override contradicts what the construct requires."""


def prop(default: Any = MISSING, description: str = "", *, factory: Any = MISSING) -> Any:
    """A dataclass field with a description (``metadata["description"]``); without ``default``
    or ``factory`` the field is required."""
    metadata = {"description": description}
    if factory is not MISSING:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def check_required(owner: str, overrides: dict[str, Any], required: dict[str, tuple[Any, str]],
                   where: str = "extra") -> None:
    """Raise when ``overrides`` sets a required key to another value.

    ``required`` maps key -> (value, why the construct needs it).
    """
    for key, (value, why) in required.items():
        if key in overrides and overrides[key] != value:
            raise PropsConflictError(
                f"{owner}: {where}[{key!r}]: the construct sets this itself ({why}); remove it from {where}"
            )


def merge(owner: str, defaults: dict[str, Any], overrides: dict[str, Any],
          required: dict[str, tuple[Any, str]], where: str = "extra") -> dict[str, Any]:
    """Module inputs by the override rule: defaults < overrides < required."""
    check_required(owner, overrides, required, where)
    return {**defaults, **overrides, **{key: value for key, (value, _) in required.items()}}

