"""EventPipeline composed: two in one stack, duplicate ids refused, subscribers added later."""

from __future__ import annotations

import json

import pytest


def two_pipelines(stack):
    from constructs_lib import EventPipeline, build_config

    first = EventPipeline(stack, "orders", config=build_config(name_suffix="-orders"))
    second = EventPipeline(stack, "billing", config=build_config(name_suffix="-billing"))
    return first, second


def test_default_pipeline_id_keeps_todays_logical_ids(stack, synth):
    from constructs_lib import EventPipeline, build_config

    EventPipeline(stack, "pipeline", config=build_config())
    doc = synth(stack)
    assert {"table", "topic", "producer", "stream_failures", "queue_main", "consumer_main", "alarm_topic"} <= set(doc["module"])
    assert list(doc["data"]["aws_caller_identity"]) == ["current"]
    assert list(doc["resource"]["aws_kms_key"]) == ["messaging_key"]


def test_two_pipelines_synthesize_completely_with_prefixed_ids(stack, synth):
    two_pipelines(stack)
    doc = synth(stack)
    for prefix in ("orders_", "billing_"):
        for module in ("table", "topic", "producer", "stream_failures", "queue_main", "idempotency_main",
                       "consumer_main", "alarm_topic"):
            assert f"{prefix}{module}" in doc["module"], (prefix, module)
        assert f"{prefix}current" in doc["data"]["aws_caller_identity"]
        assert f"{prefix}messaging_key" in doc["resource"]["aws_kms_key"]
        assert f"{prefix}dashboard" in doc["resource"]["aws_cloudwatch_dashboard"]
        assert f"{prefix}producer_event_source" in doc["resource"]["aws_lambda_event_source_mapping"]
        assert f"{prefix}alarm_producer_errors" in doc["resource"]["aws_cloudwatch_metric_alarm"]
    assert doc["module"]["orders_table"]["name"] == "application-data-table-orders"
    assert doc["module"]["billing_table"]["name"] == "application-data-table-billing"
    # Each pipeline's references point at its own resources.
    assert doc["module"]["billing_queue_main"]["queue_policy_statements"]["sns"]["conditions"][0]["values"] == [
        "${module.billing_topic.topic_arn}"
    ]
    # No unprefixed leftovers a second pipeline could collide with.
    assert not [k for k in doc["module"] if not k.startswith(("orders_", "billing_"))]


def test_a_duplicate_logical_id_is_an_error_not_an_overwrite(stack):
    from constructs_lib import DuplicateLogicalIdError, EventPipeline, build_config

    EventPipeline(stack, "a", config=build_config(), logical_id_prefix="")
    with pytest.raises(DuplicateLogicalIdError, match=r"logical id 'current' is used twice in stack 'test'"):
        EventPipeline(stack, "b", config=build_config(name_suffix="-b"), logical_id_prefix="")


def test_add_subscriber_wires_everything_a_configured_one_gets(stack, synth, tmp_path):
    from constructs_lib import EventPipeline, build_config

    code = tmp_path / "audit_handler"
    code.mkdir()
    (code / "app.py").write_text("def handler(event, context):\n    return {'batchItemFailures': []}\n")
    pipeline = EventPipeline(stack, "pipeline", config=build_config())
    added = pipeline.add_subscriber({"name": "audit", "code": str(code)})
    assert added.names.queue == "audit-queue"
    assert [s.config.name for s in pipeline.subscribers] == ["main", "audit"]
    doc = synth(stack)
    module = doc["module"]["queue_audit"]
    assert module["queue_policy_statements"]["sns"]["conditions"][0]["values"] == ["${module.topic.topic_arn}"]
    assert module["kms_master_key_id"] == "${aws_kms_key.messaging_key.arn}"
    assert "consumer_audit" in doc["module"] and "idempotency_audit" in doc["module"]
    # The key policy (computed at synth) lets the added consumer read.
    policy = json.loads(doc["resource"]["aws_kms_key"]["messaging_key"]["policy"])
    (readers,) = [s for s in policy["Statement"] if s["Sid"] == "RolesReadEncryptedMessages"]
    assert readers["Principal"]["AWS"] == ["${module.consumer_main.lambda_role_arn}", "${module.consumer_audit.lambda_role_arn}"]
    alarms = doc["resource"]["aws_cloudwatch_metric_alarm"]
    assert {"alarm_queue_audit_oldest_message", "alarm_dlq_audit_messages", "alarm_consumer_audit_errors"} <= set(alarms)
    body = json.loads(doc["resource"]["aws_cloudwatch_dashboard"]["dashboard"]["dashboard_body"])
    invocations = [m[-1] for m in body["widgets"][0]["properties"]["metrics"]]
    assert invocations[-1] == "${module.consumer_audit.lambda_function_name}"
    mapping = doc["resource"]["aws_lambda_event_source_mapping"]["producer_event_source"]
    assert mapping["depends_on"] == [
        "aws_iam_role_policy_attachment.producer_execution_policy",
        "aws_sns_topic_subscription.subscription_main",
        "aws_sns_topic_subscription.subscription_audit",
    ]


def test_add_subscriber_validates_with_the_pipeline(stack):
    from constructs_lib import ConfigError, EventPipeline, build_config

    pipeline = EventPipeline(stack, "pipeline", config=build_config())
    with pytest.raises(ConfigError, match=r"subscribers\.1\.name"):
        pipeline.add_subscriber({"name": "main"})
    with pytest.raises(ConfigError, match="batch_size"):
        pipeline.add_subscriber({"name": "x", "batch_size": 0})
    assert len(pipeline.subscribers) == 1


def test_public_api_is_importable_from_the_top_level():
    import constructs_lib

    for name in constructs_lib.__all__:
        assert getattr(constructs_lib, name) is not None, name


def test_pipeline_stack_outputs_cover_subscribers_added_later(tmp_path, synth):
    from constructs_lib import App, PipelineStack, build_config

    stack = PipelineStack(App(outdir=str(tmp_path / "cdktf.out")), build_config())
    stack.pipeline.add_subscriber({"name": "audit"})
    outputs = synth(stack)["output"]
    assert outputs["queue_url_audit"]["value"] == "${module.queue_audit.queue_url}"
    assert outputs["consumer_function_name_audit"]["value"] == "${module.consumer_audit.lambda_function_name}"
    assert {"queue_url_main", "dlq_url_main", "dlq_url_audit", "table_name"} <= set(outputs)


def test_add_subscriber_gets_the_name_suffix_the_pipeline_was_built_with(stack, synth):
    """name_suffix is applied to every AWS name, also of a subscriber added later: two pipelines
    (or two environments in one account) adding the same subscriber must not share its queue,
    function or table."""
    orders, billing = two_pipelines(stack)
    for pipeline, suffix in ((orders, "-orders"), (billing, "-billing")):
        added = pipeline.add_subscriber({"name": "audit"})
        assert added.names.queue == f"audit-queue{suffix}"
        assert added.names.dlq == f"audit-queue{suffix}-dlq"
        assert added.names.function == f"audit-consumer{suffix}"
        assert added.names.idempotency_table == f"audit-consumer{suffix}-idempotency"
    # the suffix is kept for the next one too, and applies to names given explicitly as at load
    again = orders.add_subscriber({"name": "search", "queue_name": "index", "function_name": "indexer"})
    assert (again.names.queue, again.names.function) == ("index-orders", "indexer-orders")
    doc = synth(stack)
    assert doc["module"]["orders_queue_audit"]["name"] == "audit-queue-orders"
    assert doc["module"]["billing_queue_audit"]["name"] == "audit-queue-billing"
    assert doc["module"]["orders_consumer_audit"]["function_name"] == "audit-consumer-orders"
    assert doc["module"]["billing_idempotency_audit"]["name"] == "audit-consumer-billing-idempotency"
    alarms = doc["resource"]["aws_cloudwatch_metric_alarm"]
    assert alarms["orders_alarm_dlq_audit_messages"]["alarm_name"] == "audit-queue-orders-dlq-not-empty"


def test_add_subscriber_under_per_item_ordering_and_a_suffix_gets_a_fifo_queue_named_as_the_module_does(stack, synth):
    from constructs_lib import EventPipeline, build_config

    pipeline = EventPipeline(stack, "pipeline", config=build_config(ordering="per-item", name_suffix="-ordered"))
    added = pipeline.add_subscriber({"name": "audit"})
    assert added.names.queue == "audit-queue-ordered.fifo"
    assert added.names.dlq == "audit-queue-ordered-dlq.fifo"  # the sqs module's <stem>-dlq.fifo
    doc = synth(stack)
    module = doc["module"]["queue_audit"]
    assert (module["name"], module["fifo_queue"]) == ("audit-queue-ordered.fifo", True)
    alarm = doc["resource"]["aws_cloudwatch_metric_alarm"]["alarm_dlq_audit_messages"]
    assert alarm["alarm_name"] == "audit-queue-ordered-dlq.fifo-not-empty"
    assert alarm["dimensions"] == {"QueueName": "${module.queue_audit.dead_letter_queue_name}"}


def test_add_subscriber_config_object_gets_the_pipelines_default_names(stack):
    """A SubscriberConfig fills in its default names when it is built, before it knows the
    pipeline: under per-item ordering those lack '.fifo', so they are the pipeline's to choose."""
    from constructs_lib import EventPipeline, SubscriberConfig, build_config

    pipeline = EventPipeline(stack, "pipeline", config=build_config(ordering="per-item"))
    added = pipeline.add_subscriber(SubscriberConfig(name="audit"))
    assert (added.names.queue, added.names.function) == ("audit-queue.fifo", "audit-consumer")
    named = pipeline.add_subscriber(SubscriberConfig(name="search", queue_name="index.fifo", function_name="indexer"))
    assert (named.names.queue, named.names.function) == ("index.fifo", "indexer")


def test_two_pipelines_creating_the_same_aws_names_are_refused(stack):
    """Two pipelines of one stack that would create the same table, queue or function (no
    name_suffix) are a configuration error at synth, not a failed apply."""
    from constructs_lib import ConfigError, EventPipeline, build_config

    EventPipeline(stack, "orders", config=build_config())
    with pytest.raises(ConfigError, match=r"names: pipelines 'test/orders' and 'test/billing' both create '[^']+'.*; "
                                          r"give one a name_suffix or other names"):
        EventPipeline(stack, "billing", config=build_config())


def test_a_subscriber_added_with_another_pipelines_name_is_refused(stack):
    from constructs_lib import ConfigError, EventPipeline, build_config

    legacy = EventPipeline(stack, "legacy", config=build_config())
    orders = EventPipeline(stack, "orders", config=build_config(name_suffix="-orders"))
    orders.add_subscriber({"name": "audit"})
    with pytest.raises(ConfigError, match=r"pipelines 'test/orders' and 'test/legacy' both create .*'audit-queue-orders'"):
        legacy.add_subscriber({"name": "audit", "queue_name": "audit-queue-orders"})
    assert [s.config.name for s in legacy.subscribers] == ["main"]
    # IAM names are account-wide: the same function names in a stack of another region are refused too
    from constructs_lib import TerraformStack, aws_provider

    west = TerraformStack(stack.node.scope, "west")
    aws_provider(west, "us-west-2")
    with pytest.raises(ConfigError, match=r"pipelines 'test/orders' and 'west/west' both create the IAM "
                                          r"'role [^']+-orders'"):
        EventPipeline.from_config(west, "west", build_config(region="us-west-2", name_suffix="-orders"))


def test_a_subscriber_built_alone_keeps_lambdas_fifo_mapping_rules(stack):
    """Subscriber is public: built outside EventPipeline, its SubscriberConfig is not validated
    with the pipeline's ordering, so the construct itself refuses an SQS FIFO mapping that Lambda
    would refuse (batch above 10, a batching window)."""
    from constructs_lib import PropsConflictError, Subscriber, SubscriberConfig, SubscriberProps, Topic, TopicProps
    from constructs_lib.security import Account

    account = Account("123456789012")
    topic = Topic(stack, "t", props=TopicProps(name="events.fifo", account=account, fifo=True))
    big = SubscriberConfig(name="big", queue_name="big.fifo", batch_size=100, maximum_batching_window_seconds=1,
                           function={"timeout": 10}, visibility_timeout_seconds=60)
    with pytest.raises(PropsConflictError, match=r"Subscriber test/big: props.settings.batch_size: 100 is above 10: "
                                                 r"Lambda reads FIFO queues in batches of at most 10"):
        Subscriber(stack, "big", props=SubscriberProps(topic=topic, settings=big, account=account))
    windowed = SubscriberConfig(name="windowed", queue_name="windowed.fifo", maximum_batching_window_seconds=1)
    with pytest.raises(PropsConflictError, match=r"props.settings.maximum_batching_window_seconds: must be 0"):
        Subscriber(stack, "windowed", props=SubscriberProps(topic=topic, settings=windowed, account=account))


# --- mapping controls (issue #22): each written into its mapping only when set ---------------------------------

MAPPING_CONTROLS = {
    "stream": {"event_names": ["MODIFY", "INSERT"], "metrics": True},
    "subscribers": [
        {"name": "main", "maximum_concurrency": 50, "metrics": True},
        {"name": "audit", "maximum_concurrency": 2},
    ],
}


def test_mapping_controls_are_written_into_the_mappings(stack, synth):
    from constructs_lib import EventPipeline, EventPipelineProps, build_config
    from constructs_lib.pipeline_props import props_from_config

    config = build_config(MAPPING_CONTROLS)
    props = props_from_config(config)
    assert isinstance(props, EventPipelineProps) and props.subscribers[0].maximum_concurrency == 50
    EventPipeline(stack, "pipeline", props=props)
    mappings = synth(stack)["resource"]["aws_lambda_event_source_mapping"]
    stream = mappings["producer_event_source"]
    (criteria,) = stream["filter_criteria"] if isinstance(stream["filter_criteria"], list) else [stream["filter_criteria"]]
    (pattern,) = [f["pattern"] for f in criteria["filter"]]
    assert json.loads(pattern) == {"eventName": ["INSERT", "MODIFY"]}  # AWS's order, whatever the user's
    assert stream["metrics_config"] == {"metrics": ["EventCount"]}
    main, audit = mappings["consumer_main_event_source"], mappings["consumer_audit_event_source"]
    assert main["scaling_config"] == {"maximum_concurrency": 50}
    assert main["metrics_config"] == {"metrics": ["EventCount"]}
    assert audit["scaling_config"] == {"maximum_concurrency": 2}
    assert "metrics_config" not in audit and "filter_criteria" not in audit


def test_mapping_controls_default_to_absent(stack, synth):
    from constructs_lib import EventPipeline, EventPipelineProps

    EventPipeline(stack, "pipeline", props=EventPipelineProps())
    for name, mapping in synth(stack)["resource"]["aws_lambda_event_source_mapping"].items():
        for key in ("filter_criteria", "metrics_config", "scaling_config", "tumbling_window_in_seconds"):
            assert key not in mapping, (name, key)


def test_all_three_event_names_need_no_filter(stack, synth):
    from constructs_lib import EventPipeline, EventPipelineProps
    from pipeline_model.config import StreamConfig

    EventPipeline(stack, "pipeline", props=EventPipelineProps(
        stream=StreamConfig(event_names=["REMOVE", "INSERT", "MODIFY"])))
    assert "filter_criteria" not in synth(stack)["resource"]["aws_lambda_event_source_mapping"]["producer_event_source"]


def test_props_refuse_a_maximum_concurrency_out_of_range_naming_the_field():
    from constructs_lib import ConfigError, EventPipelineProps

    with pytest.raises(ConfigError, match=r"props\.subscribers\.0\.maximum_concurrency.*greater than or equal to 2"):
        EventPipelineProps(subscribers=({"maximum_concurrency": 1},))
    with pytest.raises(ConfigError, match=r"subscribers\.0\.maximum_concurrency: 8 is above the consumer's "
                                          r"function\.reserved_concurrency \(4\)"):
        EventPipelineProps(subscribers=({"maximum_concurrency": 8, "function": {"reserved_concurrency": 4}},))
