"""A DynamoDB table with secure defaults, its stream optional (terraform-aws-modules/dynamodb-table).

Used for the pipeline's source table (with its stream) and for each subscriber's idempotency
table (no stream, records expiring by TTL). Defaults (each can be overridden, see
:mod:`constructs_lib.props`): server-side encryption, point-in-time recovery, deletion protection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from constructs import Construct

from . import modules
from .cdk import TerraformHclModule
from pipeline_model.contract import STREAM_VIEW_TYPE, TABLE_HASH_KEY
from .ids import set_logical_id
from .props import merge, prop


@dataclass(frozen=True)
class TableProps:
    name: str = prop(description="The table's name (required).")
    hash_key: str = prop(TABLE_HASH_KEY[0], "Partition key attribute.")
    hash_key_type: str = prop(TABLE_HASH_KEY[1], "Partition key type: S, N or B.")
    billing_mode: str = prop("PAY_PER_REQUEST", "PAY_PER_REQUEST or PROVISIONED.")
    stream: bool = prop(True, "Enable the table's stream (required by a pipeline's source table).")
    stream_view_type: str = prop(STREAM_VIEW_TYPE, "What stream records carry.")
    encryption: bool = prop(True, "Server-side encryption with the AWS-managed DynamoDB key "
                                  "(module input server_side_encryption_enabled).")
    point_in_time_recovery: bool | None = prop(True, "Point-in-time recovery; None = the module's default (off).")
    deletion_protection: bool | None = prop(True, "Deletion protection; None = the module's default (off).")
    ttl_attribute: str | None = prop(None, "Attribute holding each item's expiry time (enables TTL).")
    extra: dict[str, Any] = prop(description="Further dynamodb-table module inputs, applied over the defaults.",
                                 factory=dict)
    profile: str | None = prop(None, "Stack profile whose dynamodb-table module major is used (tutorial, current); "
                                     "None = the stack's (see constructs_lib.aws_provider).")


class Table(Construct):
    """A table. Exposes ``table_name``, ``table_arn`` and ``stream_arn``.

    Required (an override may not change them): ``name``; with ``stream``, the stream itself.
    """

    def __init__(self, scope: Construct, id: str, *, props: TableProps, logical_id: str | None = None) -> None:
        super().__init__(scope, id)
        module = modules.stack_profile(self, props.profile, by=f"Table {self.node.path}").dynamodb_table
        defaults: dict[str, Any] = {
            "hash_key": props.hash_key,
            "attributes": [{"name": props.hash_key, "type": props.hash_key_type}],
            "billing_mode": props.billing_mode,
            "server_side_encryption_enabled": props.encryption,
        }
        if props.stream:
            defaults["stream_view_type"] = props.stream_view_type
        if props.point_in_time_recovery is not None:
            defaults["point_in_time_recovery_enabled"] = props.point_in_time_recovery
        if props.deletion_protection is not None:
            defaults["deletion_protection_enabled"] = props.deletion_protection
        if props.ttl_attribute is not None:
            defaults["ttl_enabled"] = True
            defaults["ttl_attribute_name"] = props.ttl_attribute
        required: dict[str, tuple[Any, str]] = {"name": (props.name, "props.name")}
        if props.stream:
            required["stream_enabled"] = (True, "props.stream")
        self.module = TerraformHclModule(
            self,
            "module",
            source=module.source,
            version=module.version,
            variables=merge(f"Table {self.node.path}", defaults, props.extra, required),
        )
        set_logical_id(self.module, logical_id or id)
        self.table_name = self.module.get_string("dynamodb_table_id")
        self.table_arn = self.module.get_string("dynamodb_table_arn")
        self.stream_arn = self.module.get_string("dynamodb_table_stream_arn")


#: The former names (the table is not only a stream source: it is also the idempotency table).
StreamTable = Table
StreamTableProps = TableProps
