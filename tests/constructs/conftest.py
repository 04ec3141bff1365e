"""Each construct synthesized alone in a stack of its own (cdktf ``Testing``)."""

from __future__ import annotations

import json
from typing import Any

import pytest


@pytest.fixture
def stack(tmp_path):
    """A fresh stack in an app writing to ``tmp_path/cdktf.out``."""
    from main import use_supported_node

    use_supported_node()
    from constructs_lib.cdk import App, TerraformStack

    app = App(outdir=str(tmp_path / "cdktf.out"))
    return TerraformStack(app, "test")


def _synth(stack) -> dict[str, Any]:
    from constructs_lib.cdk import Testing

    return json.loads(Testing.synth(stack))


@pytest.fixture
def synth():
    """``synth(stack)``: the stack's Terraform JSON."""
    return _synth


@pytest.fixture
def account():
    from constructs_lib.security import Account

    return Account("123456789012")
