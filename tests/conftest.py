"""Shared fixtures for the infrastructure tests.

Synthesizing is the slow part (jsii starts node and loads the provider assembly), so each
configuration is synthesized once per test session. The CDK (cdktf or cdktn) is imported lazily so that the
handler tests, which do not need it, do not pay for it.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The checkout's jsii copy (as main.py and the Makefile choose), set before constructs_lib is imported:
# the library itself defaults to the user's cache folder.
os.environ.setdefault("PIPELINE_JSII_CACHE_DIR", str(PROJECT_ROOT / ".build" / "jsii"))


@dataclass
class Synth:
    """The result of one synthesis: the JSON of each stack and where it was written."""

    outdir: Path
    stacks: dict[str, Any]  # stack name -> the cdktf TerraformStack
    documents: dict[str, dict[str, Any]]  # stack name -> parsed cdk.tf.json

    def stack_dir(self, name: str) -> Path:
        return self.outdir / "stacks" / name

    @property
    def only(self) -> dict[str, Any]:
        assert len(self.documents) == 1, list(self.documents)
        return next(iter(self.documents.values()))

    @functools.cached_property
    def only_text(self) -> str:
        """``Testing.synth()`` of the only stack, for the cdktf matchers (made when first asked for)."""
        from constructs_lib.cdk import Testing

        assert len(self.stacks) == 1, list(self.stacks)
        return Testing.synth(next(iter(self.stacks.values())))


def synthesize(configs, outdir: Path) -> Synth:
    from constructs_lib.app import build_app
    from main import use_supported_node

    use_supported_node()
    app = build_app(configs, outdir=str(outdir))
    stacks = {config.names.stack: app.node.find_child(config.names.stack) for config in configs}
    app.synth()
    documents = {
        name: json.loads((outdir / "stacks" / name / "cdk.tf.json").read_text()) for name in stacks
    }
    return Synth(outdir=outdir, stacks=stacks, documents=documents)


@pytest.fixture(scope="session")
def synth_config(tmp_path_factory):
    """Synthesize a list of configs once per distinct list (cached for the session)."""
    cache: dict[str, Synth] = {}

    def run(configs) -> Synth:
        key = json.dumps([c.model_dump(mode="json") for c in configs], sort_keys=True)
        if key not in cache:
            cache[key] = synthesize(configs, tmp_path_factory.mktemp("cdktf.out"))
        return cache[key]

    return run


@pytest.fixture(scope="session")
def fresh_synth(tmp_path_factory):
    """Synthesize without the cache (for tests that compare two independent runs)."""

    def run(configs) -> Synth:
        return synthesize(configs, tmp_path_factory.mktemp("fresh"))

    return run


@pytest.fixture(scope="session")
def default_synth(synth_config) -> Synth:
    from pipeline_model.config import build_config

    return synth_config([build_config()])


@pytest.fixture(scope="session")
def tf(default_synth) -> dict[str, Any]:
    """The default stack's synthesized Terraform JSON."""
    return default_synth.only


@pytest.fixture
def clean_outdir(tmp_path):
    yield tmp_path
    shutil.rmtree(tmp_path, ignore_errors=True)
