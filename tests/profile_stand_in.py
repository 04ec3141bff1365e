"""A synthesized stack rewritten to a stack profile, for tests, until the constructs take the profile."""

from __future__ import annotations

import json
from typing import Any


def as_profile(doc: dict[str, Any], name: str) -> dict[str, Any]:
    """A copy of a synthesized stack rewritten to the stack profile ``name``: module versions,
    Terraform and aws provider constraints, and statement conditions spelt as that profile's modules
    read them. A stand-in until the constructs take the profile themselves (issue #21)."""
    from pipeline_model.stack_profiles import profile

    chosen = profile(name)
    by_source = {m.source: m for m in chosen.modules.values()}
    copy = json.loads(json.dumps(doc))
    terraform = copy.setdefault("terraform", {})
    terraform["required_version"] = chosen.terraform_required_version
    terraform.setdefault("required_providers", {}).setdefault("aws", {})["version"] = chosen.aws_provider_version
    for block in copy.get("module", {}).values():
        module = by_source.get(block.get("source"))
        if module is None:
            continue
        block["version"] = module.version
        for key, value in block.items():
            if key.endswith("policy_statements") and isinstance(value, dict):
                block[key] = module.spell_conditions(value, key)
    return copy
