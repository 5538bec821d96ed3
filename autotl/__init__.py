"""autotl: pick the pretrained source model, transfer strategy and regularizer for your data."""

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("autotl")
"""Marks a plugin's hook implementations: ``@autotl.hookimpl``."""

__all__ = ["__version__", "hookimpl"]
