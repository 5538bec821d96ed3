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
    ("runs", ("autotl.runs",)),
    ("api", ("autotl.api", "autotl.exporting", "autotl.predictor")),
    ("cli", ("autotl.cli", "autotl.__main__")),
]
FACADE = {("autotl", "autotl.api")}
"""The import allowed upward: ``autotl.select``, ``autotl.train`` and ``autotl.load``, which the package root
imports from the API on first use, so that ``import autotl`` (for ``autotl.hookimpl``) stays light."""
BENCHMARKS = PACKAGE.parent / "benchmarks"


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


def import_graph(sources: dict[str, str]) -> dict[str, set[str]]:
    """Which modules each module imports at run time, the package root's facade left out."""
    return {
        importer: {imported for _, imported in runtime_imports(ast.parse(source)) if (importer, imported) not in FACADE}
        for importer, source in sources.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan's algorithm, by networkx)."""
    import networkx

    return sorted(
        sorted(group) for group in networkx.strongly_connected_components(networkx.DiGraph(graph)) if len(group) > 1
    )


def private_imports(source: str, where: str) -> list[str]:
    """Where ``source`` takes another module's underscore name: ``from autotl.x import _y``, or
    ``x._y`` on a name bound to an autotl module (dunder names are public)."""
    tree = ast.parse(source)
    modules: set[str] = set()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "autotl":
            for alias in node.names:
                if is_module(f"{node.module}.{alias.name}"):
                    modules.add(alias.asname or alias.name)
                elif _private(alias.name):
                    found.append(f"{where}:{node.lineno}: from {node.module} import {alias.name}")
        elif isinstance(node, ast.Import):
            modules.update(
                alias.asname or alias.name.split(".")[0] for alias in node.names if alias.name.startswith("autotl")
            )
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr) and _bound_to_module(node.value, modules):
            found.append(f"{where}:{node.lineno}: {ast.unparse(node)}")
    return found


def _private(name: str) -> bool:
    return name.startswith("_") and not name.endswith("__")


def _bound_to_module(node: ast.AST, modules: set[str]) -> bool:
    """``x`` or ``x.y.z`` whose first name was bound by an import of an autotl module."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name) and node.id in modules


def package_sources() -> dict[str, str]:
    return {module_name(path): path.read_text() for path in sorted(PACKAGE.rglob("*.py"))}


def test_no_module_imports_itself_through_others():
    found = cycles(import_graph(package_sources()))
    assert not found, "import cycles (docs/architecture.md): " + "; ".join(" <-> ".join(group) for group in found)


def test_no_module_takes_another_modules_private_names_benchmarks_included():
    sources = {str(path.relative_to(PACKAGE.parent)): path.read_text() for path in sorted(PACKAGE.rglob("*.py"))}
    sources |= {str(path.relative_to(PACKAGE.parent)): path.read_text() for path in sorted(BENCHMARKS.glob("*.py"))}
    found = [line for where, source in sources.items() for line in private_imports(source, where)]
    assert not found, "private names taken from another module:\n" + "\n".join(found)


def test_the_checks_catch_a_planted_cycle_inside_a_layer_and_a_planted_private_import():
    planted = package_sources() | {
        "autotl.selection.budget": package_sources()["autotl.selection.budget"]
        + "\nfrom autotl.selection import search\n"
    }
    assert ["autotl.selection.budget", "autotl.selection.search"] in [
        [m for m in group if m in ("autotl.selection.budget", "autotl.selection.search")]
        for group in cycles(import_graph(planted))
    ]
    assert private_imports("from autotl.runs.setup import _first_line\n", "planted.py") == [
        "planted.py:1: from autotl.runs.setup import _first_line"
    ]
    assert private_imports("import autotl.runs.setup\nautotl.runs.setup._first_line\n", "planted.py") == [
        "planted.py:2: autotl.runs.setup._first_line"
    ]
