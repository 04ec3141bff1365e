#!/usr/bin/env python3
"""Write every generated table of the documentation from the code: run this after changing a model.

Two kinds of table, each between a pair of marker comments in a Markdown file (README.md or
docs/**/*.md):

* ``<!-- generated:config (python scripts/generate_config_table.py) -->``: every field of
  ``PipelineConfig`` (nested models flattened: ``security.tracing``, ``subscribers[].batch_size``,
  ``backend.bucket``) with its default, the rule its type and constraints enforce, and its
  description (the field's docstring). It lives in docs/configuration.md.
* ``<!-- generated:props <Name> (python scripts/generate_config_table.py) -->``: one row per field
  of the props dataclass ``<Name>`` (``dataclasses.fields``): field, type, default and
  ``metadata["description"]``. Each lives on its construct's page under docs/constructs/.

Each table ends at ``<!-- /generated -->``. The props classes are found in ``constructs_lib.__all__``
(every public name ending in ``Props``), plus the few documented classes the package does not
export (``UNEXPORTED``); ``PAGES`` says on which page each one belongs. A public props class
without a page, or a page without its table's markers, is an error naming what to add.

Usage: python scripts/generate_config_table.py [--check]
       (--check writes nothing: it lists the stale files and exits 1)
tests/test_config_table.py runs the check.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import re
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

COMMAND = "python scripts/generate_config_table.py"
#: The files that may hold generated tables: the README and every page under docs/.
DOCS = ROOT / "docs"
#: ``<!-- generated:<kind>[ <name>] (...) -->`` ... ``<!-- /generated -->``.
MARKER = re.compile(r"<!-- generated:(?P<kind>config|props)(?: (?P<name>\w+))? \([^)]*\) -->\n"
                    r"(?P<body>.*?)<!-- /generated -->", re.S)
START = "<!-- generated:{what} (" + COMMAND + ") -->"

#: The page of each documented props class (relative to the repository). A class listed here that
#: the code does not define (yet) is skipped; a public one missing here is an error.
PAGES = {
    "EventPipelineProps": "docs/constructs/event-pipeline.md",
    "SubscriberProps": "docs/constructs/subscriber.md",
    "TableProps": "docs/constructs/table.md",
    "TopicProps": "docs/constructs/topic.md",
    "QueueProps": "docs/constructs/queue.md",
    "SubscribedQueueProps": "docs/constructs/queue.md",
    "PythonFunctionProps": "docs/constructs/python-function.md",
    "TriggerProps": "docs/constructs/event-source-trigger.md",
    "KeyProps": "docs/constructs/messaging-key.md",
    "FailureBucketProps": "docs/constructs/failure-bucket.md",
    "DeliveryStatusLoggingProps": "docs/constructs/delivery-status-logging.md",
    "AlarmsProps": "docs/constructs/alarms-dashboard.md",
    "DashboardProps": "docs/constructs/alarms-dashboard.md",
}
#: Documented props classes that ``constructs_lib`` does not export: name -> its module.
UNEXPORTED = {"KeyProps": "constructs_lib.security", "DashboardProps": "constructs_lib.observability"}


class DocsError(Exception):
    """A marker or a mapping that does not fit the code (the message says what to change)."""


# --- the configuration table -----------------------------------------------------------------

def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _text(text: str) -> str:
    """A description as a table cell: ``<name>`` would be read as an HTML tag, so it is escaped."""
    return _cell(text).replace("<", "&lt;").replace(">", "&gt;")


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
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], BaseModel):
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
            rows.append(f"| `{path}{'[]' if is_list else ''}` | {_default(field)} | | {_text(field.description or '')} |")
            nested.append((sub, f"{path}{'[]' if is_list else ''}."))
            continue
        rows.append(f"| `{path}` | {_cell(_default(field))} | {_cell(_rule(field))} | {_text(field.description or '')} |")
    for sub, sub_prefix in nested:
        rows += config_rows(sub, sub_prefix)
    return rows


def config_table() -> str:
    return "\n".join(["| field | default | rule | description |", "|---|---|---|---|", *config_rows()])


# --- the props tables ------------------------------------------------------------------------

def props_classes() -> dict[str, type]:
    """Every documented props class by name: the public ``*Props`` names and ``UNEXPORTED``."""
    from main import use_supported_node

    use_supported_node()  # the construct modules start jsii: on the node the project installs
    import constructs_lib

    names = [n for n in constructs_lib.__all__ if n.endswith("Props")]
    classes = {name: getattr(constructs_lib, name) for name in names}
    for name, module in UNEXPORTED.items():
        classes.setdefault(name, getattr(importlib.import_module(module), name))
    unmapped = sorted(set(classes) - set(PAGES))
    if unmapped:
        raise DocsError(f"{', '.join(unmapped)}: no documentation page; add it to PAGES in "
                        f"scripts/generate_config_table.py and put its markers on that page")
    return classes


def _type(field: dataclasses.Field) -> str:
    # With ``from __future__ import annotations`` the type is the text written in the code.
    text = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", repr(field.type))
    return re.sub(r"\btyping\.", "", text)


def _props_default(field: dataclasses.Field) -> str:
    if field.default is not dataclasses.MISSING:
        value = field.default
    elif field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
    else:
        return "(required)"
    if value is None:
        return "none"
    if isinstance(value, tuple):
        value = list(value)
    if dataclasses.is_dataclass(value) or not isinstance(value, (str, int, float, bool, list, dict)):
        return f"`{type(value).__name__}()`" if dataclasses.is_dataclass(value) else _cell(repr(value))
    return _code(value)


def _pydantic_type(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) if isinstance(annotation, type) else None
    return text or str(annotation).replace("typing.", "").replace("pathlib.", "").replace(
        "pipeline_model.config.schema.", "")


def props_table(cls: type) -> str:
    rows = ["| field | type | default | description |", "|---|---|---|---|"]
    if isinstance(cls, type) and issubclass(cls, BaseModel):  # props that are pydantic models
        for name, info in cls.model_fields.items():
            default = _default(info).replace("see below", f"`{type(info.default).__name__}()`")
            rows.append(f"| `{name}` | `{_cell(_pydantic_type(info.annotation))}` | {_cell(default)} | "
                        f"{_text(info.description or '')} |")
        return "\n".join(rows)
    for field in dataclasses.fields(cls):
        rows.append(f"| `{field.name}` | `{_cell(_type(field))}` | {_cell(_props_default(field))} | "
                    f"{_text(field.metadata.get('description', ''))} |")
    return "\n".join(rows)


# --- the files -------------------------------------------------------------------------------

def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def render(text: str, classes: dict[str, type] | None = None, where: str = "") -> str:
    """``text`` with every generated table between its markers written afresh."""

    def table(match: re.Match[str]) -> str:
        kind, name = match["kind"], match["name"]
        if kind == "config":
            body, what = config_table(), "config"
        else:
            known = classes if classes is not None else props_classes()
            if name not in known:
                raise DocsError(f"{where}: the marker names props {name!r}, which the code does not define "
                                f"(known: {', '.join(sorted(known))})")
            body, what = props_table(known[name]), f"props {name}"
        return f"{START.format(what=what)}\n{body}\n<!-- /generated -->"

    return MARKER.sub(table, text)


def missing_markers(texts: dict[str, str], classes: dict[str, type]) -> list[str]:
    """Pages of ``PAGES`` that lack the table of a props class the code defines, and a missing config table."""
    problems = []
    for name in sorted(classes):
        page = PAGES[name]
        text = texts.get(page)
        if text is None:
            problems.append(f"{page}: missing (the page of {name})")
        elif f"<!-- generated:props {name} (" not in text:
            problems.append(f"{page}: no table of {name}; add the line {START.format(what='props ' + name)} "
                            f"followed by <!-- /generated -->")
    if not any("<!-- generated:config (" in text for text in texts.values()):
        problems.append("docs/configuration.md: no configuration table (<!-- generated:config ... -->)")
    return problems


def stale(write: bool) -> tuple[list[str], list[str]]:
    """(the files whose tables differ from the code, the mapping problems); writes them when asked."""
    classes = props_classes()
    texts = {path.relative_to(ROOT).as_posix(): path.read_text() for path in documents()}
    changed = []
    for rel, text in texts.items():
        wanted = render(text, classes, rel)
        if wanted != text:
            changed.append(rel)
            if write:
                (ROOT / rel).write_text(wanted)
    return changed, missing_markers(texts, classes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a table is stale")
    args = parser.parse_args(argv)
    try:
        changed, problems = stale(write=not args.check)
    except DocsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if args.check and changed:
        print(f"error: generated tables differ from the code in {', '.join(changed)}; regenerate them with: {COMMAND}",
              file=sys.stderr)
        return 1
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
