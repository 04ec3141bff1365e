#!/usr/bin/env python
"""Benchmark baseline: the same stack as ``main.py``, with the provider imported the naive way.

``PIPELINE_NAIVE_PROVIDER_IMPORT=1`` makes ``constructs_lib/aws.py`` run the plain import of
the provider package, cdktf's or CDK Terrain's (``PIPELINE_CDK``): cdktf's package ``__init__``
imports all ~2,200 resource modules (cdktn's is lazy), and jsii loads the provider's original
tarball, whose ``lib/index.js`` requires all of them in node. Everything else is main.py's
code, so the two outputs must be identical.

    .venv/bin/python bench/naive_main.py          # writes ./cdktf.out (or $CDKTF_OUTDIR)
"""

import os
import sys
from pathlib import Path

os.environ["PIPELINE_NAIVE_PROVIDER_IMPORT"] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from constructs_lib.app import run  # noqa: E402

if __name__ == "__main__":
    run()
    from constructs_lib import aws

    if aws.IMPORT_PATH != "naive" or aws.JS_INDEX != "eager":  # really the naive path
        raise SystemExit(f"naive_main: provider loaded via {aws.IMPORT_PATH}/{aws.JS_INDEX}, not naive/eager")
