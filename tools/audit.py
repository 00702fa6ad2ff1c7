"""Verdicts on security scanner reports, for `make security` and tests/infra/test_security.py.

pip-audit: it prints "No known vulnerabilities found" and exits 0 even when its vulnerability database
answered nothing (offline, or an index without the per-version JSON API): every dependency is then only
"skipped". A green check over zero audited packages would be a lie, so that is a SKIP with the reason;
so is a missing or unreadable report (pip-audit could not connect at all).

bandit: the project reviews flake8-bandit findings with ruff (`make lint`), where an accepted one carries
`# noqa: S311 (why)` on its line. Bandit's rule Bnnn is ruff's Snnn, and bandit does not read noqa, so
a finding whose line already carries that reviewed noqa, with a reason, is not reported twice.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Verdict:
    outcome: str  # "pass" | "fail" | "skip"
    message: str

    @property
    def exit_code(self) -> int:
        return 1 if self.outcome == "fail" else 0


def judge_pip_audit(report: str) -> Verdict:
    try:
        deps = json.loads(report)["dependencies"]
    except (json.JSONDecodeError, KeyError, TypeError):
        return Verdict("skip", "SKIPPED: pip-audit could not reach its vulnerability database (no report)")
    audited = [d for d in deps if "skip_reason" not in d]
    if deps and not audited:
        return Verdict(
            "skip",
            f"SKIPPED: pip-audit's vulnerability database could not be reached: none of {len(deps)} "
            "dependencies could be looked up (offline, or the index has no vulnerability data)",
        )
    found = [
        f"{d['name']} {d['version']}: {v['id']} (fixed in {', '.join(v.get('fix_versions') or ['-'])})"
        for d in audited
        for v in d.get("vulns", [])
    ]
    if found:
        return Verdict("fail", "known vulnerabilities:\n  " + "\n  ".join(found))
    unaudited = len(deps) - len(audited)
    note = f" ({unaudited} could not be looked up)" if unaudited else ""
    return Verdict("pass", f"pip-audit: no known vulnerabilities in {len(audited)} dependencies{note}")


def reviewed(line: str, test_id: str) -> bool:
    """True if the line carries ruff's noqa for the same rule (B311 -> S311) followed by a reason."""
    rule = "S" + test_id.removeprefix("B")
    match = re.search(r"#\s*noqa:\s*([A-Z0-9, ]+)\(\s*\S", line)
    return bool(match) and rule in re.split(r"[,\s]+", match.group(1) if match else "")


def judge_bandit(report: str, read_line: Callable[[str, int], str]) -> Verdict:
    try:
        doc = json.loads(report)
        results, errors = doc["results"], doc["errors"]
    except (json.JSONDecodeError, KeyError, TypeError):
        return Verdict("fail", "bandit produced no report")
    if errors:
        return Verdict("fail", f"bandit could not scan: {errors}")
    open_findings = [
        f"{r['filename'].removeprefix('./')}:{r['line_number']}: {r['test_id']} "
        f"[{r['issue_severity']}/{r['issue_confidence']}] {r['issue_text']}"
        for r in results
        if not reviewed(read_line(r["filename"], r["line_number"]), r["test_id"])
    ]
    if open_findings:
        return Verdict("fail", "bandit findings:\n  " + "\n  ".join(open_findings))
    return Verdict("pass", f"bandit: no findings ({len(results)} reviewed with a noqa and a reason)")


def _read_line(path: str, number: int) -> str:
    lines = Path(path).read_text().splitlines()
    return lines[number - 1] if 0 < number <= len(lines) else ""


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] not in ("pip-audit", "bandit"):
        print("usage: python -m tools.audit {pip-audit|bandit} REPORT.json", file=sys.stderr)
        return 2
    path = Path(args[1])
    report = path.read_text() if path.exists() else ""
    verdict = judge_pip_audit(report) if args[0] == "pip-audit" else judge_bandit(report, _read_line)
    print(verdict.message, file=sys.stderr if verdict.outcome == "fail" else sys.stdout)
    return verdict.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
