"""Terraform version constraints: parse them, test a version, and intersect several.

The syntax is Terraform's (developer.hashicorp.com/terraform/language/expressions/version-constraints):
a constraint is one or more comma-separated conditions, each an operator and a version::

    "~> 5.0"          >= 5.0.0, < 6.0.0      (only the rightmost given component may increment)
    "~> 5.0.1"        >= 5.0.1, < 5.1.0
    ">= 6.28, < 7"    both conditions
    "6.25.0"          exactly 6.25.0 (no operator is "=")
    "!= 6.30.0"       any version but 6.30.0

A version has up to three numeric components; missing ones are zero (``1 = 1.0 = 1.0.0``). ``~>``
with a single component (``~> 1``) is read as ``>= 1.0.0, < 2.0.0``, as Terraform does for provider
constraints. Pre-release versions (``1.0.0-beta1``) are refused with a clear error: no constraint
this project writes or reads uses them.

The questions answered: ``satisfies(version, constraint)`` and ``lowest_common_version(*constraints)``
(the lowest version that satisfies all of them, or None when their intersection is empty), which
``compatible`` turns into a yes/no.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering
from typing import Iterable

__all__ = [
    "Condition",
    "Constraint",
    "Version",
    "VersionError",
    "compatible",
    "describe",
    "lowest_common_version",
    "satisfies",
]

OPERATORS = ("~>", ">=", "<=", "!=", ">", "<", "=")
_VERSION = re.compile(r"v?([0-9]+)(?:\.([0-9]+))?(?:\.([0-9]+))?")
_CONDITION = re.compile(r"\s*(~>|>=|<=|!=|>|<|=)?\s*(\S+)\s*")


class VersionError(ValueError):
    """A version or a version constraint that cannot be read. The message names the text and the rule."""


@total_ordering
@dataclass(frozen=True)
class Version:
    major: int
    minor: int = 0
    patch: int = 0

    @classmethod
    def parse(cls, text: str) -> "Version":
        return cls._parse(text)[0]

    @classmethod
    def _parse(cls, text: str) -> tuple["Version", int]:
        """The version and how many components the text gave (1 to 3)."""
        cleaned = text.strip()
        match = _VERSION.fullmatch(cleaned)
        if not match:
            hint = (
                "pre-release and build suffixes are not supported" if re.match(r"v?[0-9]+(\.[0-9]+)*[-+]", cleaned)
                else "expected up to three numbers separated by dots, such as 6.28.0"
            )
            raise VersionError(f"version {text!r}: cannot read it ({hint})")
        given = [int(part) for part in match.groups() if part is not None]
        return cls(*given), len(given)

    def _key(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    def __lt__(self, other: "Version") -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


@dataclass(frozen=True)
class Condition:
    """One operator and version, e.g. ``>= 6.28``; ``~>`` keeps how many components were given."""

    operator: str
    version: Version
    components: int = 3

    def allows(self, version: Version) -> bool:
        op, wanted = self.operator, self.version
        if op == "=":
            return version == wanted
        if op == "!=":
            return version != wanted
        if op == ">":
            return version > wanted
        if op == ">=":
            return version >= wanted
        if op == "<":
            return version < wanted
        if op == "<=":
            return version <= wanted
        # "~>": at least the given version, below the next increment of the second-rightmost component.
        return wanted <= version < self.pessimistic_upper

    @property
    def pessimistic_upper(self) -> Version:
        """The exclusive upper bound of a ``~>`` condition (``~> 5.0`` -> 6.0.0, ``~> 5.0.1`` -> 5.1.0)."""
        v = self.version
        if self.components >= 3:
            return Version(v.major, v.minor + 1, 0)
        return Version(v.major + 1, 0, 0)

    def __str__(self) -> str:
        shown = ".".join(str(n) for n in (self.version.major, self.version.minor, self.version.patch)[: self.components])
        return f"{self.operator} {shown}"


@dataclass(frozen=True)
class Constraint:
    """A Terraform version constraint: every condition must hold."""

    conditions: tuple[Condition, ...]
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> "Constraint":
        if isinstance(text, Constraint):
            return text
        if not isinstance(text, str) or not text.strip():
            raise VersionError(f"version constraint {text!r}: empty (write e.g. '>= 6.28, < 7' or '~> 5.0')")
        conditions = []
        for part in text.split(","):
            match = _CONDITION.fullmatch(part)
            if not part.strip() or not match:
                raise VersionError(
                    f"version constraint {text!r}: cannot read condition {part.strip()!r} "
                    f"(an operator among {', '.join(OPERATORS)} and a version, separated by commas)"
                )
            operator = match[1] or "="
            try:
                version, components = Version._parse(match[2])
            except VersionError as error:
                raise VersionError(f"version constraint {text!r}: {error}") from None
            conditions.append(Condition(operator, version, components))
        return cls(tuple(conditions), text.strip())

    def allows(self, version: Version | str) -> bool:
        if isinstance(version, str):
            version = Version.parse(version)
        return all(condition.allows(version) for condition in self.conditions)

    def __str__(self) -> str:
        return self.text or ", ".join(map(str, self.conditions))


def satisfies(version: Version | str, constraint: Constraint | str) -> bool:
    """Does ``version`` meet every condition of ``constraint``?"""
    return Constraint.parse(constraint).allows(version)


def lowest_common_version(*constraints: Constraint | str) -> Version | None:
    """The lowest version that satisfies every constraint, or None when no version does."""
    conditions = [c for constraint in constraints for c in Constraint.parse(constraint).conditions]
    lower = Version(0, 0, 0)
    for condition in conditions:
        if condition.operator in ("=", ">=", "~>"):
            lower = max(lower, condition.version)
        elif condition.operator == ">":
            v = condition.version
            lower = max(lower, Version(v.major, v.minor, v.patch + 1))  # the next version after it
    # Every other condition is an upper bound or a finite set of excluded versions. The versions
    # lower, lower+1 patch, ... are the smallest candidates; with k exclusions one of the first k+1
    # is allowed unless an upper bound ends the run first, so k+1 candidates decide the question.
    excluded = sum(c.operator == "!=" for c in conditions)
    for step in range(excluded + 1):
        candidate = Version(lower.major, lower.minor, lower.patch + step)
        if all(condition.allows(candidate) for condition in conditions):
            return candidate
    return None


def compatible(*constraints: Constraint | str) -> bool:
    """Is there a version that satisfies every one of ``constraints``?"""
    return lowest_common_version(*constraints) is not None


def describe(constraints: Iterable[Constraint | str]) -> str:
    """The constraints joined for an error message: ``'~> 5.0' and '>= 6.28, < 7'``."""
    return " and ".join(repr(str(Constraint.parse(c))) for c in constraints)
