"""autotl: pick the pretrained source model, transfer strategy and regularizer for your data.

``autotl.select(...)`` and ``autotl.train(...)`` are the notebook API (see
:mod:`autotl.api`), ``autotl.load(uri)`` gives a logged model back (:mod:`autotl.predictor`);
they are imported on first use, so ``import autotl`` stays light.
"""

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("autotl")
"""Marks a plugin's hook implementations: ``@autotl.hookimpl``."""

__all__ = ["__version__", "hookimpl", "load", "select", "train"]


def __getattr__(name: str):
    if name in ("select", "train"):
        from autotl import api

        return getattr(api, name)
    if name == "load":
        from autotl.predictor import load

        return load
    raise AttributeError(f"module 'autotl' has no attribute {name!r}")
