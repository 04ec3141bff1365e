"""`python -m local_pipeline` as a subprocess: JSON summary, exit status, offline, proxies, Ctrl-C (once, twice)."""

from __future__ import annotations

import atexit
import concurrent.futures
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
import pytest

from local_pipeline.__main__ import load_configs, pick
from local_pipeline.safety import UnsafeEndpoint, apply_local_environment, is_loopback, isolated_environment, loopback_guard

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


def _dead_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: Proxy settings a developer machine may have: with them the emulator traffic must still stay direct.
DEAD_PROXY = f"http://127.0.0.1:{_dead_port()}"
PROXY_ENV = {name: DEAD_PROXY for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY")}


def _cli_run(work: Path) -> subprocess.CompletedProcess:
    config = work / "pipeline.toml"  # poison reaches the DLQ after 2 receives instead of 5
    config.write_text("[[subscribers]]\nmax_receive_count = 2\n")
    return subprocess.run(
        [sys.executable, "-m", "local_pipeline", "--items", "12", "--poison", "2", "--json", "--quiet",
         "--config", str(config), "--visibility-timeout", "0", "--log-file", str(work / "functions.log")],
        cwd=ROOT, env=_env(**PROXY_ENV, NO_PROXY="example.com"), capture_output=True, text=True, timeout=180,
    )


# A teardown that has to wait: a delivery holds its poller until the second Ctrl-C has been seen (an event,
# not a clock: a fixed sleep raced the second signal on a loaded machine), so that signal always lands while
# the first one's teardown waits for the pollers. The script reports whether the emulator really stopped.
_DOUBLE_CTRL_C = """
import json, socket, sys, time
from pipeline_model.config import build_config
from local_pipeline import LocalPipeline, Options, Workload
from moto.sqs import models as sqs_models

def slow(subscriber, message):
    print("[slow] delivery in progress", file=sys.stderr, flush=True)
    held = time.monotonic()
    while not pipeline.hurry and time.monotonic() - held < 600:  # the cap only ends a broken run
        time.sleep(0.01)

clock = sqs_models.unix_time
pipeline = LocalPipeline(build_config(), Options(workload=Workload(items=200), fault=slow, progress=sys.stderr))
try:
    pipeline.run()
    outcome = "finished"
except KeyboardInterrupt:
    outcome = "interrupted"
host, port = pipeline.emulator.url.split("//")[1].split(":")
with socket.socket() as s:
    listening = s.connect_ex((host, int(port))) == 0
print(json.dumps({"outcome": outcome, "listening": listening, "hurry": getattr(pipeline, "hurry", None),
                  "moto_restored": sqs_models.unix_time is clock}))
"""


def _double_ctrl_c_run(work: Path) -> tuple[int, str, str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _DOUBLE_CTRL_C], cwd=ROOT, env=_env(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    seen = []
    try:
        deadline = time.monotonic() + 60
        first_sent = False
        for line in proc.stderr:
            seen.append(line)
            if "[slow]" in line and not first_sent:  # a consumer is inside a slow delivery
                proc.send_signal(signal.SIGINT)
                first_sent = True
            if "interrupted: stopping" in line:  # the teardown has begun (and waits for that consumer): interrupt it
                proc.send_signal(signal.SIGINT)
                break
            if time.monotonic() > deadline:
                break
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, out, "".join(seen) + (err or "")


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
_JOBS = (("json", _cli_run), ("ctrl-c", _ctrl_c_run), ("double-ctrl-c", _double_ctrl_c_run))
for _folder, _job in _JOBS:
    (_WORK / _folder).mkdir()
_POOL = concurrent.futures.ThreadPoolExecutor(len(_JOBS), thread_name_prefix="cli-run")
_RUNS = {name: _POOL.submit(run, _WORK / name) if _EARLY else None for name, run in _JOBS}


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
    assert summary["dead_lettered_poison"] == 2 and summary["outage_casualties"] == 0  # poison only: exit 0
    assert summary["processed"] == summary["written"] - 2
    assert "lost" in proc.stdout.splitlines()[0] or "metric" in proc.stdout.splitlines()[0]  # the table first


def test_cli_ignores_proxy_settings_for_the_emulator():
    """HTTP(S)_PROXY pointing at a dead port (and a NO_PROXY without loopback): the run above still worked, so its
    traffic went straight to the emulator."""
    proc = _result("json", _cli_run)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1])["processed"] > 0


def test_loopback_bypasses_proxies(monkeypatch):
    import urllib.request

    from botocore.utils import should_bypass_proxies

    for name, value in {**PROXY_ENV, "NO_PROXY": "example.com", "no_proxy": "intranet"}.items():
        monkeypatch.setenv(name, value)
    url = "http://127.0.0.1:5000"
    assert not should_bypass_proxies(url)  # the setting that sent the emulator traffic to the proxy
    with isolated_environment():
        apply_local_environment(url, "us-east-1")
        assert should_bypass_proxies(url) and should_bypass_proxies("http://localhost:5000")
        assert urllib.request.proxy_bypass("127.0.0.1:5000")
        assert os.environ["NO_PROXY"] == os.environ["no_proxy"] == "intranet,example.com,127.0.0.1,localhost,::1"
        assert not should_bypass_proxies("https://sqs.us-east-1.amazonaws.com")  # only loopback is exempted
    assert os.environ["NO_PROXY"] == "example.com"


def test_ctrl_c_stops_cleanly():
    returncode, err = _result("ctrl-c", _ctrl_c_run)
    assert returncode == 130, err[-2000:]
    assert "interrupted" in err and "emulator stopped" in err and "Traceback" not in err


def test_second_ctrl_c_during_teardown_still_stops_the_emulator():
    returncode, out, err = _result("double-ctrl-c", _double_ctrl_c_run)
    assert returncode == 0, err[-3000:]
    report = json.loads(out.strip().splitlines()[-1])
    assert report["outcome"] == "interrupted", err[-3000:]
    assert not report["listening"], "the emulator still accepts connections"
    assert report["moto_restored"], "the emulator's patches to moto were not undone"
    assert report["hurry"]  # the second Ctrl-C was seen during the teardown (not after it)
    assert "interrupted during teardown" in err and "emulator stopped" in err and "Traceback" not in err


def test_help_documents_the_exit_statuses():
    proc = subprocess.run([sys.executable, "-m", "local_pipeline", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0
    for status in ("0 ", "1 ", "2 ", "3 ", "4 ", "130 "):
        assert f"\n  {status}" in proc.stdout, proc.stdout
    assert "outage casualties" in proc.stdout


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
    assert pick(configs, "dev").names.table.endswith("-dev")
    with pytest.raises(ValueError):
        pick(configs, "nope")
    assert load_configs(None)[0].names.table == "application-data-table"
