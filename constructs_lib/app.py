"""Build the cdktf App from configuration, turning configuration errors into clean exits."""

from __future__ import annotations

import os
import sys

from pipeline_model.capacity import synth_hook as capacity_synth_hook
from pipeline_model.config import ConfigError, PipelineConfig
# Re-exported: main.py, the tests and users' scripts read them from here (they live in the model).
from pipeline_model.config import CONFIG_ENV, SELECT_ENV, load_environments  # noqa: F401
from pipeline_model.paths import check_output_dir


def build_app(configs: list[PipelineConfig], outdir: str | None = None):
    from .cdk import App

    from .stack import PipelineStack

    app = App(outdir=outdir) if outdir else App()
    for config in configs:
        PipelineStack(app, config)
    return app


def error_lines(error: Exception) -> list[str]:
    """``error: <field>: <rule>``, one line per problem of a ConfigError; other errors as they read."""
    lines = error.lines() if isinstance(error, ConfigError) else str(error).splitlines()
    return [f"error: {line}" for line in lines]


def fail(error: Exception) -> None:
    print("\n".join(error_lines(error)), file=sys.stderr)
    raise SystemExit(2) from None


def run(argv: list[str] | None = None) -> None:
    """main.py: synthesize every configured environment; ``--check`` only validates the
    configuration (what `make synth` runs before the cdktf CLI, which would print the app's error
    output twice: as it streams and again in its summary)."""
    argv = argv or []
    try:
        configs = load_environments()
        capacity_synth_hook(configs, argv)  # [capacity]: the table, or ConfigError when strict (docs/capacity.md)
    except ConfigError as error:
        fail(error)
    if "--check" in argv:
        return
    outdir_problem = check_output_dir(os.environ.get("CDKTF_OUTDIR") or ".", "CDKTF_OUTDIR")
    if outdir_problem is not None:  # before jsii, whose mkdir would fail with a JavaScript ENOENT trace
        fail(ConfigError(outdir_problem))
    from pipeline_model.packaging import PackagingError
    from .runtime.flavour import FlavourError

    try:
        # Read here, not by cdktf in the jsii kernel, which sees the environment of its start.
        app = build_app(configs, outdir=os.environ.get("CDKTF_OUTDIR") or None)
    except (PackagingError, FlavourError) as error:
        fail(error)
    app.synth()
