"""What a bearer token may be and do: a bounded lifetime, numeric times, this engine's issuer, a subject;
and, with a ``strategies`` claim, only those strategies' signals (``may_act_for``)."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from tradeengine.api.auth import may_act_for
from tradeengine.api.tokens import ISSUER, Principal, TokenError, mint, verify
from tradeengine.cli import main

from tests.conftest import signal_dict
from tests.unit.api_support import SECRET, bearer, client, memory_deps


def raw_token(**claims: Any) -> dict[str, str]:
    now = int(time.time())
    body = {"sub": "bot", "scope": "admin", "iat": now, "exp": now + 300, "iss": ISSUER, **claims}
    return {"Authorization": "Bearer " + jwt.encode({k: v for k, v in body.items() if v is not None}, SECRET, "HS256")}


@pytest.mark.parametrize(
    ("claims", "code", "words"),
    [
        ({"exp": 4_102_444_800}, "invalid_token", "lives longer"),  # the year 2100
        ({"iat": None, "exp": int(time.time()) + 30 * 86400}, "invalid_token", "lives longer"),
        ({"exp": "4102444800"}, "invalid_token", "'exp' claim is not a number"),
        ({"exp": True}, "invalid_token", "'exp' claim is not a number"),
        ({"iss": "someone-else"}, "invalid_token", "not issued by"),
        ({"iss": None}, "invalid_token", "no 'iss' claim"),
        ({"sub": ""}, "invalid_token", "'sub' claim is empty"),
        ({"sub": "   "}, "invalid_token", "'sub' claim is empty"),
        ({"nbf": int(time.time()) + 3600}, "token_not_yet_valid", "not yet valid"),
        ({"iat": int(time.time()) + 3600, "exp": int(time.time()) + 3900}, "token_not_yet_valid", "not yet valid"),
        ({"strategies": "alpha"}, "invalid_token", "'strategies' claim"),
        ({"strategies": ["alpha", ""]}, "invalid_token", "'strategies' claim"),
    ],
)
def test_tokens_the_api_refuses_and_why(claims: dict[str, Any], code: str, words: str) -> None:
    c, _ = client()
    response = c.get("/trading/state", headers=raw_token(**claims))
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["code"] == code and words in error["message"], error


def test_the_lifetime_bound_is_a_setting() -> None:
    c, _ = client(memory_deps(jwt_max_lifetime_seconds=600))
    assert c.get("/trading/state", headers=bearer("orders:read", ttl=600)).status_code == 200
    assert c.get("/trading/state", headers=bearer("orders:read", ttl=601)).status_code == 401
    with pytest.raises(TokenError, match="lives longer"):
        verify(mint(SECRET, "bot", ["admin"], 3600), SECRET, max_lifetime_s=60)


def test_a_well_formed_token_still_passes() -> None:
    c, _ = client()
    assert c.get("/trading/state", headers=raw_token()).status_code == 200


# ---- ownership -----------------------------------------------------------------------------------------


def test_may_act_for_is_the_one_rule() -> None:
    everyone = Principal("a", frozenset({"signals:write"}))
    limited = Principal("b", frozenset({"signals:write"}), frozenset({"alpha"}))
    admin = Principal("c", frozenset({"admin"}), frozenset({"alpha"}))
    assert may_act_for(everyone, "beta") and may_act_for(limited, "alpha") and may_act_for(admin, "beta")
    assert not may_act_for(limited, "beta")


def limited(*strategies: str, scopes: tuple[str, ...] = ("signals:write", "orders:read", "orders:write",
                                                          "account:read")) -> dict[str, str]:  # fmt: skip
    return {"Authorization": "Bearer " + mint(SECRET, "bot", list(scopes), 300, strategies=list(strategies))}


def test_a_token_for_some_strategies_posts_only_for_them() -> None:
    c, deps = client()
    assert c.post("/trade/signal", json=signal_dict(strategy_id="alpha"), headers=limited("alpha")).status_code == 202
    response = c.post("/trade/signal", json=signal_dict(strategy_id="beta", signal_id="b-1"), headers=limited("alpha"))
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "strategy_not_allowed" and error["details"][0]["field"] == "strategy_id"
    assert len(deps.signals.messages) == 1 and deps.store.get("b-1") is None  # type: ignore[attr-defined]


def test_a_token_for_some_strategies_reads_only_theirs_and_others_look_absent() -> None:
    c, _ = client()
    c.post("/trade/signal", json=signal_dict(strategy_id="alpha", signal_id="a-1"), headers=bearer("admin"))
    c.post("/trade/signal", json=signal_dict(strategy_id="beta", signal_id="b-2"), headers=bearer("admin"))
    assert c.get("/signals/a-1", headers=limited("alpha")).status_code == 200
    other = c.get("/signals/b-2", headers=limited("alpha"))
    missing = c.get("/signals/nobody", headers=limited("alpha"))
    assert other.status_code == missing.status_code == 404
    assert other.json()["error"]["code"] == missing.json()["error"]["code"] == "signal_not_found"
    assert c.get("/signals/b-2", headers=bearer("orders:read")).status_code == 200  # no claim: every strategy
    assert c.get("/signals/b-2", headers=limited("alpha", scopes=("admin",))).status_code == 200  # admin sees all


@pytest.mark.parametrize(("method", "path"), [("GET", "/account"), ("GET", "/order/BTCUSDT/1"),
                                              ("DELETE", "/order/BTCUSDT/1")])  # fmt: skip
def test_account_wide_routes_are_closed_to_a_token_limited_to_strategies(method: str, path: str) -> None:
    c, _ = client()
    response = c.request(method, path, headers=limited("alpha"))
    assert response.status_code == 403 and response.json()["error"]["code"] == "strategy_not_allowed"


def test_the_token_command_mints_a_token_for_strategies(monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    from tradeengine.config import get_settings

    monkeypatch.setenv("JWT_SECRET_KEY", SECRET)
    get_settings.cache_clear()
    try:
        assert main(["token", "--scope", "signals:write", "--strategy", "alpha", "--strategy", "gamma"]) == 0
    finally:
        get_settings.cache_clear()
    who = verify(capsys.readouterr().out.strip(), SECRET)
    assert who.strategies == {"alpha", "gamma"}
