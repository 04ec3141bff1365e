"""Static security scan of synthesized stacks with checkov, offline.

    python scripts/security_scan.py cdktf.out/stacks/*    (exit 1 on findings not accepted)

checkov's Terraform-JSON parser rejects two things cdktf writes (the "//" metadata blocks and
the top-level ``terraform`` settings block, which holds no resources), so each stack is copied
without them before the scan. ``--skip-download`` keeps checkov offline. Module internals are
only scanned where the registry is reachable (PIPELINE_TERRAFORM_ONLINE=1), because checkov
must download the modules for that.
"""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIPS = ROOT / "security" / "checkov-skips.txt"
CHECKOV = ROOT / ".venv-scan" / "bin" / "checkov"


@dataclass(frozen=True)
class Finding:
    check_id: str
    resource: str
    name: str
    stack: str = ""

    def __str__(self) -> str:
        return f"{self.check_id} {self.resource} ({self.stack}): {self.name}"


@dataclass(frozen=True)
class Skip:
    check_id: str
    pattern: str
    reason: str

    def matches(self, finding: Finding) -> bool:
        return finding.check_id == self.check_id and fnmatch.fnmatch(finding.resource, self.pattern)


def read_skips(path: Path = SKIPS) -> list[Skip]:
    skips = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        rule, _, reason = line.partition("#")
        parts = rule.split()
        if len(parts) != 2 or not reason.strip():
            raise SystemExit(f"{path}:{number}: expected 'CHECK_ID resource-pattern  # justification'")
        skips.append(Skip(parts[0], parts[1], reason.strip()))
    return skips


def _strip(node):
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k != "//"}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def scan(stack_dirs: list[Path], checkov: Path = CHECKOV) -> list[Finding]:
    """Run checkov over the stacks; return every failed check."""
    if not checkov.exists():
        raise FileNotFoundError(f"{checkov} is missing: run `make install` (it installs security/requirements.txt)")
    findings: set[Finding] = set()
    with tempfile.TemporaryDirectory() as work:
        for index, stack in enumerate(stack_dirs):
            doc = _strip(json.loads((stack / "cdk.tf.json").read_text()))
            doc.pop("terraform", None)
            target = Path(work) / f"{index:03d}-{stack.name}"
            target.mkdir()
            (target / "main.tf.json").write_text(json.dumps(doc))
        online = os.environ.get("PIPELINE_TERRAFORM_ONLINE") == "1"
        env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
        result = subprocess.run(
            [str(checkov), "-d", work, "--framework", "terraform_json", "--skip-download",
             "--download-external-modules", "true" if online else "false", "--quiet", "--compact", "-o", "json"],
            capture_output=True, text=True, env=env, timeout=600,
        )
        if result.returncode not in (0, 1) or not result.stdout.strip():
            raise RuntimeError(f"checkov failed ({result.returncode}): {result.stderr[-2000:]}")
        reports = json.loads(result.stdout)
        for report in reports if isinstance(reports, list) else [reports]:
            if report.get("summary", report).get("parsing_errors"):
                raise RuntimeError(f"checkov could not parse a stack: {report}")
            for failed in report.get("results", {}).get("failed_checks", []):
                folder = Path(failed.get("file_path", "/")).parts[1] if failed.get("file_path") else ""
                findings.add(Finding(failed["check_id"], failed["resource"], failed["check_name"], folder[4:]))
    return sorted(findings, key=str)


def triage(findings: list[Finding], skips: list[Skip]) -> tuple[list[Finding], list[Skip]]:
    """(findings no skip accepts, skips that accept no finding)."""
    new = [f for f in findings if not any(s.matches(f) for s in skips)]
    unused = [s for s in skips if not any(s.matches(f) for f in findings)]
    return new, unused


def main(argv: list[str]) -> int:
    stacks = [Path(a) for a in argv] or sorted((ROOT / "cdktf.out" / "stacks").iterdir())
    findings = scan(stacks)
    new, unused = triage(findings, read_skips())
    print(f"checkov: {len(findings)} finding(s), {len(findings) - len(new)} accepted in {SKIPS.relative_to(ROOT)}")
    for finding in new:
        print(f"  NEW  {finding}")
    for skip in unused:
        print(f"  UNUSED SKIP  {skip.check_id} {skip.pattern}")
    return 1 if new or unused else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
