"""Build the cdktf App from configuration, turning configuration errors into clean exits."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pipeline_model.config import ConfigError, PipelineConfig, build_config, environments_from_dict, read_config_file
from pipeline_model.paths import check_output_dir

#: Environment variables read by main.py (and so by `cdktf synth`).
CONFIG_ENV = "PIPELINE_CONFIG"
SELECT_ENV = "PIPELINE_ENVIRONMENTS"


def load_environments(path: str | None = None, select: str | None = None) -> list[PipelineConfig]:
    """The environments to synthesize.

    ``path`` (default: $PIPELINE_CONFIG) names a .toml/.json file; without one the result is
    the original design. ``select`` (default: $PIPELINE_ENVIRONMENTS) is a comma-separated
    list of environment names to keep.
    """
    path = path if path is not None else os.environ.get(CONFIG_ENV, "")
    select = select if select is not None else os.environ.get(SELECT_ENV, "")
    configs = environments_from_dict(read_config_file(path)) if path else [build_config()]
    if select:
        wanted = [name.strip() for name in select.split(",") if name.strip()]
        known = {config.environment for config in configs}
        missing = [name for name in wanted if name not in known]
        if missing:
            raise ConfigError(
                f"{SELECT_ENV}: no environment named {', '.join(map(repr, missing))} "
                f"(configured: {', '.join(sorted(known))})"
            )
        configs = [config for config in configs if config.environment in wanted]
    return configs


def use_supported_node() -> None:
    """Run jsii on the project's Node.js 22 when it is installed and none is chosen.

    jsii prints a large end-of-life banner on Node 20; a supported Node is the fix. It comes
    from package.json (node_modules) or, for CDK Terrain, cdktn/package.json.
    """
    root = Path(__file__).resolve().parent.parent
    if "JSII_NODE" in os.environ:
        return
    first = "cdktn" if os.environ.get("PIPELINE_CDK") == "cdktn" else "."
    for folder in dict.fromkeys((first, ".", "cdktn")):
        node = root / folder / "node_modules" / ".bin" / "node"
        if os.access(node, os.X_OK):
            os.environ["JSII_NODE"] = str(node)
            return


def build_app(configs: list[PipelineConfig], outdir: str | None = None):
    from .cdk import App

    from .stack import PipelineStack

    app = App(outdir=outdir) if outdir else App()
    for config in configs:
        PipelineStack(app, config)
    return app


def error_lines(error: Exception) -> list[str]:
    """``error: <field>: <rule>``, one line per broken rule (a ConfigError lists them under a
    heading; other errors are one line already)."""
    heading, _, rest = str(error).partition("\n")
    if heading.rstrip(":") == "invalid pipeline configuration" and rest:
        return [f"error: {line.strip()}" for line in rest.splitlines() if line.strip()]
    return [f"error: {line}" for line in str(error).splitlines()]


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
    except ConfigError as error:
        fail(error)
    if "--check" in argv:
        return
    outdir_problem = check_output_dir(os.environ.get("CDKTF_OUTDIR") or ".", "CDKTF_OUTDIR")
    if outdir_problem is not None:  # before jsii, whose mkdir would fail with a JavaScript ENOENT trace
        fail(ConfigError(outdir_problem))
    use_supported_node()
    from pipeline_model.packaging import PackagingError
    from .runtime.flavour import FlavourError

    try:
        # Read here, not by cdktf in the jsii kernel, which sees the environment of its start.
        app = build_app(configs, outdir=os.environ.get("CDKTF_OUTDIR") or None)
    except (PackagingError, FlavourError) as error:
        fail(error)
    app.synth()
