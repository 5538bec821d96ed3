"""The one-way import rule of docs/architecture.md, read from the package's source: a module imports
only from its own layer and the layers below it. Imports under ``if TYPE_CHECKING:`` are type
annotations, not dependencies, and are not counted."""

import ast
from pathlib import Path

import pytest

import autotl

PACKAGE = Path(autotl.__file__).parent

LAYERS: list[tuple[str, tuple[str, ...]]] = [  # lowest first
    (
        "foundation",
        ("autotl", "autotl.errors", "autotl.files", "autotl.progress", "autotl.processes", "autotl.secrets"),
    ),
    ("contracts", ("autotl.contracts",)),
    ("data", ("autotl.data",)),
    ("training", ("autotl.training",)),
    ("builtins", ("autotl.builtins", "autotl.transferability", "autotl.pulling")),
    ("plugins", ("autotl.registry", "autotl.plugins")),
    ("tracking", ("autotl.tracking", "autotl.reports", "autotl.logged_model")),
    ("selection", ("autotl.selection",)),
    ("api", ("autotl.api", "autotl.worker", "autotl.exporting", "autotl.predictor")),
    ("cli", ("autotl.cli", "autotl.__main__")),
]
FACADE = {("autotl", "autotl.api"), ("autotl", "autotl.predictor")}
"""The imports allowed upward: ``autotl.select``, ``autotl.train`` and ``autotl.load``, which the package root
imports from the API on first use, so that ``import autotl`` (for ``autotl.hookimpl``) stays light."""


def layer(module: str) -> int:
    """The layer of a module: that of the longest listed prefix (the package root only for itself)."""
    matches = [
        (len(prefix), index)
        for index, (_, prefixes) in enumerate(LAYERS)
        for prefix in prefixes
        if module == prefix or (prefix != "autotl" and module.startswith(prefix + "."))
    ]
    assert matches, f"{module} is in no layer: add it to LAYERS and to docs/architecture.md"
    return max(matches)[1]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    relative = Path(*name.split("."))
    return (PACKAGE.parent / relative).with_suffix(".py").is_file() or (
        PACKAGE.parent / relative / "__init__.py"
    ).is_file()


def runtime_imports(tree: ast.AST, package: str = "autotl") -> list[tuple[int, str]]:
    """(line, module) of every import of ``package`` outside ``if TYPE_CHECKING:`` blocks, function-level ones too."""
    found = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names if alias.name.split(".")[0] == package)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == package:
            for alias in node.names:  # `from autotl.x import y`: y itself when it is a module
                child = f"{node.module}.{alias.name}"
                found.append((node.lineno, child if package == "autotl" and is_module(child) else node.module))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def test_layers_are_listed_lowest_first_and_cover_the_package():
    for path in PACKAGE.rglob("*.py"):
        layer(module_name(path))


def test_every_import_goes_down_or_sideways_never_up():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = module_name(path)
        for line, imported in runtime_imports(ast.parse(path.read_text())):
            if layer(imported) > layer(importer) and (importer, imported) not in FACADE:
                upward.append(
                    f"{path.relative_to(PACKAGE.parent)}:{line}: {importer} ({LAYERS[layer(importer)][0]}) imports "
                    f"{imported} ({LAYERS[layer(imported)][0]})"
                )
    assert not upward, "imports against the layering of docs/architecture.md:\n" + "\n".join(upward)


def test_the_contracts_import_no_heavy_library_so_registering_a_plugin_stays_cheap():
    for path in (PACKAGE / "contracts").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for heavy in ("torch", "torchvision", "transformers", "mlflow", "optuna", "sklearn"):
            assert not runtime_imports(tree, heavy), f"{path.name} imports {heavy}"


@pytest.mark.parametrize("source", ["import autotl.training.loop", "from autotl.selection import search"])
def test_the_check_sees_function_level_imports_and_skips_type_only_ones(source):
    tree = ast.parse(f"def f():\n    {source}\nif TYPE_CHECKING:\n    import autotl.api\n")
    assert [module for _, module in runtime_imports(tree)] == [
        source.split()[1] if source.startswith("import") else "autotl.selection.search"
    ]
