"""Provider schemas: JSON in the shape of `terraform providers schema -json` to tfplugin6 messages.

The JSON has, per provider, `provider` (the provider block), `resource_schemas` and
`data_source_schemas`, each `{"version": N, "block": {...}}`; a block has `attributes` (each with
`type` or `nested_type`, and the flags `required` / `optional` / `computed` / `sensitive` /
`deprecated`) and `block_types` (each with `nesting_mode`, `block`, `min_items`, `max_items`).
Providers are keyed by source address: fully qualified in terraform's output, the short
`hashicorp/<name>` in the files of schemas/ (which host serves them is learnt from terraform at
run time). The key is not read: every file given is one provider's schema.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tf.gen import tfplugin_pb2 as pb

_BLOCK_NESTING = {
    "single": pb.Schema.NestedBlock.SINGLE,
    "list": pb.Schema.NestedBlock.LIST,
    "set": pb.Schema.NestedBlock.SET,
    "map": pb.Schema.NestedBlock.MAP,
    "group": pb.Schema.NestedBlock.GROUP,
}
_OBJECT_NESTING = {
    "single": pb.Schema.Object.SINGLE,
    "list": pb.Schema.Object.LIST,
    "set": pb.Schema.Object.SET,
    "map": pb.Schema.Object.MAP,
}


@dataclass
class ProviderSchema:
    """One provider's schemas, as parsed JSON (the provider itself works on these dicts)."""

    provider: dict[str, Any] = field(default_factory=lambda: {"version": 0, "block": {}})
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    data_sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    provider_meta: dict[str, Any] | None = None  # the provider_meta "<name>" block modules may write

    @classmethod
    def load(cls, *paths: Path) -> "ProviderSchema":
        """Merge one or more schema files; later files add to (and override) earlier ones."""
        merged = cls()
        for path in paths:
            document = json.loads(Path(path).read_text())
            for entry in document.get("provider_schemas", {}).values():
                if entry.get("provider"):
                    merged.provider = entry["provider"]
                if entry.get("provider_meta"):
                    merged.provider_meta = entry["provider_meta"]
                merged.resources.update(entry.get("resource_schemas", {}))
                merged.data_sources.update(entry.get("data_source_schemas", {}))
        return merged

    def to_proto(self) -> pb.GetProviderSchema.Response:
        return pb.GetProviderSchema.Response(
            provider=schema_message(self.provider),
            **({"provider_meta": schema_message(self.provider_meta)} if self.provider_meta else {}),
            resource_schemas={name: schema_message(s) for name, s in self.resources.items()},
            data_source_schemas={name: schema_message(s) for name, s in self.data_sources.items()},
            server_capabilities=pb.ServerCapabilities(get_provider_schema_optional=True),
        )


def schema_message(schema: dict[str, Any]) -> pb.Schema:
    return pb.Schema(version=schema.get("version", 0), block=block_message(schema.get("block", {})))


def block_message(block: dict[str, Any]) -> pb.Schema.Block:
    return pb.Schema.Block(
        attributes=[attribute_message(name, a) for name, a in sorted(block.get("attributes", {}).items())],
        block_types=[
            pb.Schema.NestedBlock(
                type_name=name,
                block=block_message(nested.get("block", {})),
                nesting=_BLOCK_NESTING[nested.get("nesting_mode", "single")],
                min_items=nested.get("min_items", 0),
                max_items=nested.get("max_items", 0),
            )
            for name, nested in sorted(block.get("block_types", {}).items())
        ],
        deprecated=block.get("deprecated", False),
    )


def attribute_message(name: str, attribute: dict[str, Any]) -> pb.Schema.Attribute:
    message = pb.Schema.Attribute(
        name=name,
        required=attribute.get("required", False),
        optional=attribute.get("optional", False),
        computed=attribute.get("computed", False),
        sensitive=attribute.get("sensitive", False),
        deprecated=attribute.get("deprecated", False),
    )
    if "nested_type" in attribute:
        nested = attribute["nested_type"]
        message.nested_type.CopyFrom(
            pb.Schema.Object(
                attributes=[attribute_message(n, a) for n, a in sorted(nested.get("attributes", {}).items())],
                nesting=_OBJECT_NESTING[nested.get("nesting_mode", "single")],
            )
        )
    else:
        # The wire format carries the type as its JSON encoding, e.g. b'["list","string"]'.
        message.type = json.dumps(attribute["type"]).encode()
    return message
