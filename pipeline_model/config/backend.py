"""Remote state in S3: where each stack's state lives, and that no two stacks of one app share it.

Two stacks whose S3 backend names the same bucket and key read and write ONE state: applying one
plans to destroy everything the other created. The key therefore defaults to the stack's own name
(``<stack_name>/terraform.tfstate``), so environments (whose stack names differ by their name_suffix)
differ by default, and any two stacks of one app with the same (bucket, key) are refused.

The workspace key prefix is part of a state's address too (a non-default workspace's state lives at
``<workspace_key_prefix>/<workspace>/<key>``); this project never sets it, so every stack has
Terraform's default ``env:`` and (bucket, key) decides. A key cannot reach into that space either:
``:`` is not among the characters allowed below.

Key rules:

* Terraform's S3 backend refuses an empty key, one that starts or ends with ``/`` and one holding
  ``//`` (Terraform "Backend Type: s3", ``key``);
* Amazon S3 accepts any UTF-8 text up to 1,024 bytes, but its object key naming guidelines
  (Amazon S3 User Guide, "Naming Amazon S3 objects": safe characters, characters that might require
  special handling, characters to avoid) call only ``0-9 a-z A-Z ! - _ . * ' ( )`` safe, with ``/``
  as the prefix delimiter. Everything else (spaces, ``& $ @ = ; : + , ?``, control characters,
  ``\\ { } ^ % ` [ ] " < > ~ # |``, non-ASCII) needs URL encoding or breaks tools, so it is refused;
  so are ``.`` and ``..`` segments, which tools and consoles treat as relative paths.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..errors import ConfigError, Problem

if TYPE_CHECKING:
    from .schema import PipelineConfig

#: The state file's name under the stack's prefix.
STATE_FILE = "terraform.tfstate"
#: S3's safe characters and the "/" delimiter (see the module's docstring).
_KEY_TEXT = re.compile(r"^[A-Za-z0-9!_.*'()/-]{1,1024}$")


def default_key(stack_name: str) -> str:
    """The state key of a stack whose backend names none: its own prefix."""
    return f"{stack_name}/{STATE_FILE}"


def check_key(value: str) -> str:
    """A backend key, or ValueError naming the rule it breaks (the field is ``backend.key``)."""
    if not _KEY_TEXT.fullmatch(value):
        raise ValueError(
            f"{value!r}: use 1-1024 of the characters S3 calls safe, A-Z a-z 0-9 ! - _ . * ' ( ), and / "
            "between parts (e.g. 'my-app/prod/terraform.tfstate')"
        )
    if value.startswith("/") or value.endswith("/") or "//" in value:
        raise ValueError(f"{value!r}: Terraform refuses a key that starts or ends with '/' or holds '//'")
    if any(part in (".", "..") for part in value.split("/")):
        raise ValueError(f"{value!r}: no '.' or '..' parts (tools read them as relative paths)")
    return value


def check_backends(configs: Iterable[PipelineConfig]) -> None:
    """ConfigError when two stacks of one app would keep their state in the same S3 object."""
    seen: dict[tuple[str, str], str] = {}
    for config in configs:
        backend = config.backend
        if backend is None:
            continue
        stack = config.names.stack
        key = state_key(config)
        address = (backend.bucket, key)
        if address in seen and seen[address] != stack:
            raise ConfigError(Problem(
                f"environments.{config.environment}.backend.key",
                f"stacks {seen[address]!r} and {stack!r} both keep their state in "
                f"s3://{backend.bucket}/{key}: applying one would destroy the other's resources",
                f"give each its own key, or leave key unset (default '<stack_name>/{STATE_FILE}')",
            ))
        seen[address] = stack


def state_key(config: PipelineConfig) -> str:
    """The S3 key of a configuration's state: its backend's key, else ``<stack name>/terraform.tfstate``."""
    assert config.backend is not None
    return config.backend.key or default_key(config.names.stack)
