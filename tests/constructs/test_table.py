"""Table alone: SSE, PITR and deletion protection by default; stream optional."""

from __future__ import annotations

import pytest


def table(stack, **props):
    from constructs_lib import Table, TableProps

    return Table(stack, "tbl", props=TableProps(name="items", **props))


def test_defaults(stack, synth):
    table(stack)
    module = synth(stack)["module"]["tbl"]
    assert module["server_side_encryption_enabled"] is True
    assert module["point_in_time_recovery_enabled"] is True
    assert module["deletion_protection_enabled"] is True
    assert module["stream_enabled"] is True and module["stream_view_type"] == "NEW_AND_OLD_IMAGES"
    assert module["hash_key"] == "id" and module["attributes"] == [{"name": "id", "type": "S"}]


def test_without_stream_with_ttl_and_module_defaults(stack, synth):
    table(stack, stream=False, ttl_attribute="expiration", point_in_time_recovery=None, deletion_protection=False)
    module = synth(stack)["module"]["tbl"]
    assert "stream_enabled" not in module and "stream_view_type" not in module
    assert module["ttl_enabled"] is True and module["ttl_attribute_name"] == "expiration"
    assert "point_in_time_recovery_enabled" not in module
    assert module["deletion_protection_enabled"] is False


def test_override_order(stack, synth):
    table(stack, point_in_time_recovery=False, extra={"point_in_time_recovery_enabled": True, "table_class": "STANDARD"})
    module = synth(stack)["module"]["tbl"]
    assert module["point_in_time_recovery_enabled"] is True and module["table_class"] == "STANDARD"


@pytest.mark.parametrize(("extra", "key"), [({"name": "x"}, "name"), ({"stream_enabled": False}, "stream_enabled")])
def test_conflicts_with_requirements(stack, extra, key):
    from constructs_lib import PropsConflictError

    with pytest.raises(PropsConflictError, match=rf"extra\['{key}'\]"):
        table(stack, extra=extra)


def test_former_name_still_works():
    from constructs_lib.table import StreamTable, StreamTableProps, Table, TableProps

    assert StreamTable is Table and StreamTableProps is TableProps
