"""Every argument passed to a module is one of its inputs; every module.X.Y reference exists.

The modules read nested keys through try(), so a misspelt *top-level* argument is the one
mistake Terraform itself reports only at plan time, with registry access. This test catches
it offline against the interface of the pinned releases (tests/module_contract.json).
"""

from __future__ import annotations

import json
import re
from pathlib import Path


CONTRACT = json.loads((Path(__file__).parent / "module_contract.json").read_text())["modules"]
META_ARGUMENTS = {"source", "version", "depends_on", "providers", "count", "for_each", "//"}
REFERENCE = re.compile(r"module\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_]+)")


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def check_contract(doc: dict) -> list[str]:
    problems = []
    modules = doc.get("module", {})
    for module_id, block in modules.items():
        interface = CONTRACT.get(block["source"])
        if interface is None:
            problems.append(f"module.{module_id}: source {block['source']} is not one of the pinned modules")
            continue
        if block["version"] != interface["constraint"]:
            problems.append(f"module.{module_id}: version {block['version']} != {interface['constraint']}")
        for argument in set(block) - META_ARGUMENTS:
            if argument not in interface["variables"]:
                problems.append(f"module.{module_id}: {argument!r} is not an input of {block['source']}")
    for text in _strings(doc):
        for module_id, output in REFERENCE.findall(text):
            if module_id not in modules:
                problems.append(f"reference to missing module.{module_id}")
            elif output not in CONTRACT[modules[module_id]["source"]]["outputs"]:
                problems.append(f"module.{module_id}.{output} is not an output of {modules[module_id]['source']}")
    return problems


def test_default_stack_honours_module_contract(tf):
    assert check_contract(tf) == []


def test_contract_check_catches_misspelt_argument_and_output(tf):
    doc = json.loads(json.dumps(tf))
    doc["module"]["queue_main"]["create_queue_polcy"] = True
    doc["output"]["bad"] = {"value": "${module.topic.topic_arnn}"}
    doc["output"]["gone"] = {"value": "${module.nothing.topic_arn}"}
    problems = check_contract(doc)
    assert "module.queue_main: 'create_queue_polcy' is not an input of terraform-aws-modules/sqs/aws" in problems
    assert "module.topic.topic_arnn is not an output of terraform-aws-modules/sns/aws" in problems
    assert "reference to missing module.nothing" in problems


def test_references_exist_in_every_resource(tf):
    referenced = {m for text in _strings(tf.get("resource", {})) for m, _ in REFERENCE.findall(text)}
    assert referenced >= {"table", "topic", "queue_main", "producer", "consumer_main", "stream_failures"}
    assert referenced <= set(tf["module"])
