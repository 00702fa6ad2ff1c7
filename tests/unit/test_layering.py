"""The layering rule of docs/DESIGN.md, read from each module's imports (module level and lazy ones alike):
contracts and the pure decision modules do no I/O, the pipeline's use-cases reach adapters only through
ports, the library never imports the entry points, and no production code holds or imports a test double."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "layers" / "core" / "tradeengine"
IO_LIBRARIES = ("boto3", "botocore", "pymongo", "bson", "binance", "requests", "fastapi", "starlette", "mangum")
PURE = (
    "rules",
    "sizing",
    "sizing_base",
    "sizing_prices",
    "brackets",
    "risk",
    "engine",
    "decimals",
    "exchange_info",
    "venue_budget",
)
WIRING = {"deps.py", "__init__.py"}
ADAPTERS = ("tradeengine.stores", "tradeengine.api")


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def breaches(path: Path, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(n for n in imports(path) if any(n == f or n.startswith(f + ".") for f in forbidden))


def test_the_rule_sees_an_import_it_forbids(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import json\n\ndef f():\n    from boto3.session import Session\n    import pymongo\n")
    assert breaches(sample, IO_LIBRARIES) == ["boto3.session", "pymongo"]


@pytest.mark.parametrize("path", sorted((ROOT / "contracts").glob("*.py")), ids=lambda p: p.name)
def test_contracts_import_only_the_standard_library_and_pydantic(path: Path) -> None:
    assert breaches(path, (*IO_LIBRARIES, "tradeengine", "functions", "local")) == []


@pytest.mark.parametrize("name", PURE)
def test_the_decision_modules_are_pure(name: str) -> None:
    forbidden = (*IO_LIBRARIES, "tradeengine.pipeline", "tradeengine.stores", "tradeengine.exchange", *ADAPTERS)
    # Binance's error codes are constants with no imports of their own (exchange/codes.py): a name, not I/O.
    assert [n for n in breaches(CORE / f"{name}.py", forbidden) if n != "tradeengine.exchange.codes"] == []


def test_the_error_codes_import_nothing() -> None:
    assert imports(CORE / "exchange" / "codes.py") <= {"__future__"}


@pytest.mark.parametrize(
    "path", sorted(p for p in (CORE / "pipeline").glob("*.py") if p.name not in WIRING), ids=lambda p: p.name
)
def test_the_use_cases_reach_adapters_only_through_ports(path: Path) -> None:
    adapters = ("tradeengine.exchange.binance", "tradeengine.exchange.paper", "tradeengine.exchange.market_data")
    assert breaches(path, (*IO_LIBRARIES, *ADAPTERS, *adapters)) == []


@pytest.mark.parametrize(
    "path", sorted([*CORE.rglob("*.py"), *(ROOT / "contracts").glob("*.py")]), ids=lambda p: p.name
)
def test_the_library_never_imports_the_entry_points(path: Path) -> None:
    # `tradeengine local-exchange` is registered by local/cli.py, the console script: the layer ships no local/.
    assert breaches(path, ("functions", "local", "tests")) == []


# --- test doubles stay in tests/support ----------------------------------------------------------------------
PRODUCTION = sorted([*CORE.rglob("*.py"), *(ROOT / "functions").rglob("*.py")])
SUPPORT = ROOT / "tests" / "support"


def top_level_names(path: Path) -> set[str]:
    """The public functions and classes a module defines."""
    body = ast.parse(path.read_text(), str(path)).body
    return {n.name for n in body if isinstance(n, ast.FunctionDef | ast.ClassDef) and not n.name.startswith("_")}


def test_the_scans_see_a_double_and_its_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def create_table(ddb, name):\n    from tests.support.memory import MemoryQueue\n")
    assert breaches(sample, ("tests",)) == ["tests.support.memory"]
    assert top_level_names(sample) == {"create_table"}


@pytest.mark.parametrize("path", PRODUCTION, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_production_code_never_imports_a_test_double(path: Path) -> None:
    # The in-memory adapters, memory_deps and the table and queue creators are tests/support/; the Lambda
    # layer ships without tests/, so an import of them would fail on AWS, at a cold start or worse, later.
    assert breaches(path, ("tests", "tradeengine.pipeline.memory")) == []


@pytest.mark.parametrize("path", PRODUCTION, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_production_code_defines_no_test_double(path: Path) -> None:
    # Every in-memory adapter and memory_deps, and the table and queue makers; not every helper of tables.py,
    # whose plain names (signals, book, ...) a production module may well use for something else.
    makers = {n for n in top_level_names(SUPPORT / "tables.py") if n.startswith(("create_", "make_"))}
    doubles = top_level_names(SUPPORT / "memory.py") | makers
    assert {"memory_deps", "MemoryQueue", "create_table", "create_queues"} <= doubles  # the scan reads tests/support
    assert sorted(top_level_names(path) & doubles) == []


# --- observability is a leaf: logs and metrics close no import loop ------------------------------------------
def module_of(path: Path) -> str:
    parts = path.relative_to(CORE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Each tradeengine module -> the tradeengine modules it imports (``from pkg import mod`` names ``pkg.mod``)."""
    files = {module_of(p): p for p in CORE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.update(
                    f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in files else node.module for a in node.names
                )
        graph[name] = {m for m in found if m in files and m != name}
    return graph


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        if (name := todo.pop()) not in seen:
            seen.add(name)
            todo.extend(graph[name])
    return seen


@pytest.mark.parametrize("name", ["tradeengine.logs", "tradeengine.metrics"])
def test_the_observability_modules_are_in_no_import_cycle(name: str) -> None:
    # observability.py once imported the in-memory test adapter, which closed a loop through pipeline/deps.py
    # and api/prometheus.py. Lazy and TYPE_CHECKING imports count: a loop through them is one refactor away.
    graph = import_graph()
    assert "tradeengine.stores.counters" in reachable(graph, "tradeengine.pipeline.deps")  # it sees lazy imports
    assert name not in reachable(graph, name), [m for m in reachable(graph, name) if name in reachable(graph, m)]
