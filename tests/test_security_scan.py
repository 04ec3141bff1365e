"""checkov scan of the synthesized stacks: every finding fixed or accepted with a reason."""

from __future__ import annotations

import atexit
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import security_scan  # noqa: E402

needs_checkov = pytest.mark.skipif(
    not security_scan.CHECKOV.exists(), reason="checkov is not installed: `make install` puts it in .venv-scan"
)


def test_skip_list_entries_all_have_reasons():
    skips = security_scan.read_skips()
    assert skips, "the skip list exists and is parsed"
    assert all(len(s.reason) > 20 for s in skips)


def test_triage_reports_new_findings_and_stale_skips():
    finding = security_scan.Finding("CKV_X_1", "resource.thing", "a check")
    accepted = security_scan.Skip("CKV_X_1", "resource.*", "because")
    stale = security_scan.Skip("CKV_X_2", "*", "no longer needed")
    assert security_scan.triage([finding], [accepted]) == ([], [])
    assert security_scan.triage([finding], [stale]) == ([finding], [stale])


def _synth_and_scan(work: Path) -> tuple[list, list]:
    """Synthesize the default and the example stacks (separate processes), break a copy, scan all once."""
    env = {k: v for k, v in os.environ.items() if k not in ("PIPELINE_CONFIG", "PIPELINE_ENVIRONMENTS")}
    for name, config in (("default", ""), ("fanout", str(ROOT / "examples" / "fanout.toml")),
                         ("recovery", str(ROOT / "examples" / "recovery.toml")),
                         ("scoped", str(ROOT / "examples" / "least_privilege.toml"))):
        subprocess.run(
            [sys.executable, "main.py"], cwd=ROOT, check=True, capture_output=True, timeout=600,
            env={**env, "PIPELINE_CONFIG": config, "CDKTF_OUTDIR": str(work / name)},
        )
    stacks = [stack for name in ("default", "fanout", "recovery", "scoped") for stack in sorted((work / name / "stacks").iterdir())]
    insecure = work / "insecure-copy"
    shutil.copytree(work / "default" / "stacks" / "event-driven-pipeline", insecure)
    doc = json.loads((insecure / "cdk.tf.json").read_text())
    doc["resource"]["aws_kms_key"]["messaging_key"]["enable_key_rotation"] = False
    (insecure / "cdk.tf.json").write_text(json.dumps(doc))
    findings = security_scan.scan(stacks + [insecure])
    return [f for f in findings if f.stack != "insecure-copy"], [f for f in findings if f.stack == "insecure-copy"]


# checkov takes ~8 s of CPU: like tests/test_fast_import.py, start it in the background when this
# module is collected, so it overlaps the tests that wait on the local emulator.
_COLLECT_ONLY = any(arg in ("--collect-only", "--co") for arg in sys.argv)
_WORK = Path(tempfile.mkdtemp(prefix="pipeline-scan-"))
atexit.register(shutil.rmtree, _WORK, True)
# Under pytest-xdist every worker collects this module but only one runs it: start on demand.
_EARLY = not _COLLECT_ONLY and "PYTEST_XDIST_WORKER" not in os.environ and security_scan.CHECKOV.exists()
_SCAN = (
    concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="checkov").submit(_synth_and_scan, _WORK)
    if _EARLY
    else None
)


@pytest.fixture(scope="module")
def scan_results():
    if _SCAN is None:
        return _synth_and_scan(_WORK)
    return _SCAN.result(timeout=900)


@needs_checkov
def test_stacks_have_no_unaccepted_findings(scan_results):
    findings, _ = scan_results
    assert {f.stack for f in findings} == {
        "event-driven-pipeline", "event-driven-pipeline-dev", "event-driven-pipeline-prod",
        "event-driven-pipeline-recovery", "event-driven-pipeline-scoped",
    }, "checkov ran over every stack and reported the accepted CKV_TF_1 findings"
    new, unused = security_scan.triage(findings, security_scan.read_skips())
    assert new == [], "new checkov findings: fix them or accept them in security/checkov-skips.txt:\n" + "\n".join(
        map(str, new)
    )
    assert unused == [], f"skip entries that match nothing: {unused}"


@needs_checkov
def test_scan_catches_an_insecure_key(scan_results):
    _, broken = scan_results
    assert any(f.check_id == "CKV_AWS_7" and "messaging_key" in f.resource for f in broken), broken
