"""A Python Lambda function with its code packaged at synth (terraform-aws-modules/lambda).

Defaults (each can be overridden, see :mod:`constructs_lib.props`): X-Ray active tracing, a
log group with a retention the module creates itself (so the role needs no
``logs:CreateLogGroup``), and reserved concurrency when one is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from constructs import Construct

from . import modules
from .cdk import App, AssetType, TerraformAsset, TerraformHclModule
from pipeline_model import defaults
from pipeline_model.contract import HANDLER
from .ids import set_logical_id
from pipeline_model.packaging import FUNCTIONS_DIR, PackagingError, build_package, code_folder  # noqa: F401 (re-exported)
from .props import PropsConflictError, merge, prop

#: Folder name under the app's output folder's parent holding zips and the Powertools bundle.
BUILD_FOLDER = ".build"


def build_dir(scope: Construct) -> Path:
    """Where synth writes build artefacts: ``.build`` beside the app's output folder (cdktf.out)."""
    return Path(App.of(scope).outdir).resolve().parent / BUILD_FOLDER


@dataclass(frozen=True)
class PythonFunctionProps:
    function_name: str = prop(description="The function's name (required).")
    code: str | Path = prop(
        defaults.CONSUMER_CODE, "Folder holding app.py: a path (str or Path; absolute, or relative to the folder of the app's entry file) or "
        "the name of a handler shipped with the package (producer, consumer).")
    handler: str = prop(HANDLER, "Handler in the code folder.")
    runtime: str = prop(defaults.RUNTIME, "Lambda runtime.")
    architecture: str = prop(defaults.ARCHITECTURE, "x86_64 or arm64.")
    timeout: int = prop(defaults.FUNCTION_TIMEOUT_SECONDS, "Timeout in seconds.")
    memory_size: int = prop(defaults.FUNCTION_MEMORY_MB, "Memory in MB.")
    environment: dict[str, str] = prop(description="Environment variables.", factory=dict)
    policy_statements: dict[str, Any] = prop(
        description="Inline policy statements in the lambda module's format (key 'condition', singular).",
        factory=dict)
    layers: tuple[str, ...] = prop((), "Layer version ARNs.")
    tracing: bool = prop(defaults.TRACING, "X-Ray active tracing (and the role's permission to send traces).")
    log_retention_days: int = prop(defaults.LOG_RETENTION_DAYS, "Retention of the function's log group.")
    reserved_concurrency: int = prop(defaults.RESERVED_CONCURRENCY, "Reserved concurrent executions; -1 = unreserved.")
    bundle: Path | None = prop(None, "A folder of libraries packaged into the zip beside the code (e.g. Powertools).")
    include: tuple[str, ...] = prop((), "Glob patterns (relative to the code folder) of further files to package, e.g. "
                                        "'data/*.json'; see docs/packaging.md.")
    exclude: tuple[str, ...] = prop((), "Glob patterns of files or folders never to package; see docs/packaging.md.")
    extra: dict[str, Any] = prop(description="Further lambda module inputs, applied over the defaults.", factory=dict)
    profile: str | None = prop(None, "Stack profile whose lambda module major is used (tutorial, current); None = "
                                     "the stack's (see constructs_lib.aws_provider).")


class PythonFunction(Construct):
    """Packages the code folder deterministically and deploys it with the lambda module.

    Required (an override may not change them): ``function_name``, ``create_package = false``
    and ``local_existing_package`` (a path relative to the stack directory), so terraform never
    runs the module's packaging script, needs no python at plan time and sees no absolute path
    of this machine.
    """

    def __init__(self, scope: Construct, id: str, *, props: PythonFunctionProps, logical_id: str | None = None) -> None:
        # Packaged first: bad code fails before anything is added to the construct tree.
        source = code_folder(props.code)
        package = build_package(source.name, source, build_dir(scope), extra=props.bundle,
                                include=props.include, exclude=props.exclude, label=props.function_name)
        super().__init__(scope, id)
        module = modules.stack_profile(self, props.profile, by=f"PythonFunction {self.node.path}").lambda_
        self.asset = TerraformAsset(self, "package", path=str(package), type=AssetType.FILE)
        defaults: dict[str, Any] = {
            "handler": props.handler,
            "runtime": props.runtime,
            # Explicit, so it always matches the (per-architecture) Powertools layer.
            "architectures": [props.architecture],
            "timeout": props.timeout,
            "memory_size": props.memory_size,
            "cloudwatch_logs_retention_in_days": props.log_retention_days,
            # The module creates the log group itself, so the role needs no logs:CreateLogGroup.
            "attach_create_log_group_permission": False,
        }
        if props.environment:
            defaults["environment_variables"] = dict(props.environment)
        if props.policy_statements:
            defaults["attach_policy_statements"] = True
            defaults["policy_statements"] = props.policy_statements
        if props.layers:
            defaults["layers"] = list(props.layers)
        if props.reserved_concurrency >= 0:
            defaults["reserved_concurrent_executions"] = props.reserved_concurrency
        if props.tracing:
            defaults["tracing_mode"] = "Active"
            # AWSXRayDaemonWriteAccess: xray:PutTraceSegments and friends support no resource-level
            # permissions, so AWS requires Resource "*" there (the one wildcard resource we accept).
            defaults["attach_tracing_policy"] = True
        variables = merge(f"PythonFunction {self.node.path}", defaults, props.extra, {
            "function_name": (props.function_name, "props.function_name"),
            "create_package": (False, "the code is packaged at synth, not by terraform"),
            "local_existing_package": (self.asset.path, "the package built at synth"),
        })
        if isinstance(variables.get("policy_statements"), dict):
            try:
                variables["policy_statements"] = module.spell_conditions(variables["policy_statements"])
            except ValueError as error:
                raise PropsConflictError(f"PythonFunction {self.node.path}: {error}") from None
        self.module = TerraformHclModule(
            self, "module", source=module.source, version=module.version, variables=variables
        )
        self.logical_id = logical_id or id
        set_logical_id(self.module, self.logical_id)
        self.function_name = self.module.get_string("lambda_function_name")
        self.function_arn = self.module.get_string("lambda_function_arn")
        self.role_name = self.module.get_string("lambda_role_name")
        self.role_arn = self.module.get_string("lambda_role_arn")

    @property
    def module_id(self) -> str:
        return self.logical_id
