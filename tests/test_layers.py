"""The layers: the cdktf-free model, and what may import what (issue #19).

* ``pipeline_model`` imports no construct code and no CDK: not ``constructs_lib``, ``cdktf``, ``cdktn``,
  ``jsii`` nor ``constructs``.
* ``local_pipeline``, ``tools``, ``scripts`` and ``bench`` import only the model, never the construct layer or a
  CDK, except the few scripts whose job is to synthesize or to read the constructs (listed below, with why).
* ``tfschema_provider`` (the installed ``pipeline-validate`` command) imports no CDK either.
* No import cycle among the project's modules.

Imports are read from the source (ast), wherever they are written (module level or inside a function, and
``importlib.import_module("...")`` with a literal name), except under ``if TYPE_CHECKING:``, which never runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("pipeline_model", "constructs_lib", "local_pipeline", "tools", "bench", "tfschema_provider")

CDK = {"cdktf", "cdktn", "jsii", "constructs_lib"}
FORBIDDEN = {
    "pipeline_model": CDK | {"constructs"},
    "local_pipeline": CDK,
    "tools": CDK,
    "scripts": CDK,
    "bench": CDK,
    "tfschema_provider": CDK | {"constructs"},  # the installed pipeline-validate command: no CDK needed
}
#: Files that must synthesize or read the constructs, and so may import them.
MAY_SYNTH = {
    "bench/synth.py": "times cdktf synth of the stack",
    "bench/naive_main.py": "the naive synth entry point the bench compares against",
    "scripts/generate_module_contract.py": "reads the module sources and versions from constructs_lib.modules",
    "scripts/generate_config_table.py": "writes the constructs' props tables from their types",
}


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(tree: ast.AST):
    """Every node except those under ``if TYPE_CHECKING:`` (its ``else`` branch does run)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _type_checking(node):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, module: str | None = None) -> list[tuple[str, list[str]]]:
    """(absolute module, names imported from it) for every runtime import in ``path`` (the module ``module``,
    by default the one its place in the project makes it)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module = module or _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, list[str]]] = []
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([base] if base else []))
            found.append((base, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if isinstance(first, ast.JoinedStr) and first.values and isinstance(first.values[0], ast.Constant):
                first = first.values[0]  # f"constructs_lib.{module}": its literal head names the package
            if name in {"import_module", "__import__"} and isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.append((first.value.rstrip("."), []))
    return found


def _files(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "node_modules" not in p.parts)


LAYER_FILES = [(layer, p) for layer in FORBIDDEN for p in _files(layer) if str(p.relative_to(ROOT)) not in MAY_SYNTH]


@pytest.mark.parametrize("layer, path", LAYER_FILES, ids=[str(p.relative_to(ROOT)) for _, p in LAYER_FILES])
def test_layer_imports_no_construct_code(layer, path):
    relative = str(path.relative_to(ROOT))
    bad = sorted({name for name, _ in imports(path) if name.split(".")[0] in FORBIDDEN[layer]})
    assert not bad, f"{relative} imports {', '.join(bad)}; {layer} may import only pipeline_model (and itself)"


def test_the_exemptions_exist():
    assert all((ROOT / path).is_file() for path in MAY_SYNTH), "MAY_SYNTH names a file that is gone: drop it"


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for package in PACKAGES for p in _files(package)}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        for base, names in imports(path):
            for target in [f"{base}.{n}" for n in names] or [base]:
                target = target if target in files else base  # `from pkg import name` names a module or a value
                while target and target not in files:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_among_the_project_modules():
    graph = _graph()
    assert sum(map(len, graph.values())) > 50
    found = cycles(graph)
    assert not found, "import cycles: " + "; ".join(
        " <-> ".join(c) + " (" + ", ".join(f"{m} -> {sorted(graph[m] & set(c))}" for m in c) + ")" for c in found
    )


def test_the_checks_see_what_they_must(tmp_path):
    """The reader finds function-level, relative and importlib imports, and skips TYPE_CHECKING blocks; the cycle
    finder finds a cycle."""
    tree_text = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import cdktf\n"
        "def f():\n    from constructs_lib.app import run\n"
        "import importlib\nimportlib.import_module(f'cdktn.{x}')\n"
        "from ..config import schema\n"
    )
    path = tmp_path / "probe.py"
    path.write_text(tree_text, encoding="utf-8")
    names = [name for name, _ in imports(path, "pipeline_model.config.probe")]
    assert "cdktf" not in names
    assert {"constructs_lib.app", "cdktn", "pipeline_model.config"} <= set(names)
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
