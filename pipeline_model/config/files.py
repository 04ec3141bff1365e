"""Building the configuration from data and files (TOML or JSON), with one readable line per
broken rule."""

from __future__ import annotations

import json
import math
import os
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import ConfigError, Problem, problem
from .filter_policy import MAX_DEPTH
from .naming import check_no_collisions
from .backend import check_backends
from .text import quote_path
from .schema import RULES_ERROR, PipelineConfig, SubscriberConfig


# --- construction with readable errors ------------------------------------------------------

_PLAIN_PART = re.compile(r"^[A-Za-z0-9_$-]{1,64}$")


def path_part(part: Any) -> str:
    """One step of a field path in a message: plain names as they are, anything else quoted
    (a key with a newline or an escape sequence must not break or colour the error line)."""
    text = str(part)
    return text if _PLAIN_PART.fullmatch(text) else repr(text)


def validation_problems(error: ValidationError, prefix: str = "") -> list[Problem]:
    """One Problem per broken rule: pydantic's field errors at their location, and the problems a
    model's rules carry (schema.RULES_ERROR) under the location of that model."""
    problems = []
    for item in error.errors():
        where = prefix + ".".join(path_part(part) for part in item["loc"])
        if item["type"] == RULES_ERROR:
            model = where if not where or where.endswith(".") else f"{where}."
            problems += [Problem(f"{model}{p.field}", p.rule, p.hint) for p in item["ctx"]["problems"]]
        elif item["type"] == "extra_forbidden":
            problems.append(Problem(where, "unknown field", "check the spelling; see README 'Configuration'"))
        else:
            problems.append(Problem(where or "(top level)", item["msg"].removeprefix("Value error, ")))
    return problems


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key not in ("tags", "filter_policy"):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


#: Longest integer a configuration may write (the largest limit here, 604800000, has 9 digits).
MAX_INT_DIGITS = 18
#: Python refuses int() of longer texts anyway; while parsing, allow a little more, so that a long
#: number is reported by its field rather than by the parser.
_PARSE_INT_DIGITS = 10_000


class _Duplicates(dict):
    """A JSON object that repeated a key (kept so the error can name where)."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        seen: set[str] = set()
        repeated: set[str] = set()
        for key, _ in pairs:
            (repeated if key in seen else seen).add(key)
        self.repeated = sorted(repeated)


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    return _Duplicates(pairs) if len(set(keys)) != len(keys) else dict(pairs)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def check_plain_data(data: Any, where: str = "") -> None:
    """Reject what no field can use and what would break later code: nesting deeper than
    :data:`MAX_DEPTH`, integers longer than :data:`MAX_INT_DIGITS`, non-finite floats, repeated
    JSON keys. Iterative, so depth itself cannot exhaust the stack. ConfigError names the field."""
    stack: list[tuple[Any, str, int]] = [(data, where, 0)]
    while stack:
        value, path, depth = stack.pop()
        name = path or "(top level)"
        if depth > MAX_DEPTH:
            raise problem(name, f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, _Duplicates):
            raise problem(name, f"key {value.repeated[0]!r} appears twice "
                                "(a repeated key would silently replace the first value)")
        if isinstance(value, dict):
            stack.extend((v, f"{path}.{path_part(k)}" if path else path_part(k), depth + 1) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{path}.{i}" if path else str(i), depth + 1) for i, v in enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**MAX_INT_DIGITS:
            raise problem(name, f"a number longer than {MAX_INT_DIGITS} digits", "no setting takes one that large")
        elif isinstance(value, float) and not math.isfinite(value):
            raise problem(name, f"{value} is not a finite number")


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse a .toml or .json configuration file into a dict (ConfigError on any problem)."""
    file = Path(path)
    where = f"configuration file {quote_path(file)}"
    if file.is_dir():
        raise problem(where, "is a directory", "name a .toml or .json file")
    if not file.is_file():
        raise problem(where, "does not exist")
    if file.suffix not in (".toml", ".json"):
        raise problem(where, "use a .toml or .json file")
    try:
        raw = file.read_bytes()
    except OSError as error:
        raise problem(where, f"cannot be read ({error.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise problem(where, f"is not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start})") from None
    kind = file.suffix[1:].upper()
    previous_digits = sys.get_int_max_str_digits()
    try:
        sys.set_int_max_str_digits(_PARSE_INT_DIGITS)
        if kind == "TOML":
            data = tomllib.loads(text)
        else:
            data = json.loads(text, object_pairs_hook=_json_object, parse_constant=_no_constant)
    except RecursionError:
        raise problem(where, f"nested deeper than {MAX_DEPTH} levels") from None
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
        raise problem(where, f"is not valid {kind}: {error}") from None
    except ValueError as error:  # a number too long even to read, NaN/Infinity in JSON
        detail = "a number is too long to read" if "digits" in str(error) else str(error)
        raise problem(where, f"is not valid {kind}: {detail}") from None
    finally:
        sys.set_int_max_str_digits(previous_digits)
    if not isinstance(data, dict):
        raise problem(where, "the top level must be a table/object")
    check_plain_data(data)
    return data


def environments_from_dict(data: dict[str, Any]) -> list[PipelineConfig]:
    """One config per environment.

    A file either holds one environment's fields at the top level, or an ``environments``
    table (one entry per environment) plus optional ``defaults`` shared by all. In the second
    form each environment's ``environment`` defaults to its key and its ``name_suffix`` to
    ``-<key>``, so environments never collide unless a file insists. Every problem of every
    environment is reported at once.
    """
    if "environments" not in data:
        unknown = set(data) - set(PipelineConfig.model_fields)
        if "defaults" in data and not unknown - {"defaults"}:
            raise problem("defaults", "only allowed together with 'environments'")
        return [build_config(data)]
    extra = set(data) - {"environments", "defaults"}
    if extra:
        raise ConfigError(Problem(path_part(name), "unknown top-level field next to 'environments'",
                                  "put shared values under 'defaults'") for name in sorted(extra))
    envs = data["environments"]
    if not isinstance(envs, dict) or not envs:
        raise problem("environments", "must map at least one name to its settings")
    shared = data.get("defaults") or {}
    if not isinstance(shared, dict):
        raise problem("defaults", "must be a table/object of settings")
    configs, prefixes, problems = [], [], []
    for name, settings in envs.items():
        prefix = f"environments.{path_part(name)}"
        if not _PLAIN_PART.fullmatch(name) or name.startswith("$"):
            problems.append(Problem("environments", f"{name!r} is not an environment name",
                                    "use 1-64 characters of A-Z a-z 0-9 _ -"))
            continue
        if not isinstance(settings, dict) and settings is not None:
            problems.append(Problem(prefix, "must be a table/object of settings"))
            continue
        merged = _merge(shared, settings or {})
        merged.setdefault("environment", name)
        merged.setdefault("name_suffix", f"-{name}")
        try:
            configs.append(PipelineConfig(**merged))
            prefixes.append(f"{prefix}.")
        except ValidationError as error:
            problems += validation_problems(error, prefix=f"{prefix}.")
    if problems:
        raise ConfigError(problems)
    check_no_collisions(configs, prefixes)
    check_backends(configs)
    return configs


def build_config(data: dict[str, Any] | None = None, /, **overrides: Any) -> PipelineConfig:
    """Build a validated :class:`PipelineConfig`, raising :class:`ConfigError` on bad input."""
    values = {**(data or {}), **overrides}
    try:
        return PipelineConfig(**values)
    except ValidationError as error:
        raise ConfigError(validation_problems(error)) from None


def with_subscriber(config: PipelineConfig, sub: SubscriberConfig | dict[str, Any]) -> PipelineConfig:
    """``config`` with one more subscriber, validated together (unique names, limits) like
    :func:`build_config`, raising :class:`ConfigError` naming ``subscribers.<n>.<field>``.

    The configuration holds raw input, so the new subscriber's unset names come out as if it had
    been in the data from the start: the pipeline's name_suffix and, under per-item ordering,
    '.fifo' apply to them.
    """
    raw = sub.model_dump(exclude_unset=True) if isinstance(sub, SubscriberConfig) else sub
    if not isinstance(raw, dict):
        raise problem(f"subscribers.{len(config.subscribers)}", "must be a SubscriberConfig or a table/object")
    data = config.model_dump(exclude_unset=True)
    data["subscribers"] = [*(s.model_dump(exclude_unset=True) for s in config.subscribers), raw]
    return build_config(data)


# --- the environments an app builds -------------------------------------------------------------

#: Environment variables read by ``main.py`` (and so by ``cdktf synth``) and by ``make local``.
CONFIG_ENV = "PIPELINE_CONFIG"
SELECT_ENV = "PIPELINE_ENVIRONMENTS"
#: Overrides every environment's ``stack_profile`` for one run (``make validate PROFILE=current``).
PROFILE_ENV = "PIPELINE_STACK_PROFILE"


def load_environments(path: str | None = None, select: str | None = None,
                      stack_profile: str | None = None) -> list[PipelineConfig]:
    """The environments to synthesize (or to run locally).

    ``path`` (default: $PIPELINE_CONFIG) names a .toml/.json file; without one the result is
    the original design. ``select`` (default: $PIPELINE_ENVIRONMENTS) is a comma-separated
    list of environment names to keep. ``stack_profile`` (default: $PIPELINE_STACK_PROFILE), when
    not empty, replaces every environment's ``stack_profile`` (validated like the field).
    """
    path = path if path is not None else os.environ.get(CONFIG_ENV, "")
    select = select if select is not None else os.environ.get(SELECT_ENV, "")
    stack_profile = stack_profile if stack_profile is not None else os.environ.get(PROFILE_ENV, "")
    configs = environments_from_dict(read_config_file(path)) if path else [build_config()]
    if select:
        wanted = [name.strip() for name in select.split(",") if name.strip()]
        known = {config.environment for config in configs}
        missing = [name for name in wanted if name not in known]
        if missing:
            raise problem(SELECT_ENV, f"no environment named {', '.join(map(repr, missing))}",
                          f"configured: {', '.join(sorted(known))}")
        configs = [config for config in configs if config.environment in wanted]
    if stack_profile.strip():
        configs = [_with_profile(config, stack_profile.strip()) for config in configs]
    return configs


def _with_profile(config: PipelineConfig, name: str) -> PipelineConfig:
    """``config`` with ``stack_profile`` = ``name`` (the raw input re-validated: a bad name is a
    ConfigError naming the variable)."""
    try:
        return build_config(config.model_dump(exclude_unset=True), stack_profile=name)
    except ConfigError as error:
        raise ConfigError([Problem(PROFILE_ENV, p.rule, p.hint) if p.field == "stack_profile" else p
                           for p in error.problems]) from None
