"""Typed classes of the prebuilt AWS provider, loaded without its 9-16 second package import.

``cdktf_cdktf_provider_aws/__init__.py`` imports all ~2,200 resource submodules eagerly.
Each submodule only needs the package's ``_jsii`` module (which loads the jsii assembly),
so this module registers the package without running its ``__init__`` and imports just the
submodules the constructs use. The classes are the very same objects either way.

If the package does not look the way this expects (another version or layout), or when
``PIPELINE_NAIVE_PROVIDER_IMPORT=1`` is set, it falls back to the ordinary import. A test
synthesizes with both paths and compares the output byte for byte.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from types import ModuleType

PACKAGE = "cdktf_cdktf_provider_aws"
_SUBMODULES = (
    "provider",
    "iam_role_policy_attachment",
    "lambda_event_source_mapping",
    "sns_topic_subscription",
)

#: "fast" or "naive": which path loaded the provider (read by tests and the benchmark).
IMPORT_PATH = "unloaded"


def _fast_package() -> ModuleType:
    """Register the provider package without executing its __init__."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"{PACKAGE} is not installed as a package")
    locations = list(spec.submodule_search_locations)
    if not any(os.path.isfile(os.path.join(p, "_jsii", "__init__.py")) for p in locations):
        raise ImportError(f"{PACKAGE} has no _jsii submodule")
    package = importlib.util.module_from_spec(spec)
    package.__path__ = locations
    sys.modules[PACKAGE] = package
    return package


def _load() -> dict[str, ModuleType]:
    global IMPORT_PATH
    if PACKAGE not in sys.modules and os.environ.get("PIPELINE_NAIVE_PROVIDER_IMPORT") != "1":
        try:
            package = _fast_package()
            modules = {}
            for name in _SUBMODULES:
                modules[name] = importlib.import_module(f"{PACKAGE}.{name}")
                setattr(package, name, modules[name])
            IMPORT_PATH = "fast"
            return modules
        except Exception:  # any surprise: undo and take the ordinary path
            for key in [k for k in sys.modules if k == PACKAGE or k.startswith(PACKAGE + ".")]:
                del sys.modules[key]
    importlib.import_module(PACKAGE)
    IMPORT_PATH = "naive" if IMPORT_PATH == "unloaded" else IMPORT_PATH
    return {name: importlib.import_module(f"{PACKAGE}.{name}") for name in _SUBMODULES}


_modules = _load()

AwsProvider = _modules["provider"].AwsProvider
AwsProviderDefaultTags = _modules["provider"].AwsProviderDefaultTags
IamRolePolicyAttachment = _modules["iam_role_policy_attachment"].IamRolePolicyAttachment
LambdaEventSourceMapping = _modules["lambda_event_source_mapping"].LambdaEventSourceMapping
LambdaEventSourceMappingDestinationConfig = _modules["lambda_event_source_mapping"].LambdaEventSourceMappingDestinationConfig
LambdaEventSourceMappingDestinationConfigOnFailure = _modules[
    "lambda_event_source_mapping"
].LambdaEventSourceMappingDestinationConfigOnFailure
SnsTopicSubscription = _modules["sns_topic_subscription"].SnsTopicSubscription
