"""examples/test_my_pipeline.py, the cdktf ``Testing`` example docs/testing.md shows, runs here.

pytest collects only tests/ (pytest.ini's testpaths), so the example's tests run exactly once in
``make test``: as the functions imported below, from the file itself (not a copy).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from main import use_supported_node

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "test_my_pipeline.py"

use_supported_node()  # the repository's node for jsii; a user's app sets JSII_NODE (or has node on PATH)
_spec = importlib.util.spec_from_file_location("examples_test_my_pipeline", EXAMPLE)
_example = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_example)

stack = _example.stack
synthesized = _example.synthesized
globals().update({name: value for name, value in vars(_example).items() if name.startswith("test_")})


def test_the_example_is_collected_from_its_file():
    tests = [name for name in vars(_example) if name.startswith("test_")]
    assert len(tests) >= 4 and all(globals()[name] is getattr(_example, name) for name in tests)
