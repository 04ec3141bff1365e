"""The stream failure bucket: where Lambda writes a stream batch that exhausted its retries, with its records
(``[stream] on_failure = "s3"``; docs/operations.md, "Replay from S3").

Native resources of the stack's AWS provider, each a secure default of its own: encryption with the
pipeline's customer-managed key (SSE-KMS with an S3 Bucket Key) or, without that key, SSE-S3; every public
access blocked; versioning on (a replayed object's deletion leaves its data as a noncurrent version until the
lifecycle rule expires it); ownership enforced (no ACLs); a lifecycle rule expiring objects after
``retention_days``; a bucket policy denying every request made without TLS; and S3 request metrics for the
whole bucket, so that a CloudWatch alarm on ``PutRequests`` fires when Lambda writes a failed batch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from constructs import Construct

from .aws import (
    S3Bucket,
    S3BucketLifecycleConfiguration,
    S3BucketLifecycleConfigurationRule,
    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload,
    S3BucketLifecycleConfigurationRuleExpiration,
    S3BucketLifecycleConfigurationRuleFilter,
    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration,
    S3BucketMetric,
    S3BucketOwnershipControls,
    S3BucketOwnershipControlsRule,
    S3BucketPolicy,
    S3BucketPublicAccessBlock,
    S3BucketServerSideEncryptionConfigurationA,
    S3BucketServerSideEncryptionConfigurationRuleA,
    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA,
    S3BucketVersioningA,
    S3BucketVersioningVersioningConfiguration,
)
from .ids import set_logical_id
from .observability import AlarmSpec
from .props import prop
from .security import MessagingKey

#: The request metrics configuration covering every object (its name is the metric's FilterId dimension).
METRICS_FILTER_ID = "EntireBucket"
#: What Lambda needs to write a failed batch to an S3 on-failure destination, as AWS documents it
#: (Lambda developer guide, "Retain discarded records ..."): s3:PutObject on the objects, s3:ListBucket on the bucket.
WRITER_OBJECT_ACTIONS = ["s3:PutObject"]
WRITER_BUCKET_ACTIONS = ["s3:ListBucket"]


@dataclass(frozen=True)
class FailureBucketProps:
    bucket_prefix: str = prop(description="Name prefix (Terraform appends a unique suffix; S3 names are global).")
    retention_days: int = prop(description="Days an object (and a noncurrent version) is kept before it expires.")
    key: MessagingKey | None = prop(None, "Customer-managed key for SSE-KMS; None = SSE-S3 (AES256).")
    enforce_tls: bool = prop(True, "Bucket policy denying every request made without TLS.")
    logical_id: str = prop("stream_failure_bucket", "Logical id of the bucket; its settings get it as a prefix.")


def tls_only_policy(bucket_arn: str) -> dict[str, Any]:
    """Bucket policy denying any request made without TLS, to the bucket and its objects. A Deny with
    principal ``*`` removes rights; it grants none."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }],
    }


def new_objects_alarm(key: str, alarm_name: str, bucket_name: str) -> AlarmSpec:
    """Fires in a period in which anything was written to the bucket: Lambda writes a failed batch there, and
    nothing else writes (the replay tool only reads and deletes)."""
    return AlarmSpec(
        f"alarm_{key}_new_objects", f"{alarm_name}-new-objects",
        f"A stream batch failed past its retries and was written to {alarm_name}: replay it (docs/operations.md, "
        "'Replay from S3').",
        "AWS/S3", "PutRequests", {"BucketName": bucket_name, "FilterId": METRICS_FILTER_ID}, "Sum",
        "GreaterThanOrEqualToThreshold", 1,
    )


class FailureBucket(Construct):
    """A private, encrypted, versioned bucket with expiry, TLS-only, ownership enforced, and request metrics.
    Exposes ``bucket_arn``, ``bucket_name`` and ``writer_statements`` (IAM statements for the writing role)."""

    def __init__(self, scope: Construct, id: str, *, props: FailureBucketProps) -> None:
        super().__init__(scope, id)
        self.props = props
        lid = props.logical_id
        self.bucket = S3Bucket(self, "bucket", bucket_prefix=props.bucket_prefix)
        set_logical_id(self.bucket, lid)
        self.bucket_name: str = self.bucket.bucket
        self.bucket_arn: str = self.bucket.arn
        bucket_id = self.bucket.id

        block = S3BucketPublicAccessBlock(self, "public_access_block", bucket=bucket_id, block_public_acls=True,
                                          block_public_policy=True, ignore_public_acls=True,
                                          restrict_public_buckets=True)
        set_logical_id(block, f"{lid}_public_access_block")
        ownership = S3BucketOwnershipControls(self, "ownership", bucket=bucket_id, rule=S3BucketOwnershipControlsRule(
            object_ownership="BucketOwnerEnforced"))
        set_logical_id(ownership, f"{lid}_ownership")
        by_default = (
            S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                sse_algorithm="aws:kms", kms_master_key_id=props.key.key_arn)
            if props.key is not None else
            S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(sse_algorithm="AES256")
        )
        encryption = S3BucketServerSideEncryptionConfigurationA(
            self, "encryption", bucket=bucket_id, rule=[S3BucketServerSideEncryptionConfigurationRuleA(
                apply_server_side_encryption_by_default=by_default,
                bucket_key_enabled=True if props.key is not None else None)])
        set_logical_id(encryption, f"{lid}_encryption")
        versioning = S3BucketVersioningA(self, "versioning", bucket=bucket_id,
                                         versioning_configuration=S3BucketVersioningVersioningConfiguration(
                                             status="Enabled"))
        set_logical_id(versioning, f"{lid}_versioning")
        lifecycle = S3BucketLifecycleConfiguration(
            self, "lifecycle", bucket=bucket_id, depends_on=[versioning], rule=[S3BucketLifecycleConfigurationRule(
                id="expire-failed-batches", status="Enabled",
                filter=[S3BucketLifecycleConfigurationRuleFilter(prefix="")],
                expiration=[S3BucketLifecycleConfigurationRuleExpiration(days=props.retention_days)],
                noncurrent_version_expiration=[S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(
                    noncurrent_days=props.retention_days)],
                abort_incomplete_multipart_upload=[
                    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(days_after_initiation=1)],
            )])
        set_logical_id(lifecycle, f"{lid}_lifecycle")
        if props.enforce_tls:
            # After the public access block: S3 checks a new policy against it.
            policy = S3BucketPolicy(self, "policy", bucket=bucket_id, depends_on=[block],
                                    policy=json.dumps(tls_only_policy(self.bucket_arn)))
            set_logical_id(policy, f"{lid}_policy")
        metric = S3BucketMetric(self, "metrics", bucket=bucket_id, name=METRICS_FILTER_ID)
        set_logical_id(metric, f"{lid}_metrics")

    @property
    def writer_statements(self) -> dict[str, dict[str, Any]]:
        """The writing role's statements (lambda module ``policy_statements`` form): write objects, list the bucket."""
        return {
            "stream_failure_objects": {"effect": "Allow", "actions": list(WRITER_OBJECT_ACTIONS),
                                       "resources": [f"{self.bucket_arn}/*"]},
            "stream_failure_bucket": {"effect": "Allow", "actions": list(WRITER_BUCKET_ACTIONS),
                                      "resources": [self.bucket_arn]},
        }
