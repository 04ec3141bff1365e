"""Which CDK this process runs on: cdktf (HashiCorp, archived) or CDK Terrain (cdktn).

The two are the same library under two names: the core package (``cdktf`` / ``cdktn``), the
prebuilt AWS provider (``cdktf_cdktf_provider_aws`` / ``cdktn_provider_aws``) and its jsii
assembly (``@cdktf/provider-aws`` / ``@cdktn/provider-aws``). ``PIPELINE_CDK`` (``cdktf`` or
``cdktn``, set by ``make ... CDK=...``) chooses; without it the one the app already imported wins
(a CDK Terrain app that imports ``cdktn`` first gets cdktn even where cdktf is installed too), else
the first one installed, cdktf first. This module imports neither, so asking costs nothing.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

ENV = "PIPELINE_CDK"


@dataclass(frozen=True)
class Flavour:
    name: str  # what PIPELINE_CDK says
    core: str  # Python package of the core library
    provider: str  # Python package of the prebuilt AWS provider
    provider_assembly: str  # that provider's jsii assembly
    cli: str  # the command line tool (npm package <cli>-cli)


CDKTF = Flavour("cdktf", "cdktf", "cdktf_cdktf_provider_aws", "@cdktf/provider-aws", "cdktf")
CDKTN = Flavour("cdktn", "cdktn", "cdktn_provider_aws", "@cdktn/provider-aws", "cdktn")
FLAVOURS = {flavour.name: flavour for flavour in (CDKTF, CDKTN)}


class FlavourError(ImportError):
    """No usable CDK: the message is one line naming PIPELINE_CDK and the fix."""


def _installed(flavour: Flavour, find_spec: Callable[[str], Any]) -> bool:
    return all(find_spec(package) is not None for package in (flavour.core, flavour.provider))


def select(environ: Mapping[str, str] = os.environ, find_spec: Callable[[str], Any] = importlib.util.find_spec,
           loaded: Collection[str] | None = None) -> Flavour:
    """The flavour ``PIPELINE_CDK`` names; else the one the app already imported (``cdktn`` imported
    and ``cdktf`` not: a CDK Terrain app); else the first installed one (cdktf, then cdktn)."""
    requested = environ.get(ENV, "").strip()
    if requested:
        flavour = FLAVOURS.get(requested)
        if flavour is None:
            raise FlavourError(f"{ENV}: must be {' or '.join(FLAVOURS)}, not {requested!r}")
        if not _installed(flavour, find_spec):
            raise FlavourError(
                f"{ENV}: {requested} is selected but {flavour.core} and {flavour.provider} are not both "
                f"installed in this Python; run `make synth CDK={requested}` (or install "
                f"{'cdktn/Pipfile' if flavour is CDKTN else 'Pipfile'})"
            )
        return flavour
    loaded = sys.modules if loaded is None else loaded
    imported = [f for f in FLAVOURS.values() if f.core in loaded and _installed(f, find_spec)]
    if len(imported) == 1:
        return imported[0]
    for flavour in FLAVOURS.values():
        if _installed(flavour, find_spec):
            return flavour
    raise FlavourError(
        f"{ENV}: neither cdktf nor cdktn (with its AWS provider) is installed in this Python; run `make synth`"
    )
