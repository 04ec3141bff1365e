"""The typed classes of the prebuilt AWS provider the constructs use.

From ``cdktf_cdktf_provider_aws`` or ``cdktn_provider_aws``, whichever
``runtime.flavour`` chose, loaded by ``runtime.provider`` without the package's slow import
(see there). ``IMPORT_PATH``, ``JS_INDEX`` and ``JS_INDEX_DETAIL`` say how.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .cdk import FLAVOUR
from .runtime import provider as _provider

_SUBMODULES = (
    "provider",
    "iam_role_policy",
    "iam_role_policy_attachment",
    "iam_role",
    "cloudwatch_log_group",
    "lambda_event_source_mapping",
    "sns_topic_subscription",
    "kms_key",
    "kms_alias",
    "cloudwatch_metric_alarm",
    "cloudwatch_dashboard",
    "data_aws_caller_identity",
    "data_aws_ssm_parameter",
    "data_aws_region",
    "data_aws_partition",
    "s3_bucket",
    "s3_bucket_server_side_encryption_configuration",
    "s3_bucket_public_access_block",
    "s3_bucket_versioning",
    "s3_bucket_ownership_controls",
    "s3_bucket_lifecycle_configuration",
    "s3_bucket_policy",
    "s3_bucket_metric",
)

_modules, STATUS = _provider.load(FLAVOUR, _SUBMODULES)
#: "fast" or "naive": which path loaded the provider (read by tests and the benchmark).
IMPORT_PATH = STATUS.import_path
#: "lazy" (the lazy-index tarball is in the jsii kernel) or "eager" (the original tarball).
JS_INDEX = STATUS.js_index
#: Why, when JS_INDEX is "eager" or the ordinary import ran.
JS_INDEX_DETAIL = STATUS.detail

if TYPE_CHECKING:  # type checkers see cdktf's provider classes; CDK Terrain's have the same API
    from cdktf_cdktf_provider_aws.provider import AwsProvider as AwsProvider
    from cdktf_cdktf_provider_aws.provider import AwsProviderDefaultTags as AwsProviderDefaultTags
    from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy as IamRolePolicy
    from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment as IamRolePolicyAttachment
    from cdktf_cdktf_provider_aws.iam_role import IamRole as IamRole
    from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup as CloudwatchLogGroup
    from cdktf_cdktf_provider_aws.lambda_event_source_mapping import LambdaEventSourceMapping as LambdaEventSourceMapping
    from cdktf_cdktf_provider_aws.lambda_event_source_mapping import LambdaEventSourceMappingDestinationConfig as LambdaEventSourceMappingDestinationConfig
    from cdktf_cdktf_provider_aws.lambda_event_source_mapping import LambdaEventSourceMappingDestinationConfigOnFailure as LambdaEventSourceMappingDestinationConfigOnFailure
    from cdktf_cdktf_provider_aws.lambda_event_source_mapping import LambdaEventSourceMappingFilterCriteria as LambdaEventSourceMappingFilterCriteria
    from cdktf_cdktf_provider_aws.lambda_event_source_mapping import LambdaEventSourceMappingFilterCriteriaFilter as LambdaEventSourceMappingFilterCriteriaFilter
    from cdktf_cdktf_provider_aws.lambda_event_source_mapping import LambdaEventSourceMappingMetricsConfig as LambdaEventSourceMappingMetricsConfig
    from cdktf_cdktf_provider_aws.lambda_event_source_mapping import LambdaEventSourceMappingScalingConfig as LambdaEventSourceMappingScalingConfig
    from cdktf_cdktf_provider_aws.sns_topic_subscription import SnsTopicSubscription as SnsTopicSubscription
    from cdktf_cdktf_provider_aws.kms_key import KmsKey as KmsKey
    from cdktf_cdktf_provider_aws.kms_alias import KmsAlias as KmsAlias
    from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm as CloudwatchMetricAlarm
    from cdktf_cdktf_provider_aws.cloudwatch_dashboard import CloudwatchDashboard as CloudwatchDashboard
    from cdktf_cdktf_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity as DataAwsCallerIdentity
    from cdktf_cdktf_provider_aws.data_aws_ssm_parameter import DataAwsSsmParameter as DataAwsSsmParameter
    from cdktf_cdktf_provider_aws.data_aws_region import DataAwsRegion as DataAwsRegion
    from cdktf_cdktf_provider_aws.data_aws_partition import DataAwsPartition as DataAwsPartition
    from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket as S3Bucket
    from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import S3BucketServerSideEncryptionConfigurationA as S3BucketServerSideEncryptionConfigurationA
    from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import S3BucketServerSideEncryptionConfigurationRuleA as S3BucketServerSideEncryptionConfigurationRuleA
    from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA as S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA
    from cdktf_cdktf_provider_aws.s3_bucket_public_access_block import S3BucketPublicAccessBlock as S3BucketPublicAccessBlock
    from cdktf_cdktf_provider_aws.s3_bucket_versioning import S3BucketVersioningA as S3BucketVersioningA
    from cdktf_cdktf_provider_aws.s3_bucket_versioning import S3BucketVersioningVersioningConfiguration as S3BucketVersioningVersioningConfiguration
    from cdktf_cdktf_provider_aws.s3_bucket_ownership_controls import S3BucketOwnershipControls as S3BucketOwnershipControls
    from cdktf_cdktf_provider_aws.s3_bucket_ownership_controls import S3BucketOwnershipControlsRule as S3BucketOwnershipControlsRule
    from cdktf_cdktf_provider_aws.s3_bucket_lifecycle_configuration import S3BucketLifecycleConfiguration as S3BucketLifecycleConfiguration
    from cdktf_cdktf_provider_aws.s3_bucket_lifecycle_configuration import S3BucketLifecycleConfigurationRule as S3BucketLifecycleConfigurationRule
    from cdktf_cdktf_provider_aws.s3_bucket_lifecycle_configuration import S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload as S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload
    from cdktf_cdktf_provider_aws.s3_bucket_lifecycle_configuration import S3BucketLifecycleConfigurationRuleExpiration as S3BucketLifecycleConfigurationRuleExpiration
    from cdktf_cdktf_provider_aws.s3_bucket_lifecycle_configuration import S3BucketLifecycleConfigurationRuleFilter as S3BucketLifecycleConfigurationRuleFilter
    from cdktf_cdktf_provider_aws.s3_bucket_lifecycle_configuration import S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration as S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration
    from cdktf_cdktf_provider_aws.s3_bucket_policy import S3BucketPolicy as S3BucketPolicy
    from cdktf_cdktf_provider_aws.s3_bucket_metric import S3BucketMetric as S3BucketMetric
else:
    AwsProvider = _modules["provider"].AwsProvider
    AwsProviderDefaultTags = _modules["provider"].AwsProviderDefaultTags
    IamRolePolicy = _modules["iam_role_policy"].IamRolePolicy
    IamRolePolicyAttachment = _modules["iam_role_policy_attachment"].IamRolePolicyAttachment
    IamRole = _modules["iam_role"].IamRole
    CloudwatchLogGroup = _modules["cloudwatch_log_group"].CloudwatchLogGroup
    LambdaEventSourceMapping = _modules["lambda_event_source_mapping"].LambdaEventSourceMapping
    LambdaEventSourceMappingDestinationConfig = _modules["lambda_event_source_mapping"].LambdaEventSourceMappingDestinationConfig
    LambdaEventSourceMappingDestinationConfigOnFailure = _modules[
        "lambda_event_source_mapping"
    ].LambdaEventSourceMappingDestinationConfigOnFailure
    LambdaEventSourceMappingFilterCriteria = _modules["lambda_event_source_mapping"].LambdaEventSourceMappingFilterCriteria
    LambdaEventSourceMappingFilterCriteriaFilter = _modules["lambda_event_source_mapping"].LambdaEventSourceMappingFilterCriteriaFilter
    LambdaEventSourceMappingMetricsConfig = _modules["lambda_event_source_mapping"].LambdaEventSourceMappingMetricsConfig
    LambdaEventSourceMappingScalingConfig = _modules["lambda_event_source_mapping"].LambdaEventSourceMappingScalingConfig
    SnsTopicSubscription = _modules["sns_topic_subscription"].SnsTopicSubscription
    KmsKey = _modules["kms_key"].KmsKey
    KmsAlias = _modules["kms_alias"].KmsAlias
    CloudwatchMetricAlarm = _modules["cloudwatch_metric_alarm"].CloudwatchMetricAlarm
    CloudwatchDashboard = _modules["cloudwatch_dashboard"].CloudwatchDashboard
    DataAwsCallerIdentity = _modules["data_aws_caller_identity"].DataAwsCallerIdentity
    DataAwsSsmParameter = _modules["data_aws_ssm_parameter"].DataAwsSsmParameter
    DataAwsRegion = _modules["data_aws_region"].DataAwsRegion
    DataAwsPartition = _modules["data_aws_partition"].DataAwsPartition
    S3Bucket = _modules["s3_bucket"].S3Bucket
    _sse = _modules["s3_bucket_server_side_encryption_configuration"]
    S3BucketServerSideEncryptionConfigurationA = _sse.S3BucketServerSideEncryptionConfigurationA
    S3BucketServerSideEncryptionConfigurationRuleA = _sse.S3BucketServerSideEncryptionConfigurationRuleA
    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA = (
        _sse.S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA)
    S3BucketPublicAccessBlock = _modules["s3_bucket_public_access_block"].S3BucketPublicAccessBlock
    S3BucketVersioningA = _modules["s3_bucket_versioning"].S3BucketVersioningA
    S3BucketVersioningVersioningConfiguration = _modules["s3_bucket_versioning"].S3BucketVersioningVersioningConfiguration
    S3BucketOwnershipControls = _modules["s3_bucket_ownership_controls"].S3BucketOwnershipControls
    S3BucketOwnershipControlsRule = _modules["s3_bucket_ownership_controls"].S3BucketOwnershipControlsRule
    _lifecycle = _modules["s3_bucket_lifecycle_configuration"]
    S3BucketLifecycleConfiguration = _lifecycle.S3BucketLifecycleConfiguration
    S3BucketLifecycleConfigurationRule = _lifecycle.S3BucketLifecycleConfigurationRule
    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload = (
        _lifecycle.S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload)
    S3BucketLifecycleConfigurationRuleExpiration = _lifecycle.S3BucketLifecycleConfigurationRuleExpiration
    S3BucketLifecycleConfigurationRuleFilter = _lifecycle.S3BucketLifecycleConfigurationRuleFilter
    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration = (
        _lifecycle.S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration)
    S3BucketPolicy = _modules["s3_bucket_policy"].S3BucketPolicy
    S3BucketMetric = _modules["s3_bucket_metric"].S3BucketMetric
