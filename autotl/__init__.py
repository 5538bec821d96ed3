"""autotl: pick the pretrained source model, transfer strategy and regularizer for your data.

``autotl.select(...)`` and ``autotl.train(...)`` are the notebook API, and ``autotl.load(uri)``
gives a logged model back (:mod:`autotl.api`); they are imported on first use, so ``import autotl``
(for ``autotl.hookimpl``) stays light.
"""

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("autotl")
"""Marks a plugin's hook implementations: ``@autotl.hookimpl``."""

_API = ("Evaluation", "Predictor", "Result", "load", "select", "train")
__all__ = ["__version__", "hookimpl", *_API]


def __getattr__(name: str):
    if name in _API:
        from autotl import api

        return getattr(api, name)
    raise AttributeError(f"module 'autotl' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
