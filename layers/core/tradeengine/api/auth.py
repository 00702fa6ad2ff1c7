"""Bearer-token checks as FastAPI dependencies: ``Depends(require(Scope.ORDERS_READ))``.

401 (with ``WWW-Authenticate: Bearer``) when there is no usable token; 403 when the token is good but
lacks the scope (``admin`` implies every scope). A token with a ``strategies`` claim acts only for those
strategies: every route that touches a strategy's signals asks ``may_act_for`` (one rule, one place).
When JWT_SECRET_KEY is unset (allowed only in a local environment, see ``check_auth_config``) every
protected route answers 401: the API fails closed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tradeengine.api.errors import ApiError
from tradeengine.api.tokens import MIN_SECRET_BYTES, Principal, Scope, TokenError, verify
from tradeengine.config import Settings
from tradeengine.pipeline.quotas import MemoryWindows

log = logging.getLogger(__name__)

LOCAL_ENVIRONMENTS = frozenset({"local", "development", "dev", "test", "testing", "ci"})

_bearer = HTTPBearer(auto_error=False, description="HS256 JWT from `tradeengine token --scope ...`")
bearer_scheme = _bearer  # for routes that read a token without requiring one (/health)


class ConfigurationError(Exception):
    """The API must not start with this configuration."""


def check_auth_config(settings: Settings) -> str | None:
    """The JWT secret to verify with, or None (local only: every protected route then answers 401).

    Outside a local environment (ENVIRONMENT not one of LOCAL_ENVIRONMENTS) a missing or short secret
    stops the API at start: a Lambda whose init fails serves nothing, which is safer than serving
    trading routes nobody can authenticate to, or anybody can.
    """
    secret = settings.jwt_secret_key.get_secret_value() if settings.jwt_secret_key else None
    local = settings.environment.strip().lower() in LOCAL_ENVIRONMENTS
    if not secret:
        if not local:
            raise ConfigurationError(
                f"JWT_SECRET_KEY is not set and ENVIRONMENT={settings.environment!r} is not local; refusing to start"
            )
        log.warning("JWT_SECRET_KEY is not set: every protected route answers 401 (local environment)")
        return None
    if len(secret.encode()) < MIN_SECRET_BYTES:
        if not local:
            raise ConfigurationError(f"JWT_SECRET_KEY is shorter than {MIN_SECRET_BYTES} bytes; refusing to start")
        log.warning("JWT_SECRET_KEY is shorter than %d bytes: acceptable locally only", MIN_SECRET_BYTES)
    return secret


def _challenge(error: str | None = None, description: str | None = None, scope: str | None = None) -> dict[str, str]:
    parts = ['realm="tradeengine"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append(f'error_description="{description}"')
    if scope:
        parts.append(f'scope="{scope}"')
    return {"WWW-Authenticate": "Bearer " + ", ".join(parts)}


def principal_or_none(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal | None:
    """The token's principal when there is a valid one, else None (for routes that only say more to a caller)."""
    secret: str | None = request.app.state.jwt_secret
    if credentials is None or secret is None:
        return None
    try:
        return verify(credentials.credentials, secret, request.app.state.deps.settings.jwt_max_lifetime_seconds)
    except TokenError:
        return None


def principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    secret: str | None = request.app.state.jwt_secret
    if credentials is None:
        raise ApiError(401, "unauthenticated", "this route needs an 'Authorization: Bearer <token>' header",
                       headers=_challenge())  # fmt: skip
    if secret is None:
        raise ApiError(
            401,
            "auth_not_configured",
            "JWT_SECRET_KEY is not configured on this engine, so no token is accepted",
            headers=_challenge("invalid_token", "no verification key configured"),
        )
    try:
        who = verify(credentials.credentials, secret, request.app.state.deps.settings.jwt_max_lifetime_seconds)
    except TokenError as exc:
        log.info("refused a bearer token: %s", exc.code)
        raise ApiError(401, exc.code, exc.message, headers=_challenge("invalid_token", exc.message)) from exc
    _count_request(request, who)
    return who


def _count_request(request: Request, who: Principal) -> None:
    """429 past API_RATE_LIMIT_PER_MINUTE requests in this minute for the token's subject."""
    deps = request.app.state.deps
    limit = deps.settings.api_rate_limit_per_minute
    if not limit:
        return
    windows = deps.windows or getattr(request.app.state, "quota_windows", None)
    if windows is None:  # no shared store (tests, a bare app): count in this process
        windows = request.app.state.quota_windows = MemoryWindows()
    hit = windows.hit(f"token:{who.subject}")
    if hit.count > limit:
        raise ApiError(
            429,
            "rate_limited",
            f"this token sent more than {limit} requests this minute (API_RATE_LIMIT_PER_MINUTE); "
            f"retry after {hit.retry_after_s} s",
            headers={"Retry-After": str(hit.retry_after_s)},
            extra={"retry_after_s": hit.retry_after_s},
        )


def may_act_for(principal: Principal, strategy_id: str) -> bool:
    """Whether ``principal`` may post, read or close ``strategy_id``'s signals, orders and positions.

    ``admin`` and tokens without a ``strategies`` claim act for every strategy; any other token only for
    the strategies it names.
    """
    return principal.admin or principal.strategies is None or strategy_id in principal.strategies


def forbid_other_strategies(principal: Principal, strategy_id: object) -> None:
    """403 unless ``principal`` may act for ``strategy_id`` (anything a client sent: validation judges it later)."""
    if principal.admin or principal.strategies is None:
        return
    if isinstance(strategy_id, str) and may_act_for(principal, strategy_id.strip()):
        return
    named = ", ".join(sorted(principal.strategies or ()))
    raise ApiError(
        403,
        "strategy_not_allowed",
        f"this token acts only for the strategies {named}; the signal names another",
        [{"field": "strategy_id", "rule": "token_strategies", "message": f"allowed: {named}"}],
    )


def forbid_strategy_tokens(principal: Principal, what: str) -> None:
    """403 for a token limited to some strategies on a route that acts on the whole account."""
    if principal.admin or principal.strategies is None:
        return
    raise ApiError(
        403,
        "strategy_not_allowed",
        f"{what} acts on the whole account; a token limited to strategies ({', '.join(sorted(principal.strategies))})"
        " cannot use it",
    )


def require(scope: Scope) -> Callable[[Principal], Principal]:
    def check(who: Annotated[Principal, Depends(principal)]) -> Principal:
        if not who.allows(scope):
            raise ApiError(
                403,
                "insufficient_scope",
                f"this route needs the '{scope.value}' scope (or 'admin'); the token has: "
                f"{', '.join(sorted(who.scopes)) or 'none'}",
                headers=_challenge("insufficient_scope", None, scope.value),
            )
        return who

    return check
