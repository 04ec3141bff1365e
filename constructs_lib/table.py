"""A DynamoDB table with its stream enabled (terraform-aws-modules/dynamodb-table)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from constructs import Construct

from . import modules
from .cdk import TerraformHclModule
from .contract import STREAM_VIEW_TYPE, TABLE_HASH_KEY


@dataclass(frozen=True)
class StreamTableProps:
    name: str
    hash_key: str = TABLE_HASH_KEY[0]
    hash_key_type: str = TABLE_HASH_KEY[1]
    billing_mode: str = "PAY_PER_REQUEST"
    stream_view_type: str = STREAM_VIEW_TYPE
    stream: bool = True
    #: Extra module inputs, merged last (e.g. {"ttl_enabled": True}).
    extra: dict[str, Any] = field(default_factory=dict)


class StreamTable(Construct):
    """A table (by default with its stream). Exposes ``table_name``, ``table_arn``, ``stream_arn``."""

    def __init__(self, scope: Construct, id: str, *, props: StreamTableProps, module_id: str = "table") -> None:
        super().__init__(scope, id)
        self.module = TerraformHclModule(
            self,
            "module",
            source=modules.DYNAMODB_TABLE.source,
            version=modules.DYNAMODB_TABLE.version,
            variables={
                "name": props.name,
                "hash_key": props.hash_key,
                "attributes": [{"name": props.hash_key, "type": props.hash_key_type}],
                "billing_mode": props.billing_mode,
                **({"stream_enabled": True, "stream_view_type": props.stream_view_type} if props.stream else {}),
                **props.extra,
            },
        )
        self.module.override_logical_id(module_id)
        self.table_name = self.module.get_string("dynamodb_table_id")
        self.table_arn = self.module.get_string("dynamodb_table_arn")
        self.stream_arn = self.module.get_string("dynamodb_table_stream_arn")
