"""pipeline_model/lambda_runtime.py and local_pipeline/offline.py: what make local, the replay tool, the bench and
these tests rely on."""

from __future__ import annotations

import json
import os
import sys

import pytest
from handlers_support import FUNCTIONS, pipeline_message, stream_record

from pipeline_model.lambda_runtime import (
    SHARED_CODE_DIR,
    InvalidBatchResponse,
    LambdaContext,
    batch_item_failures,
    load_handler,
    parse_batch_info,
    stream_event,
    stream_failure_message,
)
from local_pipeline.offline import apply_offline_environment

# ---------------------------------------------------------------------------------------------- responses


@pytest.mark.parametrize("response", [None, {}, {"batchItemFailures": None}, {"batchItemFailures": []}])
def test_responses_that_report_no_failure(response):
    assert batch_item_failures(response, {"a", "b"}) == []


def test_reported_identifiers_come_back_in_the_responses_order():
    response = {"batchItemFailures": [{"itemIdentifier": "c"}, {"itemIdentifier": "a"}]}
    assert batch_item_failures(response, ["a", "b", "c"]) == ["c", "a"]
    assert batch_item_failures(response) == ["c", "a"]  # without the batch: no membership check


@pytest.mark.parametrize(
    "response",
    [
        "ok",
        [],
        {"batchItemFailures": {}},
        {"batchItemFailures": "a"},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"id": "a"}]},
        {"batchItemFailures": ["a"]},
        {"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "zzz"}]},
    ],
    ids=["string", "list", "failures-dict", "failures-string", "empty-id", "null-id", "bad-key", "bare-id", "unknown-id"],
)
def test_responses_lambda_counts_as_a_failed_batch(response):
    with pytest.raises(InvalidBatchResponse):
        batch_item_failures(response, {"a", "b"})


# ---------------------------------------------------------------------------------------------- context


def test_context_counts_down_from_its_timeout():
    now = [100.0]
    context = LambdaContext("f", timeout_s=3, clock=lambda: now[0])
    assert context.get_remaining_time_in_millis() == 3000
    now[0] += 1.25
    assert context.get_remaining_time_in_millis() == 1750
    now[0] += 10
    assert context.get_remaining_time_in_millis() == 0
    assert context.invoked_function_arn.endswith(":function:f") and context.log_group_name == "/aws/lambda/f"
    assert LambdaContext().aws_request_id != LambdaContext().aws_request_id


# ---------------------------------------------------------------------------------------------- loading


def test_each_load_is_a_new_container_with_its_own_modules():
    path_before, modules_before = list(sys.path), set(sys.modules)
    first, second = load_handler(FUNCTIONS / "consumer"), load_handler(FUNCTIONS / "consumer")
    assert first.module is not second.module
    for name in ("business", "pipeline_message", "lambda_deadline"):
        assert first.modules[name] is not second.modules[name], name
    assert first.module.business is first.modules["business"]
    assert first.module.parse_body is first.modules["pipeline_message"].parse_body
    assert first.modules["pipeline_message"].__file__ == str(SHARED_CODE_DIR / "pipeline_message.py")
    assert sys.path == path_before  # the folders were on the path only while the handler imported
    assert not {"business", "pipeline_message", "lambda_deadline", "app"} & (set(sys.modules) - modules_before)


def test_a_missing_handler_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"handler file .*app.py not found"):
        load_handler(tmp_path)


def test_an_error_at_import_leaves_the_path_as_it_was(tmp_path):
    (tmp_path / "app.py").write_text("import helper\nraise ValueError('bad setting')\n")
    (tmp_path / "helper.py").write_text("X = 1\n")
    path_before = list(sys.path)
    with pytest.raises(ValueError, match="bad setting"):
        load_handler(tmp_path)
    assert sys.path == path_before and "helper" not in sys.modules


# ---------------------------------------------------------------------------------------------- events


def test_stream_events_carry_lambdas_encoding_and_the_source():
    import datetime

    arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/t/stream/2024"
    raw = stream_record(1)
    raw.pop("eventSourceARN"), raw.pop("awsRegion")
    raw["dynamodb"]["ApproximateCreationDateTime"] = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    raw["dynamodb"]["NewImage"]["b"] = {"B": b"\x00\x01"}
    (record,) = stream_event([raw], arn)["Records"]
    assert record["eventSourceARN"] == arn and record["awsRegion"] == "eu-west-1"
    assert record["dynamodb"]["ApproximateCreationDateTime"] == 1704067200
    assert record["dynamodb"]["NewImage"]["b"] == {"B": "AAE="}


def test_the_on_failure_message_reads_back():
    records = [stream_record(i) for i in (3, 4, 5)]
    body = json.dumps(stream_failure_message(records, shard_id="shard-1", stream_arn="arn:s", function_arn="arn:f",
                                             condition="RetryAttemptsExhausted", invocations=3))
    info = parse_batch_info(body)
    assert (info["startSequenceNumber"], info["endSequenceNumber"]) == (records[0]["dynamodb"]["SequenceNumber"],
                                                                       records[-1]["dynamodb"]["SequenceNumber"])
    assert info["batchSize"] == 3 and info["shardId"] == "shard-1" and info["streamArn"] == "arn:s"
    with pytest.raises(ValueError, match="no DDBStreamBatchInfo"):
        parse_batch_info(json.dumps({"Type": "Notification", "Message": "{}"}))


def test_a_body_that_is_not_a_pipeline_message_has_no_event_id():
    assert pipeline_message.event_id_of_body('{"eventID": "ev-1"}') == "ev-1"
    assert pipeline_message.event_id_of_body(json.dumps({"Type": "Notification", "Message": '{"eventID": "ev-2"}'})) == "ev-2"
    for body in (None, "", "{", "[]", '{"other": 1}', json.dumps({"Type": "Notification", "Message": "x"})):
        assert pipeline_message.event_id_of_body(body) is None


# ---------------------------------------------------------------------------------------------- environment


def test_the_offline_environment_removes_what_could_reach_real_aws():
    environ = {"AWS_PROFILE": "prod", "AWS_ENDPOINT_URL": "https://example.com", "AWS_ENDPOINT_URL_SQS": "https://x",
               "POWERTOOLS_IDEMPOTENCY_DISABLED": "1", "AWS_ACCESS_KEY_ID": "AKIAREAL", "HOME": "/home/me"}
    apply_offline_environment("eu-west-2", environ=environ, EXTRA="1")
    assert environ["AWS_ACCESS_KEY_ID"] == "testing" and environ["AWS_REGION"] == environ["AWS_DEFAULT_REGION"] == "eu-west-2"
    assert environ["AWS_CONFIG_FILE"] == environ["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull
    assert environ["EXTRA"] == "1" and environ["HOME"] == "/home/me"
    assert not {"AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS", "POWERTOOLS_IDEMPOTENCY_DISABLED"} & set(environ)
