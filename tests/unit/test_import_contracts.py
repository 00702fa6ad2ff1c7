"""The import contracts of pyproject.toml ([tool.importlinter]: the layering rule of docs/DESIGN.md), run by
`make test` as `make lint` runs them: the tree keeps every contract, and a copy of the tree with one
forbidden import in it breaks the contract that forbids it (so a green run means something)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

# (file, line added at its end, the contract that must then break)
BREACHES = [
    ("layers/core/tradeengine/sizing.py", "import boto3", "pure-no-io"),
    ("contracts/signal.py", "from pymongo import MongoClient", "pure-no-io"),
    ("layers/core/tradeengine/rules.py", "from tradeengine.stores import aws", "pure-no-adapters"),
    ("contracts/orders.py", "from tradeengine import rules", "contracts-alone"),
    ("layers/core/tradeengine/pipeline/monitor.py", "from tradeengine.pipeline.execute import ExecOutcome", "stages"),
    ("layers/core/tradeengine/pipeline/size.py", "from tradeengine.pipeline.ingest import ingest", "stages"),
]


def contract_names() -> dict[str, str]:
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {c["id"]: c["name"] for c in config["contracts"]}


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports over the packages under ``root`` (its own copy first on the path), with its pyproject.toml."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(root / "layers" / "core")])}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def copy_of_the_tree(to: Path) -> Path:
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "contracts", to / "contracts", ignore=skip)
    shutil.copytree(ROOT / "layers" / "core" / "tradeengine", to / "layers" / "core" / "tradeengine", ignore=skip)
    shutil.copy(ROOT / "pyproject.toml", to / "pyproject.toml")
    return to


def test_the_tree_keeps_every_import_contract() -> None:
    result = lint(ROOT)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    kept = re.search(r"Contracts: (\d+) kept, 0 broken", out)
    assert kept is not None and int(kept.group(1)) == len(contract_names()), out


@pytest.mark.parametrize(("path", "line", "contract"), BREACHES, ids=[f"{b[2]}:{Path(b[0]).name}" for b in BREACHES])
def test_one_forbidden_import_breaks_its_contract(tmp_path: Path, path: str, line: str, contract: str) -> None:
    tree = copy_of_the_tree(tmp_path)
    target = tree / path
    target.write_text(target.read_text() + f"\n{line}  # the breach this test plants\n")
    result = lint(tree)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert f"{contract_names()[contract]} BROKEN" in out, out
