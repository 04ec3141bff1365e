"""The tfplugin6 Provider service, answering from a `ProviderSchema`."""

from __future__ import annotations

import json
from typing import Any

from tf.gen import tfplugin_pb2 as pb
from tf.gen import tfplugin_pb2_grpc as pb_grpc

from tfschema_provider import values
from tfschema_provider.schema import ProviderSchema


def _error(summary: str, detail: str = "") -> pb.Diagnostic:
    return pb.Diagnostic(severity=pb.Diagnostic.ERROR, summary=summary, detail=detail)


def _dynamic(value: Any) -> pb.DynamicValue:
    return pb.DynamicValue(msgpack=values.encode(value))


class SchemaOnlyProvider(pb_grpc.ProviderServicer):
    """Serves the schema, accepts every configuration, plans without AWS, never applies."""

    def __init__(self, schema: ProviderSchema):
        self.schema = schema
        self._schema_response = schema.to_proto()
        self.state: dict[str, Any] = {"region": values.DEFAULT_REGION}

    # --- schema and validation: Terraform core checks the configuration against the schema --

    def GetMetadata(self, request, context):
        return pb.GetMetadata.Response(
            server_capabilities=self._schema_response.server_capabilities,
            resources=[pb.GetMetadata.ResourceMetadata(type_name=n) for n in self.schema.resources],
            data_sources=[pb.GetMetadata.DataSourceMetadata(type_name=n) for n in self.schema.data_sources],
        )

    def GetProviderSchema(self, request, context):
        return self._schema_response

    def ValidateProviderConfig(self, request, context):
        return pb.ValidateProviderConfig.Response()

    def ValidateResourceConfig(self, request, context):
        return pb.ValidateResourceConfig.Response()

    def ValidateDataResourceConfig(self, request, context):
        return pb.ValidateDataResourceConfig.Response()

    def ConfigureProvider(self, request, context):
        config = values.decode(request.config.msgpack) or {}
        region = config.get("region")
        if isinstance(region, str) and region:
            self.state["region"] = region
        return pb.ConfigureProvider.Response()

    # --- towards plan ---------------------------------------------------------------------

    def UpgradeResourceState(self, request, context):
        # Offline there is no real prior state to upgrade; pass JSON state through unchanged.
        state = json.loads(request.raw_state.json) if request.raw_state.json else None
        return pb.UpgradeResourceState.Response(upgraded_state=_dynamic(state))

    def ReadResource(self, request, context):
        return pb.ReadResource.Response(new_state=request.current_state, private=request.private)

    def PlanResourceChange(self, request, context):
        schema = self.schema.resources.get(request.type_name)
        if schema is None:
            return pb.PlanResourceChange.Response(diagnostics=[_error(f"unknown resource type {request.type_name}")])
        proposed = values.decode(request.proposed_new_state.msgpack)
        prior = values.decode(request.prior_state.msgpack)
        # A new object gets its unset computed attributes unknown; an update or a delete plans
        # exactly what Terraform proposed (no prior state exists offline, but be correct anyway).
        planned = values.with_computed_unknown(schema["block"], proposed) if prior is None else proposed
        return pb.PlanResourceChange.Response(planned_state=_dynamic(planned), legacy_type_system=True)

    def ApplyResourceChange(self, request, context):
        return pb.ApplyResourceChange.Response(
            diagnostics=[_error("schema-only provider", "This offline provider validates and plans; it cannot apply.")]
        )

    def ImportResourceState(self, request, context):
        return pb.ImportResourceState.Response(
            diagnostics=[_error("schema-only provider", "This offline provider cannot import resources.")]
        )

    def ReadDataSource(self, request, context):
        schema = self.schema.data_sources.get(request.type_name)
        read = values.READERS.get(request.type_name)
        if schema is None or read is None:
            return pb.ReadDataSource.Response(diagnostics=[_error(
                f"offline: cannot read data source {request.type_name}",
                "The schema-only provider reads only "
                + ", ".join(sorted(values.READERS))
                + " (from fixed offline values); this data source needs AWS.",
            )])
        config = values.decode(request.config.msgpack)
        try:
            computed = read(config, self.state)
        except (KeyError, ValueError) as error:
            return pb.ReadDataSource.Response(diagnostics=[_error(f"{request.type_name}: {error}")])
        state = {**config, **{k: v for k, v in computed.items() if k in schema["block"].get("attributes", {})}}
        return pb.ReadDataSource.Response(state=_dynamic(values.fill_nulls(schema["block"], state)))

    def GetFunctions(self, request, context):
        return pb.GetFunctions.Response()

    def StopProvider(self, request, context):
        # Terraform asks to cancel running operations (Ctrl-C); nothing here runs long.
        return pb.StopProvider.Response()
