"""Every example's routing, through the local pipeline: each subscriber receives exactly the changes it should (#20).

The examples (examples/*.toml, examples/two_pipelines_app.py) and every TOML block of docs/*.md that sets a
``filter_policy`` run on the emulator, whose SNS matches filter policies by SNS's documented semantics
(local_pipeline/sns_filter.py). What each subscriber should receive is computed here, from the workload's plan
and items, by a separate small evaluator of the operators the examples use, not by the emulator's matcher; for
the example files, hand-written expectations are checked as well.
"""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path

import pytest

from local_pipeline import Workload
from local_pipeline.workload import _item, item_kind
from pipeline_model.config import build_config, environments_from_dict, load_environments

ROOT = Path(__file__).resolve().parents[2]
WORKLOAD = Workload(items=12, modify_share=0.5, remove_share=0.35)
TOML_BLOCK = re.compile(r"```toml\n(?P<body>.*?)```", re.S)


# ---------------------------------------------------------------------------------------------- the examples


def docs_examples() -> list[tuple[str, str]]:
    """(id, TOML text) of every TOML block in docs/ that sets a filter policy."""
    found = []
    for page in sorted((ROOT / "docs").rglob("*.md")):
        for index, match in enumerate(TOML_BLOCK.finditer(page.read_text())):
            if "filter_policy" in match["body"]:
                found.append((f"{page.relative_to(ROOT)}#{index}", match["body"]))
    return found


def _two_pipelines_app():
    """The orders pipeline of examples/two_pipelines_app.py with its added subscriber, as a configuration (the
    audit handler folder of the app is stood in for by the shipped consumer)."""
    spec = importlib.util.spec_from_file_location("two_pipelines_app", ROOT / "examples" / "two_pipelines_app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    orders = module.ORDERS.model_dump(exclude_unset=True)  # EventPipelineProps: the fields the app set
    return build_config(**orders, region=module.REGION, subscribers=[{}, {**module.AUDIT, "code": "consumer"}])


def example_configs():
    configs = [pytest.param(load_environments(str(ROOT / "examples" / "fanout.toml"), "dev")[0], id="fanout.toml"),
               pytest.param(load_environments(str(ROOT / "examples" / "ordered.toml"), "")[0], id="ordered.toml"),
               pytest.param(_two_pipelines_app(), id="two_pipelines_app.py")]
    configs += [pytest.param(environments_from_dict(tomllib.loads(text))[0], id=name) for name, text in docs_examples()]
    return configs


# ---------------------------------------------------------------------------------------------- expectations


def _plain(image: dict) -> dict:
    """The workload's DynamoDB item as plain values (only S, N, BOOL occur)."""
    out = {}
    for name, value in image.items():
        ((tag, raw),) = value.items()
        out[name] = raw if tag in ("S", "BOOL") else float(raw)
    return out


def _change(event: str, key: str, version: int, poison: bool, lifted: list[str]) -> tuple[dict, dict]:
    """(attributes, body) the producer should send for one change, as plain values."""
    new = _plain(_item(key, version, poison)) if event != "REMOVE" else None
    old = None
    if event == "MODIFY":
        old = _plain(_item(key, 1, poison))
    elif event == "REMOVE":
        old = _plain(_item(key, version, poison))
    image = old if event == "REMOVE" else new
    attributes = {"eventName": event, "tableName": "t"}
    for name in lifted:
        if name in image:
            attributes[name] = "true" if image[name] is True else "false" if image[name] is False else image[name]
    body = {"eventName": event, "newImage": new, "oldImage": old, "keys": {"id": key}}
    return attributes, body


def _value_matches(rule, present: bool, value) -> bool:
    if isinstance(rule, str):
        return present and isinstance(value, str) and value == rule
    ((op, arg),) = rule.items()
    if op == "numeric":
        if not present or isinstance(value, (str, bool)) or value is None:
            return False
        checks = {">": value > arg[1], ">=": value >= arg[1], "<": value < arg[1], "<=": value <= arg[1]}
        first = checks[arg[0]]
        return first and (len(arg) == 2 or {"<": value < arg[3], "<=": value <= arg[3]}[arg[2]])
    if op == "anything-but":
        return present and value not in arg
    if op == "prefix":
        return present and isinstance(value, str) and value.startswith(arg)
    raise AssertionError(f"operator {op!r} is not covered by this test's evaluator: add it")


def _policy_matches(policy: dict, data: dict | None) -> bool:
    for key, rule in policy.items():
        if key == "$or":
            if not any(_policy_matches(branch, data) for branch in rule):
                return False
        elif isinstance(rule, dict):
            inner = (data or {}).get(key)
            if not isinstance(inner, dict) or not _policy_matches(rule, inner):
                return False
        else:
            present = data is not None and key in data
            if not any(_value_matches(r, present, data.get(key) if present else None) for r in rule):
                return False
    return True


def expected_for(config) -> dict[str, set]:
    """Per subscriber, the (key, eventName, version) changes it should receive."""
    plan = WORKLOAD.plan()  # a REMOVE carries the version it removed
    out = {}
    for sub in config.subscribers:
        wanted = set()
        for event, key, version, poison in plan:
            attributes, body = _change(event, key, version, poison, config.producer.message_attributes)
            data = attributes if sub.filter_policy_scope == "MessageAttributes" else body
            if not sub.filter_policy or _policy_matches(sub.filter_policy, data):
                wanted.add((key, event, version))
        out[sub.name] = wanted
    return out


#: Hand-written: what each example's filtered subscribers receive, by event and the item's kind.
HAND_WRITTEN = {
    "fanout.toml": {"analytics": lambda e, k, v: e == "INSERT", "notifications": lambda e, k, v: e == "REMOVE"},
    "ordered.toml": {"search_index": lambda e, k, v: e in ("INSERT", "MODIFY")},
    "two_pipelines_app.py": {"audit": lambda e, k, v: item_kind(k) == "order"},
}


# ---------------------------------------------------------------------------------------------- the runs


def test_the_docs_have_routing_examples_to_run():
    names = [name for name, _ in docs_examples()]
    assert sum(name.startswith("docs/fanout.md") for name in names) >= 2, names


def test_the_evaluator_here_is_not_vacuous():
    """Each example's filtered subscriber wants some changes and not all (else the run proves little)."""
    for param in example_configs():
        (config,) = param.values
        expected, everything = expected_for(config), len(WORKLOAD.plan())
        for sub in config.subscribers:
            if sub.filter_policy:
                assert 0 < len(expected[sub.name]) < everything, (param.id, sub.name)


@pytest.mark.parametrize("config", example_configs())
def test_each_subscriber_receives_exactly_what_it_should(config, run, request):
    pipeline, result = run(config, workload=WORKLOAD, timeout_s=90)
    # Routing only: loss and duplicates are the other e2e tests' subject (a loaded machine may redeliver).
    assert result.errors == [] and not result.timed_out and result.summary["lost"] == 0, result.summary
    ledger = pipeline.ledger
    expected = expected_for(config)
    example = request.node.callspec.id
    for sub in config.subscribers:
        tally = ledger.subs[sub.name]
        received = {ledger.stream[eid] for eid, done in tally.processed.items() if done}
        assert received == expected[sub.name], (sub.name, sorted(received ^ expected[sub.name]))
        rule = HAND_WRITTEN.get(example, {}).get(sub.name)
        if rule is not None:
            assert received == {c for c in expected_for(build_config())["main"] if rule(c[1], c[0], c[2])}, sub.name
