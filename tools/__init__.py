"""Operator tools for the deployed pipeline (run with ``python -m tools.<name>``)."""
