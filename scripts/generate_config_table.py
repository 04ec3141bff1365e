#!/usr/bin/env python3
"""Write README.md's configuration and construct-props tables from the models.

The configuration table lists every field of ``PipelineConfig`` (nested models flattened:
``security.tracing``, ``subscribers[].batch_size``, ``backend.bucket``) with its default, the
rule its type and constraints enforce, and its description (the field's docstring). The props
table lists every field of the constructs' ``*Props`` dataclasses with its default and its
description (``metadata["description"]``). Each table is written between its markers in
README.md; tests/test_config_table.py fails when the README and the models disagree.

Usage: scripts/generate_config_table.py [--check]   (--check compares and exits 1 on a difference)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import types
import typing
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pydantic import BaseModel  # noqa: E402
from pydantic_core import PydanticUndefined  # noqa: E402

from pipeline_model.config import PipelineConfig  # noqa: E402

README = ROOT / "README.md"
CONFIG_MARKERS = ("<!-- config-table:start (scripts/generate_config_table.py) -->", "<!-- config-table:end -->")
PROPS_MARKERS = ("<!-- props-table:start (scripts/generate_config_table.py) -->", "<!-- props-table:end -->")
#: The construct props documented, by module.
PROPS = {
    "table": ["TableProps"],
    "messaging": ["TopicProps", "QueueProps", "SubscribedQueueProps"],
    "function": ["PythonFunctionProps"],
    "triggers": ["TriggerProps"],
    "security": ["KeyProps"],
    "observability": ["DashboardProps"],
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return f"`{text}`" if text != "" else '`""`'


def _model_of(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """(the nested model of a field, whether it is a list of them)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    if origin is list and args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
        return args[0], True
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                return arg, False
    return None, False


def _rule(field: Any) -> str:
    parts = []
    annotation = field.annotation
    if typing.get_origin(annotation) is typing.Literal:
        parts.append("one of " + ", ".join(_code(a) for a in typing.get_args(annotation)))
    bounds: dict[str, Any] = {}
    for item in field.metadata:
        for name in ("gt", "ge", "le", "min_length", "max_length", "pattern"):
            value = getattr(item, name, None)
            if value is not None:
                bounds[name] = value
    if "gt" in bounds:
        parts.append(f"> {bounds['gt']}" + (f" and <= {bounds['le']}" if "le" in bounds else ""))
    elif "ge" in bounds and "le" in bounds:
        parts.append(f"{bounds['ge']}-{bounds['le']}")
    elif "ge" in bounds:
        parts.append(f">= {bounds['ge']}")
    elif "le" in bounds:
        parts.append(f"<= {bounds['le']}")
    if "min_length" in bounds or "max_length" in bounds:
        unit = "characters" if annotation is str else "items"
        parts.append(f"{bounds.get('min_length', 0)}-{bounds.get('max_length', 'any')} {unit}")
    if "pattern" in bounds:
        parts.append(f"matches {_code(bounds['pattern'])}")
    return "; ".join(parts)


def _default(field: Any) -> str:
    if field.default is not PydanticUndefined:
        value = field.default
    elif field.default_factory is not None:
        value = field.default_factory()
    else:
        return "(required)"
    if isinstance(value, BaseModel):
        return "see below"
    if isinstance(value, list) and value and isinstance(value[0], BaseModel):
        return f"{len(value)}: " + ", ".join(_code(v.model_dump(include={'name'}).get("name", "")) for v in value)
    if value is None:
        return "none"
    return _code(value)


def config_rows(model: type[BaseModel] = PipelineConfig, prefix: str = "") -> list[str]:
    rows = []
    nested = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        sub, is_list = _model_of(field.annotation)
        if sub is not None:
            rows.append(f"| `{path}{'[]' if is_list else ''}` | {_default(field)} | | {_cell(field.description or '')} |")
            nested.append((sub, f"{path}{'[]' if is_list else ''}."))
            continue
        rows.append(f"| `{path}` | {_cell(_default(field))} | {_cell(_rule(field))} | {_cell(field.description or '')} |")
    for sub, sub_prefix in nested:
        rows += config_rows(sub, sub_prefix)
    return rows


def config_table() -> str:
    return "\n".join(["| field | default | rule | description |", "|---|---|---|---|", *config_rows()])


def _props_classes() -> list[type]:
    import importlib

    return [getattr(importlib.import_module(f"constructs_lib.{module}"), name)
            for module, names in PROPS.items() for name in names]


def _props_default(field: dataclasses.Field) -> str:
    if field.default is not dataclasses.MISSING:
        return "none" if field.default is None else _code(field.default if not isinstance(field.default, tuple)
                                                          else list(field.default))
    if field.default_factory is not dataclasses.MISSING:
        return _code(field.default_factory())
    return "(required)"


def props_table() -> str:
    rows = ["| props | field | default | description |", "|---|---|---|---|"]
    for cls in _props_classes():
        for field in dataclasses.fields(cls):
            rows.append(f"| `{cls.__name__}` | `{field.name}` | {_cell(_props_default(field))} | "
                        f"{_cell(field.metadata.get('description', ''))} |")
    return "\n".join(rows)


def replace_between(text: str, markers: tuple[str, str], body: str) -> str:
    start, end = markers
    head, found, rest = text.partition(start)
    if not found or end not in rest:
        raise SystemExit(f"README.md: markers {start!r} ... {end!r} not found")
    return f"{head}{start}\n{body}\n{end}{rest.split(end, 1)[1]}"


def render(readme: str) -> str:
    from constructs_lib.app import use_supported_node

    use_supported_node()
    readme = replace_between(readme, CONFIG_MARKERS, config_table())
    return replace_between(readme, PROPS_MARKERS, props_table())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 on a difference")
    args = parser.parse_args(argv)
    current = README.read_text()
    wanted = render(current)
    if args.check:
        if wanted != current:
            print("README.md: the configuration or props table differs from the models; "
                  "run scripts/generate_config_table.py", file=sys.stderr)
            return 1
        return 0
    if wanted != current:
        README.write_text(wanted)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
