"""``make bench`` = ``.venv/bin/python -m bench $(ARGS)``: print performance figures.

Runs the synth benchmark (bench/synth.py: ``python main.py``, ``cdktf synth`` and the test
suite against the naive-import baseline) and then, when bench/handlers.py exists, the
handler benchmark, both with the same arguments. ``--setup`` runs only the fresh set-up
benchmark (bench/setup.py: a clean clone's first ``make synth`` with cold caches, uv against pip).
"""

from __future__ import annotations

import importlib.util
import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--setup" in argv:
        from . import setup

        return setup.main(argv)
    from . import synth

    status = synth.main(argv) or 0
    if importlib.util.find_spec(f"{__package__}.handlers") is not None:
        from . import handlers  # written separately; optional

        status = handlers.main(argv) or status
    return status


if __name__ == "__main__":
    raise SystemExit(main())
