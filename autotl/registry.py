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
class Names:
    """A candidate's three names, or a source's alone: shown in one place (``str``), never parsed back."""

    source: str
    strategy: str = ""
    regularizer: str = ""

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(name for name in (self.source, self.strategy, self.regularizer) if name)

    def __str__(self) -> str:
        return " + ".join(self.parts)


@dataclass(frozen=True)
class Candidate:
    source: Source
    strategy: Strategy
    regularizer: Regularizer

    @property
    def names(self) -> Names:
        return Names(self.source.name, self.strategy.name, self.regularizer.name)

    @property
    def label(self) -> str:
        return str(self.names)

    @property
    def settings(self) -> tuple[Setting, ...]:
        """The strategy's and the regularizer's own hyperparameters that apply to the source's modality."""
        both = self.strategy.settings + self.regularizer.settings
        return tuple(s for s in both if s.applies_to(self.source.spec.modality))


@dataclass(frozen=True)
class LeftOut:
    """Something that will not be tried, and why; ``general`` is the reason for a strategy and
    regularizer with the source unnamed, the same for every source it holds for."""

    what: Names
    reason: str
    general: str = ""


def transferring(strategies: list[Strategy]) -> list[Strategy]:
    """The strategies that make candidates: ``select`` runs a no-transfer baseline strategy
    (``scratch``) beside its choice, not among them."""
    return [strategy for strategy in strategies if not strategy.baseline]


def group_by_source(candidates: list[Candidate]) -> list[str]:
    """Candidates as one line per source: ``source: strategy + regularizer, ...``."""
    methods: dict[str, list[str]] = {}
    for candidate in candidates:
        methods.setdefault(candidate.source.name, []).append(
            f"{candidate.strategy.name} + {candidate.regularizer.name}"
        )
    return [f"{source} ({len(found)}): {', '.join(found)}" for source, found in methods.items()]


def summarise_left_out(items: list[LeftOut]) -> list[str]:
    """One line per reason, with how many it leaves out: the same reason usually leaves a few
    strategies or regularizers out on every source, or a whole family of models out."""
    groups: dict[str, list[tuple[str, list[str]]]] = {}
    for item in items:
        names = list(item.what.parts)
        template = _template(item.general or item.reason, names)
        groups.setdefault(template.partition(": ")[0], []).append((template, names))
    return [f"{len(members)} × {_reason(headline, members)}" for headline, members in groups.items()]


def _template(reason: str, names: list[str]) -> str:
    """``reason`` with each name of what it left out (source, strategy, regularizer) as a slot ``<i>``."""
    for i, name in enumerate(names):
        reason = re.sub(rf"(?<![\w.\-/]){re.escape(name)}(?![\w.\-/])", f"<{i}>", reason)
    return reason


def _reason(headline: str, members: list[tuple[str, list[str]]]) -> str:
    """The reason of a group, each slot filled with the names it holds for; whole models are named
    after it. Reasons that differ past their headline (each model's own missing file) are said by it."""
    templates = {template for template, _ in members}
    differ = len(templates) > 1
    text = headline if differ else templates.pop()
    if all(len(names) == 1 for _, names in members) and "<0>" not in text:
        text += f" ({', '.join(dict.fromkeys(names[0] for _, names in members))})"
    for i in range(max(len(names) for _, names in members)):
        text = text.replace(f"<{i}>", _either(names[i] for _, names in members if i < len(names)))
    return text + (": see `autotl models`" if differ else "")


def _either(names) -> str:
    """``a``, ``a or b``, ``a, b or c``: each name once."""
    unique = list(dict.fromkeys(names))
    return unique[0] if len(unique) == 1 else f"{', '.join(unique[:-1])} or {unique[-1]}"


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
                left_out.append(LeftOut(Names(source.name), reason))
                continue
            for strategy, regularizer in product(strategies, regularizers):
                candidate = Candidate(source, strategy, regularizer)
                reason = _unmet_needs(candidate, given, source.name)
                if reason:
                    left_out.append(LeftOut(candidate.names, reason, _unmet_needs(candidate, given, "the source")))
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
