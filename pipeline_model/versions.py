"""Terraform version constraints (``>= 5.98``, ``~> 5.0``, ``6.25.0``, ``!= 6.1``, comma-joined):
parse them and tell whether any version satisfies several at once."""

from __future__ import annotations

import re
from collections.abc import Iterable

Version = tuple[int, int, int]
_TERM = re.compile(r"^\s*(=|!=|>=|<=|>|<|~>)?\s*v?(\d+(?:\.\d+){0,2})(?:-[0-9A-Za-z.-]+)?\s*$")
_INFINITY: Version = (10**9, 0, 0)


class ConstraintError(ValueError):
    """A text that is not a Terraform version constraint."""


def _version(text: str) -> tuple[Version, int]:
    parts = [int(p) for p in text.split(".")]
    return (tuple(parts + [0] * (3 - len(parts))), len(parts))  # type: ignore[return-value]


def bounds(constraint: str) -> tuple[tuple[Version, bool], tuple[Version, bool], set[Version]]:
    """(lowest, inclusive), (highest, inclusive) and the excluded versions of ``constraint``."""
    low: tuple[Version, bool] = ((0, 0, 0), True)
    high: tuple[Version, bool] = (_INFINITY, False)
    excluded: set[Version] = set()
    for term in constraint.split(","):
        match = _TERM.fullmatch(term)
        if not match:
            raise ConstraintError(f"{constraint!r} is not a version constraint (e.g. '>= 5.98', '~> 5.0')")
        op, (version, given) = match[1] or "=", _version(match[2])
        lows, highs = [], []
        if op == "=":
            lows, highs = [(version, True)], [(version, True)]
        elif op == "!=":
            excluded.add(version)
        elif op in (">=", ">"):
            lows = [(version, op == ">=")]
        elif op in ("<=", "<"):
            highs = [(version, op == "<=")]
        else:  # ~>: the rightmost given part may grow
            bump = list(version[: max(given - 1, 1)])
            bump[-1] += 1
            lows, highs = [(version, True)], [(tuple(bump + [0] * (3 - len(bump))), False)]  # type: ignore[list-item]
        for candidate in lows:
            if candidate[0] > low[0] or (candidate[0] == low[0] and not candidate[1]):
                low = candidate
        for candidate in highs:
            if candidate[0] < high[0] or (candidate[0] == high[0] and not candidate[1]):
                high = candidate
    return low, high, excluded


def satisfiable(constraints: Iterable[str]) -> bool:
    """Whether some version satisfies every constraint (pre-releases aside)."""
    low: tuple[Version, bool] = ((0, 0, 0), True)
    high: tuple[Version, bool] = (_INFINITY, False)
    excluded: set[Version] = set()
    for constraint in constraints:
        (lo, hi, ex) = bounds(constraint)
        if lo[0] > low[0] or (lo[0] == low[0] and not lo[1]):
            low = lo
        if hi[0] < high[0] or (hi[0] == high[0] and not hi[1]):
            high = hi
        excluded |= ex
    if low[0] < high[0]:
        return True  # an open range holds more versions than a finite set of exclusions
    return low[0] == high[0] and low[1] and high[1] and low[0] not in excluded
