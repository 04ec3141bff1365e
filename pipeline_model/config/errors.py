"""The one error a bad configuration raises."""

from __future__ import annotations


class ConfigError(ValueError):
    """Invalid pipeline configuration. The message names each field and the rule it broke."""
