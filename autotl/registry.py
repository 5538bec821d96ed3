"""Everything the plugins registered, by kind and name, and the candidates built from it."""

import re
from dataclasses import dataclass
from itertools import product
from typing import Any

from autotl.contracts.capabilities import Needs, describe, unmet
from autotl.contracts.data import DataFormat
from autotl.contracts.regularizers import Regularizer
from autotl.contracts.scorers import FunctionScorer, Scorer
from autotl.contracts.settings import Setting
from autotl.contracts.sources import Modality, Source
from autotl.contracts.strategies import Strategy
from autotl.errors import AutotlError

KINDS: dict[str, type] = {
    "sources": Source,
    "strategies": Strategy,
    "regularizers": Regularizer,
    "scorers": Scorer,
    "data_formats": DataFormat,
}
"""Each kind of registered thing, named like its hook (``register_<kind>``), and its base class."""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-/]*")
_OPTIONS = {"sources": "--models", "strategies": "--strategies", "regularizers": "--regularizers"}


@dataclass(frozen=True)
class Candidate:
    source: Source
    strategy: Strategy
    regularizer: Regularizer

    @property
    def label(self) -> str:
        return f"{self.source.name} + {self.strategy.name} + {self.regularizer.name}"

    @property
    def settings(self) -> tuple[Setting, ...]:
        """The strategy's and the regularizer's own hyperparameters that apply to the source's modality."""
        both = self.strategy.settings + self.regularizer.settings
        return tuple(s for s in both if s.applies_to(self.source.spec.modality))


@dataclass(frozen=True)
class LeftOut:
    """Something that will not be tried, and why; ``general`` is the reason for a strategy and
    regularizer with the source unnamed, the same for every source it holds for."""

    what: str
    reason: str
    general: str = ""


def group_by_source(labels: list[str]) -> list[str]:
    """Candidate labels as one line per source: ``source: strategy + regularizer, ...``."""
    methods: dict[str, list[str]] = {}
    for label in labels:
        source, _, method = label.partition(" + ")
        methods.setdefault(source, []).append(method)
    return [f"{source} ({len(found)}): {', '.join(found)}" for source, found in methods.items()]


def summarise_left_out(items: list[LeftOut]) -> list[str]:
    """One line per reason, the sources it holds for named together: the same strategy and
    regularizer are usually left out of every source for the same reason."""
    groups: dict[tuple[str, str], list[LeftOut]] = {}
    for item in items:
        method = item.what.partition(" + ")[2]
        groups.setdefault((method, item.general or item.reason), []).append(item)
    lines = []
    for (method, general), members in groups.items():
        sources = ", ".join(item.what.partition(" + ")[0] for item in members)
        reason = general if len(members) > 1 else members[0].reason
        lines.append(f"{method} on {sources}: {reason}" if method else f"{sources}: {reason}")
    return lines


class Registry:
    def __init__(self) -> None:
        self._items: dict[str, dict[str, tuple[Any, str]]] = {kind: {} for kind in KINDS}
        self.failures: dict[str, str] = {}
        """Plugins whose hooks raised or registered something malformed, with the error."""

    def add(self, kind: str, item: Any, plugin: str) -> None:
        """Raises TypeError/ValueError for a malformed item (the plugin's fault) and
        AutotlError when another plugin already registered the name."""
        if not isinstance(item, KINDS[kind]):
            raise TypeError(f"register_{kind} expects {KINDS[kind].__name__} objects, got {type(item).__name__}")
        name = getattr(item, "name", None)
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValueError(f"invalid name {name!r}: use letters, digits, '_', '-', '.' or '/'")
        if name in self._items[kind]:
            other = self._items[kind][name][1]
            raise AutotlError(
                f"{kind[:-1].replace('_', ' ')} name {name!r} is registered by both plugin {other!r} "
                f"and plugin {plugin!r}: uninstall one, or leave it out with AUTOTL_LOAD_PLUGINS"
            )
        self._items[kind][name] = (item, plugin)

    def items(self, kind: str) -> list[Any]:
        return [item for item, _ in self._items[kind].values()]

    def plugin_of(self, kind: str, name: str) -> str:
        return self._items[kind][name][1]

    def code_of(self, kind: str, name: str) -> str:
        """Where a registered name's code lives, as ``module:qualname``: its class, or the function a
        :class:`~autotl.contracts.scorers.FunctionScorer` wraps."""
        item = self._items[kind][name][0]
        code = getattr(item, "function", None) if isinstance(item, FunctionScorer) else None
        code = code or type(item)
        return f"{code.__module__}:{code.__qualname__}"

    def registered_by(self, plugin: str) -> dict[str, list[str]]:
        return {
            kind: names
            for kind, entries in self._items.items()
            if (names := [name for name, (_, owner) in entries.items() if owner == plugin])
        }

    def pick(self, kind: str, names: list[str] | None) -> list[Any]:
        """The named items (all when ``names`` is None); an unknown name is a usage error."""
        if names is None:
            return self.items(kind)
        known = self._items[kind]
        for name in names:
            if name not in known:
                option = _OPTIONS.get(kind, kind)
                raise AutotlError(
                    f"unknown name {name!r} in {option}: registered {kind} are "
                    f"{', '.join(sorted(known)) or 'none'} (see `autotl models` and `autotl plugins`)"
                )
        return [known[name][0] for name in names]

    def candidates(
        self,
        modality: Modality,
        sources: list[Source],
        strategies: list[Strategy],
        regularizers: list[Regularizer],
        given: Needs = frozenset(),
    ) -> tuple[list[Candidate], list[LeftOut]]:
        """Every source x strategy x regularizer whose needs are met, and what was left out and why.

        ``given``: what the user's inputs add to every source (``--source-data``: a source task).
        """
        kept: list[Candidate] = []
        left_out: list[LeftOut] = []
        for source in sources:
            reason = _source_unusable(source, modality)
            if reason:
                left_out.append(LeftOut(source.name, reason))
                continue
            for strategy, regularizer in product(strategies, regularizers):
                candidate = Candidate(source, strategy, regularizer)
                reason = _unmet_needs(candidate, given, source.name)
                if reason:
                    left_out.append(LeftOut(candidate.label, reason, _unmet_needs(candidate, given, "the source")))
                else:
                    kept.append(candidate)
        return kept, left_out


def _source_unusable(source: Source, modality: Modality) -> str:
    if source.spec.modality != modality:
        return f"{source.spec.modality} model; the data is {modality}"
    availability = source.availability()
    if availability.available:
        return ""
    pull = f" (`autotl models pull {source.name}` fetches them)" if source.pull_from() else ""
    return f"weights not available: {availability.reason}{pull}"


def _unmet_needs(candidate: Candidate, given: Needs, who: str) -> str:
    """Why the candidate cannot be built ("" if it can), naming its source as ``who``."""
    source, strategy, regularizer = candidate.source, candidate.strategy, candidate.regularizer
    missing = unmet(strategy.needs, source.spec.offers | given)
    if missing:
        return f"{strategy.name} needs {describe(missing)}, which {who} does not offer"
    clash = {s.name for s in strategy.settings} & {s.name for s in regularizer.settings}
    if clash:
        return f"{strategy.name} and {regularizer.name} both declare the setting {', '.join(sorted(clash))}"
    missing = unmet(regularizer.needs, source.spec.offers | given | strategy.provides)
    if missing:
        return f"{regularizer.name} needs {describe(missing)}, which {who} with {strategy.name} does not give"
    return ""
