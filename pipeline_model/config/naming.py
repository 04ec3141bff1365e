"""Names and identifiers: the rules AWS enforces for names, ARNs and regions, default names,
uniqueness within an environment and collisions across environments."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..errors import ConfigError

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
    # The sqs module names the dead-letter queue "<name>-dlq", so 4 characters are reserved.
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


def check_code(value: str) -> str:
    """A function's code: the bare name of a handler shipped with the package (producer,
    consumer) or a folder path, absolute or relative to the app's working directory."""
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(f"{value!r}: no control characters")
    if "/" not in value and "\\" not in value:
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
    return value
_STACK = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,62}$")

# ARNs a configuration may name: role ARNs (security.key_users), layer version ARNs (powertools_layer).
_PARTITION = r"(aws|aws-cn|aws-us-gov)"
_ROLE_ARN = re.compile(rf"^arn:{_PARTITION}:iam::[0-9]{{12}}:role/([A-Za-z0-9_+=,.@-]+/)*[A-Za-z0-9_+=,.@-]{{1,64}}$")
_LAYER_ARN = re.compile(
    rf"^arn:{_PARTITION}:lambda:(?P<region>[a-z0-9-]+):[0-9]{{12}}:layer:[A-Za-z0-9_-]{{1,140}}:[1-9][0-9]{{0,8}}$"
)


def _check_name(kind: str, value: str) -> str:
    pattern, _limit, rule = _NAME_RULES[kind]
    if not pattern.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid {kind} name: use {rule}")
    return value


def default_subscriber_names(name: str) -> tuple[str, str]:
    """(queue name, function name) of a subscriber that does not name them itself."""
    if name == "main":  # the original design's single subscriber
        return "data-processing-queue", "sqs-message-consumer"
    stem = str(name).replace("_", "-")
    return f"{stem}-queue", f"{stem}-consumer"


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _unique_or_raise(field: str, values: list[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{field}: {value!r} is used twice; each must be unique")
        seen.add(value)


def check_no_collisions(configs: list[PipelineConfig]) -> None:
    """Stack names, AWS names within one region, and IAM names anywhere must differ across
    environments."""
    stacks: dict[str, str] = {}
    names: dict[tuple[str, str], str] = {}
    for config in configs:
        if config.stack_name in stacks:
            raise ConfigError(
                f"invalid pipeline configuration:\n  environments {stacks[config.stack_name]!r} and "
                f"{config.environment!r} both use stack_name {config.stack_name!r}"
            )
        stacks[config.stack_name] = config.environment
        for name in config.aws_names():
            key = (config.region, name)
            if key in names and names[key] != config.environment:
                raise ConfigError(
                    f"invalid pipeline configuration:\n  environments {names[key]!r} and {config.environment!r} "
                    f"both create {name!r} in {config.region}: give one a name_suffix or other names"
                )
            names[key] = config.environment
        for name in config.iam_names():
            key = ("iam", name)
            if key in names and names[key] != config.environment:
                raise ConfigError(
                    f"invalid pipeline configuration:\n  environments {names[key]!r} and {config.environment!r} "
                    f"both create the IAM {name!r}; IAM names are account-wide, in every region: give one "
                    "a name_suffix or other function names"
                )
            names[key] = config.environment
