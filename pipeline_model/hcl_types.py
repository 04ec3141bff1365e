"""Read the ``type`` of each ``variable`` block in Terraform files, and check values against it.

Only what a module's ``variables.tf`` needs: the type constraint language of Terraform
(``string``, ``number``, ``bool``, ``any``, ``list(T)``, ``set(T)``, ``map(T)``, ``tuple([T, ...])``,
``object({name = T, ...})`` and ``optional(T[, default])`` inside an object). Types are returned in
the shape Terraform itself prints them in JSON: a primitive is its name, a collection is
``["list", T]`` (``set``, ``map``), a tuple ``["tuple", [T, ...]]`` and an object
``["object", {name: T}, [optional names]]``.

``undeclared_keys(value, type)`` answers the question Terraform does not: converting a value to an
object type drops every attribute the type does not declare, without an error or a warning. A
statement written with ``conditions`` for a module typed ``condition = optional(...)`` loses its
conditions that way, so the caller must refuse such keys at every depth.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

__all__ = ["HclTypeError", "parse_type", "undeclared_keys", "variable_types"]

PRIMITIVES = {"string", "number", "bool", "any"}
COLLECTIONS = {"list", "set", "map"}

_TOKEN = re.compile(
    r"""
    (?P<space>[ \t\r\n]+)
  | (?P<comment>\#[^\n]*|//[^\n]*|/\*.*?\*/)
  | (?P<heredoc><<-?(?P<tag>[A-Za-z_][A-Za-z0-9_]*)\n.*?\n[ \t]*(?P=tag)(?=\s|$))
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<number>[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_-]*)
  | (?P<punct>[(){}\[\],=:.?!<>+\-*/%&|])
    """,
    re.VERBOSE | re.DOTALL,
)
_OPEN = {"(": ")", "{": "}", "[": "]"}


class HclTypeError(ValueError):
    """A type expression that cannot be read; the message names the variable and the text."""


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            raise HclTypeError(f"cannot read the Terraform text at {text[position:position + 30]!r}")
        kind = match.lastgroup if match.lastgroup != "tag" else "heredoc"
        if kind not in ("space", "comment"):
            tokens.append((kind, match.group()))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], position: int = 0, where: str = "type") -> None:
        self.tokens, self.position, self.where = tokens, position, where

    def peek(self) -> str:
        return self.tokens[self.position][1] if self.position < len(self.tokens) else ""

    def take(self, expected: str | None = None) -> str:
        if self.position >= len(self.tokens):
            raise HclTypeError(f"{self.where}: the type expression ends early")
        value = self.tokens[self.position][1]
        if expected is not None and value != expected:
            raise HclTypeError(f"{self.where}: expected {expected!r}, found {value!r}")
        self.position += 1
        return value

    def skip_expression(self) -> None:
        """Skip a default value inside optional(...): up to the ',' or ')' at this depth."""
        depth = 0
        while True:
            value = self.peek()
            if not value:
                raise HclTypeError(f"{self.where}: unbalanced brackets in a default value")
            if depth == 0 and value in (",", ")"):
                return
            if value in _OPEN:
                depth += 1
            elif value in _OPEN.values():
                depth -= 1
            self.take()

    def type(self, in_object: bool = False) -> tuple[Any, bool]:
        """A type; the flag says whether it was wrapped in optional(...)."""
        name = self.take()
        if name in PRIMITIVES:
            return name, False
        if name == "optional":
            if not in_object:
                raise HclTypeError(f"{self.where}: optional(...) is only allowed for an object's attribute")
            self.take("(")
            inner, _ = self.type()
            if self.peek() == ",":
                self.take()
                self.skip_expression()
            self.take(")")
            return inner, True
        if name in COLLECTIONS:
            self.take("(")
            inner, _ = self.type()
            self.take(")")
            return [name, inner], False
        if name == "tuple":
            self.take("(")
            self.take("[")
            elements = []
            while self.peek() != "]":
                elements.append(self.type()[0])
                if self.peek() == ",":
                    self.take()
            self.take("]")
            self.take(")")
            return ["tuple", elements], False
        if name == "object":
            self.take("(")
            self.take("{")
            attributes: dict[str, Any] = {}
            optional: list[str] = []
            while self.peek() != "}":
                attribute = self.take()
                if attribute.startswith('"'):
                    attribute = attribute[1:-1]
                if self.peek() not in ("=", ":"):
                    raise HclTypeError(f"{self.where}: expected '=' after object attribute {attribute!r}")
                self.take()
                attributes[attribute], is_optional = self.type(in_object=True)
                if is_optional:
                    optional.append(attribute)
                if self.peek() == ",":
                    self.take()
            self.take("}")
            self.take(")")
            return ["object", attributes, sorted(optional)], False
        raise HclTypeError(f"{self.where}: {name!r} is not a Terraform type")


def parse_type(text: str, where: str = "type") -> Any:
    """The type expression ``text`` (``map(object({a = optional(string)}))``) in Terraform's JSON shape."""
    parser = _Parser(_tokens(text), where=where)
    found, _ = parser.type()
    if parser.peek():
        raise HclTypeError(f"{where}: unexpected {parser.peek()!r} after the type")
    return found


def _variable_blocks(tokens: list[tuple[str, str]]) -> Iterator[tuple[str, int, int]]:
    """(name, first token of the body, end) of each top-level ``variable "name" { ... }``."""
    depth, index = 0, 0
    while index < len(tokens):
        kind, value = tokens[index]
        if depth == 0 and value == "variable" and index + 2 < len(tokens) and tokens[index + 2][1] == "{":
            name = tokens[index + 1][1].strip('"')
            start = index + 3
            inner, end = 1, start
            while inner:
                if end >= len(tokens):
                    raise HclTypeError(f'variable "{name}": its block is not closed')
                inner += {"{": 1, "(": 1, "[": 1, "}": -1, ")": -1, "]": -1}.get(tokens[end][1], 0)
                end += 1
            yield name, start, end - 1
            index = end
            continue
        depth += {"{": 1, "(": 1, "[": 1, "}": -1, ")": -1, "]": -1}.get(value, 0)
        index += 1


def variable_types(text: str) -> dict[str, Any]:
    """The type of every ``variable`` block in ``text`` (``any`` when the block gives none)."""
    tokens = _tokens(text)
    types: dict[str, Any] = {}
    for name, start, end in _variable_blocks(tokens):
        types[name] = "any"
        depth = 0
        for index in range(start, end):
            value = tokens[index][1]
            if depth == 0 and value == "type" and tokens[index + 1][1] == "=":
                parser = _Parser(tokens[:end], index + 2, where=f'variable "{name}"')
                types[name], _ = parser.type()
                break
            depth += {"{": 1, "(": 1, "[": 1, "}": -1, ")": -1, "]": -1}.get(value, 0)
    return types


def module_variable_types(folder: Path) -> dict[str, Any]:
    """The variable types of every ``*.tf`` file of a module folder."""
    types: dict[str, Any] = {}
    for path in sorted(folder.glob("*.tf")):
        try:
            types.update(variable_types(path.read_text()))
        except HclTypeError as error:
            raise HclTypeError(f"{path.name}: {error}") from None
    return types


def undeclared_keys(value: Any, type_: Any, where: str) -> list[str]:
    """Where ``value`` holds an object attribute that ``type_`` does not declare (at any depth).

    Terraform would drop each silently. Values Terraform resolves later (``${...}`` strings) and
    ``any`` parts are not looked into."""
    if type_ == "any" or isinstance(type_, str) or value is None:
        return []
    kind = type_[0]
    problems: list[str] = []
    if kind == "object" and isinstance(value, dict):
        attributes = type_[1]
        for key, item in value.items():
            if key not in attributes:
                problems.append(f"{where}: {key!r} is not an attribute of the module's type "
                                f"(declared: {', '.join(sorted(attributes))}); Terraform would drop it silently")
            else:
                problems += undeclared_keys(item, attributes[key], f"{where}.{key}")
    elif kind == "map" and isinstance(value, dict):
        for key, item in value.items():
            problems += undeclared_keys(item, type_[1], f"{where}.{key}")
    elif kind in ("list", "set") and isinstance(value, list):
        for number, item in enumerate(value):
            problems += undeclared_keys(item, type_[1], f"{where}[{number}]")
    elif kind == "tuple" and isinstance(value, list):
        for number, (item, element) in enumerate(zip(value, type_[1])):
            problems += undeclared_keys(item, element, f"{where}[{number}]")
    return problems
