"""The `aws_iam_policy_document` data source: its configuration rendered as an IAM policy JSON.

The shape follows the provider's documentation: one entry per `statement` block (`Sid`,
`Effect` (default Allow), `Action`/`NotAction`, `Resource`/`NotResource`,
`Principal`/`NotPrincipal`, `Condition`), a single value written as a string and several as a
list; `source_policy_documents` come first, this document's statements replace source
statements with the same `Sid`, and `override_policy_documents` replace statements by `Sid`
or are appended.
"""

from __future__ import annotations

import json
from typing import Any


def _one_or_many(values: list[str]) -> str | list[str]:
    values = sorted(values)
    return values[0] if len(values) == 1 else values


def _principals(blocks: list[dict[str, Any]]) -> str | dict[str, Any]:
    if len(blocks) == 1 and blocks[0]["type"] == "*" and list(blocks[0]["identifiers"]) == ["*"]:
        return "*"
    merged: dict[str, list[str]] = {}
    for block in blocks:
        merged.setdefault(block["type"], []).extend(block["identifiers"])
    return {kind: _one_or_many(ids) for kind, ids in merged.items()}


def _statement(block: dict[str, Any]) -> dict[str, Any]:
    statement: dict[str, Any] = {}
    if block.get("sid"):
        statement["Sid"] = block["sid"]
    statement["Effect"] = block.get("effect") or "Allow"
    for key, name in (("actions", "Action"), ("not_actions", "NotAction"),
                      ("resources", "Resource"), ("not_resources", "NotResource")):
        if block.get(key):
            statement[name] = _one_or_many(block[key])
    for key, name in (("principals", "Principal"), ("not_principals", "NotPrincipal")):
        if block.get(key):
            statement[name] = _principals(block[key])
    if block.get("condition"):
        conditions: dict[str, dict[str, Any]] = {}
        for condition in block["condition"]:
            values = list(condition["values"])
            conditions.setdefault(condition["test"], {})[condition["variable"]] = (
                values[0] if len(values) == 1 else values
            )
        statement["Condition"] = conditions
    return statement


def _merge(statements: list[dict[str, Any]], replacements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    result = list(statements)
    for statement in replacements:
        sid = statement.get("Sid")
        same = [i for i, s in enumerate(result) if sid and s.get("Sid") == sid]
        if same:
            result[same[0]] = statement
        else:
            result.append(statement)
    return result


def _statements_of(documents: list[str | None]) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for text in documents:
        if text:
            found = json.loads(text).get("Statement", [])
            statements += found if isinstance(found, list) else [found]
    return statements


def render_policy_document(config: dict[str, Any]) -> dict[str, Any]:
    sources = _statements_of([config.get("source_json"), *(config.get("source_policy_documents") or [])])
    own = [_statement(block) for block in config.get("statement") or []]
    overrides = _statements_of([config.get("override_json"), *(config.get("override_policy_documents") or [])])
    document: dict[str, Any] = {"Version": config.get("version") or "2012-10-17"}
    if config.get("policy_id"):
        document["Id"] = config["policy_id"]
    document["Statement"] = _merge(_merge(sources, own), overrides)
    return document
