"""``autotl cache``: the on-disk cache of frozen features."""

import typer

from autotl.cli import flags

app = typer.Typer(help="Inspect or clear the frozen-feature cache.", no_args_is_help=True)


@app.command("info")
def info_command(cache_dir: flags.CacheDir = None) -> None:
    """Where the cache is, how big, and its limit."""
    from autotl.training.features import FeatureCache

    cache = FeatureCache(cache_dir)
    typer.echo(
        f"{cache.folder}: {cache.size_bytes() / 1e6:.1f} MB of {cache.limit_bytes / 1e9:g} GB (AUTOTL_CACHE_LIMIT_GB)"
    )


@app.command("clear")
def clear_command(cache_dir: flags.CacheDir = None) -> None:
    """Delete every cached feature (only in a folder autotl made, and not those a running process is reading)."""
    from autotl.training.features import FeatureCache

    cache = FeatureCache(cache_dir)
    freed = cache.clear()
    typer.echo(f"Cleared {cache.folder} ({freed / 1e6:.1f} MB)")
