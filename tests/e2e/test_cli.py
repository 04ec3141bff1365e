"""`python -m local_pipeline` as a subprocess: JSON summary, exit status, offline, Ctrl-C."""

from __future__ import annotations

import atexit
import concurrent.futures
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
import pytest

from local_pipeline.__main__ import load_configs, pick
from local_pipeline.safety import UnsafeEndpoint, is_loopback, loopback_guard

ROOT = Path(__file__).resolve().parents[2]


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # Hostile settings that would reach real AWS if the local run did not override them.
    env.update(
        AWS_PROFILE="does-not-exist",
        AWS_ENDPOINT_URL="https://sqs.us-east-1.amazonaws.com",
        AWS_ENDPOINT_URL_DYNAMODB="https://dynamodb.us-east-1.amazonaws.com",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def _cli_run(work: Path) -> subprocess.CompletedProcess:
    config = work / "pipeline.toml"  # poison reaches the DLQ after 2 receives instead of 5
    config.write_text("[[subscribers]]\nmax_receive_count = 2\n")
    return subprocess.run(
        [sys.executable, "-m", "local_pipeline", "--items", "12", "--poison", "2", "--json", "--quiet",
         "--config", str(config), "--visibility-timeout", "0", "--log-file", str(work / "functions.log")],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=180,
    )


def _ctrl_c_run(work: Path) -> tuple[int, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "local_pipeline", "--items", "3000", "--log-file", str(work / "f.log")],
        cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        for line in proc.stderr:  # wait until the pipeline is running
            if "written" in line or time.monotonic() > deadline:
                break
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, err


# Both runs are separate processes that mostly wait on the emulator: like the other slow
# background jobs of the suite, start them when this module is collected and let the tests
# wait for their results, so they overlap the tests that run in between.
_WORK = Path(tempfile.mkdtemp(prefix="pipeline-cli-"))
atexit.register(shutil.rmtree, _WORK, True)
_EARLY = not any(a in ("--collect-only", "--co") for a in sys.argv) and "PYTEST_XDIST_WORKER" not in os.environ
for _folder in ("json", "ctrl-c"):
    (_WORK / _folder).mkdir()
_POOL = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="cli-run")
_RUNS = {
    name: _POOL.submit(run, _WORK / name) if _EARLY else None
    for name, run in (("json", _cli_run), ("ctrl-c", _ctrl_c_run))
}


def _result(name: str, run):
    future = _RUNS[name]
    return future.result(timeout=300) if future is not None else run(_WORK / name)


def test_cli_json_summary_is_the_last_line():
    proc = _result("json", _cli_run)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in ("written", "processed", "dead_lettered", "lost", "duplicates_suppressed", "throughput_per_s", "p50_ms", "p99_ms"):
        assert key in summary
    assert summary["lost"] == 0 and summary["dead_lettered"] == 2
    assert summary["processed"] == summary["written"] - 2
    assert "lost" in proc.stdout.splitlines()[0] or "metric" in proc.stdout.splitlines()[0]  # the table first


def test_ctrl_c_stops_cleanly():
    returncode, err = _result("ctrl-c", _ctrl_c_run)
    assert returncode == 130, err[-2000:]
    assert "interrupted" in err


def test_loopback_only():
    assert is_loopback("http://127.0.0.1:5000") and is_loopback("http://localhost:1") and is_loopback("http://[::1]:9")
    assert not is_loopback("https://sqs.us-east-1.amazonaws.com") and not is_loopback("http://10.0.0.1:5000")
    client = boto3.client("sqs", region_name="us-east-1", endpoint_url="https://sqs.us-east-1.amazonaws.com",
                          aws_access_key_id="x", aws_secret_access_key="y")
    with loopback_guard(), pytest.raises(UnsafeEndpoint):
        client.list_queues()


def test_config_file_and_environment_selection(tmp_path):
    path = tmp_path / "pipeline.toml"
    path.write_text('[environments.dev]\nregion = "eu-west-1"\n[environments.prod]\n')
    configs = load_configs(str(path))
    assert [c.environment for c in configs] == ["dev", "prod"]
    assert pick(configs, "dev").region == "eu-west-1"
    assert pick(configs, "dev").table_name.endswith("-dev")
    with pytest.raises(ValueError):
        pick(configs, "nope")
    assert load_configs(None)[0].table_name == "application-data-table"
