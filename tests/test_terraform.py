"""Checks that need a real terraform binary with registry access (skipped elsewhere).

`terraform init` downloads the four modules and the providers, so these tests run only
where a terraform binary is on PATH *and* PIPELINE_TERRAFORM_ONLINE=1 says the registry
is reachable (the CI workflow for users' repositories sets it).
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

needs_terraform = pytest.mark.skipif(
    shutil.which("terraform") is None or os.environ.get("PIPELINE_TERRAFORM_ONLINE") != "1",
    reason="needs a terraform binary on PATH and registry access (set PIPELINE_TERRAFORM_ONLINE=1)",
)


@needs_terraform
def test_default_stack_is_valid_terraform(default_synth):
    from constructs_lib.cdk import Testing

    stack = next(iter(default_synth.stacks.values()))
    assert Testing.to_be_valid_terraform(Testing.full_synth(stack))


@needs_terraform
def test_plan_finds_the_code_packages(default_synth, tmp_path):
    """terraform init + validate from the stack directory, then prove each package path resolves there.

    The lambda module guards its package with fileexists(), so validate alone would pass with a
    missing zip: read the resolved paths from `terraform console` instead.
    """
    stack_dir = default_synth.stack_dir("event-driven-pipeline")
    work = tmp_path / "stack"
    shutil.copytree(stack_dir, work)
    env = {**os.environ, "TF_IN_AUTOMATION": "1"}
    subprocess.run(["terraform", "init", "-backend=false", "-input=false"], cwd=work, env=env, check=True)
    subprocess.run(["terraform", "validate"], cwd=work, env=env, check=True)
    for module in ("producer", "consumer_main"):
        path = default_synth.only["module"][module]["local_existing_package"]
        result = subprocess.run(
            ["terraform", "console"], input=f'fileexists("{path}")\n', cwd=work, env=env,
            capture_output=True, text=True, check=True,
        )
        assert result.stdout.strip() == "true", (module, path, result.stdout)
