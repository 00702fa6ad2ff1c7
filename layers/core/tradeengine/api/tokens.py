"""JWT bearer tokens: HS256 with JWT_SECRET_KEY, scopes in the ``scope`` claim (space separated, RFC 8693).

Plain PyJWT, no FastAPI: the ``tradeengine token`` command mints with it, the API verifies with it.
The algorithm is pinned to HS256 on both sides, so a token cannot choose its own (``none``, RS/HS
confusion); ``exp`` and ``sub`` are required, so no token lives forever.
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

    def allows(self, scope: Scope) -> bool:
        return Scope.ADMIN.value in self.scopes or scope.value in self.scopes


def mint(secret: str, subject: str, scopes: list[str], ttl_s: int = 3600, now: float | None = None) -> str:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(SCOPES)}")
    if not 0 < ttl_s <= MAX_TTL_S:
        raise ValueError(f"ttl must be between 1 and {MAX_TTL_S} seconds")
    if not subject:
        raise ValueError("subject must not be empty")
    issued = int(time.time() if now is None else now)
    claims = {
        "sub": subject,
        "scope": " ".join(dict.fromkeys(scopes)),
        "iat": issued,
        "exp": issued + ttl_s,
        "iss": ISSUER,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify(token: str, secret: str) -> Principal:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            leeway=LEEWAY_S,
            options={"require": ["exp", "sub"], "verify_iss": False},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("token_expired", "the bearer token has expired; mint a new one") from exc
    except jwt.InvalidSignatureError as exc:
        raise TokenError("invalid_token", "the bearer token's signature does not verify") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise TokenError("invalid_token", f"the bearer token has no '{exc.claim}' claim") from exc
    except jwt.InvalidTokenError as exc:
        raise TokenError("invalid_token", "the bearer token is not a valid HS256 JWT") from exc
    return Principal(str(claims["sub"]), _scopes(claims))


def _scopes(claims: dict[str, object]) -> frozenset[str]:
    raw = claims.get("scope", claims.get("scopes", ""))
    if isinstance(raw, str):
        return frozenset(raw.split())
    if isinstance(raw, list):
        return frozenset(s for s in raw if isinstance(s, str))
    return frozenset()
