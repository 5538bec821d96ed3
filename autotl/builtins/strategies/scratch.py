"""Built-in strategy ``scratch``: a source's architecture trained from random weights, the
no-transfer baseline that says what pretraining bought. ``select`` runs it beside its choice,
with its whole schedule or not at all, never as a candidate."""

import autotl
from autotl.builtins.strategies.finetune import Finetune


@autotl.hookimpl
def register_strategies(register):
    register(
        Finetune(
            "scratch",
            "the same architecture trained from random weights (baseline)",
            defaults={"lr": 1e-3, "epochs": 5},
            pretrained=False,
            baseline=True,
        )
    )
