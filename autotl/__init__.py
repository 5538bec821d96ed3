"""autotl: pick the pretrained source model, transfer strategy and regularizer for your data.

``autotl.train(...)`` is the notebook API (see :mod:`autotl.api`); it is imported
on first use, so ``import autotl`` stays light.
"""

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("autotl")
"""Marks a plugin's hook implementations: ``@autotl.hookimpl``."""

__all__ = ["__version__", "hookimpl", "train"]


def __getattr__(name: str):
    if name == "train":
        from autotl.api import train

        return train
    raise AttributeError(f"module 'autotl' has no attribute {name!r}")
