"""The import graph of the package: no cycle, and components never import the Lambda app or the managers."""

import ast
from pathlib import Path
from typing import Dict, List, Set

from tests.conftest import ROOT

PACKAGE = ROOT / "sosw"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(path: Path, modules: Set[str]) -> Set[str]:
    """sosw modules imported when ``path`` is imported: module-level statements only (an import inside a function or
    under ``if TYPE_CHECKING:`` runs later or never)."""
    found: Set[str] = set()
    for node in ast.parse(path.read_text()).body:
        names: List[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        found.update(name for name in names if name in modules)
    return found


def _graph() -> Dict[str, Set[str]]:
    paths = [p for p in PACKAGE.rglob("*.py") if "_templates" not in p.parts]
    modules = {_module_name(p) for p in paths}
    return {_module_name(p): _top_level_imports(p, modules) - {_module_name(p)} for p in paths}


def test_no_import_cycle():
    graph = _graph()
    state: Dict[str, int] = {}
    cycles: List[List[str]] = []

    def visit(module: str, stack: List[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target, stack + [target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    # A package's __init__ importing its own submodules is not a cycle that can bite: the submodules are complete
    # before the package finishes.
    real = [c for c in cycles if not any(a == b.rsplit(".", 1)[0] for a, b in zip(c, c[1:]))]
    assert real == []


def test_components_import_neither_the_app_nor_the_managers():
    graph = _graph()
    offenders = {module: sorted(t for t in targets if t == "sosw.app" or t.startswith(("sosw.managers", "sosw.local",
                                                                                          "sosw.deploy", "sosw.cli")))
                 for module, targets in graph.items() if module.startswith("sosw.components")}
    assert {module: targets for module, targets in offenders.items() if targets} == {}
