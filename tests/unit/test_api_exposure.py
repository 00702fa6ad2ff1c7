"""What the API shows to anyone: /health says only status, mode and version without a token; /docs is
served from the package, so it works offline and the browser asks no third party for anything."""

from __future__ import annotations

import re

import pytest
from tradeengine import __version__

from tests.unit.api_support import bearer, client, expired

PUBLIC = {"status", "mode", "version"}


@pytest.mark.parametrize("headers", [{}, expired("admin"), {"Authorization": "Bearer nonsense"}],
                         ids=["no token", "expired", "not a jwt"])  # fmt: skip
def test_health_without_a_valid_token_says_only_status_mode_and_version(headers: dict[str, str]) -> None:
    c, _ = client()
    response = c.get("/health", headers=headers)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "mode": "simulation", "version": __version__}


def test_health_with_any_valid_token_adds_the_detail() -> None:
    c, _ = client()
    body = c.get("/health", headers=bearer("signals:write")).json()
    assert set(body) > PUBLIC
    assert {"environment", "live_trading", "exchange_credentials", "auth", "dependencies"} <= set(body)
    assert body["dependencies"]["signal_store"]["status"] == "ok"


def test_docs_load_every_asset_from_the_api_itself() -> None:
    c, _ = client()
    page = c.get("/docs")
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text
    assert not re.search(r"(https?:)?//", page.text.replace("://", "")), "an absolute URL in /docs"
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(assets) == 3
    for path in assets:
        assert path.startswith("/docs-assets/")
        response = c.get(path)
        assert response.status_code == 200 and len(response.content) > 1000, path
    assert "5." in re.search(r'PACKAGE_VERSION:"([0-9.]+)"', c.get(assets[-1]).text).group(1)  # OpenAPI 3.1 needs 5
    assert c.get("/openapi.json").json()["openapi"].startswith("3.1")
