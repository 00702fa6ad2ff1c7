"""The README and docs/*.md name only things that exist: every file or folder they cite, every `make` target,
every `python -m` module and every test name. Read from the tree at test time, so a file added by another
change counts as soon as it is there; targets are read from the Makefile and mk/*.mk."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
# Where a cited path may start: the repository, the docs folder, the library (`pipeline/ports.py`, `rules.py`).
BASES = (ROOT, ROOT / "docs", ROOT / "layers" / "core", ROOT / "layers" / "core" / "tradeengine")
TOP = ("docs", "tests", "layers", "functions", "local", "infra", "contracts", "tools", "mk", ".github")
EXTENSIONS = (".py", ".md", ".mk", ".yaml", ".yml", ".toml", ".txt", ".cfg")
MADE_AT_RUN_TIME = (".local-stack", ".venv", ".aws-sam", "build/", "node_modules")

FENCE = re.compile(r"^```.*?^```", re.S | re.M)
SPAN = re.compile(r"`([^`\n]+)`")
EXTERNAL = re.compile(r"\[[^\]]*\]\(https?://[^)]*\)")  # a link out: its text names something elsewhere
LINK = re.compile(r"\]\(([^)\s]+)\)")
_TOP = "|".join(re.escape(t) for t in TOP)
ROOTED = re.compile(r"(?<![\w/.\-$])((?:" + _TOP + r")/[\w./*\-]*[\w*/])(?![\w./*\-$<{])")  # not a templated one
MAKE = re.compile(r"(?<![\w-])make ([a-z][a-z0-9_-]*)")
MODULE = re.compile(r"python -m ([a-z_][\w.]*)")
TEST_NAME = re.compile(r"(?<![\w/])(test_\w+)(?![\w.*/])")
TARGET = re.compile(r"^([A-Za-z0-9_.-]+(?:[ \t]+[A-Za-z0-9_.-]+)*)[ \t]*:(?!=)", re.M)


def code_of(text: str) -> list[str]:
    """Fenced blocks and inline spans: where commands, paths and names are written."""
    blocks = FENCE.findall(text)
    rest = FENCE.sub("", text)
    return blocks + SPAN.findall(rest)


def path_candidates(text: str) -> set[str]:
    text = EXTERNAL.sub("", text)
    found = set(ROOTED.findall(text))
    for span in SPAN.findall(FENCE.sub("", text)):
        token = span.strip()
        if not re.fullmatch(r"[\w./*\-]+", token) or token.startswith(("/", "-")):
            continue
        # A file by its extension, or a folder path whose first part is one of ours (not `Petrosa/TradeEngine`).
        if token.endswith(EXTENSIONS) or ("/" in token and any((b / token.split("/")[0]).exists() for b in BASES)):
            found.add(token)
    for target in LINK.findall(text):
        if not target.startswith(("http://", "https://", "#", "mailto:")):
            found.add(target.split("#", 1)[0])
    return {f.rstrip(".,;:") for f in found if f and not f.startswith(MADE_AT_RUN_TIME)}


def exists(path: str, md: Path) -> bool:
    bases = (md.parent, *BASES)
    if any(ch in path for ch in "*?["):
        return any(any(base.glob(path)) for base in bases)
    if any((base / path).exists() for base in bases):
        return True
    return "/" not in path and any(ROOT.rglob(path))  # a bare file name: anywhere in the tree (`ci.yml`)


def make_targets() -> set[str]:
    targets: set[str] = set()
    for makefile in [ROOT / "Makefile", *(ROOT / "mk").glob("*.mk")]:
        for line in TARGET.findall(makefile.read_text()):
            targets.update(line.split())
    return targets


def all_test_names() -> set[str]:
    names = {p.stem for p in (ROOT / "tests").rglob("test_*.py")}
    for path in (ROOT / "tests").rglob("*.py"):
        names.update(re.findall(r"^\s*(?:async\s+)?def (test_\w+)", path.read_text(), re.M))
    return names


def module_exists(module: str) -> bool:
    path = ROOT.joinpath(*module.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists() or (path / "__main__.py").exists()


def problems(md: Path, text: str) -> list[str]:
    out = [f"{md.name}: no such file or folder: {p}" for p in sorted(path_candidates(text)) if not exists(p, md)]
    code = "\n".join(code_of(text))
    targets = make_targets()
    out += [f"{md.name}: no make target: make {t}" for t in sorted(set(MAKE.findall(code))) if t not in targets]
    out += [f"{md.name}: no module: python -m {m}" for m in sorted(set(MODULE.findall(code))) if not module_exists(m)]
    names = all_test_names()
    out += [f"{md.name}: no test named {n}" for n in sorted(set(TEST_NAME.findall(code))) if n not in names]
    return out


def test_the_check_finds_what_is_missing(tmp_path: Path) -> None:
    md = tmp_path / "SAMPLE.md"
    text = (
        "See `tests/unit/test_docs.py`, [the design](docs/DESIGN.md), `make test` and `make bench-e2e`.\n"
        "Missing: tests/unit/test_nowhere.py, `docs/NOWHERE.md`, `make no-such-target`,\n"
        "`python -m tests.no_such_module`, `test_no_such_test_anywhere`.\n"
    )
    assert problems(md, text) == [
        "SAMPLE.md: no such file or folder: docs/NOWHERE.md",
        "SAMPLE.md: no such file or folder: tests/unit/test_nowhere.py",
        "SAMPLE.md: no make target: make no-such-target",
        "SAMPLE.md: no module: python -m tests.no_such_module",
        "SAMPLE.md: no test named test_no_such_test_anywhere",
    ]


@pytest.mark.parametrize("md", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_path_target_module_and_test_a_doc_cites_exists(md: Path) -> None:
    assert problems(md, md.read_text()) == []


def test_no_doc_points_outside_the_repository() -> None:
    for md in DOCS:
        text = md.read_text()
        assert "../shared" not in text and "shared/data" not in text, md.name
        assert not re.search(r"DESIGN\.md §|\bissue \d+", text), md.name
