"""Validation errors as sentences that name the field and the rule."""

from __future__ import annotations

from pydantic import ValidationError

MAX_FIELD_CHARS = 200  # a field path holds client keys (meta.<key>): bounded, so an error stays small


def _safe(text: str, limit: int) -> str:
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(exc: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    """One entry per problem: ``field`` (dotted path), ``rule`` (pydantic's error type), ``message``.

    A rule about several fields at once (``conflicting_fields``) names them all in ``field``.
    """
    out = []
    for err in exc.errors(include_url=False):
        ctx = err.get("ctx") or {}
        path = ".".join(str(p) for p in err["loc"]) or "(body)"
        for key in ("fields", "field"):  # a rule over several fields, or a path inside meta's open part
            if isinstance(ctx.get(key), str):
                path = ctx[key]
        field = _safe(", ".join(f"{prefix}{name}" for name in path.split(", ")), MAX_FIELD_CHARS)
        out.append({"field": field, "rule": err["type"], "message": _safe(err["msg"], 500)})
    return out


def sentence(exc: ValidationError, prefix: str = "") -> str:
    return "; ".join(f"{e['field']}: {e['message']} ({e['rule']})" for e in describe(exc, prefix))
