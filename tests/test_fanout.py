"""Fan-out to many subscribers, several environments, remote state (issue: fan-out)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from constructs_lib.app import load_environments
from pipeline_model.config import ConfigError, build_config, check_filter_policy

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = PROJECT_ROOT / "examples" / "fanout.toml"


def _subscribers(n: int) -> list[dict]:
    subs = [{}]  # the original design's subscriber first
    subs += [{"name": f"sub{i}", "filter_policy": {"eventName": ["INSERT", "MODIFY"]}} for i in range(1, n)]
    return subs


def _aws_names(doc: dict) -> list[str]:
    names = []
    for block in doc["module"].values():
        for key in ("name", "function_name"):
            if key in block:
                names.append(block[key])
        if block["source"].endswith("/sqs/aws") and block.get("create_dlq"):
            names.append(block["name"] + "-dlq")
    return names


@pytest.mark.parametrize("count", [1, 2, 5])
def test_each_subscriber_gets_its_own_wiring(synth_config, count):
    doc = synth_config([build_config(subscribers=_subscribers(count))]).only
    names = ["main"] + [f"sub{i}" for i in range(1, count)]
    subs = doc["resource"]["aws_sns_topic_subscription"]
    mappings = doc["resource"]["aws_lambda_event_source_mapping"]
    attachments = doc["resource"]["aws_iam_role_policy_attachment"]
    assert len(subs) == count and len(mappings) == count + 1 and len(attachments) == count + 1
    for name in names:
        queue = doc["module"][f"queue_{name}"]
        assert queue["create_dlq"] is True
        statement = queue["queue_policy_statements"]["sns"]
        assert statement["conditions"][0]["values"] == ["${module.topic.topic_arn}"]
        allows = [s for s in queue["queue_policy_statements"].values() if s.get("effect", "Allow") == "Allow"]
        topics = {v for s in allows for c in s.get("conditions", []) for v in c["values"] if "topic" in v}
        assert topics == {"${module.topic.topic_arn}"}, "a queue admits exactly its own topic"
        assert subs[f"subscription_{name}"]["endpoint"] == f"${{module.queue_{name}.queue_arn}}"
        assert subs[f"subscription_{name}"]["topic_arn"] == "${module.topic.topic_arn}"
        mapping = mappings[f"consumer_{name}_event_source"]
        assert mapping["event_source_arn"] == f"${{module.queue_{name}.queue_arn}}"
        assert mapping["function_name"] == f"${{module.consumer_{name}.lambda_function_arn}}"
        assert mapping["depends_on"] == [f"aws_iam_role_policy_attachment.consumer_{name}_execution_policy"]
        assert attachments[f"consumer_{name}_execution_policy"]["role"] == f"${{module.consumer_{name}.lambda_role_name}}"
    names_in_json = _aws_names(doc)
    assert not [n for n, c in Counter(names_in_json).items() if c > 1]


def test_filter_policies_are_json_sns_accepts(synth_config):
    doc = synth_config([build_config(subscribers=_subscribers(5))]).only
    subs = doc["resource"]["aws_sns_topic_subscription"]
    assert "filter_policy" not in subs["subscription_main"]
    for i in range(1, 5):
        sub = subs[f"subscription_sub{i}"]
        policy = json.loads(sub["filter_policy"])
        assert policy == {"eventName": ["INSERT", "MODIFY"]}
        assert check_filter_policy(policy, sub["filter_policy_scope"]) == policy
        assert sub["filter_policy_scope"] == "MessageAttributes"


def test_example_configuration_synthesizes_both_environments(synth_config):
    configs = load_environments(str(EXAMPLE))
    result = synth_config(configs)
    assert set(result.documents) == {"event-driven-pipeline-dev", "event-driven-pipeline-prod"}
    all_names = []
    for stack, doc in result.documents.items():
        env = stack.rsplit("-", 1)[1]
        subs = doc["resource"]["aws_sns_topic_subscription"]
        assert json.loads(subs["subscription_analytics"]["filter_policy"]) == {"eventName": ["INSERT"]}
        assert json.loads(subs["subscription_notifications"]["filter_policy"]) == {"eventName": ["REMOVE"]}
        assert subs["subscription_audit"]["raw_message_delivery"] is True
        assert "filter_policy" not in subs["subscription_audit"]
        assert doc["module"]["queue_audit"]["redrive_policy"] == {"maxReceiveCount": 10}
        assert doc["module"]["table"]["name"] == f"application-data-table-{env}"
        all_names += _aws_names(doc)
    assert not [n for n, c in Counter(all_names).items() if c > 1], "names collide across environments"
    prod = result.documents["event-driven-pipeline-prod"]
    assert prod["provider"]["aws"][0]["default_tags"][0]["tags"]["Environment"] == "Production"
    assert prod["module"]["producer"]["memory_size"] == 256


def _commented_backend(text: str) -> str:
    """The example's commented-out backend block, uncommented."""
    lines = text.splitlines()
    start = lines.index("# [environments.prod.backend]")
    block = []
    for line in lines[start:]:
        if not line.startswith("# "):
            break
        block.append(line[2:])
    return "\n".join(block) + "\n"


def test_example_plans_as_is_with_local_state_and_documents_the_s3_backend(synth_config, tmp_path):
    """`make plan CONFIG=examples/fanout.toml` must work: no placeholder bucket that terraform
    init would fail on. The backend stays in the file as a commented block, which must stay valid."""
    result = synth_config(load_environments(str(EXAMPLE)))
    for stack, doc in result.documents.items():
        assert doc["terraform"]["backend"] == {"local": {"path": f"../../../terraform.{stack}.tfstate"}}
    text = EXAMPLE.read_text()
    uncommented = tmp_path / "fanout.toml"
    uncommented.write_text(text + "\n" + _commented_backend(text))
    prod = load_environments(str(uncommented), "prod")[0]
    assert prod.backend is not None
    assert (prod.backend.bucket, prod.backend.key) == ("my-terraform-state", "event-driven-pipeline/prod.tfstate")


def test_backends_local_by_default_s3_per_environment(synth_config, tmp_path):
    data = {"environments": {"dev": {}, "prod": {"backend": {
        "bucket": "example-terraform-state", "key": "event-driven-pipeline/prod.tfstate",
        "dynamodb_table": "example-terraform-locks"}}}}
    result = synth_config(load_environments(_write(tmp_path, data), ""))
    dev = result.documents["event-driven-pipeline-dev"]["terraform"]["backend"]
    prod = result.documents["event-driven-pipeline-prod"]["terraform"]["backend"]
    assert dev == {"local": {"path": "../../../terraform.event-driven-pipeline-dev.tfstate"}}
    assert prod == {
        "s3": {
            "bucket": "example-terraform-state",
            "key": "event-driven-pipeline/prod.tfstate",
            "region": "us-east-1",
            "dynamodb_table": "example-terraform-locks",
            "encrypt": True,
        }
    }


def test_default_stack_uses_local_state(tf):
    assert tf["terraform"]["backend"] == {"local": {"path": "../../../terraform.event-driven-pipeline.tfstate"}}


def test_environment_selection():
    assert [c.environment for c in load_environments(str(EXAMPLE), "prod")] == ["prod"]
    assert [c.environment for c in load_environments(str(EXAMPLE), "dev,prod")] == ["dev", "prod"]
    assert [c.names.stack for c in load_environments("", "")] == ["event-driven-pipeline"]
    with pytest.raises(ConfigError, match="no environment named 'staging'"):
        load_environments(str(EXAMPLE), "staging")


def _write(tmp_path: Path, data: dict) -> str:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    return str(path)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"subscribers": [{"name": "a"}, {"name": "a"}]}, "subscribers.1.name: 'a' is used twice"),
        ({"subscribers": [{"name": "a", "queue_name": "q"}, {"name": "b", "queue_name": "q"}]}, "subscribers.1.queue_name: 'q' is used twice"),
        ({"subscribers": [{"name": "a", "filter_policy": "{\"eventName\": [INSERT]}"}]}, "subscribers.0.filter_policy: is not valid JSON"),
        ({"subscribers": [{"name": "a", "filter_policy": {k: ["x"] for k in "abcdef"}}]}, "at most 5"),
        ({"subscribers": [{"name": "a", "filter_policy": {"a": list(range(16)), "b": list(range(10))}}]}, "160 combinations"),
        ({"subscribers": [{"name": "a", "filter_policy": {"eventName": "INSERT"}}]}, "must be a non-empty list"),
        ({"subscribers": [{"name": "Bad-Name"}]}, "subscribers.0.name"),
        ({"environments": {"dev": {}, "prod": {"name_suffix": "-dev"}}}, "both use stack_name"),
        ({"environments": {"dev": {"name_suffix": ""}, "prod": {"name_suffix": "", "stack_name": "other"}}}, "both create 'application-data-table' in us-east-1"),
        ({"environments": {"dev": {"region": "nowhere"}}}, "environments.dev.region"),
        # a rule across fields, inside an environment: named under the environment, once
        ({"environments": {"dev": {"alarm_topic_name": "data-processing-topic"}}},
         "\n  environments.dev.alarm_topic_name: 'data-processing-topic-dev' is used twice, by the topic and the alarm topic"),
        # IAM is global: the same function (so role) names in two regions collide too.
        ({"environments": {"east": {"name_suffix": ""}, "west": {"name_suffix": "", "region": "us-west-2",
                                                                 "stack_name": "west"}}},
         "both create the IAM 'role dynamodb-stream-producer'; IAM names are account-wide, in every region"),
        ({"environments": {"east": {"name_suffix": "-a"}, "west": {"name_suffix": "", "region": "us-west-2",
                                                                   "stack_name": "west",
                                                                   "subscribers": [{"function_name": "sqs-message-consumer-a"}]}}},
         "both create the IAM 'role sqs-message-consumer-a'"),
        ({"environments": {"dev": {}}, "region": "us-east-1"}, "put shared values under 'defaults'"),
        ({"environments": {"dev": {"backend": {"bucket": "b", "dynamodb_table": "locks"}}}}, "environments.dev.backend.bucket"),
        ({"environments": {"dev": {"backend": {"bucket": "state"}}}}, "environments.dev.backend.use_lockfile: state must be locked; set use_lockfile = true"),
        ({"environments": {"dev": "x"}}, "environments.dev: must be a table/object"),
        ({"environments": {"dev": {}}, "defaults": 5}, "defaults: must be a table/object"),
        ({"environments": {"dev": {"subscribers": 5}}}, "environments.dev.subscribers: Input should be a valid list"),
    ],
)
def test_invalid_subscriber_and_environment_configuration(tmp_path, data, message):
    with pytest.raises(ConfigError) as caught:
        load_environments(_write(tmp_path, data), "")
    assert message in str(caught.value)


def test_cdktf_app_reads_the_config_file_from_the_environment(tmp_path, monkeypatch, default_synth):
    """main.py's entry point (what `cdktf synth` runs) honours PIPELINE_CONFIG and PIPELINE_ENVIRONMENTS."""
    from constructs_lib.app import run

    monkeypatch.setenv("PIPELINE_CONFIG", str(EXAMPLE))
    monkeypatch.setenv("PIPELINE_ENVIRONMENTS", "dev")
    monkeypatch.setenv("CDKTF_OUTDIR", str(tmp_path / "out"))
    run()
    stacks = sorted(p.name for p in (tmp_path / "out" / "stacks").iterdir())
    assert stacks == ["event-driven-pipeline-dev"]


def test_users_ci_workflow_tests_synthesizes_and_plans_when_credentials_exist():
    yaml = pytest.importorskip("yaml")
    workflow = yaml.safe_load((PROJECT_ROOT / ".github" / "workflows" / "pipeline.yml").read_text())
    steps = workflow["jobs"]["test-synth-plan"]["steps"]
    runs = {step.get("run"): step.get("if") for step in steps if "run" in step}
    assert "make test" in runs and runs["make test"] is None
    assert "make synth" in runs
    assert "HAS_ROLE" in runs["make plan"] and "HAS_KEYS" in runs["make plan"]


@pytest.fixture(scope="module")
def sns_endpoint():
    """moto's SNS (which validates filter policies like SNS) with a topic and a queue to subscribe.

    One mock for the module: each check only adds a subscription.
    """
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    with pytest.MonkeyPatch.context() as monkeypatch:
        for key, value in {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"}.items():
            monkeypatch.setenv(key, value)
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
            monkeypatch.delenv(name, raising=False)
        with moto.mock_aws():
            sns, sqs = boto3.client("sns"), boto3.client("sqs")
            topic = sns.create_topic(Name="t")["TopicArn"]
            queue = sqs.get_queue_attributes(
                QueueUrl=sqs.create_queue(QueueName="q")["QueueUrl"], AttributeNames=["QueueArn"]
            )["Attributes"]["QueueArn"]

            def subscribe(policy: dict, scope: str = "MessageAttributes") -> None:
                sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue,
                              Attributes={"FilterPolicy": json.dumps(policy), "FilterPolicyScope": scope})

            subscribe.rejected = sns.exceptions.InvalidParameterException
            yield subscribe


def test_synthesized_filter_policies_are_accepted_by_an_sns_implementation(synth_config, sns_endpoint):
    docs = list(synth_config(load_environments(str(EXAMPLE), "")).documents.values())
    docs.append(synth_config([build_config(subscribers=_subscribers(5))]).only)
    policies = [
        (json.loads(sub["filter_policy"]), sub["filter_policy_scope"])
        for doc in docs
        for sub in doc["resource"]["aws_sns_topic_subscription"].values()
        if "filter_policy" in sub
    ]
    assert len(policies) >= 6
    for policy, scope in policies:
        sns_endpoint(policy, scope)
    with pytest.raises(sns_endpoint.rejected):  # and it does reject bad ones
        sns_endpoint({"eventName": "INSERT"})


@pytest.mark.parametrize(
    "policy",
    [
        {k: ["x"] for k in "abcdef"},
        {"a": list(range(16)), "b": list(range(10))},
        {"eventName": "INSERT"},
        {"a": {"b": ["x"]}},
        {"a": [{"prefixx": "x"}]},
        {"a": [{"numeric": ["banana"]}]},
        {"a": [{"exists": "yes"}]},
        {"a": [{"numeric": [">", 10, ">", 5]}]},
        {"a": [{"numeric": ["<", 5, ">", 1]}]},
        {"a": [{"numeric": [">", 10, "<", 5]}]},
        {"a": [{"numeric": ["=", 5, "=", 6]}]},
    ],
    ids=["six-keys", "160-combinations", "not-a-list", "nested-attribute", "unknown-operator", "numeric-operand",
         "exists-operand", "two-lower-bounds", "upper-bound-first", "empty-range", "two-equals"],
)
def test_policies_the_config_rejects_are_rejected_by_sns_too(policy, sns_endpoint):
    with pytest.raises(ConfigError):
        build_config(subscribers=[{"name": "a", "filter_policy": policy}])
    with pytest.raises(sns_endpoint.rejected):
        sns_endpoint(policy)


@pytest.mark.parametrize(
    "policy",
    [
        {"$or": [{"eventName": ["INSERT"]}, {"tableName": ["audit"]}]},
        {"size": [{"numeric": [">", 0, "<=", 5]}]},
        {"eventName": [{"anything-but": ["REMOVE"]}]},
        {"tableName": [{"anything-but": {"prefix": "tmp-"}}]},
        {"tableName": [{"exists": True}]},
        {"tableName": [{"prefix": "app"}], "eventName": [{"equals-ignore-case": "insert"}]},
    ],
    ids=["or", "numeric-range", "anything-but", "anything-but-prefix", "exists", "prefix-and-ignore-case"],
)
def test_valid_operator_policies_pass_config_and_sns(policy, sns_endpoint):
    lifted = [key for key in policy if key not in ("$or", "eventName", "tableName")]  # item fields the producer sends
    config = build_config(producer={"message_attributes": lifted}, subscribers=[{"name": "a", "filter_policy": policy}])
    assert config.subscribers[0].filter_policy == policy
    sns_endpoint(policy)


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"a": [{"prefix": 5}]}, "prefix takes a non-empty string"),
        ({"a": [{"anything-but": [{"x": 1}]}]}, "anything-but takes a string, a number or a list of them"),
        ({"a": {}}, "a: empty object"),
        ({"$or": [{"a": ["x"]}]}, "$or: must be a list of at least two filter objects"),
    ],
)
def test_operand_errors_name_the_attribute_and_rule(policy, message):
    scope = "MessageBody" if policy == {"a": {}} else "MessageAttributes"
    with pytest.raises(ConfigError) as caught:
        build_config(subscribers=[{"name": "a", "filter_policy": policy, "filter_policy_scope": scope}])
    assert "subscribers.0.filter_policy:" in str(caught.value) and message in str(caught.value)


def test_collisions_across_environments_name_each_field_and_are_all_reported():
    from pipeline_model.config import environments_from_dict

    data = {"environments": {"dev": {"name_suffix": ""},
                             "west": {"name_suffix": "", "region": "us-west-2", "stack_name": "west",
                                      "table_name": "tbl", "subscribers": [{"function_name": "other"}]}}}
    with pytest.raises(ConfigError) as caught:
        environments_from_dict(data)
    lines = caught.value.lines()
    # one region apart: only the IAM role names (account-wide) collide, here the producer's
    assert lines == ["environments.west.producer_function_name: environments 'dev' and 'west' both create the IAM "
                     "'role dynamodb-stream-producer'; IAM names are account-wide, in every region; give one a "
                     "name_suffix or other function names"]
    data["environments"]["west"].update(region="us-east-1", producer_function_name="p")
    fields = [p.field for p in pytest.raises(ConfigError, environments_from_dict, data).value.problems]
    # same region now: the topics and queues left at their default names collide too, each named
    assert fields == ["environments.west.topic_name", "environments.west.stream_failure_queue_name",
                      "environments.west.alarm_topic_name", "environments.west.subscribers.0.queue_name",
                      "environments.west.subscribers.0.queue_name", "environments.west.subscribers.0.queue_name"]


def test_problems_of_every_environment_are_reported_together():
    from pipeline_model.config import environments_from_dict

    with pytest.raises(ConfigError) as caught:
        environments_from_dict({"environments": {"dev": {"region": "nowhere"}, "prod": {"stream": {"batch_size": 0}}}})
    assert [p.field for p in caught.value.problems] == ["environments.dev.region", "environments.prod.stream.batch_size"]


def test_props_refuse_a_filter_on_an_attribute_the_producer_never_sends():
    """EventPipelineProps go through the configuration's checks: the same rule, the props' field named."""
    from constructs_lib.pipeline_props import EventPipelineProps

    with pytest.raises(ConfigError) as caught:
        EventPipelineProps(subscribers=({"name": "audit", "filter_policy": {"kind": ["order"]}},))
    assert "subscribers.0.filter_policy: names the message attribute 'kind'" in str(caught.value)
    props = EventPipelineProps(producer={"message_attributes": ["kind"]},
                               subscribers=({"name": "audit", "filter_policy": {"kind": ["order"]}},))
    assert props.producer.message_attributes == ["kind"]
