"""docs/plugins.md documents every hook, and its complete plugin works as printed."""

import importlib
import inspect
import re
import sys
from pathlib import Path

import pytest

import autotl
from autotl.contracts import hookspecs

PLUGINS_PAGE = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"


def test_every_hook_has_a_section_in_the_plugin_guide():
    hooks = [
        name for name, function in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("register_")
    ]
    headings = set(re.findall(r"^### (\w+)$", PLUGINS_PAGE.read_text(), re.MULTILINE))
    assert hooks and set(hooks) <= headings, (
        f"hooks without a section in docs/plugins.md: {sorted(set(hooks) - headings)}"
    )


@pytest.fixture
def printed_plugin(tmp_path, monkeypatch, register_plugin):
    """The guide's 30-line plugin, as printed, registered the way its entry point would be."""
    text = PLUGINS_PAGE.read_text()
    code = re.search(r"<!-- minimal-plugin -->\n```python\n(.*?)```", text, re.DOTALL)[1]
    (tmp_path / "my_resnet").mkdir()
    (tmp_path / "my_resnet" / "__init__.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("my_resnet")
    yield register_plugin(module, "my-resnet")
    sys.modules.pop("my_resnet", None)


def test_the_printed_plugin_adds_a_model_that_trains(printed_plugin, colour_images, tmp_path, monkeypatch):
    import torch
    import torchvision

    from autotl.plugins import build_registry

    monkeypatch.delenv("MY_RESNET18", raising=False)
    source = build_registry().pick("sources", ["my-resnet18"])[0]
    assert "MY_RESNET18" in source.availability().reason
    weights = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), weights)  # random weights stand in for ImageNet's
    monkeypatch.setenv("MY_RESNET18", str(weights))
    monkeypatch.chdir(tmp_path)
    result = autotl.train(
        colour_images,
        "my-resnet18",
        "partial_freeze",
        settings={"epochs": "1", "image_size": "64"},
        cache_dir=tmp_path / "cache",
        progress=lambda message: None,
    )
    assert result.source == "my-resnet18" and 0 <= result.test_accuracy <= 1


REPO = PLUGINS_PAGE.parent.parent
USER_PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
COMMAND = re.compile(r"(?:^|[\s$(/])autotl((?:[ \t]+(?:\\\||[^\s#;&|])+)+)")
"""`autotl` as a program, then its words up to a comment, `;`, `&&` or a pipe (an escaped `\\|` is a word's):
not `autotl.load` nor `'autotl[models]'`."""


def shell_lines(page: Path) -> list[str]:
    """The lines of the page's shell blocks (continuation lines joined), the `$ ` lines of its other blocks (a
    diagram or a transcript), and each inline code span of its prose."""
    text = page.read_text()
    fence = re.compile(r"^```(\w*)\n(.*?)^```", re.DOTALL | re.MULTILINE)
    lines = [
        line
        for language, block in fence.findall(text)
        for line in block.replace("\\\n", " ").splitlines()
        if language in ("bash", "sh", "shell", "console") or line.startswith("$ ")
    ]
    return lines + re.findall(r"`([^`\n]+)`", fence.sub("", text))


def command_problems(line: str, root) -> list[str]:
    """What in `autotl WORDS...` the command tree does not know: a command, or an option of the command it names."""
    problems, command = [], root
    for word in line.split():
        word = word.strip("[]")
        if word.startswith("--"):
            accepted = {name for param in command.params for name in [*param.opts, *param.secondary_opts]}
            if word.split("=")[0] not in accepted | {"--help"}:
                problems.append(f"`{command.name}` has no option {word.split('=')[0]}")
        elif hasattr(command, "commands"):  # a group: the next word names one of its commands
            if word not in command.commands:
                problems.append(f"`{command.name}` has no command {word!r} (it has {', '.join(command.commands)})")
                break
            command = command.commands[word]
    return problems


@pytest.mark.parametrize("page", USER_PAGES, ids=lambda page: page.name)
def test_every_autotl_command_a_page_shows_exists_with_the_options_it_names(page):
    import typer.main

    from autotl.cli import app

    root = typer.main.get_command(app)
    shown = [match[1] for line in shell_lines(page) for match in COMMAND.finditer(line)]
    problems = [f"autotl{words}: {problem}" for words in shown for problem in command_problems(words, root)]
    assert shown or page.name != "README.md", "the README shows no autotl command"
    assert not problems, f"{page.name} shows commands the CLI does not accept:\n" + "\n".join(problems)


@pytest.mark.parametrize("page", USER_PAGES, ids=lambda page: page.name)
def test_every_relative_link_of_a_page_leads_to_a_file(page):
    targets = re.findall(r"\]\(([^)\s]+)\)", page.read_text())
    relative = [target.split("#")[0] for target in targets if "://" not in target and not target.startswith("#")]
    missing = [target for target in relative if not (page.parent / target).exists()]
    assert not missing, f"{page.name} links to files that do not exist: {missing}"
