"""JWT bearer tokens: HS256 with JWT_SECRET_KEY, scopes in the ``scope`` claim (space separated, RFC 8693).

Plain PyJWT, no FastAPI: the ``tradeengine token`` command mints with it, the API verifies with it.
The algorithm is pinned to HS256 on both sides, so a token cannot choose its own (``none``, RS/HS
confusion). Verification requires a numeric ``exp`` no further than the lifetime bound
(JWT_MAX_LIFETIME_SECONDS) after ``iat`` (or after now, without ``iat``), a non-empty ``sub`` and this
engine's ``iss``; a future ``nbf``/``iat`` is "not yet valid". An optional ``strategies`` claim (a list of
strategy ids) limits what the token may act for (``tradeengine.api.auth.may_act_for``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

import jwt

ALGORITHM = "HS256"
ISSUER = "petrosa-tradeengine"
LEEWAY_S = 10  # tolerated clock difference between the minting machine and the API
MAX_TTL_S = 7 * 24 * 3600
MIN_SECRET_BYTES = 32  # RFC 7518 §3.2: an HS256 key at least as long as the hash output


class Scope(StrEnum):
    SIGNALS_WRITE = "signals:write"
    ORDERS_READ = "orders:read"
    ORDERS_WRITE = "orders:write"
    ACCOUNT_READ = "account:read"
    ADMIN = "admin"  # implies every other scope


SCOPES = tuple(s.value for s in Scope)


class TokenError(Exception):
    """A token the API must refuse (401). ``code`` is stable; the message never echoes the token."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    scopes: frozenset[str]
    strategies: frozenset[str] | None = None  # None: every strategy (no ``strategies`` claim)

    def allows(self, scope: Scope) -> bool:
        return Scope.ADMIN.value in self.scopes or scope.value in self.scopes

    @property
    def admin(self) -> bool:
        return Scope.ADMIN.value in self.scopes


def mint(
    secret: str,
    subject: str,
    scopes: list[str],
    ttl_s: int = 3600,
    now: float | None = None,
    strategies: list[str] | None = None,
) -> str:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(SCOPES)}")
    if not 0 < ttl_s <= MAX_TTL_S:
        raise ValueError(f"ttl must be between 1 and {MAX_TTL_S} seconds")
    if not subject.strip():
        raise ValueError("subject must not be empty")
    if strategies is not None and not all(isinstance(s, str) and s.strip() for s in strategies):
        raise ValueError("every strategy must be a non-empty name")
    issued = int(time.time() if now is None else now)
    claims = {
        "sub": subject,
        "scope": " ".join(dict.fromkeys(scopes)),
        "iat": issued,
        "exp": issued + ttl_s,
        "iss": ISSUER,
    }
    if strategies is not None:
        claims["strategies"] = list(dict.fromkeys(strategies))
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def verify(token: str, secret: str, max_lifetime_s: int = MAX_TTL_S, now: float | None = None) -> Principal:
    """The token's principal, or ``TokenError`` saying what is wrong with it (never echoing it)."""
    moment = time.time() if now is None else now
    try:
        # PyJWT takes "exp": "4102444800" (a string) as a number: look at the raw claims first.
        unverified = jwt.decode(token, options={"verify_signature": False})
        for claim in ("exp", "nbf", "iat"):
            if claim in unverified and not _number(unverified[claim]):
                raise TokenError("invalid_token", f"the bearer token's '{claim}' claim is not a number")
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            leeway=LEEWAY_S,
            issuer=ISSUER,
            options={"require": ["exp", "sub", "iss"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("token_expired", "the bearer token has expired; mint a new one") from exc
    except jwt.ImmatureSignatureError as exc:
        raise TokenError("token_not_yet_valid", "the bearer token is not yet valid (nbf or iat in the future)") from exc
    except jwt.InvalidSignatureError as exc:
        raise TokenError("invalid_token", "the bearer token's signature does not verify") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise TokenError("invalid_token", f"the bearer token has no '{exc.claim}' claim") from exc
    except jwt.InvalidIssuerError as exc:
        raise TokenError("invalid_token", f"the bearer token was not issued by {ISSUER}") from exc
    except jwt.InvalidTokenError as exc:
        raise TokenError("invalid_token", "the bearer token is not a valid HS256 JWT") from exc
    start = claims.get("iat", moment)
    if claims["exp"] - start > max_lifetime_s or claims["exp"] - moment > max_lifetime_s + LEEWAY_S:
        raise TokenError(
            "invalid_token", f"the bearer token lives longer than {max_lifetime_s} s (JWT_MAX_LIFETIME_SECONDS)"
        )
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject.strip():
        raise TokenError("invalid_token", "the bearer token's 'sub' claim is empty")
    return Principal(subject, _scopes(claims), _strategies(claims))


def _strategies(claims: dict[str, object]) -> frozenset[str] | None:
    if "strategies" not in claims:
        return None
    raw = claims["strategies"]
    if not isinstance(raw, list) or not all(isinstance(s, str) and s.strip() for s in raw):
        raise TokenError("invalid_token", "the bearer token's 'strategies' claim is not a list of strategy ids")
    return frozenset(raw)


def _scopes(claims: dict[str, object]) -> frozenset[str]:
    raw = claims.get("scope", claims.get("scopes", ""))
    if isinstance(raw, str):
        return frozenset(raw.split())
    if isinstance(raw, list):
        return frozenset(s for s in raw if isinstance(s, str))
    return frozenset()
