"""Terraform values on the wire (cty's msgpack encoding) and what the provider computes from them.

cty encodes null as nil, an unknown value as msgpack extension type 0 (type 12 when it carries
refinements), and everything else as plain msgpack. Objects decode to dicts; `UNKNOWN` stands
for an unknown value.
"""

from __future__ import annotations

import json
import zlib
from typing import Any, Callable

import msgpack


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()
_UNKNOWN_EXT_TYPES = (0, 12)

# Offline stand-ins for what only AWS knows. 123456789012 is the account id AWS's own
# documentation uses in examples.
ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"


def decode(data: bytes) -> Any:
    if not data:
        return None

    def ext_hook(code: int, payload: bytes) -> Any:
        if code in _UNKNOWN_EXT_TYPES:
            return UNKNOWN
        return msgpack.ExtType(code, payload)

    return msgpack.unpackb(data, raw=False, strict_map_key=False, ext_hook=ext_hook)


def encode(value: Any) -> bytes:
    def default(obj: Any) -> Any:
        if obj is UNKNOWN:
            return msgpack.ExtType(0, b"\x00")
        raise TypeError(f"cannot encode {obj!r}")

    return msgpack.packb(value, use_bin_type=True, default=default)


def _each_nested(nesting: str, value: Any):
    """The objects inside a nested block value, whatever its nesting mode."""
    if value is None or value is UNKNOWN:
        return []
    if nesting in ("single", "group"):
        return [value]
    if nesting == "map":
        return list(value.values())
    return list(value)  # list, set


def with_computed_unknown(block: dict[str, Any], obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """The planned state of a new object: its configuration, every unset computed attribute unknown."""
    if obj is None or obj is UNKNOWN:
        return obj
    for name, attribute in block.get("attributes", {}).items():
        if attribute.get("computed") and obj.get(name) is None:
            obj[name] = UNKNOWN
    for name, nested in block.get("block_types", {}).items():
        for element in _each_nested(nested.get("nesting_mode", "single"), obj.get(name)):
            with_computed_unknown(nested.get("block", {}), element)
    return obj


def fill_nulls(block: dict[str, Any], obj: dict[str, Any]) -> dict[str, Any]:
    """Give every attribute of `block` missing from `obj` a null (a data source result is a whole object)."""
    for name in block.get("attributes", {}):
        obj.setdefault(name, None)
    return obj


# --- data sources -------------------------------------------------------------------------

Reader = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]
READERS: dict[str, Reader] = {}


def reader(type_name: str) -> Callable[[Reader], Reader]:
    def register(function: Reader) -> Reader:
        READERS[type_name] = function
        return function

    return register


def _partition(region: str) -> tuple[str, str]:
    if region.startswith("cn-"):
        return "aws-cn", "amazonaws.com.cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov", "amazonaws.com"
    return "aws", "amazonaws.com"


@reader("aws_caller_identity")
def _caller_identity(config, provider):
    partition, _ = _partition(provider["region"])
    return {
        "id": ACCOUNT_ID,
        "account_id": ACCOUNT_ID,
        "arn": f"arn:{partition}:iam::{ACCOUNT_ID}:user/offline-validation",
        "user_id": "AIDAOFFLINEVALIDATION",
    }


@reader("aws_region")
def _region(config, provider):
    # aws 6 added the argument/attribute `region` (and deprecated `name`); 5.x has `name` only.
    name = config.get("region") or config.get("name") or provider["region"]
    _, dns_suffix = _partition(name)
    return {
        "id": name,
        "name": name,
        "region": name,
        "description": name,
        "endpoint": f"ec2.{name}.{dns_suffix}",
    }


@reader("aws_partition")
def _partition_data(config, provider):
    partition, dns_suffix = _partition(provider["region"])
    return {
        "id": partition,
        "partition": partition,
        "dns_suffix": dns_suffix,
        "reverse_dns_prefix": ".".join(reversed(dns_suffix.split("."))),
    }


@reader("aws_ssm_parameter")
def _ssm_parameter(config, provider):
    name = config["name"]
    partition, _ = _partition(provider["region"])
    value = f"offline-placeholder-for-ssm-parameter:{name}"
    return {
        "id": name,
        "arn": f"arn:{partition}:ssm:{provider['region']}:{ACCOUNT_ID}:parameter/{name.lstrip('/')}",
        "type": "String",
        "value": value,
        "insecure_value": value,
        "version": 1,
    }


@reader("aws_arn")
def _arn(config, provider):
    parts = config["arn"].split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        raise ValueError(f"arn: {config['arn']!r} is not an ARN (arn:partition:service:region:account:resource)")
    _, partition, service, region, account, resource = parts
    return {"id": config["arn"], "partition": partition, "service": service, "region": region,
            "account": account, "resource": resource}


@reader("aws_iam_policy")
def _managed_policy(config, provider):
    arn = config.get("arn")
    if not arn:
        raise ValueError("arn: offline reads of aws_iam_policy need the policy's ARN")
    name = arn.rsplit("/", 1)[-1]
    # The managed policy's real document is known only to AWS: a marked placeholder stands in.
    document = {"Version": "2012-10-17", "Statement": [
        {"Sid": "OfflinePlaceholder", "Effect": "Allow", "Action": "none:null", "Resource": "*"}]}
    return {"id": arn, "arn": arn, "name": name, "path": "/", "policy": json.dumps(document),
            "policy_id": "ANPAOFFLINEVALIDATION", "description": "", "attachment_count": 0, "tags": {}}


@reader("aws_iam_policy_document")
def _policy_document(config, provider):
    from tfschema_provider.policy import render_policy_document

    document = render_policy_document(config)
    return {
        "id": str(zlib.crc32(json.dumps(document, sort_keys=True).encode())),
        "json": json.dumps(document, indent=2),
        "minified_json": json.dumps(document, separators=(",", ":")),
    }
