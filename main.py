#!/usr/bin/env python
"""cdktf entry point: one stack per configured environment."""

import sys

from constructs_lib.app import run

if __name__ == "__main__":
    run(sys.argv[1:])
