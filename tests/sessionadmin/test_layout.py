"""Static checks of the source tree: the reusable app stands alone and stays readable.

Only the standard library: the source is parsed with ast, never imported, so a module
that would fail to import is still checked.
"""

from __future__ import annotations

import ast
import graphlib
from collections.abc import Iterator
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
PACKAGE = "sessionadmin"
APPS = ("sessionadmin", "sessionsite", "accounts", "cart")
# The project's apps around the reusable one: sessionadmin must never need them.
FORBIDDEN_TOP_LEVEL = frozenset({"sessionsite", "accounts", "cart"})
MAX_LINES = 320


def source_files(root: Path) -> Iterator[Path]:
    """Every .py file under ``root``, migrations excluded."""
    for path in sorted(root.rglob("*.py")):
        if "migrations" not in path.relative_to(root).parts:
            yield path


def module_name(path: Path, root: Path, package: str) -> str:
    """The dotted name of ``path`` inside ``package`` (whose directory is ``root``)."""
    parts = [package, *path.relative_to(root).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_names(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[str, str]]:
    """(absolute dotted name, source text) of everything ``tree`` imports, at any depth.

    ``from a.b import c`` yields ``a.b.c``, which ``resolve`` maps to the module ``a.b.c``
    or, when c is a name inside it, to ``a.b``. Relative imports are made absolute against
    ``module``.
    """
    for node in ast.walk(tree):  # walk, not body: imports inside functions count
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, f"import {alias.name}"
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = module.split(".")
                if not is_package:
                    base_parts.pop()
                if node.level > 1:
                    base_parts = base_parts[: -(node.level - 1)]
                if node.module:
                    base_parts.append(node.module)
                base = ".".join(base_parts)
            else:
                base = node.module or ""
            text = f"from {'.' * node.level}{node.module or ''} import " + ", ".join(
                alias.name for alias in node.names
            )
            for alias in node.names:
                yield (base if alias.name == "*" else f"{base}.{alias.name}"), text


def resolve(name: str, modules: set[str]) -> str | None:
    """The longest known module that ``name`` is or lies inside, if any."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def parse_package(root: Path, package: str) -> dict[str, tuple[Path, ast.Module]]:
    return {
        module_name(path, root, package): (path, ast.parse(path.read_text(), filename=str(path)))
        for path in source_files(root)
    }


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module -> the package's own modules it imports (lazily or not), self-imports left out."""
    parsed = parse_package(root, package)
    modules = set(parsed)
    graph: dict[str, set[str]] = {}
    for module, (path, tree) in parsed.items():
        is_package = path.name == "__init__.py"
        targets = set()
        for name, _text in imported_names(tree, module, is_package):
            target = resolve(name, modules)
            if target is not None and target != module:
                targets.add(target)
        graph[module] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as error:
        return list(error.args[1])
    return None


def test_sessionadmin_has_no_import_cycle():
    graph = import_graph(PROJECT / PACKAGE, PACKAGE)
    assert f"{PACKAGE}.conf" in graph  # the walk found the package
    assert any(graph.values())  # ...and the imports inside it
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle in sessionadmin: " + " -> ".join(cycle or [])


def test_sessionadmin_imports_nothing_of_the_project_around_it():
    offending = []
    for module, (path, tree) in parse_package(PROJECT / PACKAGE, PACKAGE).items():
        for name, text in imported_names(tree, module, path.name == "__init__.py"):
            if name.split(".")[0] in FORBIDDEN_TOP_LEVEL:
                offending.append(f"{module}: {text}")
    assert not offending, "sessionadmin imports the project:\n" + "\n".join(sorted(set(offending)))


def test_no_app_module_is_longer_than_the_limit():
    too_long = []
    counted = 0
    for app in APPS:
        root = PROJECT / app
        assert root.is_dir(), f"no app directory {root}"
        for path in source_files(root):
            counted += 1
            lines = len(path.read_text().splitlines())
            if lines > MAX_LINES:
                too_long.append(f"{path.relative_to(PROJECT)}: {lines} lines")
    assert counted > len(APPS)
    assert not too_long, f"modules over {MAX_LINES} lines:\n" + "\n".join(too_long)


# -- the checker itself ---------------------------------------------------------------------


def write_package(root: Path, files: dict[str, str]) -> Path:
    for relative, text in {"__init__.py": "", **files}.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.mark.parametrize(
    "b_imports_a",
    [
        "import fake.a\n",
        "from fake import a\n",
        "from fake.a import VALUE\n",
        "from . import a\n",
        "from .a import VALUE\n",
        "def later():\n    from fake.a import VALUE\n    return VALUE\n",
    ],
    ids=["import", "from-package", "from-module", "relative", "relative-module", "lazy"],
)
def test_import_checker_finds_two_modules_importing_each_other(tmp_path, b_imports_a):
    root = write_package(
        tmp_path / "fake",
        {
            "a.py": "from fake.b import helper\nVALUE = 1\n",
            "b.py": b_imports_a + "def helper():\n    return 2\n",
            "migrations/__init__.py": "",
            "migrations/0001_initial.py": "from fake import a\n",
        },
    )
    graph = import_graph(root, "fake")
    assert "fake.migrations.0001_initial" not in graph
    cycle = find_cycle(graph)
    assert cycle is not None
    assert set(cycle) == {"fake.a", "fake.b"}


def test_import_checker_resolves_relative_imports_in_subpackages(tmp_path):
    root = write_package(
        tmp_path / "fake",
        {
            "sub/__init__.py": "from . import leaf\n",
            "sub/leaf.py": "from ..top import VALUE\nfrom .. import top\n",
            "top.py": "VALUE = 1\n",
        },
    )
    graph = import_graph(root, "fake")
    assert graph == {
        "fake": set(),
        "fake.sub": {"fake.sub.leaf"},
        "fake.sub.leaf": {"fake.top"},
        "fake.top": set(),
    }
    assert find_cycle(graph) is None
