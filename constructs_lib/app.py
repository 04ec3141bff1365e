"""Build the cdktf App from configuration, turning configuration errors into clean exits."""

from __future__ import annotations

import os
import sys

from .config import ConfigError, PipelineConfig, build_config


def load_environments() -> list[PipelineConfig]:
    """The environments to synthesize: the original design unless PIPELINE_CONFIG names a file."""
    return [build_config()]


def build_app(configs: list[PipelineConfig], outdir: str | None = None):
    from cdktf import App

    from .stack import PipelineStack

    app = App(outdir=outdir) if outdir else App()
    for config in configs:
        PipelineStack(app, config)
    return app


def run() -> None:
    try:
        configs = load_environments()
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    build_app(configs).synth()
