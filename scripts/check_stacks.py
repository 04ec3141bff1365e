"""Refuse stack folders that terraform would read as duplicate configuration.

`cdktf synth --hcl` writes ``cdk.tf`` and a later plain `cdktf synth` writes ``cdk.tf.json``
beside it without removing it (and the other way round): terraform then reads every block
twice and fails with "Duplicate ..." errors. `make plan` (and `make validate`) run this first.

    python scripts/check_stacks.py [OUTDIR ...]     # default cdktf.out; exit 2 with one line per bad folder

From Python: ``problems(outdir) -> list[str]``, one message per stack folder holding both.
Needs only the standard library.
"""

from __future__ import annotations

import sys
from pathlib import Path

HCL, JSON = "cdk.tf", "cdk.tf.json"


def stack_dirs(outdir: Path) -> list[Path]:
    """The stack folders under ``outdir`` (``outdir/stacks/*``), or ``outdir`` itself when it is one."""
    if (outdir / HCL).exists() or (outdir / JSON).exists():
        return [outdir]
    stacks = outdir / "stacks"
    return sorted(p for p in stacks.iterdir() if p.is_dir()) if stacks.is_dir() else []


def problems(outdir: Path | str) -> list[str]:
    messages = []
    for folder in stack_dirs(Path(outdir)):
        hcl, json = folder / HCL, folder / JSON
        if not (hcl.exists() and json.exists()):
            continue
        stale = hcl if hcl.stat().st_mtime <= json.stat().st_mtime else json
        messages.append(
            f"error: {folder}: holds both {HCL} (from `cdktf synth --hcl`) and {JSON}, which terraform reads as "
            f"duplicate configuration; remove the older one: rm {stale}"
        )
    return messages


def main(argv: list[str] | None = None) -> int:
    outdirs = (sys.argv[1:] if argv is None else argv) or ["cdktf.out"]
    messages = [m for outdir in outdirs for m in problems(outdir)]
    for message in messages:
        print(message, file=sys.stderr)
    return 2 if messages else 0


if __name__ == "__main__":
    raise SystemExit(main())
