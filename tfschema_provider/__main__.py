"""`python -m tfschema_provider --schema FILE [--schema FILE ...]`: run as a Terraform plugin."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tfschema_provider.plugin import serve
from tfschema_provider.provider import SchemaOnlyProvider
from tfschema_provider.schema import ProviderSchema


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tfschema_provider", description=__doc__)
    parser.add_argument("--schema", action="append", type=Path, required=True,
                        help="provider schema JSON (`terraform providers schema -json` shape); repeatable")
    args = parser.parse_args(argv)
    return serve(SchemaOnlyProvider(ProviderSchema.load(*args.schema)))


if __name__ == "__main__":
    sys.exit(main())
