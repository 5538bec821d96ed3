"""``autotl models pull NAME``: fetches a source's weights into its library's cache, the one
command that reaches the network for them (``autotl.pulling``)."""

from typing import Annotated

import typer

Name = Annotated[str, typer.Argument(help="A source model's name, as `autotl models` lists it.")]


def pull_command(name: Name) -> None:
    """Fetch a source model's weights, hash-checked where its library can, for select and train to find offline."""
    from autotl.errors import AutotlError
    from autotl.plugins import build_registry
    from autotl.pulling import ATTEMPTS, fetching, retried
    from autotl.tracking import masked

    sources = {source.name: source for source in build_registry().items("sources")}
    if name not in sources:
        raise AutotlError(f"unknown source model {name!r}; `autotl models` lists them: {', '.join(sources)}")
    source = sources[name]
    availability, origin = source.availability(), source.pull_from()
    if availability.available:
        typer.echo(f"{name} is here already; nothing to pull", err=True)
        return
    if origin is None:
        raise AutotlError(f"{name} cannot be pulled: {availability.reason}")
    typer.echo(f"Pulling {name} from {masked(origin)} (at most {ATTEMPTS} attempts)", err=True)
    with fetching(name, origin, masked):
        retried(source.pull)
    after = source.availability()
    if not after.available:
        raise AutotlError(f"pulled {name} from {masked(origin)}, but it still cannot load: {after.reason}")
    typer.echo(f"{name} is here now: select and train will use it", err=True)
