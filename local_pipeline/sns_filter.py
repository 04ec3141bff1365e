"""SNS subscription filter policies, matched as Amazon SNS documents it, for the emulator.

moto 5.2.5's own matcher differs from SNS where this pipeline's routing depends on it, so the emulator
(:func:`local_pipeline.emulator.sns_filter_semantics`) and the local run's tally use this one:

* a string value in the policy matched a ``Number`` attribute by its text (SNS: strings match strings, numbers
  match numbers);
* ``{"exists": false}`` after another value in the same list never matched an absent attribute (moto returns at
  the first value that needs the attribute);
* a ``String`` attribute or a body string that happens to be JSON text (``'{"order": 1}'``) matched a policy value
  found inside it;
* ``$or`` in a MessageBody policy was read as message attributes (an error inside moto: nothing matched);
* ``true``/``false`` in a MessageBody policy matched the numbers 1/0 (and ``null`` matched nothing).

The rules (Amazon SNS Developer Guide, "Amazon SNS subscription filter policies" and the pages on string, numeric
and key matching): every key of the policy must match (``$or``: at least one branch); a key matches when at least
one of its values matches one of the message's values for it (a ``String.Array``/``Number.Array`` attribute or a
body array has several). Strings match strings (``prefix``, ``suffix``, ``equals-ignore-case``, ``anything-but``
of strings); numbers match ``Number`` attributes and body numbers, with five decimal digits of accuracy
(``numeric`` ranges too); ``exists: true`` needs a present, non-null value, ``exists: false`` an absent one (and, for
attributes, at least one attribute on the message); ``anything-but`` needs the key present with a value not
listed. In a MessageBody policy a nested object matches the body's object under that key (any element, for an
array of objects).
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["matches"]

_ABSENT: Any = object()
#: SNS compares numbers with five digits of accuracy after the decimal point.
_ACCURACY = Decimal("0.00001")


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number.quantize(_ACCURACY) if number.is_finite() and abs(number) <= 10**9 else None


def _attribute_values(attribute: Any) -> list[Any]:
    """The values of one message attribute ({"Type", "Value"}): strings as str, numbers as Decimal."""
    kind, value = attribute.get("Type", ""), attribute.get("Value")
    if kind.startswith("Binary"):
        return []
    if kind.endswith(".Array"):
        try:
            values = json.loads(value) if isinstance(value, str) else value
        except ValueError:
            return []
        values = values if isinstance(values, list) else [values]
    else:
        values = [value]
    if kind.startswith("Number"):
        return [n for n in map(_number, values) if n is not None]
    return [v if isinstance(v, str) else _Other(v) for v in values]


class _Other:
    """A non-string element of a String.Array (matched by nothing but exists/anything-but)."""

    def __init__(self, value: Any) -> None:
        self.value = value


def _body_values(value: Any) -> list[Any]:
    values = value if isinstance(value, list) else [value]
    out: list[Any] = []
    for v in values:
        if isinstance(v, bool) or v is None or isinstance(v, str):
            out.append(v)
        elif isinstance(v, (int, float, Decimal)):
            number = _number(v)
            out.append(number if number is not None else _Other(v))
        else:
            out.append(_Other(v))
    return out


def _same(rule: Any, value: Any) -> bool:
    """An exact policy value against one message value: strings with strings, numbers with numbers, true/false/null
    with themselves."""
    if isinstance(rule, str):
        return isinstance(value, str) and value == rule
    if isinstance(rule, bool) or rule is None:
        return value is rule
    if isinstance(rule, (int, float)):
        number = _number(rule)
        return isinstance(value, Decimal) and number is not None and value == number
    return False


def _numeric(conditions: list[Any], value: Any) -> bool:
    if not isinstance(value, Decimal):
        return False
    for operator, bound in zip(conditions[0::2], conditions[1::2]):
        limit = _number(bound)
        if limit is None:
            return False
        if not {"=": value == limit, "<": value < limit, "<=": value <= limit,
                ">": value > limit, ">=": value >= limit}.get(operator, False):
            return False
    return True


def _string_operator(operator: str, operand: Any, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    if isinstance(operand, dict) and set(operand) == {"equals-ignore-case"}:  # {"prefix": {"equals-ignore-case": x}}
        text, subject = operand["equals-ignore-case"].lower(), value.lower()
    elif isinstance(operand, str):
        text, subject = operand, value
    else:
        return False
    if operator == "prefix":
        return subject.startswith(text)
    if operator == "suffix":
        return subject.endswith(text)
    return value.lower() == operand.lower()  # equals-ignore-case


def _rule_matches(rule: Any, present: bool, values: list[Any]) -> bool:
    if not isinstance(rule, dict):
        return present and any(_same(rule, v) for v in values)
    ((operator, operand),) = rule.items()
    if operator == "exists":
        has_value = present and any(v is not None for v in values)
        return has_value if operand else not present
    if not present:
        return False
    if operator in ("prefix", "suffix", "equals-ignore-case"):
        return any(_string_operator(operator, operand, v) for v in values)
    if operator == "numeric":
        return any(_numeric(operand, v) for v in values)
    if operator == "anything-but":
        if isinstance(operand, dict):
            ((kind, text),) = operand.items()
            return any(isinstance(v, str) and not _string_operator(kind, text, v) for v in values)
        listed = operand if isinstance(operand, list) else [operand]
        return any(not any(_same(item, v) for item in listed) for v in values)
    return False  # cidr and anything else: not used by this project's examples; never matched here


def _leaf(rules: list[Any], present: bool, values: list[Any]) -> bool:
    return any(_rule_matches(rule, present, values) for rule in rules)


def _attributes_match(policy: dict[str, Any], attributes: dict[str, Any]) -> bool:
    for key, rules in policy.items():
        if key == "$or":
            if not any(_attributes_match(branch, attributes) for branch in rules):
                return False
            continue
        present = key in attributes
        if not present and any(isinstance(r, dict) and r.get("exists") is False for r in rules) and not attributes:
            return False  # SNS: exists false needs at least one attribute on the message
        values = _attribute_values(attributes[key]) if present else []
        if not _leaf(rules, present, values):
            return False
    return True


def _body_match(policy: dict[str, Any], body: Any) -> bool:
    if isinstance(body, list):  # an array of objects: any element
        return any(_body_match(policy, element) for element in body if isinstance(element, dict))
    obj = body if isinstance(body, dict) else {}
    for key, rules in policy.items():
        if key == "$or":
            if not any(_body_match(branch, body) for branch in rules):
                return False
            continue
        value = obj.get(key, _ABSENT)
        if isinstance(rules, dict):
            if not _body_match(rules, value if isinstance(value, (dict, list)) else None):
                return False
            continue
        present = value is not _ABSENT
        if not _leaf(rules, present, _body_values(value) if present else []):
            return False
    return True


def matches(policy: dict[str, Any] | None, scope: str | None, attributes: dict[str, Any] | None, message: str) -> bool:
    """Whether a subscription with this filter policy receives the message. ``attributes``: the message attributes
    as SNS puts them in the envelope (``{"name": {"Type": ..., "Value": ...}}``); ``message``: the body text."""
    if not policy:
        return True
    if (scope or "MessageAttributes") == "MessageAttributes":
        return _attributes_match(policy, attributes or {})
    try:
        body = json.loads(message, parse_float=Decimal)
    except ValueError:
        return False
    return isinstance(body, dict) and _body_match(policy, body)
