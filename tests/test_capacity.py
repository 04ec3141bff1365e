"""The capacity calculator (pipeline_model.capacity): figures hand-computed from the formulas in docs/capacity.md,
the [capacity] section's validation, the command's output, and strict mode."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest

from pipeline_model import capacity as cap
from pipeline_model.config import CapacityConfig, ConfigError, build_config

ROOT = Path(__file__).resolve().parent.parent
PEAK = {"peak_writes_per_second": 1000, "item_size_kib": 1, "consumer_ms_per_message": 50}
#: The formulas below are checked on a producer that publishes one request at a time.
SEQUENTIAL = {"publish_concurrency": 1}


def test_default_pipeline_at_one_partitions_peak():
    """1,000 writes/s of 1 KiB items, default settings (batch 100, parallelization 1, producer timeout 3 s),
    a producer publishing one request at a time."""
    e = cap.estimate(build_config(capacity=PEAK, producer=SEQUENTIAL))
    assert e.shards == 1  # 1,000 writes x 1 WCU / 1,000 WCU per partition
    assert e.message_kib == 3  # two 1 KiB images + 1 KiB overhead
    assert e.entries_per_call == 10  # 256 // 3 = 85, capped at 10 entries
    assert e.records_per_invocation == 100  # stream.batch_size
    assert e.calls_per_invocation == 10
    assert e.invocation_ms == 200  # 10 sequential calls x 20 ms
    assert e.invocations_per_second == 10  # 1,000 / 100
    assert e.publish_calls_per_second == 100
    assert e.producer_concurrency_needed == 2  # 10/s x 0.2 s
    assert e.producer_concurrency_allowed == 1  # 1 shard x parallelization_factor 1
    assert e.producer_records_per_second == 500  # 1 x 100 records / 0.2 s
    assert math.isinf(e.producer_drain_seconds)  # 500 < 1,000: it never catches up
    assert e.quotas.sns_publish == 30_000
    (sub,) = e.subscribers
    assert sub.concurrency_needed == 50  # 1,000/s x 0.05 s
    assert (sub.concurrency_ceiling, sub.ceiling_by) == (1000, "account quota")
    assert sub.batch_ms == 10 * 50 + 2250
    assert sub.ramp_seconds == pytest.approx((50 - 5) / 300 * 60)
    assert sub.drain_seconds == pytest.approx(3_600_000 / (20_000 - 1_000))  # capacity 1,000 x 1,000/50
    (problem,) = e.problems
    assert (problem.field, problem.needed, problem.limit) == ("peak_writes_per_second", 1000, 500)


def test_parallelization_factor_carries_the_same_peak():
    e = cap.estimate(build_config(capacity=PEAK, stream={"parallelization_factor": 2}, producer=SEQUENTIAL))
    assert e.producer_concurrency_allowed == 2 and e.producer_records_per_second == 1000
    assert e.problems == []
    assert e.producer_drain_seconds == math.inf  # exactly the peak: nothing spare for a backlog


@pytest.mark.parametrize(("writes", "item", "expected"), [(2500, 1.5, 5), (10, 0.1, 1), (1000, 1, 1), (1001, 1, 2)])
def test_shards_follow_write_units(writes, item, expected):
    # items round up to whole write units: 1.5 KiB = 2 units
    assert cap.shards(writes, item) == expected


def test_message_size_and_entries_per_call():
    assert cap.message_kib(50) == 101
    e = cap.estimate(build_config(capacity={**PEAK, "item_size_kib": 50}))
    assert e.entries_per_call == 2  # 256 // 101
    assert e.records_per_invocation == 61  # 6,144 KiB payload // 100 KiB stream records (two 50 KiB images)
    assert e.calls_per_invocation == 31 and e.shards == 50  # ceil(61 / 2); 1,000 writes x 50 WCU / 1,000
    # over SNS's 256 KiB the producer publishes keys only
    assert cap.message_kib(200) == cap.MESSAGE_OVERHEAD_KIB


def test_big_stream_batches_are_capped_by_the_payload_and_the_producers_deadline():
    # 1,000-record batch of 1 KiB items: the 3 s producer publishes for 1 s (2 s margin) = 50 calls = 500 records
    e = cap.estimate(build_config(capacity=PEAK, stream={"batch_size": 1000}, producer=SEQUENTIAL))
    assert e.records_per_invocation == 500
    # 100 KiB items: 6 MB payload / 200 KiB records = 30 records
    e = cap.estimate(build_config(capacity={**PEAK, "item_size_kib": 100}, stream={"batch_size": 1000},
                                  producer={"timeout": 60, **SEQUENTIAL}))
    assert e.records_per_invocation == 30


def test_sns_quota_per_region_and_topic_type():
    assert cap.Quotas.for_region("us-east-1", False).sns_publish == 30_000
    assert cap.Quotas.for_region("eu-west-1", True).sns_publish == 9_000
    assert cap.Quotas.for_region("ap-northeast-1", False).sns_publish == 1_500
    assert cap.Quotas.for_region("ap-northeast-1", True).sns_publish == 3_000
    assert cap.Quotas.for_region("eu-west-2", False).sns_publish == 300
    assert cap.Quotas.for_region("eu-west-2", True).sqs_fifo_tps == 4_500
    assert cap.Quotas.for_region("ca-central-1", True).sqs_fifo_tps == 2_400
    e = cap.estimate(build_config(region="eu-west-2", capacity={**PEAK, "peak_writes_per_second": 400},
                                  stream={"parallelization_factor": 2}))
    (problem,) = e.problems
    assert problem.what.startswith("SNS publish, eu-west-2 standard") and (problem.needed, problem.limit) == (400, 300)


def test_fifo_pipeline_checks_fifo_quotas():
    e = cap.estimate(build_config(ordering="per-item", region="ca-central-1",
                                  capacity={**PEAK, "peak_writes_per_second": 2500},
                                  stream={"parallelization_factor": 10}))
    assert e.fifo and e.quotas.sns_publish == 3_000
    broken = {(p.what, p.needed, p.limit) for p in e.problems}
    assert broken == {("main: FIFO sends, ca-central-1 high throughput", 2500, 2400)}
    # the consumers drain no faster than the queue's send quota allows: 2,400 < 2,500 arrivals/s
    assert math.isinf(e.subscribers[0].drain_seconds)


def test_quota_overrides():
    e = cap.estimate(build_config(region="eu-west-2", capacity={**PEAK, "peak_writes_per_second": 400},
                                  stream={"parallelization_factor": 2}), sns_publish=1000)
    assert e.problems == [] and e.quotas.overridden == ("sns_publish",)
    with pytest.raises(ValueError, match="unknown quota 'lambda'"):
        cap.Quotas.for_region("us-east-1", False, **{"lambda": 5})
    e = cap.estimate(build_config(capacity=PEAK, stream={"parallelization_factor": 2}), account_concurrency=40)
    assert {p.what for p in e.problems} == {"Lambda concurrency, producer + consumers (account)",
                                            "main: concurrency vs account quota"}


def test_reserved_concurrency_is_the_consumers_ceiling():
    e = cap.estimate(build_config(capacity=PEAK, stream={"parallelization_factor": 2},
                                  subscribers=[{"function": {"reserved_concurrency": 20}}]))
    (sub,) = e.subscribers
    assert (sub.concurrency_ceiling, sub.ceiling_by) == (20, "reserved_concurrency")
    (problem,) = e.problems
    assert (problem.needed, problem.limit, problem.field) == (50, 20, "consumer_ms_per_message")
    assert math.isinf(sub.drain_seconds)  # 20 x 1,000/50 = 400 messages/s < 1,000 arriving


def test_maximum_concurrency_is_the_consumers_ceiling():
    """subscribers[].maximum_concurrency (the SQS mapping's scaling_config) caps the consumer below the account."""
    e = cap.estimate(build_config(capacity=PEAK, stream={"parallelization_factor": 2},
                                  subscribers=[{"maximum_concurrency": 40}]))
    (sub,) = e.subscribers
    assert (sub.concurrency_ceiling, sub.ceiling_by) == (40, "maximum_concurrency")
    (problem,) = e.problems
    assert (problem.what, problem.needed, problem.limit) == ("main: concurrency vs maximum_concurrency", 50, 40)
    assert math.isinf(sub.drain_seconds)  # 40 x 1,000/50 = 800 messages/s < 1,000 arriving
    # the lower of the two ceilings names the row
    e = cap.estimate(build_config(capacity=PEAK, subscribers=[
        {"maximum_concurrency": 30, "function": {"reserved_concurrency": 35}}]))
    assert (e.subscribers[0].concurrency_ceiling, e.subscribers[0].ceiling_by) == (30, "maximum_concurrency")
    assert "maximum_concurrency" in cap.render([e])


def test_a_slow_consumer_overruns_its_timeout():
    e = cap.estimate(build_config(capacity={**PEAK, "peak_writes_per_second": 10, "consumer_ms_per_message": 100}))
    (problem,) = e.problems
    assert problem.what == "main: full batch vs timeout" and (problem.needed, problem.limit) == (3250, 3000)


def test_drain_seconds():
    assert cap.drain_seconds(3600, 2, 1) == 3600
    assert cap.drain_seconds(3600, 1, 1) == math.inf


def test_estimate_needs_a_section():
    with pytest.raises(ValueError, match="no \\[capacity\\] section"):
        cap.estimate(build_config())


# --- the section's validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ({}, "capacity.peak_writes_per_second: Field required"),
        ({"peak_writes_per_second": 0}, "capacity.peak_writes_per_second: Input should be greater than 0"),
        ({"peak_writes_per_second": True}, "capacity.peak_writes_per_second: Input should be a valid number"),
        ({"peak_writes_per_second": "100"}, "capacity.peak_writes_per_second: Input should be a valid number"),
        ({"peak_writes_per_second": 1, "item_size_kib": 401}, "capacity.item_size_kib: Input should be less than or equal to 400"),
        ({"peak_writes_per_second": 1, "consumer_ms_per_message": 0}, "capacity.consumer_ms_per_message: Input should be greater than 0"),
        ({"peak_writes_per_second": 1, "strict": "yes"}, "capacity.strict: Input should be a valid boolean"),
        ({"peak_writes_per_second": 1, "peak": 2}, "capacity.peak: unknown field"),
    ],
)
def test_bad_sections_name_the_field(section, expected):
    with pytest.raises(ConfigError) as error:
        build_config(capacity=section)
    assert expected in str(error.value)


def test_section_defaults_and_no_section():
    assert build_config().capacity is None
    section = build_config(capacity={"peak_writes_per_second": 5}).capacity
    assert section == CapacityConfig(peak_writes_per_second=5, item_size_kib=1, consumer_ms_per_message=50, strict=False)


# --- strict mode, the synth hook and the command --------------------------------------------------


def test_strict_makes_the_broken_peak_an_error():
    with pytest.raises(ConfigError) as error:
        cap.report([build_config(capacity={**PEAK, "strict": True}, producer=SEQUENTIAL)])
    lines = str(error.value).splitlines()
    assert lines == ["invalid pipeline configuration:",
                     "  capacity.peak_writes_per_second: environment 'production': producer records/s (shards x "
                     "parallelization_factor) needs 1,000 records/s, the limit is 500; raise "
                     "stream.parallelization_factor (now 1, max 10), stream.batch_size or the producer's publish "
                     "concurrency"]
    text = cap.report([build_config(capacity=PEAK, producer=SEQUENTIAL)])  # not strict: a warning in the table
    assert "BREAKS" in text and text.splitlines()[-1].startswith("warning: capacity.peak_writes_per_second:")
    assert cap.report([build_config()]) is None


def test_synth_hook_prints_once_per_make_synth(capsys):
    configs = [build_config(capacity=PEAK)]
    cap.synth_hook(configs, ["--check"], environ={})
    out, err = capsys.readouterr()
    assert out.startswith("== production:") and err == ""
    cap.synth_hook(configs, [], environ={cap.SHOWN_ENV: "1"})  # the cdktf run after `main.py --check`
    assert capsys.readouterr() == ("", "")
    cap.synth_hook(configs, [], environ={})  # cdktf synth run directly
    assert capsys.readouterr().err.startswith("== production:")


def test_main_py_check_stops_on_a_strict_section(tmp_path, monkeypatch, capsys):
    from constructs_lib.app import run

    file = tmp_path / "strict.toml"
    file.write_text("[producer]\npublish_concurrency = 1\n[capacity]\npeak_writes_per_second = 1000\nstrict = true\n")
    monkeypatch.setenv("PIPELINE_CONFIG", str(file))
    with pytest.raises(SystemExit) as exited:
        run(["--check"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: capacity.peak_writes_per_second: environment 'production': producer records/s")
    assert "Traceback" not in err and len(err.splitlines()) == 1


def test_command_for_the_examples(monkeypatch, capsys):
    monkeypatch.delenv("PIPELINE_CONFIG", raising=False)
    monkeypatch.delenv("PIPELINE_ENVIRONMENTS", raising=False)
    assert cap.main(["--config", str(ROOT / "examples" / "ordered.toml")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("== production: stack event-driven-pipeline-ordered, us-east-1, FIFO topic and queues")
    assert "peak 200 writes/s, items 4 KiB (p99), 25 ms per consumer message" in out
    assert "replica: FIFO sends, us-east-1 high throughput" in out and "BREAKS" not in out

    assert cap.main(["--config", str(ROOT / "examples" / "fanout.toml")]) == 0
    out = capsys.readouterr().out
    assert "== dev:" in out and "== prod:" in out
    assert "prod" in out and "2 shards (estimated)" in out  # 800 writes/s x 2 KiB
    assert "us-east-1, 2 environments" in out and "SNS publish 850 of 30,000 messages/s" in out

    assert cap.main(["--config", str(ROOT / "examples" / "fanout.toml"), "--environments", "dev"]) == 0
    assert "== prod:" not in capsys.readouterr().out


def test_the_default_producer_carries_one_partitions_peak():
    """With the default publish concurrency (8 requests in flight) one shard publishes 1,000 records/s."""
    e = cap.estimate(build_config(capacity=PEAK))
    assert e.problems == [] and e.producer_records_per_second >= 1000


def test_command_for_the_default_configuration(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("PIPELINE_CONFIG", raising=False)
    monkeypatch.delenv("PIPELINE_ENVIRONMENTS", raising=False)
    assert cap.main([]) == 0
    out = capsys.readouterr().out
    assert "(assumed: no [capacity] section)" in out and "BREAKS" not in out
    sequential = tmp_path / "sequential.toml"
    sequential.write_text("[producer]\npublish_concurrency = 1\n")
    assert cap.main(["--config", str(sequential)]) == 0
    assert "BREAKS" in capsys.readouterr().out
    assert cap.main(["--config", str(sequential), "--strict"]) == 1
    capsys.readouterr()
    assert cap.main(["--quota", "account_concurrency=10"]) == 0
    assert "quotas given: account_concurrency=10" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exited:
        cap.main(["--quota", "lambda=5"])
    assert exited.value.code == 2
    assert "use NAME=N with NAME one of sns_publish" in capsys.readouterr().err


def test_command_errors_are_one_line(tmp_path, capsys):
    file = tmp_path / "bad.toml"
    file.write_text("[capacity]\npeak_writes_per_second = -1\n")
    assert cap.main(["--config", str(file)]) == 2
    assert capsys.readouterr().err == "error: capacity.peak_writes_per_second: Input should be greater than 0\n"
    assert cap.main(["--environments", "nope"]) == 2
    assert capsys.readouterr().err.startswith("error: PIPELINE_ENVIRONMENTS: no environment named 'nope'")


def test_the_producers_deadline_margin_is_the_handlers():
    """PRODUCER_DEADLINE_MARGIN_MS repeats functions/producer/app.py's DEADLINE_MARGIN_MS (not importable here)."""
    tree = ast.parse((ROOT / "functions" / "producer" / "app.py").read_text())
    names = {"CONNECT_TIMEOUT_S", "READ_TIMEOUT_S", "DEADLINE_MARGIN_MS"}
    namespace: dict = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and {getattr(t, "id", None) for t in node.targets} & names:
            exec(compile(ast.Module(body=[node], type_ignores=[]), "app.py", "exec"), {"max": max, "int": int}, namespace)
    assert namespace["DEADLINE_MARGIN_MS"] == cap.PRODUCER_DEADLINE_MARGIN_MS


def test_the_section_changes_nothing_in_the_stack(synth_config):
    """The examples carry a [capacity] section; their synthesized JSON is the one without it."""
    from pipeline_model.config import environments_from_dict, read_config_file

    data = read_config_file(ROOT / "examples" / "ordered.toml")
    assert "capacity" in data
    without = {key: value for key, value in data.items() if key != "capacity"}
    with_section = synth_config(environments_from_dict(data))
    assert with_section.documents == synth_config(environments_from_dict(without)).documents
