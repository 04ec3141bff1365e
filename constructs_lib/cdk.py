"""cdktf or CDK Terrain: the core classes the constructs use, from the one that is selected.

``runtime.flavour`` picks ``cdktf`` or ``cdktn`` (``PIPELINE_CDK``, else whichever is
installed, cdktf first). This is the only module that imports the core library, and
``aws.py`` (through ``runtime.provider``) the only one that loads the AWS provider package;
``tests/test_cdk_compat.py`` keeps it so. The two libraries share their API, so the names
below are the same classes under either; where they differ, the difference lives here.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import jsii

from constructs import Construct

from .runtime.flavour import ENV, FLAVOURS, Flavour, FlavourError, select

FLAVOUR: Flavour = select()
core = importlib.import_module(FLAVOUR.core)

if TYPE_CHECKING:  # type checkers see cdktf's classes; CDK Terrain's have the same API
    from cdktf import (
        App,
        AssetType,
        IAnyProducer,
        IResolvable,
        Lazy,
        LocalBackend,
        S3Backend,
        TerraformAsset,
        TerraformHclModule,
        TerraformOutput,
        TerraformStack,
        Testing,
        Token,
    )
else:
    App = core.App
    AssetType = core.AssetType
    LocalBackend = core.LocalBackend
    S3Backend = core.S3Backend
    TerraformAsset = core.TerraformAsset
    TerraformHclModule = core.TerraformHclModule
    TerraformOutput = core.TerraformOutput
    TerraformStack = core.TerraformStack
    Testing = core.Testing
    Lazy = core.Lazy
    Token = core.Token
    IAnyProducer = core.IAnyProducer
    IResolvable = core.IResolvable

#: The releases that read the S3 backend's use_lockfile (native S3 state locking).
S3_LOCKFILE_TARGETS = {"terraform": ">=1.10.0", "opentofu": ">=1.10.0"}
#: Context key where cdktn looks for the Terraform/OpenTofu releases a project targets.
TARGET_VERSIONS_CONTEXT = "targetVersions"

#: Whether the core library's S3Backend takes use_lockfile (cdktn 0.24 does, cdktf 0.21 not).
S3_BACKEND_HAS_USE_LOCKFILE = "use_lockfile" in inspect.signature(core.S3BackendConfig).parameters


def s3_backend(stack: Any, *, use_lockfile: bool = False, **props: Any) -> Any:
    """``S3Backend(stack, **props)`` with S3 native state locking when ``use_lockfile``.

    Written as the backend's ``use_lockfile = true`` either way: through the property where
    the library has it, else as an override of the same key, so both write the same JSON.
    """
    if use_lockfile and S3_BACKEND_HAS_USE_LOCKFILE:
        backend = S3Backend(stack, use_lockfile=True, **props)
        # cdktn checks the feature against the project's declared targets (cdktf.json's
        # targetVersions, default Terraform >= 1.5.7 / OpenTofu >= 1.6.0) and fails the synth.
        # Unless the project declared its own, declare for this backend what it needs.
        if backend.node.try_get_context(TARGET_VERSIONS_CONTEXT) is None:
            backend.node.set_context(TARGET_VERSIONS_CONTEXT, dict(S3_LOCKFILE_TARGETS))
        return backend
    backend = S3Backend(stack, **props)
    if use_lockfile:
        stack.add_override("terraform.backend.s3.use_lockfile", True)
    return backend


@jsii.implements(IAnyProducer)
class _Producer:
    def __init__(self, produce: Callable[[], Any]) -> None:
        self._produce = produce

    def produce(self, context: Any) -> Any:
        return self._produce()


def lazy_string(produce: Callable[[], str]) -> str:
    """A string token whose value ``produce()`` computes when the stack is synthesized, so that
    it can include what is added to the construct tree after the value was handed over (e.g. a
    key policy naming roles of subscribers added later)."""
    return Lazy.string_value(_Producer(produce))


@jsii.implements(IResolvable)
class _Dependable:
    """What ``depends_on=[element]`` writes (``aws_x.id``, no braces), for adding later."""

    def __init__(self, element: Any) -> None:
        self._element = element

    @property
    def creation_stack(self) -> list[str]:
        return []

    def resolve(self, context: Any) -> Any:
        context.suppress_braces = True
        return self._element.fqn

    def to_string(self) -> str:
        return f"depends_on {self._element.node.path}"


def add_dependency(resource: Any, element: Any) -> None:
    """Make ``resource`` (a resource or module) wait for ``element`` after it was created: appends
    to its ``depends_on`` exactly what passing ``element`` to the constructor would have."""
    resource.depends_on = [*(resource.depends_on or []), Token.as_string(_Dependable(element))]


__all__ = [
    "App",
    "AssetType",
    "Construct",
    "IAnyProducer",
    "IResolvable",
    "Lazy",
    "Token",
    "add_dependency",
    "lazy_string",
    "ENV",
    "FLAVOUR",
    "FLAVOURS",
    "FlavourError",
    "LocalBackend",
    "S3Backend",
    "TerraformAsset",
    "TerraformHclModule",
    "TerraformOutput",
    "TerraformStack",
    "Testing",
    "core",
    "s3_backend",
]
