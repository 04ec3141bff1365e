"""Every argument passed to a module is one of its inputs, of its type; every module.X.Y reference exists.

Checked offline, per stack profile, against the interface of the releases each profile's constraints
select (tests/module_contract.json, generated from the module sources with their variable types).
An object-typed input refuses any key, at any depth, that its type does not declare: Terraform's
type conversion drops such a key silently (sns 7 reads `condition`; a statement passed with
`conditions` loses its conditions). Inputs a release types as `any` are read through try(), which
ignores a misspelt key just as silently: for those the keys the module's code reads are checked.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from profile_stand_in import as_profile

_FACTS = json.loads((Path(__file__).parent / "module_contract.json").read_text())
PROFILES = _FACTS["profiles"]
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


def _statement_problems(module_id: str, block: dict, statement_keys: dict) -> list[str]:
    """Nested statement keys an `any`-typed input would silently ignore (e.g. 'condition' for sqs 4)."""
    facts = statement_keys.get(block["source"])
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
                if set(condition) != set(statement_keys["condition_keys"]):
                    problems.append(f"{where}: condition keys {sorted(condition)}")
            for principal in statement.get("principals", []):
                if set(principal) != set(statement_keys["principal_keys"]):
                    problems.append(f"{where}: principal keys {sorted(principal)}")
    return problems


def check_contract(doc: dict, profile: str = "tutorial") -> list[str]:
    from pipeline_model.hcl_types import undeclared_keys

    contract = PROFILES[profile]["modules"]
    problems = []
    modules = doc.get("module", {})
    for module_id, block in modules.items():
        interface = contract.get(block["source"])
        if interface is None:
            problems.append(f"module.{module_id}: source {block['source']} is not one of the pinned modules")
            continue
        if block["version"] != interface["constraint"]:
            problems.append(f"module.{module_id}: version {block['version']} != {interface['constraint']}")
        for argument in sorted(set(block) - META_ARGUMENTS):
            if argument not in interface["variables"]:
                problems.append(f"module.{module_id}: {argument!r} is not an input of {block['source']}")
            else:
                problems += undeclared_keys(block[argument], interface["variables"][argument],
                                            f"module.{module_id}.{argument}")
        problems += _statement_problems(module_id, block, PROFILES[profile]["statement_keys"])
    for text in _strings(doc):
        for module_id, output in REFERENCE.findall(text):
            if module_id not in modules:
                problems.append(f"reference to missing module.{module_id}")
            elif output not in contract[modules[module_id]["source"]]["outputs"]:
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


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize("example", ["fanout.toml", "ordered.toml"])
@pytest.mark.parametrize("profile", ["tutorial", "current"])
def test_example_stacks_honour_module_contract(synth_config, example, profile):
    from constructs_lib.app import load_environments

    for doc in synth_config(load_environments(str(EXAMPLES / example), "")).documents.values():
        assert check_contract(as_profile(doc, profile), profile) == []


@pytest.mark.parametrize("profile", ["tutorial", "current"])
def test_delivery_status_logging_honours_each_profiles_sns_contract(synth_config, profile):
    """sqs_feedback is map(string) in sns 6 and an object of optional attributes in sns 7: the keys the topic
    writes are the ones both declare (issue #20, delivery status logging)."""
    from pipeline_model.config import build_config

    config = build_config(stack_name=f"delivery-logs-{profile}", stack_profile=profile,
                          delivery_status_logging={"enabled": True, "success_sample_rate": 10})
    doc = synth_config([config]).only
    assert set(doc["module"]["topic"]["sqs_feedback"]) == {"failure_role_arn", "success_role_arn", "success_sample_rate"}
    assert check_contract(doc, profile) == []
    broken = json.loads(json.dumps(doc))
    broken["module"]["topic"]["sqs_feedback"]["success_rate"] = 10
    if profile == "current":  # sns 7's object type would drop the misspelt key silently; the check refuses it
        assert any("success_rate" in problem for problem in check_contract(broken, profile))


def test_default_stack_honours_the_current_profile_contract(tf):
    """What the constructs pass today, with the current majors' versions and condition spelling,
    declares no key the sns 7 / sqs 5 object types would drop, and names only existing inputs and outputs."""
    assert check_contract(as_profile(tf, "current"), "current") == []


def test_current_contract_refuses_the_conditions_key_sns_7_would_drop(tf):
    """The trap of issue #21: sns 7 types topic_policy_statements as map(object({condition = ...}));
    'conditions' would be dropped by Terraform's type conversion, silently."""
    doc = as_profile(tf, "current")
    deny = doc["module"]["topic"]["topic_policy_statements"]["deny_insecure_transport"]
    deny["conditions"] = deny.pop("condition")
    doc["module"]["queue_main"]["queue_policy_statements"]["sns"]["principals"][0]["arn"] = "x"
    problems = check_contract(doc, "current")
    declared = "actions, condition, effect, not_actions, not_principals, not_resources, principals, resources, sid"
    assert problems == [
        f"module.queue_main.queue_policy_statements.sns.principals[0]: 'arn' is not an attribute of the module's "
        "type (declared: identifiers, type); Terraform would drop it silently",
        f"module.topic.topic_policy_statements.deny_insecure_transport: 'conditions' is not an attribute of the "
        f"module's type (declared: {declared}); Terraform would drop it silently",
    ]
    # the tutorial's sns 6 reads 'conditions' through try(): the same doc's key is right there
    assert check_contract(as_profile(tf, "tutorial"), "tutorial") == []


def test_current_contract_refuses_the_tutorial_versions(tf):
    problems = check_contract(tf, "current")
    assert "module.topic: version ~> 6.0 != ~> 7.0" in problems
    assert "module.producer: version ~> 7.0 != ~> 8.0" in problems


def test_references_exist_in_every_resource(tf):
    referenced = {m for text in _strings(tf.get("resource", {})) for m, _ in REFERENCE.findall(text)}
    assert referenced >= {"table", "topic", "queue_main", "producer", "consumer_main", "stream_failures"}
    assert referenced <= set(tf["module"])


def _offline_inputs():
    from pipeline_model.offline_inputs import default_base, module_copies

    base = default_base(Path(__file__).resolve().parent.parent)
    if not module_copies(base):
        pytest.skip(f"module sources not found under {base} (set PIPELINE_TERRAFORM_OFFLINE_DIR)")
    return base


def test_contract_file_is_generated_from_the_module_sources():
    from scripts.generate_module_contract import OUTPUT, build, render

    assert OUTPUT.read_text() == render(build(_offline_inputs()))


def test_each_profile_takes_the_newest_copy_inside_its_constraints():
    tags = {name: {source.split("/")[1]: m["tag"] for source, m in facts["modules"].items()}
            for name, facts in PROFILES.items()}
    assert tags == {
        "tutorial": {"dynamodb-table": "v4.4.0", "sns": "v6.2.1", "sqs": "v4.3.1", "lambda": "v7.21.1"},
        "current": {"dynamodb-table": "v5.5.0", "sns": "v7.1.0", "sqs": "v5.2.1", "lambda": "v8.8.1"},
    }
    # typed where the module types it: sns 7 / sqs 5 statements are objects, sns 6 / sqs 4 'any'
    assert PROFILES["tutorial"]["modules"]["terraform-aws-modules/sns/aws"]["variables"]["topic_policy_statements"] == "any"
    statement = PROFILES["current"]["modules"]["terraform-aws-modules/sqs/aws"]["variables"]["queue_policy_statements"]
    assert statement[0] == "map" and statement[1][0] == "object"
    assert {"condition", "conditions"} <= set(statement[1][1])  # sqs 5 still declares both spellings


def _copy_inputs(base: Path, target: Path) -> Path:
    import shutil

    from pipeline_model.offline_inputs import roots

    for root in roots(base):
        if (root / "modules").is_dir():
            shutil.copytree(root / "modules", target / root.relative_to(base) / "modules")
    return target


def test_generator_reads_keys_from_the_module_code(tmp_path):
    """A release that reads other statement keys changes the generated contract."""
    from scripts.generate_module_contract import build

    inputs = _copy_inputs(_offline_inputs(), tmp_path)
    sqs = next(inputs.glob("modules/sqs-4.*")) / "main.tf"
    sqs.write_text(sqs.read_text().replace("statement.value.conditions", "statement.value.condition"))
    facts = build(inputs)["profiles"]["tutorial"]["statement_keys"]["terraform-aws-modules/sqs/aws"]["keys"]
    assert "condition" in facts and "conditions" not in facts


def test_generator_reads_types_from_the_module_variables(tmp_path):
    """A release whose object type spells the key otherwise changes the generated contract."""
    from scripts.generate_module_contract import build

    inputs = _copy_inputs(_offline_inputs(), tmp_path)
    variables = next(inputs.glob("*/modules/sns-7.*")) / "variables.tf"
    variables.write_text(variables.read_text().replace("    condition = optional(list(object", "    conditions = optional(list(object"))
    sns = build(inputs)["profiles"]["current"]["modules"]["terraform-aws-modules/sns/aws"]
    attributes = sns["variables"]["topic_policy_statements"][1][1]
    assert "conditions" in attributes and "condition" not in attributes


def test_generator_names_a_profile_without_a_fitting_copy(tmp_path):
    import shutil

    from scripts.generate_module_contract import ContractError, build

    inputs = _copy_inputs(_offline_inputs(), tmp_path)
    shutil.rmtree(next(inputs.glob("*/modules/sns-7.*")))
    with pytest.raises(ContractError) as raised:
        build(inputs)
    assert str(raised.value) == (
        "current: terraform-aws-modules/sns/aws: version: the local copies of sns are 6.2.1, none of which "
        "satisfies the constraint '~> 7.0'")
