"""The stack profiles: one place per profile for module sources, versions and constraints."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from pipeline_model.stack_profiles import CURRENT, PROFILES, TUTORIAL, ProfileError, profile
from pipeline_model.versions import Version, compatible, satisfies

ROOT = Path(__file__).resolve().parent.parent

# the offline Terraform inputs, as scripts/terraform_validate.py finds them
SHARED = Path(os.environ.get("PIPELINE_TERRAFORM_OFFLINE_DIR")
              or Path(__file__).resolve().parent.parent.parent / "shared" / "terraform")


def test_default_profile_is_the_tutorial_and_the_old_names_keep_its_values():
    from constructs_lib import modules

    assert profile() is TUTORIAL and profile("current") is CURRENT and set(PROFILES) == {"tutorial", "current"}
    assert (modules.DYNAMODB_TABLE.version, modules.SNS.version, modules.SQS.version, modules.LAMBDA.version) == (
        "~> 4.0", "~> 6.0", "~> 4.0", "~> 7.0")
    assert modules.ALL == {"dynamodb_table": modules.DYNAMODB_TABLE, "sns": modules.SNS, "sqs": modules.SQS,
                           "lambda": modules.LAMBDA}
    assert (modules.TERRAFORM_REQUIRED_VERSION, modules.AWS_PROVIDER_SOURCE, modules.AWS_PROVIDER_VERSION) == (
        ">= 1.3.0", "hashicorp/aws", "~> 5.0")


def test_current_profile_pins_the_newest_majors_on_aws_6():
    assert CURRENT.aws_provider_version == ">= 6.28, < 7" and CURRENT.terraform_required_version == ">= 1.5.7"
    assert {k: m.version for k, m in CURRENT.modules.items()} == {
        "dynamodb_table": "~> 5.0", "sns": "~> 7.0", "sqs": "~> 5.0", "lambda": "~> 8.0"}
    assert {m.source for m in CURRENT.modules.values()} == {m.source for m in TUTORIAL.modules.values()}


def test_each_profile_admits_what_its_modules_need():
    assert TUTORIAL.lowest_aws() == Version(5, 98, 0) and TUTORIAL.lowest_terraform() == Version(1, 3, 0)
    assert CURRENT.lowest_aws() == Version(6, 28, 0) and CURRENT.lowest_terraform() == Version(1, 5, 7)
    # the tutorial's provider constraint cannot serve the current modules, and the reverse
    assert not compatible(TUTORIAL.aws_provider_version, *CURRENT.modules_aws_constraints().values())
    # the tutorial's modules accept aws 6 (library users whose app pins aws 6)
    assert compatible(CURRENT.aws_provider_version, *TUTORIAL.modules_aws_constraints().values())


def test_unknown_profile_is_a_one_line_error():
    with pytest.raises(ProfileError) as raised:
        profile("newest")
    assert str(raised.value) == "stack_profile: unknown profile 'newest' (choose one of 'tutorial', 'current')"


def test_profiles_are_immutable():
    with pytest.raises(TypeError):
        CURRENT.modules["sqs"] = TUTORIAL.sqs  # type: ignore[index]
    with pytest.raises(AttributeError):
        CURRENT.aws_provider_version = "~> 5.0"  # type: ignore[misc]


@pytest.mark.parametrize("profile_name", ["tutorial", "current"])
def test_recorded_requirements_are_those_of_the_module_copies(profile_name):
    """tag / requires_aws / requires_terraform are the facts of each module copy's versions.tf."""
    chosen = profile(profile_name)
    folder = SHARED / ("modules" if profile_name == "tutorial" else "aws6/modules")
    if not folder.is_dir():
        pytest.skip(f"module copies not found at {folder} (set PIPELINE_TERRAFORM_OFFLINE_DIR)")
    for module in chosen.modules.values():
        copy = folder / f"{module.name}-{module.tag.lstrip('v')}"
        assert satisfies(module.tag, module.version), module
        text = (copy / "versions.tf").read_text()
        assert re.search(r'required_version\s*=\s*"([^"]+)"', text)[1] == module.requires_terraform
        aws = re.search(r'aws\s*=\s*\{[^}]*version\s*=\s*"([^"]+)"', text)[1]
        assert aws == module.requires_aws, copy


def test_conditions_are_spelt_as_each_module_reads_them():
    conditions = [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}]
    statements = {"deny": {"effect": "Deny", "conditions": conditions}, "plain": {"actions": ["sqs:*"]}}
    # sns 6 / sqs 4 read only "conditions"; sns 7 only "condition"; sqs 5 both (plural deprecated)
    assert TUTORIAL.sns.spell_conditions(statements) == statements
    assert TUTORIAL.sqs.condition_key == "conditions" and TUTORIAL.lambda_.condition_key == "condition"
    spelt = CURRENT.sns.spell_conditions(statements)
    assert spelt == {"deny": {"effect": "Deny", "condition": conditions}, "plain": {"actions": ["sqs:*"]}}
    assert list(spelt["deny"]) == ["effect", "condition"]  # key order kept
    assert TUTORIAL.sqs.spell_conditions(spelt) == statements
    assert all(m.condition_key == "condition" for m in CURRENT.modules.values())


def test_both_condition_spellings_in_one_statement_are_refused():
    with pytest.raises(ValueError) as raised:
        CURRENT.sqs.spell_conditions({"s": {"condition": [], "conditions": []}}, "queue_policy_statements")
    assert str(raised.value) == (
        "queue_policy_statements.s: gives both 'condition' and 'conditions'; write the conditions once, "
        "under 'condition' (the key terraform-aws-modules/sqs/aws v5.2.1 reads)")


# --- the profile in the configuration (issue #21) ------------------------------------------------


def test_config_stack_profile_defaults_to_tutorial_and_takes_current():
    from pipeline_model.config import build_config

    assert build_config().stack_profile == "tutorial"
    assert build_config(stack_profile="current").stack_profile == "current"


def test_config_refuses_an_unknown_profile_naming_the_field():
    from pipeline_model.config import ConfigError, build_config

    with pytest.raises(ConfigError) as raised:
        build_config(stack_profile="aws6")
    assert [p.field for p in raised.value.problems] == ["stack_profile"]


def test_the_profile_override_of_a_run_replaces_every_environments(monkeypatch):
    from pipeline_model.config import PROFILE_ENV, ConfigError, load_environments

    fanout = str(ROOT / "examples" / "fanout.toml")
    assert {c.stack_profile for c in load_environments(fanout)} == {"tutorial"}
    monkeypatch.setenv(PROFILE_ENV, "current")
    configs = load_environments(fanout)
    assert len(configs) == 2 and {c.stack_profile for c in configs} == {"current"}
    assert [c.names.stack for c in configs] == [c.names.stack for c in load_environments(fanout, stack_profile="")]
    monkeypatch.setenv(PROFILE_ENV, "newest")
    with pytest.raises(ConfigError) as raised:
        load_environments(fanout)
    assert {p.field for p in raised.value.problems} == {PROFILE_ENV}
