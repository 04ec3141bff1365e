"""The project's rule: no committed file names a package-registry host.

Hosts are learnt at run time instead (tfschema_provider/validate.py, the pipeline-validate command, asks the terraform binary).
The pattern matches any `registry.<name>.<tld>` (an attribute chain such as `registry.x.y` in code
would match too: name such a variable otherwise); this file spells no host itself, the samples
below are put together from pieces.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HOST_PATTERN = r"registry\.[a-z0-9-]+\.[a-z]{2,}"


def _git_grep(cwd: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["git", "grep", "-n", "-I", "-i", "-E", *extra, HOST_PATTERN],
        cwd=cwd, capture_output=True, text=True,
    )


@pytest.fixture(scope="module")
def git_checkout() -> Path:
    if shutil.which("git") is None:
        pytest.skip("needs git to list the tracked files")
    inside = subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], cwd=ROOT, capture_output=True, text=True)
    if inside.stdout.strip() != "true":
        pytest.skip("not a git checkout: there are no tracked files to search")
    return ROOT


def test_pattern_finds_registry_hosts(tmp_path, git_checkout):
    dot = "."
    samples = [f"registry{dot}{name}{dot}{tld}" for name, tld in (("terraform", "io"), ("opentofu", "org"),
                                                                   ("npmjs", "org"))]
    (tmp_path / "sample.py").write_text("".join(f'HOST = "{s}"\n' for s in samples))
    found = _git_grep(tmp_path, "--no-index")
    assert found.returncode == 0, found.stderr
    assert [line.split(":", 2)[1] for line in found.stdout.splitlines()] == ["1", "2", "3"], found.stdout


def test_no_tracked_file_names_a_registry_host(git_checkout):
    found = _git_grep(git_checkout)
    # git grep exits 1 when nothing matches, 0 with matches, 2 or more on an error
    assert found.returncode == 1, f"registry hosts in tracked files (learn them at run time):\n{found.stdout}{found.stderr}"
