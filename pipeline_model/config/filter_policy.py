"""SNS subscription filter policies: the rules and limits Amazon SNS applies, checked before synth."""

from __future__ import annotations

import json
import math
from typing import Any

from .text import quote_part


#: Deepest nesting a configuration may use (a filter policy inside an environment needs ~10).
MAX_DEPTH = 32

# SNS subscription filter policy limits (Amazon SNS quotas).
FILTER_POLICY_MAX_KEYS = 5
FILTER_POLICY_MAX_COMBINATIONS = 150
FILTER_POLICY_MAX_BYTES = 256 * 1024
_FILTER_OPERATORS = {"prefix", "suffix", "anything-but", "numeric", "exists", "equals-ignore-case", "cidr"}


_NUMERIC_OPERATORS = {"=", "<", "<=", ">", ">="}
#: SNS numeric matching covers -1e9..1e9 (Amazon SNS message filtering).
NUMERIC_LIMIT = 1_000_000_000


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_operator(where: str, item: dict[str, Any]) -> None:
    """One ``{operator: operand}`` object of a filter policy, checked as SNS checks it."""
    if len(item) != 1 or set(item) - _FILTER_OPERATORS:
        raise ValueError(
            f"{where}: {json.dumps(item)} is not a filter operator (one of {', '.join(sorted(_FILTER_OPERATORS))})"
        )
    (operator, operand), = item.items()
    bad = f"{where}: {json.dumps(item)}:"
    if operator in ("prefix", "suffix"):
        if not (isinstance(operand, str) and operand) and not (
            isinstance(operand, dict) and set(operand) == {"equals-ignore-case"} and isinstance(operand["equals-ignore-case"], str)
        ):
            raise ValueError(f"{bad} {operator} takes a non-empty string")
    elif operator in ("equals-ignore-case", "cidr"):
        if not isinstance(operand, str) or not operand:
            raise ValueError(f"{bad} {operator} takes a non-empty string")
    elif operator == "exists":
        if not isinstance(operand, bool):
            raise ValueError(f"{bad} exists takes true or false")
    elif operator == "numeric":
        pairs = operand if isinstance(operand, list) else []
        if (
            len(pairs) not in (2, 4)
            or not all(op in _NUMERIC_OPERATORS for op in pairs[0::2])
            or not all(_is_number(n) for n in pairs[1::2])
        ):
            raise ValueError(f"{bad} numeric takes [operator, number] or two such pairs (operators = < <= > >=)")
        for number in pairs[1::2]:
            if not -NUMERIC_LIMIT <= number <= NUMERIC_LIMIT:  # also false for NaN
                raise ValueError(f"{bad} SNS matches numbers from -1e9 to 1e9 only")
        if len(pairs) == 4:
            (low_op, low, high_op, high) = pairs
            if low_op not in (">", ">=") or high_op not in ("<", "<="):
                raise ValueError(
                    f"{bad} a numeric range is [\">\" or \">=\", lower, \"<\" or \"<=\", upper] in that order"
                )
            if not low < high:
                raise ValueError(f"{bad} the range is empty: its lower bound must be less than its upper bound")
    elif operator == "anything-but":
        values = operand if isinstance(operand, list) else [operand]
        if isinstance(operand, dict):
            if set(operand) not in ({"prefix"}, {"suffix"}) or not isinstance(next(iter(operand.values())), str):
                raise ValueError(f"{bad} anything-but takes values or {{\"prefix\"|\"suffix\": string}}")
        elif not values or not all(isinstance(v, str) or _is_number(v) for v in values):
            raise ValueError(f"{bad} anything-but takes a string, a number or a list of them")


def check_filter_policy(policy: Any, scope: str) -> dict[str, Any]:
    """Validate an SNS filter policy the way SNS does at subscription time; return it as a dict."""
    if isinstance(policy, str):
        policy = _parse(policy)
    if not isinstance(policy, dict) or not policy:
        raise ValueError("must be a non-empty JSON object mapping attribute names to lists of values")
    if _deeper_than(policy, MAX_DEPTH):
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    size = len(json.dumps(policy).encode())
    if size > FILTER_POLICY_MAX_BYTES:
        raise ValueError(f"is {size} bytes; SNS allows at most {FILTER_POLICY_MAX_BYTES}")
    leaves: list[tuple[str, list[Any]]] = []
    or_branches = 0

    def walk(node: dict[str, Any], path: str) -> None:
        nonlocal or_branches
        if not node:
            raise ValueError(f"{path.rstrip('.') or 'policy'}: empty object")
        for key, value in node.items():
            where = f"{path}{quote_part(key)}"
            if key == "$or":
                if not isinstance(value, list) or len(value) < 2 or not all(isinstance(v, dict) for v in value):
                    raise ValueError(f"{where}: must be a list of at least two filter objects")
                or_branches += len(value) - 1
                for index, branch in enumerate(value):
                    walk(branch, f"{where}[{index}].")
            elif isinstance(value, dict):
                if scope != "MessageBody":
                    raise ValueError(
                        f"{where}: nested objects are only allowed with filter_policy_scope = 'MessageBody'"
                    )
                walk(value, where + ".")
            elif isinstance(value, list) and value:
                for item in value:
                    if isinstance(item, dict):
                        _check_operator(where, item)
                    elif isinstance(item, float) and not math.isfinite(item):
                        raise ValueError(f"{where}: {item} is not a number SNS accepts")
                    elif not isinstance(item, (str, int, float, bool)) and item is not None:
                        raise ValueError(f"{where}: values must be strings, numbers, booleans, null or operators")
                leaves.append((where, value))
            else:
                raise ValueError(f"{where}: must be a non-empty list of values (SNS matches against a list)")

    walk(policy, "")
    if len(leaves) > FILTER_POLICY_MAX_KEYS:
        raise ValueError(f"uses {len(leaves)} attribute keys; SNS allows at most {FILTER_POLICY_MAX_KEYS}")
    combinations = 1
    for _, values in leaves:
        combinations *= len(values)
    combinations += or_branches  # each extra $or branch is matched on its own
    if combinations > FILTER_POLICY_MAX_COMBINATIONS:
        raise ValueError(
            f"has {combinations} combinations of values; SNS allows at most {FILTER_POLICY_MAX_COMBINATIONS}"
        )
    return policy


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise ValueError(f"key {key!r} appears twice in one object (JSON would silently keep only the last)")
        seen.add(key)
    return dict(pairs)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number SNS accepts (a filter policy holds strings, numbers, true, false, null)")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e999 parses to inf
        raise ValueError(f"{text} is out of range for a number")
    return number


def _parse(text: str) -> Any:
    """A filter policy given as JSON text: refuse what ``json.loads`` would accept silently (a repeated
    key, NaN/Infinity, a number too large to be finite) and nesting too deep to parse."""
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant, parse_float=_finite)
    except json.JSONDecodeError as error:
        raise ValueError(f"is not valid JSON: {error}") from None
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as error:
        raise ValueError(str(error)) from None


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether lists/dicts nest deeper than ``limit`` (iterative: depth cannot exhaust the stack)."""
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return False
