"""The pipeline as a library in someone else's stack (issue #19): props alone, facts from the
stack's provider (any region, or tokens), the provider constraint checked, tags, from_config."""

from __future__ import annotations

import json
import re
import warnings

import pytest

REGION_NAME = re.compile(r"\b(?:us|eu|ap|sa|ca|me|af|il|mx|cn)(?:-gov)?-[a-z]+-\d\b")


def _provider(stack, region, **kwargs):
    from constructs_lib.aws import AwsProvider

    return AwsProvider(stack, "aws", region=region, **kwargs)


def _resources_text(doc) -> str:
    """Every resource, module and data source of the document (what Terraform creates or reads)."""
    return json.dumps({key: doc.get(key) for key in ("resource", "module", "data", "output")})


@pytest.mark.parametrize("region", ["eu-west-1", "ap-southeast-2", "cn-north-1", "us-gov-west-1"])
def test_default_props_in_any_region_name_no_other_region(stack, synth, region):
    from constructs_lib import EventPipeline, EventPipelineProps

    _provider(stack, region)
    # China regions have no public Powertools parameter: a layer of the region instead.
    layer = f"arn:aws-cn:lambda:{region}:123456789012:layer:powertools:1"
    props = EventPipelineProps(powertools_layer=layer) if region.startswith("cn-") else None
    EventPipeline(stack, "orders", props=props)
    doc = synth(stack)
    text = _resources_text(doc)
    assert set(REGION_NAME.findall(text)) == {region}
    policy = json.loads(doc["resource"]["aws_kms_key"]["orders_messaging_key"]["policy"])
    via = next(s for s in policy["Statement"] if s["Sid"] == "AccountUsesKeyThroughSqsAndSns")
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    assert via["Condition"]["StringEquals"]["kms:ViaService"] == [f"sqs.{region}.{suffix}", f"sns.{region}.{suffix}"]
    partition = {"cn": "aws-cn", "us-gov": "aws-us-gov"}.get(region.rsplit("-", 2)[0], "aws")
    assert f"arn:{partition}:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole" in text


def test_a_region_token_reads_every_fact_from_data_sources(stack, synth):
    from constructs_lib import EventPipeline
    from constructs_lib.cdk import core

    region = core.TerraformVariable(stack, "region", type="string")
    _provider(stack, region.string_value)
    EventPipeline(stack, "orders")
    doc = synth(stack)
    assert not REGION_NAME.findall(_resources_text(doc))
    assert set(doc["data"]["aws_region"]) == {"current_region"}
    assert set(doc["data"]["aws_partition"]) == {"current_partition"}
    policy = doc["resource"]["aws_kms_key"]["orders_messaging_key"]["policy"]
    assert "sqs.${data.aws_region.current_region.name}.${data.aws_partition.current_partition.dns_suffix}" in policy


def test_from_config_refuses_a_region_other_than_the_providers(stack):
    from constructs_lib import ConfigError, EventPipeline, build_config

    _provider(stack, "eu-west-1")
    with pytest.raises(ConfigError) as raised:
        EventPipeline.from_config(stack, "orders", build_config(region="us-east-1"))
    assert [(p.field, p.rule) for p in raised.value.problems] == [
        ("region", "the configuration says 'us-east-1' but the stack's AWS provider is in 'eu-west-1'")]


def test_config_keyword_still_works_with_a_deprecation_warning(stack, synth):
    from constructs_lib import EventPipeline, build_config

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        EventPipeline(stack, "orders", config=build_config(name_suffix="-x"))
    assert any(issubclass(w.category, DeprecationWarning) and "from_config" in str(w.message) for w in caught)
    assert "orders_table" in synth(stack)["module"]


def test_tags_reach_every_resource_that_takes_them_except_the_providers_own(stack, synth):
    from constructs_lib import EventPipeline, EventPipelineProps
    from constructs_lib.aws import AwsProviderDefaultTags

    _provider(stack, "eu-west-1", default_tags=[AwsProviderDefaultTags(tags={"Project": "shop"})])
    EventPipeline(stack, "orders", props=EventPipelineProps(tags={"Project": "shop", "team": "orders"}))
    doc = synth(stack)
    for name, module in doc["module"].items():
        assert module["tags"] == {"team": "orders"}, name
    taggable = ("aws_kms_key", "aws_cloudwatch_metric_alarm", "aws_lambda_event_source_mapping")
    for kind in taggable:
        for name, resource in doc["resource"][kind].items():
            assert resource["tags"] == {"team": "orders"}, (kind, name)


def test_a_provider_constraint_the_modules_cannot_accept_fails_synth_naming_both(stack):
    from constructs_lib import EventPipeline

    _provider(stack, "eu-west-1")
    stack.add_override("terraform.required_providers.aws.version", "~> 4.0")
    pipeline = EventPipeline(stack, "orders")
    problems = pipeline.problems()
    assert len(problems) == 1 and "'~> 4.0'" in problems[0] and "'>= 5.98'" in problems[0]
    with pytest.raises(RuntimeError, match=r"the stack pins hashicorp/aws '~> 4\.0'"):
        stack.node.scope.synth()


def test_a_plain_provider_of_aws_6_fits_the_tutorial_modules_and_is_left_alone(stack, synth):
    from constructs_lib import EventPipeline

    _provider(stack, "eu-west-1")
    pipeline = EventPipeline(stack, "orders")
    assert pipeline.problems() == []
    version = synth(stack)["terraform"]["required_providers"]["aws"]["version"]
    assert version.split(".")[0] == "6"  # the provider package's own pin, not overwritten with ~> 5.0


def test_add_subscriber_after_synth_raises(stack):
    from constructs_lib import EventPipeline, SynthesizedError

    _provider(stack, "eu-west-1")
    pipeline = EventPipeline(stack, "orders")
    stack.node.scope.synth()
    with pytest.raises(SynthesizedError, match="add_subscriber after the app was synthesized"):
        pipeline.add_subscriber({"name": "late"})
