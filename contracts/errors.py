"""Validation errors as sentences that name the field and the rule."""

from __future__ import annotations

from pydantic import ValidationError


def describe(exc: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    """One entry per problem: ``field`` (dotted path), ``rule`` (pydantic's error type), ``message``."""
    out = []
    for err in exc.errors(include_url=False):
        path = ".".join(str(p) for p in err["loc"]) or "(body)"
        out.append({"field": f"{prefix}{path}", "rule": err["type"], "message": err["msg"]})
    return out


def sentence(exc: ValidationError, prefix: str = "") -> str:
    return "; ".join(f"{e['field']}: {e['message']} ({e['rule']})" for e in describe(exc, prefix))
