"""security.iam = "scoped" (issue #20, "Least privilege, opt-in"), checked on the synthesized policy documents.

With "scoped" each function's role may touch only its own resources: the producer its table's stream, its topic
and its on-failure destination; each consumer its queue and its idempotency table. No AWS-managed execution
policy is attached. The one wildcard left is X-Ray's (the lambda module's copy of AWSXRayDaemonWriteAccess:
X-Ray has no resource-level permissions), and the logs policy the lambda module writes itself names the
function's own log group. "managed" stays the default, and the default stack is unchanged
(tests/test_synth_parity.py holds its JSON).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from pipeline_model.config import ConfigError, build_config, load_environments

ROOT = Path(__file__).resolve().parent.parent

#: What every role may have besides its inline statements: these module inputs, and no other attach_*.
ALLOWED_ATTACH = {
    "attach_policy_statements": True,  # the inline statements checked here
    "attach_tracing_policy": True,  # X-Ray: the documented wildcard (docs/security.md)
    "attach_create_log_group_permission": False,  # the module creates the log group itself
}


def _example(name: str, section: str | None = None) -> dict[str, Any]:
    data = tomllib.loads((ROOT / "examples" / name).read_text())
    return data[section] if section else data


def _scoped(data: dict[str, Any]) -> dict[str, Any]:
    data = {k: v for k, v in data.items() if k != "capacity"}
    return {**data, "security": {**data.get("security", {}), "iam": "scoped"}}


CONFIGS = {
    "default": {},
    "fanout": _example("fanout.toml", "defaults"),
    "ordered": _example("ordered.toml"),
    "s3-failures": {"stream": {"on_failure": "s3"}, "alarms": {"enabled": False}},
    "no-key": {"security": {"customer_managed_key": False, "tracing": False}, "subscribers": [{}, {"name": "b"}]},
    "current-profile": {"stack_profile": "current"},
}


def own_resources(doc: dict[str, Any], function: str) -> set[str]:
    """The ARNs (Terraform references) a function of the app's single pipeline may touch, by the design."""
    if function == "producer":
        bucket = "${aws_s3_bucket.stream_failure_bucket.arn}"
        failures = ({bucket, f"{bucket}/*"} if "aws_s3_bucket" in doc.get("resource", {})
                    else {"${module.stream_failures.queue_arn}"})
        return {"${module.table.dynamodb_table_stream_arn}", "${module.topic.topic_arn}", *failures}
    name = function.removeprefix("consumer_")
    return {f"${{module.queue_{name}.queue_arn}}", f"${{module.idempotency_{name}.dynamodb_table_arn}}"}


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def statements_of(doc: dict[str, Any], function: str) -> list[tuple[list[str], list[str]]]:
    """(actions, resources) of every Allow statement the synthesized stack gives the function's role."""
    module = doc["module"][function]
    found = []
    for statement in module.get("policy_statements", {}).values():
        assert statement["effect"] == "Allow" and set(statement) <= {"effect", "actions", "resources"}, statement
        found.append((statement["actions"], statement["resources"]))
    role = f"${{module.{function}.lambda_role_name}}"
    for policy in doc["resource"].get("aws_iam_role_policy", {}).values():
        if policy["role"] == role:
            for statement in json.loads(policy["policy"])["Statement"]:
                assert statement["Effect"] == "Allow" and "NotResource" not in statement, statement
                found.append((_as_list(statement["Action"]), _as_list(statement["Resource"])))
    return found


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def scoped(request, synth_config) -> tuple[str, dict[str, Any]]:
    config = build_config(_scoped(CONFIGS[request.param]))
    assert config.security.iam == "scoped"
    return request.param, synth_config([config]).only


def _functions(doc: dict[str, Any]) -> list[str]:
    return [name for name, block in doc["module"].items() if block["source"].endswith("/lambda/aws")]


def test_each_function_touches_only_its_own_resources(scoped):
    name, doc = scoped
    functions = _functions(doc)
    assert "producer" in functions and len(functions) >= 2, functions
    for function in functions:
        own = own_resources(doc, function)
        granted = statements_of(doc, function)
        assert granted, function
        for actions, resources in granted:
            assert actions and all("*" not in a.split(":", 1)[1] for a in actions), (name, function, actions)
            assert set(resources) <= own, (name, function, set(resources) - own)
        # and what it must have: its source (stream or queue) and, for the producer, its topic
        touched = {r for _, resources in granted for r in resources}
        assert ("${module.table.dynamodb_table_stream_arn}" if function == "producer"
                else f"${{module.queue_{function.removeprefix('consumer_')}.queue_arn}}") in touched


def test_no_managed_execution_policy_and_no_other_attached_policy(scoped):
    name, doc = scoped
    assert "aws_iam_role_policy_attachment" not in doc["resource"], name
    for function in _functions(doc):
        module = doc["module"][function]
        attach = {k: v for k, v in module.items() if k.startswith("attach_")}
        for key, value in attach.items():
            assert ALLOWED_ATTACH.get(key) == value, (name, function, key, value)
        # the module's own logs policy stays on (scoped by the module to the function's log group)
        assert "attach_cloudwatch_logs_policy" not in module and "policy" not in module and "policies" not in module


def test_each_mapping_waits_for_the_policy_naming_its_source(scoped):
    name, doc = scoped
    policies = doc["resource"]["aws_iam_role_policy"]
    mappings = doc["resource"]["aws_lambda_event_source_mapping"]
    assert len(mappings) == len(_functions(doc)) == len(policies)
    for function in _functions(doc):
        mapping = mappings[f"{function}_event_source"]
        policy = policies[f"{function}_event_source_policy"]
        assert policy["role"] == f"${{module.{function}.lambda_role_name}}"
        assert mapping["depends_on"][0] == f"aws_iam_role_policy.{function}_event_source_policy", (name, function)
        (statement,) = json.loads(policy["policy"])["Statement"]
        assert statement["Resource"] == mapping["event_source_arn"]
        expected = ({"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                     "dynamodb:ListStreams"} if function == "producer"
                    else {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"})
        assert set(statement["Action"]) == expected


def test_key_policy_names_each_role_for_its_own_use_only(scoped):
    """The key is the pipeline's, used through its key policy: the producer may send, the consumers read."""
    name, doc = scoped
    if "aws_kms_key" not in doc["resource"]:
        pytest.skip("no customer-managed key in this configuration")
    policy = json.loads(doc["resource"]["aws_kms_key"]["messaging_key"]["policy"])
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    send = _as_list(by_sid["RolesSendEncryptedMessages"]["Principal"]["AWS"])
    read = _as_list(by_sid["RolesReadEncryptedMessages"]["Principal"]["AWS"])
    consumers = [f for f in _functions(doc) if f != "producer"]
    assert send == ["${module.producer.lambda_role_arn}"]
    assert sorted(read) == sorted(f"${{module.{f}.lambda_role_arn}}" for f in consumers)


# --- the default stays "managed" --------------------------------------------------------------------------------

def test_managed_is_the_default_everywhere(tf):
    from constructs_lib import EventPipelineProps, SubscriberProps, TriggerProps

    assert build_config().security.iam == "managed" and EventPipelineProps().security.iam == "managed"
    assert SubscriberProps.__dataclass_fields__["iam"].default == "managed"
    assert TriggerProps.__dataclass_fields__["iam"].default == "managed"
    assert "aws_iam_role_policy" not in tf["resource"]  # the default stack: the managed policies, as before
    assert {a["policy_arn"].rsplit("/", 1)[1] for a in tf["resource"]["aws_iam_role_policy_attachment"].values()} == {
        "AWSLambdaDynamoDBExecutionRole", "AWSLambdaSQSQueueExecutionRole"}


@pytest.mark.parametrize("value", ["Scoped", "least", "", None, True])
def test_an_unknown_mode_is_a_config_error_naming_the_field(value):
    with pytest.raises(ConfigError, match=r"security\.iam: Input should be 'managed' or 'scoped'"):
        build_config(security={"iam": value})


def test_the_least_privilege_example_is_scoped():
    (config,) = load_environments(str(ROOT / "examples" / "least_privilege.toml"))
    assert config.security.iam == "scoped"


def test_switching_modes_replaces_only_the_permissions(tf, synth_config):
    """managed -> scoped changes the permission resources and each mapping's depends_on, nothing else: the
    functions, queues, table and mappings keep every argument (docs/security.md: nothing is replaced)."""
    scoped = synth_config([build_config(security={"iam": "scoped"})]).only

    def without_permissions(doc: dict[str, Any]) -> dict[str, Any]:
        resources = {kind: dict(blocks) for kind, blocks in doc["resource"].items()
                     if kind not in ("aws_iam_role_policy", "aws_iam_role_policy_attachment")}
        resources["aws_lambda_event_source_mapping"] = {
            name: {k: v for k, v in mapping.items() if k != "depends_on"}
            for name, mapping in resources["aws_lambda_event_source_mapping"].items()}
        return {**doc, "resource": resources}

    assert without_permissions(scoped) == without_permissions(tf)
    for name, mapping in scoped["resource"]["aws_lambda_event_source_mapping"].items():
        managed = tf["resource"]["aws_lambda_event_source_mapping"][name]["depends_on"]
        function = name.removesuffix("_event_source")
        assert managed[0] == f"aws_iam_role_policy_attachment.{function}_execution_policy"
        assert mapping["depends_on"] == [f"aws_iam_role_policy.{function}_event_source_policy", *managed[1:]]
