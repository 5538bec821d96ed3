"""``autotl plugins`` and ``autotl models``: what is registered, and by which plugin."""

from dataclasses import asdict

from rich.console import Console
from rich.table import Column, Table

from autotl.cli import options


def plugins_command(json: options.Json = False) -> None:
    """List the plugins, their packages and versions, and what each registered."""
    from autotl.plugins import build_registry, plugin_infos

    infos = plugin_infos(build_registry())
    if json:
        options.print_json({"plugins": [asdict(info) for info in infos]})
        return
    table = Table(Column("plugin", no_wrap=True), "package", "version", "registered")
    for info in infos:
        registered = "; ".join(f"{kind.replace('_', ' ')}: {', '.join(names)}" for kind, names in info.registered.items())
        if info.error:
            registered = f"[red]failed: {info.error}[/red]"
        table.add_row(info.name, info.package or "-", info.version or "-", registered or "-")
    Console(highlight=False).print(table)


def models_command(json: options.Json = False) -> None:
    """List the source models with their specs and whether their weights are here now."""
    from autotl.plugins import build_registry

    registry = build_registry()
    rows = []
    for source in registry.items("sources"):
        availability = source.availability()
        rows.append(
            {
                **source.spec.to_dict(),
                "available": availability.available,
                "unavailable_reason": availability.reason or None,
                "plugin": registry.plugin_of("sources", source.name),
            }
        )
    if json:
        options.print_json({"models": rows})
        return
    table = Table(Column("name", no_wrap=True), "modality", "params", "dim", "input", "GFLOPs", "pretrained on", "license", "offers", "weights here")
    for row in rows:
        table.add_row(
            row["name"],
            row["modality"],
            f"{row['num_params'] / 1e6:.1f}M",
            str(row["feature_dim"]),
            "x".join(map(str, row["input_size"])),
            f"{row['flops_per_sample'] / 1e9:.2f}",
            row["pretraining_data"],
            row["license"],
            ", ".join(row["offers"]) or "-",
            "yes" if row["available"] else f"no: {row['unavailable_reason']}",
        )
    console = Console(highlight=False)
    console.print(table if rows else "No source models are registered: install a plugin that provides some.")
