"""The offline Terraform inputs: local module copies and hashicorp/aws schemas, chosen by constraint.

The inputs folder ($PIPELINE_TERRAFORM_OFFLINE_DIR, or ``../shared/terraform`` beside the
repository) holds ``modules/<name>-<version>/`` and ``schemas/aws-<version>.json``; any subfolder
holding the same layout (``aws6/``: the current module majors and aws 6 schemas) is searched too.
Nothing picks "the newest": a stack gets the newest module copy inside each module's version
constraint, and the newest aws schema that its own provider constraint and every chosen module's
hashicorp/aws constraint accept, the release ``terraform init`` would install.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .versions import Constraint, Version, VersionError, compatible, satisfies

OFFLINE_DIR_VARIABLE = "PIPELINE_TERRAFORM_OFFLINE_DIR"
_COPY = re.compile(r"(.+)-([0-9]+\.[0-9]+\.[0-9]+)")
_SCHEMA = re.compile(r"aws-([0-9]+\.[0-9]+\.[0-9]+)\.json")


class OfflineInputsError(ValueError):
    """No local input fits a stack's constraints; the message names the constraint and what exists."""


def default_base(repo_root: Path) -> Path:
    """Where the offline inputs are looked for: the environment variable, else beside the repository."""
    return Path(os.environ.get(OFFLINE_DIR_VARIABLE) or repo_root.parent / "shared" / "terraform")


def roots(base: Path) -> list[Path]:
    """``base`` and each subfolder of it laid out the same way (modules/ or schemas/)."""
    found = [base]
    if base.is_dir():
        found += [sub for sub in sorted(base.iterdir())
                  if sub.is_dir() and ((sub / "modules").is_dir() or (sub / "schemas").is_dir())]
    return found


@dataclass(frozen=True)
class LocalModule:
    name: str  # e.g. "lambda" for terraform-aws-modules/lambda/aws
    version: str
    path: Path


def module_copies(base: Path) -> dict[str, list[LocalModule]]:
    """Every module copy ``<name>-<version>`` under the roots' ``modules/`` folders, by name."""
    found: dict[str, list[LocalModule]] = {}
    for root in roots(base):
        folder = root / "modules"
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            match = _COPY.fullmatch(path.name)
            if path.is_dir() and match:
                found.setdefault(match[1], []).append(LocalModule(match[1], match[2], path))
    return found


def aws_schemas(base: Path) -> dict[Version, Path]:
    """Every ``aws-<version>.json`` under the roots' ``schemas/`` folders, by version."""
    found: dict[Version, Path] = {}
    for root in roots(base):
        for path in sorted((root / "schemas").glob("aws-*.json")):
            match = _SCHEMA.fullmatch(path.name)
            if match:
                found.setdefault(Version.parse(match[1]), path)
    return found


def choose_module(name: str, constraint: str, copies: dict[str, list[LocalModule]], where: str,
                  base: Path) -> LocalModule:
    """The newest copy of module ``name`` that satisfies ``constraint`` (empty: any)."""
    available = copies.get(name, [])
    if not available:
        raise OfflineInputsError(f"{where}: no local copy of module {name!r} under {base} "
                                 f"(expected a folder modules/{name}-<version>)")
    try:
        fitting = [c for c in available if not constraint or satisfies(c.version, constraint)]
    except VersionError as error:
        raise OfflineInputsError(f"{where}: version: {error}") from None
    if not fitting:
        versions = ", ".join(sorted((c.version for c in available), key=Version.parse))
        raise OfflineInputsError(f"{where}: version: the local copies of {name} are {versions}, none of which "
                                 f"satisfies the constraint {constraint!r}")
    return max(fitting, key=lambda c: Version.parse(c.version))


def required_aws(module_folder: Path) -> str | None:
    """The hashicorp/aws constraint a module copy declares in its required_providers, if any."""
    for path in sorted(module_folder.glob("*.tf")):
        text = path.read_text()
        block = re.search(r"\baws\s*=\s*\{([^}]*)\}", text)
        if block and "hashicorp/aws" in block[1]:
            version = re.search(r'version\s*=\s*"([^"]+)"', block[1])
            return version[1] if version else None
    return None


def choose_aws_schema(constraints: dict[str, str], base: Path) -> tuple[Version, Path]:
    """The newest aws schema whose version satisfies every constraint (``{who: constraint}``)."""
    schemas = aws_schemas(base)
    if not schemas:
        raise OfflineInputsError(f"no schemas/aws-<version>.json under {base}")
    wanted = {who: Constraint.parse(text) for who, text in constraints.items() if text}
    fitting = [v for v in schemas if all(c.allows(v) for c in wanted.values())]
    if not fitting:
        grouped: dict[str, list[str]] = {}
        for who, constraint in wanted.items():
            grouped.setdefault(str(constraint), []).append(who)
        asked = ", ".join(f"{text!r} ({', '.join(whos)})" for text, whos in grouped.items())
        common = "" if compatible(*wanted.values()) else " (no version satisfies them all)"
        raise OfflineInputsError(
            f"hashicorp/aws: no local schema satisfies {asked}{common}; "
            f"the schemas under {base} are {', '.join(str(v) for v in sorted(schemas))}"
        )
    chosen = max(fitting)
    return chosen, schemas[chosen]
