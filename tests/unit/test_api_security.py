"""Who may call what: 401 without a usable token, 403 without the scope, secrets never echoed.

Every trading and account route is in ROUTES; the matrix below checks each against each way a token
can be wrong, so a new route without a guard fails here.
"""

from __future__ import annotations

import logging
from typing import Any

import jwt
import pytest
from tradeengine.api.app import create_app
from tradeengine.api.auth import ConfigurationError
from tradeengine.api.tokens import SCOPES, mint, verify
from tradeengine.cli import main
from tradeengine.exchange.base import ExchangeError

from tests.conftest import signal_dict
from tests.unit.api_support import SECRET, SECRETS, bearer, client, expired, memory_deps

# (method, path, json body, the scope that is enough)
ROUTES: list[tuple[str, str, Any, str]] = [
    ("POST", "/trade/signal", signal_dict(), "signals:write"),
    ("GET", "/signals/some-signal", None, "orders:read"),
    ("GET", "/account", None, "account:read"),
    ("GET", "/price/BTCUSDT", None, "orders:read"),
    ("GET", "/order/BTCUSDT/1", None, "orders:read"),
    ("DELETE", "/order/BTCUSDT/1", None, "orders:write"),
    ("GET", "/trading/state", None, "orders:read"),
    ("PUT", "/trading/state", {"state": "HALTED", "reason": "drill"}, "admin"),
]
IDS = [f"{m} {p}" for m, p, _, _ in ROUTES]


def call(c: Any, method: str, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
    return c.request(method, path, json=body, headers=headers or {})


def forged() -> dict[str, str]:
    return bearer("admin", secret="not-the-engines-secret-0123456789abcdef")


def unsigned() -> dict[str, str]:
    token = jwt.encode({"sub": "mallory", "scope": "admin", "exp": 4_102_444_800}, key=None, algorithm="none")
    return {"Authorization": f"Bearer {token}"}


BAD_TOKENS = {
    "no token": lambda: {},
    "bad signature": forged,
    "expired": lambda: expired("admin"),
    "alg none": unsigned,
    "not a jwt": lambda: {"Authorization": "Bearer hello"},
    "basic auth": lambda: {"Authorization": "Basic dXNlcjpwYXNz"},
    "no exp": lambda: {"Authorization": "Bearer " + jwt.encode({"sub": "x", "scope": "admin"}, SECRET, "HS256")},
}


@pytest.mark.parametrize("bad", sorted(BAD_TOKENS))
@pytest.mark.parametrize(("method", "path", "body", "scope"), ROUTES, ids=IDS)
def test_every_protected_route_answers_401_with_a_bearer_challenge(method: str, path: str, body: Any, scope: str,
                                                                   bad: str) -> None:  # fmt: skip
    c, deps = client()
    response = call(c, method, path, body, BAD_TOKENS[bad]())
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["error"]["code"] in {"unauthenticated", "invalid_token", "token_expired"}
    assert deps.signals.messages == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(("method", "path", "body", "scope"), ROUTES, ids=IDS)
def test_every_protected_route_answers_403_to_every_other_scope(method: str, path: str, body: Any, scope: str) -> None:
    c, deps = client()
    for other in SCOPES:
        if other in (scope, "admin"):
            continue
        response = call(c, method, path, body, bearer(other))
        assert response.status_code == 403, (other, response.text)
        error = response.json()["error"]
        assert error["code"] == "insufficient_scope" and scope in error["message"]
    assert deps.signals.messages == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(("method", "path", "body", "scope"), ROUTES, ids=IDS)
def test_the_right_scope_and_admin_both_get_past_auth(method: str, path: str, body: Any, scope: str) -> None:
    for granted in {scope, "admin"}:
        c, _ = client()
        response = call(c, method, path, body, bearer(granted))
        assert response.status_code not in (401, 403), (granted, response.text)


def test_an_expired_token_says_so() -> None:
    c, _ = client()
    error = c.get("/account", headers=expired("account:read")).json()["error"]
    assert error["code"] == "token_expired"


def test_health_metrics_ready_and_live_need_no_token() -> None:
    c, _ = client()
    for path in ("/health", "/metrics", "/ready", "/live", "/openapi.json"):
        assert c.get(path).status_code == 200, path


class LeakyExchange:
    """A venue whose errors quote the credentials back (as a careless client library might)."""

    name = "leaky"

    def _fail(self, *_: Any, **__: Any) -> Any:
        raise ExchangeError(-1022, f"Signature for apiKey={SECRETS[1]} secret={SECRETS[2]} is not valid.", 400)

    ticker_price = balances = get_order = cancel_order = _fail


def every_response(c: Any) -> list[Any]:
    responses = []
    for method, path, body, _ in ROUTES:
        for headers in (bearer("admin"), {}, forged(), expired("admin"), bearer("signals:write")):
            responses.append(call(c, method, path, body, headers))
    for path in ("/health", "/metrics", "/ready", "/live", "/openapi.json", "/docs", "/missing"):
        responses.append(c.get(path))
    bad_bodies = [b"{", b"[]", b'{"signal_id": "' + SECRET.encode() + b'"}', b"x" * 70_000]
    for content in bad_bodies:
        headers = {**bearer("admin"), "content-type": "application/json"}
        responses.append(c.post("/trade/signal", content=content, headers=headers))
    responses.append(c.post("/trade/signal", json=signal_dict(strategy_id=SECRET), headers=bearer("admin")))
    return responses


def test_secrets_never_appear_in_any_response_body_or_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    leaky = memory_deps()
    leaky.exchange = LeakyExchange()  # type: ignore[assignment]
    for deps in (memory_deps(), leaky):
        c, _ = client(deps)
        for response in every_response(c):
            text = response.text + " ".join(f"{k}: {v}" for k, v in response.headers.items())
            for secret in SECRETS:
                assert secret not in text, (response.request.method, response.request.url, response.status_code)
    leaked = c.get("/account", headers=bearer("admin")).json()["error"]
    assert leaked["code"] == "exchange_error" and "[redacted]" in leaked["details"][0]["message"]
    logged = caplog.text
    for secret in SECRETS:
        assert secret not in logged


def test_without_a_jwt_key_the_api_refuses_to_start_outside_a_local_environment() -> None:
    for environment in ("production", "staging", "prod"):
        deps = memory_deps(environment=environment, jwt_secret_key=None)
        with pytest.raises(ConfigurationError, match="JWT_SECRET_KEY"):
            create_app(lambda deps=deps: deps)  # type: ignore[misc]
    short = memory_deps(environment="production", jwt_secret_key="short-secret")
    with pytest.raises(ConfigurationError, match="shorter"):
        create_app(lambda: short)


def test_without_a_jwt_key_a_local_api_starts_but_accepts_no_token() -> None:
    c, deps = client(memory_deps(environment="development", jwt_secret_key=None))
    response = c.post("/trade/signal", json=signal_dict(), headers=bearer("admin"))
    assert response.status_code == 401 and response.json()["error"]["code"] == "auth_not_configured"
    assert set(c.get("/health", headers=bearer("admin")).json()) == {"status", "mode", "version"}  # no token is valid
    assert deps.signals.messages == []  # type: ignore[attr-defined]


# ---- tradeengine token --------------------------------------------------------------------------------


def test_the_token_command_mints_a_token_the_api_accepts(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    from tradeengine.config import get_settings

    monkeypatch.setenv("JWT_SECRET_KEY", SECRET)
    get_settings.cache_clear()
    try:
        argv = ["token", "--scope", "signals:write", "--scope", "orders:read", "--ttl", "120", "--subject", "bot-7"]
        assert main(argv) == 0
    finally:
        get_settings.cache_clear()
    token = capsys.readouterr().out.strip()
    who = verify(token, SECRET)
    assert who.subject == "bot-7" and who.scopes == {"signals:write", "orders:read"}
    c, _ = client()
    assert c.post("/trade/signal", json=signal_dict(), headers={"Authorization": f"Bearer {token}"}).status_code == 202
    assert c.get("/account", headers={"Authorization": f"Bearer {token}"}).status_code == 403


@pytest.mark.parametrize(
    ("env", "argv", "message"),
    [
        ({}, ["token", "--scope", "admin"], "JWT_SECRET_KEY is not set"),
        ({"JWT_SECRET_KEY": SECRET}, ["token", "--scope", "root"], "unknown scope"),
        ({"JWT_SECRET_KEY": SECRET}, ["token", "--scope", "admin", "--ttl", "0"], "ttl"),
    ],
)
def test_the_token_command_refuses_what_the_api_would_not_accept(
    env: dict[str, str], argv: list[str], message: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from tradeengine.config import get_settings

    monkeypatch.delenv("JWT_SECRET_KEY", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        assert main(argv) == 2
    finally:
        get_settings.cache_clear()
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""


def test_minted_tokens_carry_expiry_and_unknown_scopes_are_refused() -> None:
    token = mint(SECRET, "someone", ["orders:read"], ttl_s=60, now=1_000_000)
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert claims["exp"] - claims["iat"] == 60 and claims["scope"] == "orders:read"
    with pytest.raises(ValueError, match="unknown scope"):
        mint(SECRET, "someone", ["everything"])
