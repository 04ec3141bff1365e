"""Errors are data: every error the library raises on purpose is a :class:`PipelineError`, and a
:class:`ConfigError` carries its problems as :class:`Problem` records (field, rule, hint), which
callers format or inspect; nothing parses an error's text back."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

#: The heading of a ConfigError's text.
CONFIG_HEADING = "invalid pipeline configuration"


class PipelineError(Exception):
    """Base of every error this library raises on purpose (configuration, props, packaging,
    logical ids, the CDK runtime). Catch this one to handle them all."""


@dataclass(frozen=True)
class Problem:
    """One broken rule: the field (a dotted path such as ``subscribers.0.batch_size``), the rule it
    broke, and optionally how to fix it."""

    field: str
    rule: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.field}: {self.rule}" if self.field else self.rule
        return f"{text}; {self.hint}" if self.hint else text


class ConfigError(PipelineError, ValueError):
    """An invalid pipeline configuration: one or more :class:`Problem` records.

    ``ConfigError("text")`` is one problem without a field (kept for callers of earlier releases;
    the text is taken as it is, never parsed).
    """

    def __init__(self, problems: Problem | Iterable[Problem] | str) -> None:
        if isinstance(problems, str):
            problems = [Problem("", problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__(self.__str__())

    def lines(self) -> list[str]:
        """``<field>: <rule>[; <hint>]``, one line per problem."""
        return [str(problem) for problem in self.problems]

    def __str__(self) -> str:
        return f"{CONFIG_HEADING}:\n" + "\n".join(f"  {line}" for line in self.lines())


def problem(field: str, rule: str, hint: str = "") -> ConfigError:
    """A ConfigError of one problem (``raise problem("stream.batch_size", "must be ...")``)."""
    return ConfigError(Problem(field, rule, hint))
