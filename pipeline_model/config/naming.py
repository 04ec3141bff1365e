"""Names and identifiers: the rules AWS enforces for names, ARNs and regions, checked on the
computed names (pipeline_model.names), uniqueness within an environment and collisions across
environments. Each problem names the user's field the name comes from."""

from __future__ import annotations

import re
from pathlib import Path
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, Problem
from ..names import default_subscriber_names

__all__ = ["NamedResource", "check_code", "check_no_collisions", "default_subscriber_names", "name_problems",
           "named_resources"]

if TYPE_CHECKING:
    from .schema import PipelineConfig


# --- naming rules AWS enforces (documented service quotas) --------------------------------
_NAME_RULES: dict[str, tuple[re.Pattern[str], int, str]] = {
    "dynamodb table": (re.compile(r"^[A-Za-z0-9_.-]{3,255}$"), 255, "3-255 characters of A-Z a-z 0-9 _ . -"),
    # A FIFO topic's or queue's name ends in ".fifo", within the same limit (pipeline_model/ordering.py).
    "sns topic": (
        re.compile(r"^(?:[A-Za-z0-9_-]{1,256}|[A-Za-z0-9_-]{1,251}\.fifo)$"), 256,
        "1-256 characters of A-Z a-z 0-9 _ - (a FIFO topic: ending in '.fifo')",
    ),
    # The sqs module names the dead-letter queue "<name>-dlq" ("<stem>-dlq.fifo"), so 4 characters are reserved.
    "sqs queue": (
        re.compile(r"^(?:[A-Za-z0-9_-]{1,76}|[A-Za-z0-9_-]{1,71}\.fifo)$"), 76,
        "1-76 characters of A-Z a-z 0-9 _ - (80 minus the '-dlq' suffix; a FIFO queue: ending in '.fifo')",
    ),
    "lambda function": (re.compile(r"^[A-Za-z0-9_-]{1,64}$"), 64, "1-64 characters of A-Z a-z 0-9 _ -"),
}

# Commercial, China and GovCloud regions (the partitions this project's ARNs and URLs know).
_REGION = re.compile(
    r"^(us|eu|ap|sa|ca|me|af|il|mx|cn)(-gov)?-"
    r"(north|south|east|west|central|northeast|southeast|northwest|southwest)-[1-9]$"
)
# Tag keys and values: letters, digits, spaces and _ . : / = + - @ (AWS tagging rules). A plain
# space only: \s would also let tabs, newlines and other control characters through.
_TAG_TEXT = re.compile(r"^[\w .:/=+\-@]*$")
_FUNCTION_DIR = re.compile(r"^[a-z][a-z0-9_]*$")
# The last folder of a code path names the function's zip in the synthesized JSON.
_CODE_FOLDER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")


def check_code(code: str | Path) -> str | Path:
    """A function's code: the bare name of a handler shipped with the package (producer,
    consumer), given as a string, or a folder path (a string with a separator, or any Path),
    absolute or relative to the folder of the app's entry file (pipeline_model.packaging.entry_dir)."""
    value = str(code)
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(f"{value!r}: no control characters")
    if isinstance(code, str) and "/" not in value and "\\" not in value:
        if not _FUNCTION_DIR.fullmatch(value):
            raise ValueError(
                f"{value!r} must be a handler shipped with the package (lower case, digits, _) or a folder "
                "path such as './handlers/mine'"
            )
        return value
    folder = re.split(r"[\\/]", value.rstrip("/\\"))[-1]
    if not _CODE_FOLDER.fullmatch(folder):
        raise ValueError(f"{value!r}: the folder's name {folder!r} must be 1-100 characters of A-Z a-z 0-9 _ . - "
                         "(it names the function's package)")
    return code
_STACK = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,62}$")

# ARNs a configuration may name: role ARNs (security.key_users), layer version ARNs (powertools_layer).
_PARTITION = r"(aws|aws-cn|aws-us-gov)"
_ROLE_ARN = re.compile(rf"^arn:{_PARTITION}:iam::[0-9]{{12}}:role/([A-Za-z0-9_+=,.@-]+/)*[A-Za-z0-9_+=,.@-]{{1,64}}$")
_LAYER_ARN = re.compile(
    rf"^arn:{_PARTITION}:lambda:(?P<region>[a-z0-9-]+):[0-9]{{12}}:layer:[A-Za-z0-9_-]{{1,140}}:[1-9][0-9]{{0,8}}$"
)


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# --- the names a configuration creates, each traced to the field it comes from --------------------

@dataclass(frozen=True)
class NamedResource:
    """One AWS name of a configuration: the user's field it comes from, the computed name, the
    service's name rules it follows (a key of the AWS name rules, or "" for names without one of
    their own), the service (names must differ within one), and what it is, for messages."""

    field: str
    name: str
    rules: str
    service: str
    what: str


def named_resources(config: PipelineConfig) -> list[NamedResource]:
    """Every AWS name ``config`` creates (from ``config.names``), with the field each comes from."""
    names = config.names
    resources = [
        NamedResource("table_name", names.table, "dynamodb table", "dynamodb table", "the table"),
        NamedResource("topic_name", names.topic, "sns topic", "sns topic", "the topic"),
        NamedResource("producer_function_name", names.producer_function, "lambda function", "lambda function",
                      "the producer function"),
        NamedResource("stream_failure_queue_name", names.stream_failure_queue, "sqs queue", "sqs queue",
                      "the stream failure queue"),
        NamedResource("alarm_topic_name", names.alarm_topic, "sns topic", "sns topic", "the alarm topic"),
        NamedResource("stack_name", names.key_alias, "", "kms alias", "the KMS alias"),
        NamedResource("stack_name", names.dashboard, "", "cloudwatch dashboard", "the dashboard"),
    ]
    for index, sub in enumerate(names.subscribers):
        where = f"subscribers.{index}."
        resources += [
            NamedResource(f"{where}queue_name", sub.queue, "sqs queue", "sqs queue", f"subscriber {sub.name}'s queue"),
            NamedResource(f"{where}queue_name", sub.dlq, "", "sqs queue", f"subscriber {sub.name}'s dead-letter queue"),
            NamedResource(f"{where}queue_name", sub.delivery_dlq, "", "sqs queue",
                          f"subscriber {sub.name}'s delivery dead-letter queue"),
            NamedResource(f"{where}function_name", sub.function, "lambda function", "lambda function",
                          f"subscriber {sub.name}'s function"),
            NamedResource(f"{where}function_name", sub.idempotency_table, "", "dynamodb table",
                          f"subscriber {sub.name}'s idempotency table"),
        ]
    return resources


def _given(config: PipelineConfig, field: str) -> bool:
    """Whether the user wrote ``field`` (a dotted path) rather than leaving the default name."""
    node: Any = config
    for part in field.split("."):
        node = node[int(part)] if part.isdigit() else getattr(node, part)
    return node is not None


def name_problems(config: PipelineConfig) -> list[Problem]:
    """The computed names follow AWS's rules and differ within each service; each problem names the
    field the name comes from."""
    names = config.names
    problems: list[Problem] = []
    suffix = f" (with name_suffix {config.name_suffix!r})" if config.name_suffix else ""
    if not _STACK.fullmatch(names.stack):
        problems.append(Problem("stack_name", f"{names.stack!r}{suffix} is not a valid stack name",
                                "start with a letter, then letters, digits or -, at most 63"))
    resources = named_resources(config)
    for resource in resources:
        if resource.rules:
            pattern, _limit, rule = _NAME_RULES[resource.rules]
            if not pattern.fullmatch(resource.name):
                problems.append(Problem(resource.field, f"{resource.name!r}{suffix} is not a valid "
                                                        f"{resource.rules} name: use {rule}"))
    repeated = _duplicates("subscribers.{}.name", [sub.name for sub in config.subscribers])
    problems += repeated
    # A subscriber repeating another's name repeats its default names too: its name is the problem.
    skip = tuple(problem.field.removesuffix("name") for problem in repeated)
    first: dict[tuple[str, str], NamedResource] = {}
    for resource in resources:
        if skip and resource.field.startswith(skip):
            continue
        key = (resource.service, resource.name)
        other = first.setdefault(key, resource)
        if other is resource:
            continue
        # Blame the field the user wrote (a default name is not the user's choice).
        field = other.field if _given(config, other.field) and not _given(config, resource.field) else resource.field
        problems.append(Problem(field, f"{resource.name!r} is used twice, by {other.what} and {resource.what}; "
                                       f"each {resource.service} name must be unique"))
    return problems


def _duplicates(field: str, values: list[str]) -> list[Problem]:
    seen: set[str] = set()
    problems = []
    for index, value in enumerate(values):
        if value in seen:
            problems.append(Problem(field.format(index), f"{value!r} is used twice; each must be unique"))
        seen.add(value)
    return problems


def check_no_collisions(configs: list[PipelineConfig], where: list[str] | None = None) -> None:
    """Stack names, AWS names within one region, and IAM names anywhere must differ across
    environments. ``where[i]`` prefixes the fields of ``configs[i]`` in messages (default
    ``environments.<environment>.``). Raises one ConfigError with every collision."""
    prefixes = where if where is not None else [f"environments.{c.environment}." for c in configs]
    problems: list[Problem] = []
    stacks: dict[str, str] = {}
    owners: dict[tuple[str, str, str], str] = {}
    for config, prefix in zip(configs, prefixes):
        env = config.environment
        stack = config.names.stack
        if stack in stacks:
            problems.append(Problem(f"{prefix}stack_name",
                                    f"environments {stacks[stack]!r} and {env!r} both use stack_name {stack!r}",
                                    "give one a name_suffix or another stack_name"))
        stacks.setdefault(stack, env)
        seen_here: set[tuple[str, str, str]] = set()
        for resource in named_resources(config):
            keys = [((config.region, resource.service, resource.name),
                     f"both create {resource.name!r} in {config.region}", "give one a name_suffix or other names")]
            if resource.service == "lambda function":
                # The lambda module names each function's role after the function (and its inline
                # policies after the role); IAM names are account-wide, in every region.
                keys.append((("iam", "role", resource.name),
                             f"both create the IAM 'role {resource.name}'; IAM names are account-wide, in every "
                             "region", "give one a name_suffix or other function names"))
            for key, rule, hint in keys:
                if key in owners and owners[key] != env and key not in seen_here:
                    problems.append(Problem(f"{prefix}{resource.field}",
                                            f"environments {owners[key]!r} and {env!r} {rule}", hint))
                    seen_here.add(key)
                owners.setdefault(key, env)
    if problems:
        raise ConfigError(problems)
