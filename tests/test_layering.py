"""The package's import graph, read from the code: no cycle, and every arrow points down the layers.

Layers, bottom to top (a module may import its own sub-package and any lower layer):
  0 shared facts: markets, symbols, health, watchlist, exit_codes, quote_bars, access, view_query
  1 binance, store, analytics
  2 history, alerts, quote_data, scanner
  3 ingest, api, dashboard, analytics_cli
  4 launcher
Extra rules: the store imports no other pairdesk code but the shared facts; the simulator imports
only the shared facts and history (it is an independent check of the wire format); SQL (sqlite3)
is imported only in the store and in the entry layers that open connections for SQLite errors.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "pairdesk"
LAYERS = {
    "markets": 0, "symbols": 0, "health": 0, "watchlist": 0, "exit_codes": 0, "quote_bars": 0, "access": 0,
    "view_query": 0,
    "binance": 1, "store": 1, "analytics": 1,
    "history": 2, "alerts": 2, "quote_data": 2, "scanner": 2,
    "sim": 3,
    "ingest": 3, "api": 3, "dashboard": 3, "analytics_cli": 3,
    "launcher": 4,
}
SIM_MAY_IMPORT = {"markets", "symbols", "exit_codes", "quote_bars", "history", "sim"}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every pairdesk module ``path`` imports at run time, at any depth in the file (function-level
    imports too; imports under ``if TYPE_CHECKING:`` are for type hints only and do not count)."""
    tree = ast.parse(path.read_text(), str(path))
    hints_only = {id(inner) for node in ast.walk(tree) if isinstance(node, ast.If) and _is_type_checking(node.test)
                  for statement in node.body for inner in ast.walk(statement)}
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in hints_only:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    known = {module_name(p) for p in PACKAGE.rglob("*.py")}
    return {name for name in names if name in known and name != "pairdesk"}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def graph() -> dict[str, set[str]]:
    return {module_name(path): imported_modules(path) for path in sorted(PACKAGE.rglob("*.py"))}


def capability(module: str) -> str:
    return module.split(".")[1]


def test_every_module_belongs_to_a_layer():
    """A new top-level module or sub-package must be given its place in LAYERS (and the README)."""
    assert sorted({capability(m) for m in graph() if m != "pairdesk"} - set(LAYERS)) == []


def test_imports_point_down_the_layers():
    """No module imports a higher layer, or another capability of its own layer."""
    wrong = []
    for module, imports in graph().items():
        if module == "pairdesk":
            continue
        own = capability(module)
        for target in imports:
            other = capability(target)
            if other != own and (LAYERS[other] > LAYERS[own] or LAYERS[other] == LAYERS[own] > 0):
                wrong.append(f"{module} -> {target}")
    assert wrong == []


def test_the_store_and_the_simulator_keep_to_their_own_rules():
    """The store imports only shared facts; the simulator only shared facts and history."""
    wrong = []
    for module, imports in graph().items():
        if module.startswith("pairdesk.store"):
            wrong += [f"{module} -> {t}" for t in imports if LAYERS[capability(t)] > 0 and capability(t) != "store"]
        if module.startswith("pairdesk.sim"):
            wrong += [f"{module} -> {t}" for t in imports if capability(t) not in SIM_MAY_IMPORT]
    assert wrong == []


def test_sql_lives_in_the_store():
    """No SQL statement text outside pairdesk/store (the simulator's replay of a database included)."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.is_relative_to(PACKAGE / "store"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("execute", "executemany"):
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}")
    assert offenders == []


def test_there_is_no_import_cycle():
    """Depth-first search over the module graph finds no cycle (sub-package facades included)."""
    edges = graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(module: str, trail: list[str]) -> None:
        state[module] = 1
        for target in edges.get(module, ()):
            if target.startswith(module + "."):  # a package importing its own modules is its facade
                continue
            if state.get(target) == 1:
                cycles.append(" -> ".join([*trail[trail.index(target):], target]))
            elif state.get(target) is None:
                visit(target, [*trail, target])
        state[module] = 2

    for module in edges:
        if module not in state:
            visit(module, [module])
    assert cycles == []


@pytest.mark.parametrize("entry", ["run_all.py", "data_ingestor.py", "analytics_engine.py", "app.py", "api.py",
                                   "exchange_sim.py"])
def test_entry_points_are_thin(entry):
    """The design card's entry points only hand over to the package."""
    source = (REPO_ROOT / entry).read_text()
    assert len(source.splitlines()) <= 10 and "from pairdesk" in source
