"""The hooks a plugin implements to add to autotl.

Every hook receives a ``register`` callback and calls it once per thing it adds.
A plugin is a module or object with functions marked ``@autotl.hookimpl``; it
reaches autotl through an entry point in the ``autotl`` group::

    [project.entry-points.autotl]
    my_plugin = "my_package.plugin"

Built-in sources, strategies, regularizers and data formats are registered
through these same hooks. Names must be unique across all plugins: two plugins
registering one name is an error that names both.
"""

from typing import Callable

import pluggy

hookspec = pluggy.HookspecMarker("autotl")


@hookspec
def register_sources(register: Callable) -> None:
    """Register pretrained source models.

    Call ``register(source)`` with an :class:`autotl.contracts.Source` for each model
    the plugin offers. Called whenever autotl lists or builds candidates
    (``autotl models``, ``autotl inspect``, ``autotl select``). Keep it cheap: do
    not load weights or import heavy libraries here; a source checks whether its
    weights are on disk in :meth:`~autotl.contracts.Source.availability`.
    """


@hookspec
def register_strategies(register: Callable) -> None:
    """Register transfer strategies (linear probe, fine-tuning, ...).

    Call ``register(strategy)`` with an :class:`autotl.contracts.Strategy`. Its
    ``needs`` say what it requires of a source; candidates whose source cannot
    meet them are never built, and ``autotl inspect`` says why. Its ``settings``
    (:class:`autotl.contracts.Setting`) are hyperparameters of its own:
    ``--set`` takes them and ``select`` searches their choices. ``train(job)``
    reads them from ``job.params.extra``; strategies that train the backbone can
    share :func:`autotl.training.end_to_end.train_end_to_end`.
    """


@hookspec
def register_regularizers(register: Callable) -> None:
    """Register fine-tuning regularizers that keep the model near its source.

    Call ``register(regularizer)`` with an :class:`autotl.contracts.Regularizer`.
    Its ``needs`` may include what a strategy provides (a trained backbone) as
    well as what a source offers. Its ``bind(model, params, train)`` is called
    once before training, with the model at its starting weights, and returns a
    :class:`autotl.contracts.Term` added to the loss at every step.
    """


@hookspec
def register_scorers(register: Callable) -> None:
    """Register transferability scorers computed on frozen features.

    Call ``register(scorer)`` with an :class:`autotl.contracts.Scorer`
    (:class:`autotl.contracts.FunctionScorer` wraps a function of
    :class:`autotl.contracts.ScoringInputs`). ``select`` calls it once per source on the
    frozen training features, only for sources that meet its ``needs`` (LEEP needs
    a source head); one that raises is left out with a warning.
    """


@hookspec
def register_data_formats(register: Callable) -> None:
    """Register readers of target datasets.

    Call ``register(data_format)`` with an :class:`autotl.contracts.DataFormat`. When a
    user passes ``--data PATH``, the one format whose ``matches(path)`` is true
    reads it; none or several matching is an error that lists them.
    """


@hookspec
def register_commands(register: Callable) -> None:
    """Add commands to the ``autotl`` command line.

    Call ``register(function, name=None)`` with a function written as a Typer
    command (its parameters become options). Called once when the CLI starts, so
    import heavy libraries inside the function, not at module level.
    """
