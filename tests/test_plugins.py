"""Plugins: registered like built-ins, listed with what they added, isolated when they break."""

import importlib
import json
import os
import subprocess
import sys
import textwrap

from fakes import DeclaredRegularizer as Regularizer
from fakes import DeclaredStrategy as Strategy
from fakes import FakeSource

import autotl
from autotl.contracts.capabilities import needs
from autotl.plugins import BUILTIN_PLUGINS


class SourcePlugin:
    def __init__(self, *sources):
        self.sources = sources

    @autotl.hookimpl
    def register_sources(self, register):
        for source in self.sources:
            register(source)


class BrokenPlugin:
    @autotl.hookimpl
    def register_sources(self, register):
        raise RuntimeError("boom")


def plugin_names(cli) -> list[str]:
    result = cli("plugins", "--json")
    assert result.exit_code == 0, result.output
    return [p["name"] for p in json.loads(result.stdout)["plugins"]]


def test_builtins_are_plugins_like_any_other(cli):
    plugins = {p["name"]: p for p in json.loads(cli("plugins", "--json").stdout)["plugins"]}
    assert plugins["autotl.builtins.data_formats.image_folder"]["registered"] == {"data_formats": ["image-folder"]}
    assert plugins["autotl.builtins.data_formats.text_file"]["package"] == "autotl"


def test_every_registered_name_leads_to_its_code_and_each_builtin_method_has_a_file_named_after_it(cli):
    plugins = json.loads(cli("plugins", "--json").stdout)["plugins"]
    for plugin in plugins:
        for name, code in plugin["code"].items():
            module, qualname = code.split(":")
            found = importlib.import_module(module)
            for part in qualname.split("."):
                found = getattr(found, part)
            assert callable(found), code
    builtins = [p for p in plugins if p["name"] in BUILTIN_PLUGINS and "sources" not in p["registered"]]
    assert len(builtins) == len(BUILTIN_PLUGINS) - 3  # the three source families register several models each
    for plugin in builtins:
        [[name]] = plugin["registered"].values()
        assert plugin["name"].rsplit(".", 1)[1] == name.replace("-", "_")
    codes = {name: code for p in plugins for name, code in p["code"].items()}
    assert codes["linear_probe"] == "autotl.builtins.strategies.linear_probe:LogisticProbe"
    assert codes["logme"] == "autotl.builtins.scorers.logme:score"


def test_a_plugin_registered_in_a_test_appears_and_is_gone_after(cli):
    from autotl.plugins import pm

    pm.register(SourcePlugin(FakeSource("tiny-net")), name="test-plugin")
    try:
        plugins = {p["name"]: p for p in json.loads(cli("plugins", "--json").stdout)["plugins"]}
        assert plugins["test-plugin"]["registered"] == {"sources": ["tiny-net"]}
        assert plugins["test-plugin"]["hooks"] == ["register_sources"]
        models = {m["name"]: m for m in json.loads(cli("models", "--json").stdout)["models"]}
        assert models["tiny-net"]["plugin"] == "test-plugin"
    finally:
        pm.unregister(name="test-plugin")
    assert "test-plugin" not in plugin_names(cli)
    assert "tiny-net" not in [m["name"] for m in json.loads(cli("models", "--json").stdout)["models"]]


def test_a_plugin_that_raises_is_named_and_the_rest_work(cli, register_plugin):
    register_plugin(BrokenPlugin(), "broken")
    register_plugin(SourcePlugin(FakeSource("still-here")), "healthy")
    result = cli("models")
    assert result.exit_code == 0
    assert "Warning: plugin 'broken' failed in register_sources (RuntimeError: boom)" in result.stderr
    assert "still-here" in result.stdout
    plugins = {p["name"]: p for p in json.loads(cli("plugins", "--json").stdout)["plugins"]}
    assert plugins["broken"]["error"] == "RuntimeError: boom"


def test_a_malformed_registration_is_reported(cli, register_plugin):
    register_plugin(SourcePlugin("not a source"), "sloppy")
    result = cli("models", "--json")
    assert result.exit_code == 0
    assert (
        "plugin 'sloppy' registered a bad source (TypeError: register_sources expects Source objects, got str)"
        in result.stderr
    )


def test_two_plugins_registering_one_name_is_an_error_naming_both(cli, register_plugin):
    register_plugin(SourcePlugin(FakeSource("twin")), "first")
    register_plugin(SourcePlugin(FakeSource("twin")), "second")
    result = cli("models")
    assert result.exit_code == 2
    assert "source name 'twin' is registered by both plugin 'first' and plugin 'second'" in result.stderr


class MethodsPlugin:
    @autotl.hookimpl
    def register_strategies(self, register):
        register(Strategy("probe", "frozen features"))
        register(Strategy("tune", "everything trained", provides=needs("trained_backbone")))
        register(Strategy("lower-frozen", "blocks frozen", needs=needs("blocks"), provides=needs("trained_backbone")))

    @autotl.hookimpl
    def register_regularizers(self, register):
        register(Regularizer("plain", "no penalty"))
        register(Regularizer("anchor", "stay near the source", needs=needs("trained_backbone")))
        register(Regularizer("distill", "keep the head's outputs", needs=needs("source_head", "trained_backbone")))


def test_candidates_are_built_only_where_needs_are_met(cli, image_folder, register_plugin):
    register_plugin(MethodsPlugin(), "methods")
    register_plugin(
        SourcePlugin(
            FakeSource("headed", offers=("source_head", "blocks")),
            FakeSource("headless"),
            FakeSource("offline", missing="no weights in ~/.cache"),
            FakeSource("reader", modality="text"),
        ),
        "zoo",
    )
    result = cli(
        "inspect",
        "--data",
        image_folder({"a": 3, "b": 3}),
        "--json",
        "--models",
        "headed,headless,offline,reader",
        "--strategies",
        "probe,tune,lower-frozen",
        "--regularizers",
        "plain,anchor,distill",
    )
    report = json.loads(result.stdout)
    assert sorted(report["candidates"]) == sorted(
        [
            f"headed + {s} + {r}"
            for s in ("probe", "tune", "lower-frozen")
            for r in ("plain", "anchor", "distill")
            if not (s == "probe" and r != "plain")
        ]
        + ["headless + probe + plain", "headless + tune + plain", "headless + tune + anchor"]
    )
    reasons = {item["what"]: item["reason"] for item in report["left_out"]}
    assert (
        reasons["headed + probe + anchor"]
        == "anchor needs pretrained backbone weights that training updates, which headed with probe does not give"
    )
    assert (
        reasons["headless + lower-frozen + plain"] == "lower-frozen needs ordered blocks, which headless does not offer"
    )
    assert (
        reasons["headless + tune + distill"]
        == "distill needs a source classification head, which headless with tune does not give"
    )
    assert reasons["offline"] == "weights not available: no weights in ~/.cache"
    assert reasons["reader"] == "text model; the data is image"


def test_choosing_names_narrows_the_candidates(cli, image_folder, register_plugin):
    register_plugin(MethodsPlugin(), "methods")
    register_plugin(SourcePlugin(FakeSource("headed", offers=("source_head",)), FakeSource("other")), "zoo")
    result = cli(
        "inspect",
        "--data",
        image_folder({"a": 3, "b": 3}),
        "--json",
        "--models",
        "headed",
        "--strategies",
        "tune,probe",
        "--regularizers",
        "plain",
    )
    assert json.loads(result.stdout)["candidates"] == ["headed + tune + plain", "headed + probe + plain"]


def make_installed_plugin(site, name: str, body: str) -> None:
    """A real distribution on sys.path: module, METADATA and an ``autotl`` entry point."""
    module = f"{name.replace('-', '_')}_plugin"
    (site / f"{module}.py").write_text(textwrap.dedent(body))
    info = site / f"{module}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[autotl]\n{name} = {module}\n")


def run_autotl(site, *args, allow: str | None = None):
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("AUTOTL_LOAD_PLUGINS", None)
    if allow is not None:
        env["AUTOTL_LOAD_PLUGINS"] = allow
    return subprocess.run([sys.executable, "-m", "autotl", *args], capture_output=True, text=True, env=env, timeout=120)


WORKING = """
import autotl
from autotl.contracts.strategies import Strategy


class Gentle(Strategy):
    def train(self, job):
        raise NotImplementedError


@autotl.hookimpl
def register_strategies(register):
    register(Gentle("gentle", "a third-party strategy"))
"""


def test_installed_plugins_load_from_entry_points_unless_left_out(tmp_path):
    make_installed_plugin(tmp_path, "gentle", WORKING)
    make_installed_plugin(tmp_path, "other", WORKING.replace("gentle", "rough"))
    listed = json.loads(run_autotl(tmp_path, "plugins", "--json").stdout)["plugins"]
    gentle = next(p for p in listed if p["name"] == "gentle")
    assert (gentle["package"], gentle["version"], gentle["registered"]) == (
        "gentle-plugin",
        "1.2.3",
        {"strategies": ["gentle"]},
    )
    only_other = json.loads(run_autotl(tmp_path, "plugins", "--json", allow="other").stdout)["plugins"]
    assert [p["name"] for p in only_other if not p["name"].startswith("autotl.")] == ["other"]
    none = json.loads(run_autotl(tmp_path, "plugins", "--json", allow="").stdout)["plugins"]
    assert [p["name"] for p in none] == list(BUILTIN_PLUGINS)


def test_a_plugin_that_fails_to_import_is_named_and_autotl_keeps_working(tmp_path):
    make_installed_plugin(tmp_path, "crashy", "raise ImportError('needs a library that is not here')\n")
    result = run_autotl(tmp_path, "plugins")
    assert result.returncode == 0
    assert "Warning: plugin 'crashy' failed to load (ImportError: needs a library that is not here)" in result.stderr
    assert "image-folder" in result.stdout


def test_help_imports_no_torch():
    blocker = textwrap.dedent(
        """
        import sys
        class NoTorch:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("torch", "torchvision", "transformers", "mlflow", "optuna"):
                    raise ImportError(f"{name} imported while showing help")
        sys.meta_path.insert(0, NoTorch())
        sys.argv = ["autotl", "--help"]
        from autotl.cli import main
        main()
        """
    )
    result = subprocess.run([sys.executable, "-c", blocker], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "inspect" in result.stdout


def test_the_timm_plugin_package_adds_its_models_when_installed_and_takes_them_away_when_removed(tmp_path):
    import shutil
    from pathlib import Path

    package = tmp_path / "autotl-timm"  # a copy, so that the build leaves nothing in the repository
    shutil.copytree(
        Path(__file__).resolve().parent.parent / "plugins" / "autotl-timm",
        package,
        ignore=shutil.ignore_patterns("tests"),
    )
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(package),
        ],
        check=True,
        capture_output=True,
    )
    models = {model["name"] for model in json.loads(run_autotl(site, "models", "--json").stdout)["models"]}
    assert {"timm-resnet18", "timm-tf_efficientnet_lite0"} <= models
    plugin = next(p for p in json.loads(run_autotl(site, "plugins", "--json").stdout)["plugins"] if p["name"] == "timm")
    assert (
        plugin["package"] == "autotl-timm"
        and plugin["version"] == "0.1.0"
        and plugin["registered"]["regularizers"] == ["l1sp"]
    )
    for installed in site.iterdir():  # what pip uninstall removes
        shutil.rmtree(installed)
    assert not any(
        m["name"].startswith("timm-") for m in json.loads(run_autotl(site, "models", "--json").stdout)["models"]
    )
