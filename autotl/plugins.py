"""The plugin manager: built-in plugins and installed ones, loaded the same way.

Built-ins are modules named in ``BUILTIN_PLUGINS``, registered by dotted name.
Third-party plugins are entry points in the ``autotl`` group;
``AUTOTL_LOAD_PLUGINS`` (a comma list of entry-point names, empty for none)
restricts which of them load. A plugin that fails to import or to register is
named in a one-line warning and left out; the others keep working.
"""

import importlib
import logging
import os
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Callable

import pluggy

from autotl import __version__
from autotl.contracts import hookspecs
from autotl.registry import KINDS, Registry

logger = logging.getLogger("autotl")

BUILTIN_PLUGINS: tuple[str, ...] = tuple(
    f"autotl.builtins.{family}.{name}"
    for family, names in {
        "data_formats": ("image_folder", "text_file"),
        "sources": ("efficientnet_lite", "torchvision_models", "huggingface"),
        "strategies": (
            "linear_probe",
            "mlp_probe",
            "finetune",
            "scratch",
            "partial_freeze",
            "lp_ft",
            "lora",
            "multitask",
            "setfit",
        ),
        "regularizers": ("none", "l2sp", "kl", "delta", "bss"),
        "scorers": ("logme", "hscore", "knn", "leep", "nce", "source_confidence"),
    }.items()
    for name in names
)
"""One module per registered method (a family of sources per module), each holding its code and its registration."""

pm = pluggy.PluginManager("autotl")
pm.add_hookspecs(hookspecs)

_loaded = False
_load_failures: dict[str, str] = {}
_packages: dict[str, tuple[str, str]] = {}


@dataclass
class PluginInfo:
    name: str
    package: str | None
    version: str | None
    hooks: list[str]
    registered: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None
    code: dict[str, str] = field(default_factory=dict)
    """Each registered name's ``module:qualname``, to go from a name to its code in one hop."""


def load_plugins() -> None:
    """Registers the built-ins and the allowed entry-point plugins, once per process."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for name in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
        _packages[name] = ("autotl", __version__)
    for entry_point in allowed_entry_points():
        load_entry_point(entry_point)


def allowed_entry_points() -> list[EntryPoint]:
    installed = list(entry_points(group="autotl"))
    allowed = os.environ.get("AUTOTL_LOAD_PLUGINS")
    if allowed is None:
        return installed
    names = [name.strip() for name in allowed.split(",") if name.strip()]
    missing = sorted(set(names) - {ep.name for ep in installed})
    if missing:
        logger.warning("AUTOTL_LOAD_PLUGINS names %s, not installed", ", ".join(repr(n) for n in missing))
    return [ep for ep in installed if ep.name in names]


def load_entry_point(entry_point: EntryPoint) -> bool:
    try:
        pm.register(entry_point.load(), name=entry_point.name)
        if entry_point.dist is not None:
            _packages[entry_point.name] = (entry_point.dist.name, entry_point.dist.version)
    except Exception as error:  # a broken plugin must not take autotl down
        _load_failures[entry_point.name] = _report(entry_point.name, "failed to load", error)
        return False
    return True


def build_registry() -> Registry:
    """Calls every ``register_*`` hook, one plugin at a time, so a plugin that
    raises is reported and skipped while the rest register."""
    load_plugins()
    registry = Registry()
    for kind in KINDS:
        for plugin, staged in _call_each(f"register_{kind}", registry.failures):
            for item, _ in staged:
                try:
                    registry.add(kind, item, plugin)
                except (TypeError, ValueError) as error:
                    registry.failures[plugin] = _report(
                        plugin, f"registered a bad {kind[:-1].replace('_', ' ')}", error
                    )
    return registry


def register_commands(add_command: Callable[[Callable, str | None], None]) -> None:
    load_plugins()
    for _, staged in _call_each("register_commands", _load_failures):
        for function, name in staged:
            add_command(function, name)


def plugin_infos(registry: Registry) -> list[PluginInfo]:
    failures = {**_load_failures, **registry.failures}
    infos = []
    for name, plugin in pm.list_name_plugin():
        package, package_version = _packages.get(name, (None, None))
        hooks = sorted(hook.name for hook in pm.get_hookcallers(plugin) or [])
        registered = registry.registered_by(name)
        code = {item: registry.code_of(kind, item) for kind, items in registered.items() for item in items}
        infos.append(PluginInfo(name, package, package_version, hooks, registered, failures.get(name), code))
    for name, error in failures.items():
        if not pm.has_plugin(name):
            infos.append(PluginInfo(name, None, None, [], {}, error))
    return infos


def _call_each(hook_name: str, failures: dict[str, str]) -> list[tuple[str, list[tuple[object, str | None]]]]:
    results = []
    for impl in getattr(pm.hook, hook_name).get_hookimpls():
        staged: list[tuple[object, str | None]] = []
        try:
            impl.function(register=lambda item, name=None: staged.append((item, name)))
        except Exception as error:
            failures[impl.plugin_name] = _report(impl.plugin_name, f"failed in {hook_name}", error)
            continue
        results.append((impl.plugin_name, staged))
    return results


def _report(plugin: str, what: str, error: Exception) -> str:
    """Warns in one line and returns the error, for ``autotl plugins``."""
    message = f"{type(error).__name__}: {error}"
    logger.warning("plugin %r %s (%s); carrying on without it", plugin, what, message)
    return message
