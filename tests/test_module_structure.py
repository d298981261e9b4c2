"""The package's structure: no import cycles among its modules, one runner and one needs rule per stage."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("vosvfi_core", "tasks", "flows")


def _modules() -> dict[str, Path]:
    """Dotted module name → file, for every module of :data:`PACKAGES` (a package by its ``__init__``)."""
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _under_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that runs: at module level and inside functions, but not under ``if TYPE_CHECKING:``."""
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and _under_type_checking(node):
            pending.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        pending.extend(ast.iter_child_nodes(node))


def _target(name: str, modules: dict[str, Path]) -> str | None:
    """The module of ours that importing ``name`` runs (``a.b.c`` where it is a module, else its nearest package)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    """Module → the modules of ours it imports. ``from a import b`` counts as importing ``a.b`` where that is a module."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        edges = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
            edges |= {target for target in (_target(name, modules) for name in names) if target and target != module}
        graph[module] = edges
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


def test_feature_the_cycle_finder_sees_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert import_cycles(graph) == [["a", "b", "c"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def test_feature_the_graph_reads_module_and_function_level_imports() -> None:
    graph = import_graph()
    assert "vosvfi_core.config" in graph["vosvfi_core.plan"]  # module level
    assert "vosvfi_core.evaluation.metric_registry" in graph["vosvfi_core.results.compare"]  # inside a function
    assert "vosvfi_core.config" not in graph["vosvfi_core.data.local"]  # under TYPE_CHECKING only


def test_feature_no_import_cycles_among_our_modules() -> None:
    """No cycle, counting imports inside functions too: a deferred import that closes a circle only moves its failure to run time."""
    assert import_cycles(import_graph()) == []


def test_feature_every_stage_has_one_runner_and_one_needs_rule() -> None:
    from flows.stage_runners import RUNNERS
    from vosvfi_core.plan import NEEDS
    from vosvfi_core.stages import STAGE_NAMES

    assert list(RUNNERS) == list(STAGE_NAMES)
    assert list(NEEDS) == list(STAGE_NAMES)
