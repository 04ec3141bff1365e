"""A Python Lambda function with its code packaged at synth (terraform-aws-modules/lambda)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from constructs import Construct

from . import modules
from .cdk import AssetType, TerraformAsset, TerraformHclModule
from .contract import HANDLER
from .packaging import build_package


@dataclass(frozen=True)
class PythonFunctionProps:
    function_name: str
    #: Folder under functions/ holding app.py.
    code: str
    handler: str = HANDLER
    runtime: str = "python3.12"
    architecture: str = "x86_64"
    timeout: int = 3
    memory_size: int = 128
    environment: dict[str, str] = field(default_factory=dict)
    #: Inline policy statements in the lambda module's format (key ``condition``, singular).
    policy_statements: dict[str, Any] = field(default_factory=dict)
    layers: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    #: Where the code folder lives; defaults to the project's functions/.
    source_dir: Path | None = None
    #: A folder of libraries packaged into the zip beside the code (e.g. Powertools).
    bundle: Path | None = None


class PythonFunction(Construct):
    """Packages ``functions/<code>`` deterministically and deploys it with the lambda module.

    ``create_package = false`` + ``local_existing_package`` (a path relative to the stack
    directory) means terraform never runs the module's packaging script, needs no python
    at plan time and sees no absolute path of this machine.
    """

    def __init__(self, scope: Construct, id: str, *, props: PythonFunctionProps, module_id: str) -> None:
        super().__init__(scope, id)
        package = build_package(props.code, props.source_dir, extra=props.bundle)
        self.asset = TerraformAsset(self, "package", path=str(package), type=AssetType.FILE)
        variables: dict[str, Any] = {
            "function_name": props.function_name,
            "handler": props.handler,
            "runtime": props.runtime,
            # Explicit, so it always matches the (per-architecture) Powertools layer.
            "architectures": [props.architecture],
            "timeout": props.timeout,
            "memory_size": props.memory_size,
            "create_package": False,
            "local_existing_package": self.asset.path,
        }
        if props.environment:
            variables["environment_variables"] = dict(props.environment)
        if props.policy_statements:
            variables["attach_policy_statements"] = True
            variables["policy_statements"] = props.policy_statements
        if props.layers:
            variables["layers"] = list(props.layers)
        variables.update(props.extra)
        self.module = TerraformHclModule(
            self, "module", source=modules.LAMBDA.source, version=modules.LAMBDA.version, variables=variables
        )
        self.module.override_logical_id(module_id)
        self.module_id = module_id
        self.function_name = self.module.get_string("lambda_function_name")
        self.function_arn = self.module.get_string("lambda_function_arn")
        self.role_name = self.module.get_string("lambda_role_name")
        self.role_arn = self.module.get_string("lambda_role_arn")
