"""Print the Pipfile's packages as pip requirement lines.

`make` uses this to install the project into a plain virtual environment with
pip, which needs no lock file and no resolver run; the Pipfile stays the one
place where versions are pinned.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path


def requirement(name: str, spec: object) -> str:
    if isinstance(spec, str):
        return name if spec == "*" else f"{name}{spec}"
    if isinstance(spec, dict):
        extras = spec.get("extras") or []
        version = spec.get("version", "*")
        extra = f"[{','.join(extras)}]" if extras else ""
        return f"{name}{extra}{'' if version == '*' else version}"
    raise SystemExit(f"Pipfile: unsupported specification for {name!r}: {spec!r}")


def main(path: str = "Pipfile") -> None:
    data = tomllib.loads(Path(path).read_text())
    for section in ("packages", "dev-packages"):
        for name, spec in data.get(section, {}).items():
            print(requirement(name, spec))


if __name__ == "__main__":
    main(*sys.argv[1:])
