"""Verdict on a `pip-audit --format json` report, telling "no vulnerabilities" apart from "nothing was audited".

pip-audit prints "No known vulnerabilities found" and exits 0 even when its vulnerability database
answered nothing (offline, or a registry mirror without the per-version JSON API): every dependency is
then only "skipped". A green check over zero audited packages would be a lie, so that case is a SKIP
with the reason, and a report that is missing or unreadable (pip-audit could not connect at all) too.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Verdict:
    outcome: str  # "pass" | "fail" | "skip"
    message: str

    @property
    def exit_code(self) -> int:
        return 1 if self.outcome == "fail" else 0


def judge(report: str) -> Verdict:
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


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m tools.audit REPORT.json", file=sys.stderr)
        return 2
    path = Path(args[0])
    verdict = judge(path.read_text() if path.exists() else "")
    print(verdict.message, file=sys.stderr if verdict.outcome == "fail" else sys.stdout)
    return verdict.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
