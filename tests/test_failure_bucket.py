"""stream.on_failure = "s3": the failure bucket, its settings, the producer's grants, the mapping, the alarm, and
the stack validated offline by terraform (skipped without the offline inputs)."""

from __future__ import annotations

import json

import pytest

from pipeline_model.config import build_config
from pipeline_model.errors import ConfigError

from test_terraform_validate import Offline, offline, tv  # noqa: F401  (the session fixture)

S3 = {"stream": {"on_failure": "s3"}}


# --- configuration ------------------------------------------------------------------------------------------


def test_default_is_the_queue():
    config = build_config()
    assert config.stream.on_failure == "queue"
    assert config.stream.failure_retention_days == 90


@pytest.mark.parametrize("stream, field, text", [
    ({"on_failure": "sqs"}, "stream.on_failure", "'queue' or 's3'"),
    ({"on_failure": "s3", "failure_retention_days": 0}, "stream.failure_retention_days", "greater than or equal to 1"),
    ({"on_failure": "s3", "failure_retention_days": 3651}, "stream.failure_retention_days", "less than or equal to 3650"),
    ({"on_failure": "s3", "maximum_record_age_seconds": 86400}, "stream.maximum_record_age_seconds",
     "before DynamoDB Streams trims"),
    ({"maximum_record_age_seconds": 86400}, "stream.maximum_record_age_seconds", 'or on_failure = "s3"'),
])
def test_bad_settings_name_the_field(stream, field, text):
    with pytest.raises(ConfigError) as error:
        build_config(stream=stream)
    problems = [p for p in error.value.problems if p.field == field]
    assert problems and text in str(problems[0]), error.value.problems


def test_the_bucket_keeps_the_records_so_no_replay_margin_is_needed():
    assert build_config(stream={"on_failure": "s3", "maximum_record_age_seconds": 82800}).stream.on_failure == "s3"


# --- synthesized stack ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_synth(synth_config):
    return synth_config([build_config(**S3)])


@pytest.fixture(scope="module")
def s3_tf(s3_synth):
    return s3_synth.only


def _one(doc, kind):
    (value,) = doc["resource"][kind].values()
    return {k: v for k, v in value.items() if k != "//"}


def test_bucket_settings(s3_tf):
    bucket = s3_tf["resource"]["aws_s3_bucket"]["stream_failure_bucket"]
    assert bucket["bucket_prefix"] == "event-driven-pipeline-failures-" and "force_destroy" not in bucket
    ref = "${aws_s3_bucket.stream_failure_bucket.id}"
    block = _one(s3_tf, "aws_s3_bucket_public_access_block")
    assert block == {"bucket": ref, "block_public_acls": True, "block_public_policy": True,
                     "ignore_public_acls": True, "restrict_public_buckets": True}
    assert _one(s3_tf, "aws_s3_bucket_versioning")["versioning_configuration"] == {"status": "Enabled"}
    assert _one(s3_tf, "aws_s3_bucket_ownership_controls")["rule"] == {"object_ownership": "BucketOwnerEnforced"}
    (rule,) = _one(s3_tf, "aws_s3_bucket_server_side_encryption_configuration")["rule"]
    assert rule["apply_server_side_encryption_by_default"] == {
        "sse_algorithm": "aws:kms", "kms_master_key_id": "${aws_kms_key.messaging_key.arn}"}
    assert rule["bucket_key_enabled"] is True
    (life,) = _one(s3_tf, "aws_s3_bucket_lifecycle_configuration")["rule"]
    assert life["status"] == "Enabled" and life["expiration"] == [{"days": 90}]
    assert life["noncurrent_version_expiration"] == [{"noncurrent_days": 90}]
    policy = json.loads(_one(s3_tf, "aws_s3_bucket_policy")["policy"])
    (deny,) = policy["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Resource"] == ["${aws_s3_bucket.stream_failure_bucket.arn}",
                                "${aws_s3_bucket.stream_failure_bucket.arn}/*"]


def test_mapping_sends_failed_batches_to_the_bucket_and_the_queue_is_gone(s3_tf):
    mapping = s3_tf["resource"]["aws_lambda_event_source_mapping"]["producer_event_source"]
    assert mapping["destination_config"] == {
        "on_failure": {"destination_arn": "${aws_s3_bucket.stream_failure_bucket.arn}"}}
    assert "stream_failures" not in s3_tf["module"]
    assert "stream_failure_queue_url" not in s3_tf["output"]
    assert s3_tf["output"]["stream_failure_bucket"]["value"] == "${aws_s3_bucket.stream_failure_bucket.bucket}"


def test_producer_may_write_to_the_bucket_only(s3_tf):
    statements = s3_tf["module"]["producer"]["policy_statements"]
    granted = {(a, r) for s in statements.values() for a in s["actions"] for r in s["resources"]}
    assert granted == {
        ("sns:Publish", "${module.topic.topic_arn}"),
        ("s3:PutObject", "${aws_s3_bucket.stream_failure_bucket.arn}/*"),
        ("s3:ListBucket", "${aws_s3_bucket.stream_failure_bucket.arn}"),
    }


def test_key_lets_the_producer_write_and_the_account_read_through_s3(s3_synth):
    stack = next(iter(s3_synth.stacks.values()))
    policy = stack.pipeline.key.policy
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    roles = by_sid["RolesSendEncryptedMessages"]
    assert "kms:GenerateDataKey*" in roles["Action"] and stack.pipeline.producer.role_arn in roles["Principal"]["AWS"]
    via = by_sid["AccountUsesKeyThroughSqsAndSnsAndS3"]["Condition"]["StringEquals"]["kms:ViaService"]
    assert [v.split(".")[0] for v in via] == ["sqs", "sns", "s3"]


def test_new_objects_alarm_watches_put_requests(s3_tf):
    alarms = s3_tf["resource"]["aws_cloudwatch_metric_alarm"]
    assert "alarm_stream_failures_messages" not in alarms
    alarm = alarms["alarm_stream_failure_bucket_new_objects"]
    assert (alarm["namespace"], alarm["metric_name"], alarm["statistic"]) == ("AWS/S3", "PutRequests", "Sum")
    assert alarm["dimensions"] == {"BucketName": "${aws_s3_bucket.stream_failure_bucket.bucket}",
                                   "FilterId": "EntireBucket"}
    assert alarm["comparison_operator"] == "GreaterThanOrEqualToThreshold" and alarm["threshold"] == 1
    metric = _one(s3_tf, "aws_s3_bucket_metric")
    assert metric == {"bucket": "${aws_s3_bucket.stream_failure_bucket.id}", "name": "EntireBucket"}


def test_without_the_customer_managed_key_the_bucket_uses_sse_s3(synth_config):
    tf = synth_config([build_config(**S3, security={"customer_managed_key": False})]).only
    (rule,) = _one(tf, "aws_s3_bucket_server_side_encryption_configuration")["rule"]
    assert rule["apply_server_side_encryption_by_default"] == {"sse_algorithm": "AES256"}
    assert "aws_kms_key" not in tf["resource"]


def test_default_stack_has_no_bucket(tf):
    assert not [k for k in tf["resource"] if k.startswith("aws_s3")]
    assert tf["resource"]["aws_lambda_event_source_mapping"]["producer_event_source"]["destination_config"] == {
        "on_failure": {"destination_arn": "${module.stream_failures.queue_arn}"}}


def test_s3_stack_validates_and_plans_offline(s3_synth, offline):  # noqa: F811
    result = tv.validate_stack(s3_synth.stack_dir("event-driven-pipeline"), offline.terraform, offline.env,
                               offline.inputs, offline.workdir, plan=True)
    problems = "\n".join(map(tv.format_diagnostic, result.diagnostics)) + result.output
    assert result.valid and result.diagnostics == [], problems
    assert result.plan_changes["add"] > 0, result.plan_changes


@pytest.mark.parametrize("stack, suffix, expected", [
    (None, "", "event-driven-pipeline-failures-"),
    ("Orders_Pipeline", "-dev", "orders-pipeline-dev-failures-"),
    ("A" * 63, "", "a" * 27 + "-failures-"),
])
def test_bucket_prefix_fits_s3_names(stack, suffix, expected):
    from pipeline_model.names import BUCKET_PREFIX_MAX, pipeline_names

    prefix = pipeline_names(stack=stack, suffix=suffix).failure_bucket_prefix
    assert prefix == expected and len(prefix) <= BUCKET_PREFIX_MAX
