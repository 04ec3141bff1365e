"""checkov scan of the synthesized stacks: every finding fixed or accepted with a reason."""

from __future__ import annotations

import json
import shutil
import sys
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


@pytest.fixture(scope="module")
def scan_results(default_synth, synth_config, tmp_path_factory):
    """One checkov run (about 10 s) over the default stack, both example stacks and a broken copy."""
    from constructs_lib.app import load_environments

    fanout = synth_config(load_environments(str(ROOT / "examples" / "fanout.toml"), ""))
    stacks = [default_synth.stack_dir("event-driven-pipeline")] + [fanout.stack_dir(n) for n in fanout.documents]
    insecure = tmp_path_factory.mktemp("scan") / "insecure-copy"
    shutil.copytree(stacks[0], insecure)
    doc = json.loads((insecure / "cdk.tf.json").read_text())
    doc["resource"]["aws_kms_key"]["messaging_key"]["enable_key_rotation"] = False
    (insecure / "cdk.tf.json").write_text(json.dumps(doc))
    findings = security_scan.scan(stacks + [insecure])
    real = [f for f in findings if f.stack != "insecure-copy"]
    return real, [f for f in findings if f.stack == "insecure-copy"]


@needs_checkov
def test_stacks_have_no_unaccepted_findings(scan_results):
    findings, _ = scan_results
    assert {f.stack for f in findings} == {
        "event-driven-pipeline", "event-driven-pipeline-dev", "event-driven-pipeline-prod",
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
