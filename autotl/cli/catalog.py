"""``autotl plugins`` and ``autotl models``: what is registered, and by which plugin."""

from dataclasses import asdict

import typer
from rich import box
from rich.console import Console
from rich.table import Column, Table

from autotl.cli import flags, pull

models_app = typer.Typer(help="List the source models; `autotl models pull NAME` fetches one's weights.")
models_app.command("pull")(pull.pull_command)


def plugins_command(json: flags.Json = False) -> None:
    """List the plugins, their packages and versions, what each registered (--json: where each one's code is), and
    the settings each strategy and regularizer starts from."""
    from autotl.plugins import build_registry, plugin_infos

    registry = build_registry()
    infos = plugin_infos(registry)
    settings = starting_settings(registry)
    if json:
        flags.print_json({"plugins": [asdict(info) for info in infos], "settings": settings})
        return
    table = Table(Column("plugin", no_wrap=True), "package", "version", "registered")
    for info in infos:
        registered = "; ".join(
            f"{kind.replace('_', ' ')}: {', '.join(names)}" for kind, names in info.registered.items()
        )
        if info.error:
            registered = f"[red]failed: {info.error}[/red]"
        table.add_row(
            info.name.removeprefix("autotl.builtins."), info.package or "-", info.version or "-", registered or "-"
        )
    console = Console(highlight=False)
    console.print(table)
    console.print(
        "Settings at their defaults (`autotl train --set KEY=VALUE` changes one; a strategy without lr and epochs "
        "fits without a schedule):"
    )
    defaults = Table(Column("strategy, + regularizer", no_wrap=True), "settings", box=box.SIMPLE)
    for kind, items in settings.items():
        for name, values in items.items():
            defaults.add_row(
                name if kind == "strategies" else f"+ {name}", ", ".join(f"{k} {v}" for k, v in values.items()) or "-"
            )
    console.print(defaults)


def starting_settings(registry) -> dict[str, dict[str, dict[str, str]]]:
    """Each strategy's and regularizer's settings at their defaults, written as ``--set`` takes them."""
    from autotl.contracts.settings import starting_values

    strategies = {}
    for strategy in registry.items("strategies"):
        own = {setting.name: setting for setting in strategy.settings}
        values = starting_values(strategy.defaults, strategy.settings, strategy.schedule)
        strategies[strategy.name] = {k: own[k].shown(v) if k in own else f"{v:g}" for k, v in values.items()}
    regularizers = {
        regularizer.name: {setting.name: setting.shown(setting.default) for setting in regularizer.settings}
        for regularizer in registry.items("regularizers")
    }
    return {"strategies": strategies, "regularizers": regularizers}


@models_app.callback(invoke_without_command=True)
def models_command(ctx: typer.Context, json: flags.Json = False) -> None:
    """List the source models with their specs, whether their weights are here now, and where `pull` gets them."""
    from autotl.plugins import build_registry

    if ctx.invoked_subcommand is not None:
        return
    registry = build_registry()
    rows = []
    for source in registry.items("sources"):
        availability = source.availability()
        rows.append(
            {
                **source.spec.to_dict(),
                "available": availability.available,
                "unavailable_reason": availability.reason or None,
                "pull_from": source.pull_from(),
                "plugin": registry.plugin_of("sources", source.name),
            }
        )
    if json:
        flags.print_json({"models": rows})
        return
    headers = ("name", "modality", "params", "dim", "input", "GFLOPs", "here")
    table = Table(*(Column(h, no_wrap=True) for h in headers), box=box.SIMPLE)
    for row in rows:
        table.add_row(
            row["name"],
            row["modality"],
            f"{row['num_params'] / 1e6:.1f}M",
            str(row["feature_dim"]),
            f"{row['input_size'][-1]}px" if row["modality"] == "image" else f"{row['input_size'][0]} tok",
            f"{row['flops_per_sample'] / 1e9:.1f}",
            "yes" if row["available"] else "no",
        )
    console = Console(highlight=False)
    if not rows:
        console.print("No source models are registered: install a plugin that provides some.")
        return
    console.print(table)
    missing = [row for row in rows if not row["available"]]
    if missing:
        console.print("Not here, so left out of selection:")
        for row in missing:
            console.print(f"  {row['name']}: {row['unavailable_reason']}")
            if row["pull_from"]:
                console.print(f"    `autotl models pull {row['name']}` fetches them from {row['pull_from']}")
    console.print("Pretraining data, licences, what each model offers, where its weights come from: --json")
