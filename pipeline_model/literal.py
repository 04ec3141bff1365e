"""Configuration text made literal for Terraform (no cdktf or jsii: safe to import anywhere)."""

from __future__ import annotations

from typing import Any


def terraform_literal(value: Any) -> Any:
    """``value`` with every string (dict keys too) escaped so that Terraform reads it literally.

    Terraform evaluates every string of a ``.tf.json`` as a template: ``${...}`` interpolates
    (``${file("secrets.txt")}`` would become that file's contents) and ``%{...}`` is a
    directive. ``$${`` and ``%%{`` are its escapes for the literal text, so escaping keeps the
    data exactly (``tests/test_injection.py`` checks the round trip with terraform itself).
    Configuration text that reaches the JSON goes through here unless its field's pattern
    already excludes ``$``, ``%`` and ``{``.
    """
    if isinstance(value, str):
        return value.replace("${", "$${").replace("%{", "%%{")
    if isinstance(value, dict):
        return {terraform_literal(k): terraform_literal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [terraform_literal(v) for v in value]
    return value
