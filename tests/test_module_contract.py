"""Every argument passed to a module is one of its inputs; every module.X.Y reference exists.

The modules read nested keys through try(), so a misspelt *top-level* argument is the one
mistake Terraform itself reports only at plan time, with registry access. This test catches
it offline against the interface of the pinned releases (tests/module_contract.json).
"""

from __future__ import annotations

import json
import re
from pathlib import Path


_FACTS = json.loads((Path(__file__).parent / "module_contract.json").read_text())
CONTRACT = _FACTS["modules"]
STATEMENT_KEYS = _FACTS["statement_keys"]
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


def _statement_problems(module_id: str, block: dict) -> list[str]:
    """Nested statement keys the module would silently ignore (e.g. 'condition' for the sqs module)."""
    facts = STATEMENT_KEYS.get(block["source"])
    if facts is None:
        return []
    problems = []
    for argument in facts["inputs"]:
        for name, statement in (block.get(argument) or {}).items():
            where = f"module.{module_id}.{argument}.{name}"
            for key in set(statement) - set(facts["keys"]):
                problems.append(f"{where}: {key!r} is not read by {block['source']}")
            conditions = statement.get("conditions", statement.get("condition", []))
            for condition in conditions:
                if set(condition) != set(STATEMENT_KEYS["condition_keys"]):
                    problems.append(f"{where}: condition keys {sorted(condition)}")
            for principal in statement.get("principals", []):
                if set(principal) != set(STATEMENT_KEYS["principal_keys"]):
                    problems.append(f"{where}: principal keys {sorted(principal)}")
    return problems


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
        problems += _statement_problems(module_id, block)
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


def test_contract_check_catches_misspelt_statement_keys(tf):
    doc = json.loads(json.dumps(tf))
    statement = doc["module"]["queue_main"]["queue_policy_statements"]["sns"]
    statement["condition"] = statement.pop("conditions")  # the lambda module's spelling, wrong here
    doc["module"]["producer"]["policy_statements"]["publish"]["conditions"] = []
    problems = check_contract(doc)
    assert "module.queue_main.queue_policy_statements.sns: 'condition' is not read by terraform-aws-modules/sqs/aws" in problems
    assert "module.producer.policy_statements.publish: 'conditions' is not read by terraform-aws-modules/lambda/aws" in problems


def test_fan_out_stacks_honour_module_contract(synth_config):
    from constructs_lib.app import load_environments

    example = Path(__file__).resolve().parent.parent / "examples" / "fanout.toml"
    for doc in synth_config(load_environments(str(example), "")).documents.values():
        assert check_contract(doc) == []


def test_references_exist_in_every_resource(tf):
    referenced = {m for text in _strings(tf.get("resource", {})) for m, _ in REFERENCE.findall(text)}
    assert referenced >= {"table", "topic", "queue_main", "producer", "consumer_main", "stream_failures"}
    assert referenced <= set(tf["module"])


def _module_sources():
    import pytest

    from scripts.generate_module_contract import default_modules_dir

    folder = default_modules_dir()
    if not folder.is_dir():
        pytest.skip(f"pinned module sources not found at {folder} (set PIPELINE_TERRAFORM_OFFLINE_DIR)")
    return folder


def test_contract_file_is_generated_from_the_pinned_module_sources():
    from scripts.generate_module_contract import OUTPUT, build, render

    assert OUTPUT.read_text() == render(build(_module_sources()))


def test_generator_reads_keys_from_the_module_code(tmp_path):
    """A release that reads other statement keys changes the generated contract."""
    import shutil

    from scripts.generate_module_contract import build

    source = _module_sources()
    for folder in source.iterdir():
        shutil.copytree(folder, tmp_path / folder.name)
    sqs = next(tmp_path.glob("sqs-*")) / "main.tf"
    sqs.write_text(sqs.read_text().replace("statement.value.conditions", "statement.value.condition"))
    facts = build(tmp_path)["statement_keys"]["terraform-aws-modules/sqs/aws"]["keys"]
    assert "condition" in facts and "conditions" not in facts
