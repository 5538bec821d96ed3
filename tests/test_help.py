"""The rendered ``--help`` of every command tells the truth about every option.

Each command and sub-command is found by walking the app's command tree, so one added later (or by
a plugin) is held to the same rule without a change here. Its help is rendered as a user sees it,
at a fixed width, and each option (and argument) but ``--help`` must show:

- a help text;
- its default as ``[default: ...]``, or ``[required]`` when it must be given. The one exception is
  a flag without a ``--no-`` twin (``--json``, ``--force``): it takes no value and is off unless
  given, so it has no default to show;
- no ``<bool>`` type, and no empty brackets or lone " ." left where markup swallowed a text.
"""

import json
import re
from typing import Any, Iterator

import pytest
import typer.main
from typer.testing import CliRunner

from autotl.cli import app

WIDTH = {"COLUMNS": "100", "TERM": "dumb"}
FRAME = re.compile(r"[│╭╮╰╯─]")
"""What a boxed help draws around its text."""
SWALLOWED = re.compile(r"\[\s*\]|\(\s*\)|\s\.(\s|$)")


def commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command under ``command``, with the words that call it."""
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from commands(sub, (*path, name))


COMMANDS = dict(commands(typer.main.get_command(app)))


def rendered(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env=WIDTH)
    assert result.exit_code == 0, result.output
    return result.output


def entries(text: str, names: list[str]) -> list[str]:
    """Each named option's part of the help, from the line it starts to the next one's, flattened."""
    lines = text.splitlines()
    starts, at = [], 0
    for name in names:
        start = re.compile(rf"^\W{{0,8}}{re.escape(name)}(?![\w-])")
        found = [i for i in range(at, len(lines)) if start.match(lines[i])]
        assert found, f"{name} is not in the help:\n{text}"
        starts.append(at := found[0])
    return [" ".join(FRAME.sub(" ", "\n".join(lines[a:b])).split()) for a, b in zip(starts, starts[1:])]


def notes(entry: str) -> set[str]:
    """What the bracketed notes of an entry say: ``default: 0``, ``required``, ``env var: X``."""
    return {note.strip() for bracket in re.findall(r"\[([^\[\]]*)\]", entry) for note in bracket.split(";")}


def takes_no_value(param: Any) -> bool:
    return getattr(param, "is_flag", False) and not param.secondary_opts


def test_the_walk_reaches_the_sub_commands():
    assert {("select",), ("train",), ("worker",), ("models", "pull"), ("cache", "info"), ("cache", "clear")} <= set(
        COMMANDS
    )


@pytest.mark.parametrize("path", COMMANDS, ids=lambda path: " ".join(("autotl", *path)))
def test_every_option_shows_its_help_and_default(path):
    text = rendered(path)
    params = COMMANDS[path].params
    for param, entry in zip(params, entries(text, [p.opts[0] for p in params] + ["--help"])):
        name = param.opts[0]
        assert param.help and param.help.strip(), f"{name} has no help"
        said = notes(entry)
        if param.required:
            assert "required" in said, f"{name} does not say it is required: {entry}"
        elif not takes_no_value(param):
            assert any(re.fullmatch(r"default: \S.*", note) for note in said), f"{name} shows no default: {entry}"
        assert not SWALLOWED.search(entry), f"{name} lost text to markup: {entry}"
    assert "<bool>" not in text


def test_the_set_help_points_to_where_each_strategy_s_own_defaults_are_listed(cli):
    assert "`autotl plugins` lists them" in " ".join(rendered(("train",)).split())
    settings = json.loads(cli("plugins", "--json").stdout)["settings"]
    setfit, finetune = settings["strategies"]["setfit"], settings["strategies"]["finetune"]
    assert (setfit["lr"], setfit["epochs"], setfit["batch_size"]) == ("2e-05", "20", "16")
    assert (finetune["lr"], finetune["epochs"], finetune["augment"]) == ("0.001", "5", "auto")
    assert settings["regularizers"]["l2sp"] == {"l2sp_alpha": "0.01"}


def test_a_strategy_fitted_without_a_schedule_shows_no_learning_rate_or_epochs(cli):
    linear_probe = json.loads(cli("plugins", "--json").stdout)["settings"]["strategies"]["linear_probe"]
    assert "class_weight" in linear_probe
    assert not {"lr", "epochs", "weight_decay", "warmup"} & set(linear_probe)
    assert re.search(r"^ *linear_probe +batch_size 32,", cli("plugins").stdout, re.MULTILINE)
