"""Security scanning in make test: bandit on the code (fails on any unreviewed finding) and pip-audit on the
dependencies (skips, saying why, when its vulnerability database cannot be reached: this machine is offline)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.infra.test_workflows import ROOT, tool
from tools.audit import judge_bandit, judge_pip_audit, main, reviewed

BANDIT_CONFIG = ROOT / "bandit.yaml"


def security_paths() -> list[str]:
    """The paths `make security` scans, read from mk/release.mk so the two cannot drift apart."""
    match = re.search(r"^SECURITY_PATHS := (.+)$", (ROOT / "mk" / "release.mk").read_text(), flags=re.MULTILINE)
    assert match, "SECURITY_PATHS is gone from mk/release.mk"
    return match.group(1).split()


def bandit_report(*paths: str, cwd: Path = ROOT) -> str:
    result = subprocess.run(
        [tool("bandit"), "-c", str(BANDIT_CONFIG), "-r", *paths, "-q", "-f", "json"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.stdout.strip(), result.stderr
    return result.stdout


def read_line_under(root: Path):
    def read_line(path: str, number: int) -> str:
        return (root / path).read_text().splitlines()[number - 1]

    return read_line


def test_bandit_finds_nothing_unreviewed_in_the_code() -> None:
    paths = [p for p in security_paths() if (ROOT / p).exists()]
    assert {"contracts", "layers", "tools"} <= set(paths)
    verdict = judge_bandit(bandit_report(*paths), read_line_under(ROOT))
    assert verdict.outcome == "pass", verdict.message


def test_bandit_fails_on_real_findings_with_our_config(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text(
        "import subprocess\n"
        "import yaml\n\n"
        "def run(cmd, text):\n"
        "    subprocess.call(cmd, shell=True)\n"
        "    return yaml.load(text)  # noqa: S506\n"  # a noqa without a reason is not a review
    )
    verdict = judge_bandit(bandit_report("bad.py", cwd=tmp_path), read_line_under(tmp_path))
    assert verdict.outcome == "fail"
    assert "bad.py:5: B602" in verdict.message
    assert "bad.py:6: B506" in verdict.message


def test_a_reviewed_noqa_needs_the_same_rule_and_a_reason() -> None:
    assert reviewed("x = random.Random(7)  # noqa: S311 (a repeatable simulation)", "B311")
    assert reviewed("urlopen(url)  # noqa: E501, S310 (scheme checked above)", "B310")
    assert not reviewed("x = random.Random(7)  # noqa: S311", "B311")  # no reason
    assert not reviewed("x = random.Random(7)  # noqa: S310 (wrong rule)", "B311")
    assert not reviewed("x = random.Random(7)", "B311")


def test_every_bandit_skip_says_why() -> None:
    lines = BANDIT_CONFIG.read_text().splitlines()
    skips = [i for i, line in enumerate(lines) if re.match(r"\s+- B\d{3}\s*$", line)]
    assert skips, "bandit.yaml skips nothing: then drop the skips section"
    for i in skips:
        rule = lines[i].strip().removeprefix("- ")
        above = []
        for line in reversed(lines[:i]):
            if not line.strip().startswith("#"):
                break
            above.append(line)
        assert any(line.strip().startswith(f"# {rule} ") for line in above), f"no reason above the {rule} skip"
        assert len(" ".join(above)) > 60, f"the reason for skipping {rule} is too thin to review"


def test_dependency_audit() -> None:
    """On CI (online) this audits every locked dependency; offline it skips and says so."""
    result = subprocess.run(
        [tool("pip-audit"), "--skip-editable", "--progress-spinner", "off", "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    verdict = judge_pip_audit(result.stdout)
    if verdict.outcome == "skip":
        pytest.skip(verdict.message)
    assert verdict.outcome == "pass", verdict.message


def dep(name: str, version: str = "1.0", vulns: list[dict] | None = None, skipped: bool = False) -> dict:
    if skipped:
        return {"name": name, "skip_reason": f"Dependency not found on PyPI and could not be audited: {name}"}
    return {"name": name, "version": version, "vulns": vulns or []}


@pytest.mark.parametrize(
    ("deps", "outcome", "says"),
    [
        ([dep("a", skipped=True), dep("b", skipped=True)], "skip", "none of 2 dependencies could be looked up"),
        ([dep("a"), dep("b")], "pass", "no known vulnerabilities in 2 dependencies"),
        ([dep("a"), dep("b", skipped=True)], "pass", "(1 could not be looked up)"),
        (
            [dep("urllib3", "1.26.0", [{"id": "GHSA-xxxx", "fix_versions": ["1.26.5"]}])],
            "fail",
            "urllib3 1.26.0: GHSA-xxxx (fixed in 1.26.5)",
        ),
    ],
)
def test_pip_audit_verdict_tells_nothing_audited_from_nothing_found(deps, outcome, says) -> None:
    verdict = judge_pip_audit(json.dumps({"dependencies": deps, "fixes": []}))
    assert verdict.outcome == outcome
    assert says in verdict.message


def test_no_pip_audit_report_is_a_skip_with_a_reason_and_exit_zero(tmp_path: Path, capsys) -> None:
    assert main(["pip-audit", str(tmp_path / "missing.json")]) == 0
    assert "SKIPPED: pip-audit could not reach its vulnerability database" in capsys.readouterr().out


def test_vulnerabilities_make_the_audit_exit_non_zero(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"dependencies": [dep("a", vulns=[{"id": "PYSEC-1", "fix_versions": []}])]}))
    assert main(["pip-audit", str(report)]) == 1
