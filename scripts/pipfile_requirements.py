"""Print a Pipfile's packages as pip requirement lines.

`make` (scripts/setup_env.py) installs the project from these lines into a plain virtual
environment with uv, or pip when uv is unavailable; no lock file and no resolver run of
pipenv's are needed, and the Pipfile stays the one place where versions are pinned
(`pipenv install --dev` reads the same file). Both [packages] and [dev-packages] are printed.

    python scripts/pipfile_requirements.py [PIPFILE]      # default: Pipfile
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
    raise SystemExit(f"error: {name}: unsupported Pipfile specification {spec!r} (expected a version string or a table)")


def requirements(path: str | Path = "Pipfile") -> list[str]:
    data = tomllib.loads(Path(path).read_text())
    return [requirement(name, spec)
            for section in ("packages", "dev-packages")
            for name, spec in data.get(section, {}).items()]


def main(path: str = "Pipfile") -> None:
    for line in requirements(path):
        print(line)


if __name__ == "__main__":
    main(*sys.argv[1:])
