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

from ..errors import ConfigError
from .filter_policy import MAX_DEPTH
from .naming import check_no_collisions
from .backend import check_backends
from .text import quote_path
from .schema import AlarmsConfig, PipelineConfig, S3BackendConfig, SecurityConfig, StreamConfig, SubscriberConfig


# --- construction with readable errors ------------------------------------------------------

_PLAIN_PART = re.compile(r"^[A-Za-z0-9_$-]{1,64}$")


def path_part(part: Any) -> str:
    """One step of a field path in a message: plain names as they are, anything else quoted
    (a key with a newline or an escape sequence must not break or colour the error line)."""
    text = str(part)
    return text if _PLAIN_PART.fullmatch(text) else repr(text)


def _describe(error: ValidationError, prefix: str = "") -> str:
    lines = []
    for item in error.errors():
        where = ".".join(path_part(part) for part in item["loc"]) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        head, _, rest = message.partition(": ")
        if rest and not item["loc"]:  # a model-wide rule that names its own field
            where, message = head, rest
        elif rest and head in _FIELD_NAMES:  # a cross-field rule about one field of a nested model
            where, message = f"{where}.{head}", rest
        if item["type"] == "extra_forbidden":
            message = "unknown field (check the spelling; see README 'Configuration')"
        lines.append(f"  {prefix}{where}: {message}")
    return "invalid pipeline configuration:\n" + "\n".join(lines)


_FIELD_NAMES = {
    name
    for model in (PipelineConfig, SubscriberConfig, StreamConfig, SecurityConfig, AlarmsConfig, S3BackendConfig)
    for name in model.model_fields
}


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
            raise ConfigError(f"invalid pipeline configuration:\n  {name}: nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, _Duplicates):
            raise ConfigError(
                f"invalid pipeline configuration:\n  {name}: key {value.repeated[0]!r} appears twice "
                "(a repeated key would silently replace the first value)"
            )
        if isinstance(value, dict):
            stack.extend((v, f"{path}.{path_part(k)}" if path else path_part(k), depth + 1) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{path}.{i}" if path else str(i), depth + 1) for i, v in enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**MAX_INT_DIGITS:
            raise ConfigError(
                f"invalid pipeline configuration:\n  {name}: a number longer than {MAX_INT_DIGITS} digits; "
                "no setting takes one that large"
            )
        elif isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"invalid pipeline configuration:\n  {name}: {value} is not a finite number")


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse a .toml or .json configuration file into a dict (ConfigError on any problem)."""
    file = Path(path)
    name = quote_path(file)
    if file.is_dir():
        raise ConfigError(f"configuration file {name}: is a directory; name a .toml or .json file")
    if not file.is_file():
        raise ConfigError(f"configuration file {name} does not exist")
    if file.suffix not in (".toml", ".json"):
        raise ConfigError(f"configuration file {name}: use a .toml or .json file")
    try:
        raw = file.read_bytes()
    except OSError as error:
        raise ConfigError(f"configuration file {name}: cannot be read ({error.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"configuration file {name}: is not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start})"
        ) from None
    kind = file.suffix[1:].upper()
    previous_digits = sys.get_int_max_str_digits()
    try:
        sys.set_int_max_str_digits(_PARSE_INT_DIGITS)
        if kind == "TOML":
            data = tomllib.loads(text)
        else:
            data = json.loads(text, object_pairs_hook=_json_object, parse_constant=_no_constant)
    except RecursionError:
        raise ConfigError(f"configuration file {name}: nested deeper than {MAX_DEPTH} levels") from None
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"configuration file {name} is not valid {kind}: {error}") from None
    except ValueError as error:  # a number too long even to read, NaN/Infinity in JSON
        detail = "a number is too long to read" if "digits" in str(error) else str(error)
        raise ConfigError(f"configuration file {name} is not valid {kind}: {detail}") from None
    finally:
        sys.set_int_max_str_digits(previous_digits)
    if not isinstance(data, dict):
        raise ConfigError(f"configuration file {name}: the top level must be a table/object")
    check_plain_data(data)
    return data


def environments_from_dict(data: dict[str, Any]) -> list[PipelineConfig]:
    """One config per environment.

    A file either holds one environment's fields at the top level, or an ``environments``
    table (one entry per environment) plus optional ``defaults`` shared by all. In the second
    form each environment's ``environment`` defaults to its key and its ``name_suffix`` to
    ``-<key>``, so environments never collide unless a file insists.
    """
    if "environments" not in data:
        unknown = set(data) - set(PipelineConfig.model_fields)
        if "defaults" in data and not unknown - {"defaults"}:
            raise ConfigError("invalid pipeline configuration:\n  defaults: only allowed together with 'environments'")
        return [build_config(data)]
    extra = set(data) - {"environments", "defaults"}
    if extra:
        raise ConfigError(
            "invalid pipeline configuration:\n  "
            + ", ".join(sorted(extra))
            + ": unknown top-level field next to 'environments' (put shared values under 'defaults')"
        )
    envs = data["environments"]
    if not isinstance(envs, dict) or not envs:
        raise ConfigError("invalid pipeline configuration:\n  environments: must map at least one name to its settings")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise ConfigError("invalid pipeline configuration:\n  defaults: must be a table/object of settings")
    configs = []
    for name, settings in envs.items():
        if not _PLAIN_PART.fullmatch(name) or name.startswith("$"):
            raise ConfigError(
                f"invalid pipeline configuration:\n  environments: {name!r} is not an environment name "
                "(1-64 characters of A-Z a-z 0-9 _ -)"
            )
        if not isinstance(settings, dict) and settings is not None:
            raise ConfigError(
                f"invalid pipeline configuration:\n  environments.{name}: must be a table/object of settings"
            )
        merged = _merge(defaults, settings or {})
        merged.setdefault("environment", name)
        merged.setdefault("name_suffix", f"-{name}")
        try:
            configs.append(PipelineConfig(**merged))
        except ValidationError as error:
            raise ConfigError(_describe(error, prefix=f"environments.{name}.")) from None
    check_no_collisions(configs)
    check_backends(configs)
    return configs


def build_config(data: dict[str, Any] | None = None, /, **overrides: Any) -> PipelineConfig:
    """Build a validated :class:`PipelineConfig`, raising :class:`ConfigError` on bad input."""
    values = {**(data or {}), **overrides}
    try:
        return PipelineConfig(**values)
    except ValidationError as error:
        raise ConfigError(_describe(error)) from None
