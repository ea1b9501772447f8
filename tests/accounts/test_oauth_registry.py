"""Every installed adapter against the generic connect flow.

Parametrized over the registry, so an adapter added later is covered the day it lands:
an adapter declaring `oauth` must complete a full round trip (authorize URL from its
spec, its code exchange — hook or generic — and the link, with `whoami` asked about the
exchanged token); any other must refuse to start one without calling anything. The
platform double answers every request with one body that reads as a token response
and an app registration at once (and grants every scope when permissions are listed).
Each adapter's own parsing of its identity endpoint is its own tests' business.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import httpx
import pytest
import respx

from polypost.core.runtime import Runtime
from polypost.platforms.base import Credentials
from polypost.platforms.connect import Identity, OAuthSpec
from polypost.platforms.registry import FACTORIES, adapter_for
from tests.accounts.fakes import query_of
from tests.fixtures.factories import make_tenant

UNIVERSAL = {
    # a token response
    "access_token": "reg-access",
    "refresh_token": "reg-refresh",
    "token_type": "bearer",
    "expires_in": 7200,
    "scope": "a b",
    # a dynamic app registration
    "client_id": "reg-client",
    "client_secret": "reg-secret",
    "id": "4242",
    "ok": True,
}


def platform_double(spec: OAuthSpec | None) -> Any:
    scopes = list(spec.scopes) if spec else []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/permissions"):
            granted = [{"permission": s, "status": "granted"} for s in scopes]
            return httpx.Response(200, json={"data": granted})
        return httpx.Response(200, json=UNIVERSAL)

    return answer


def request_text(request: httpx.Request) -> str:
    return str(request.url) + " " + request.content.decode(errors="replace")


@pytest.mark.parametrize("platform", sorted(FACTORIES))
async def test_connect_flow_per_registered_adapter(
    platform: str,
    client: httpx.AsyncClient,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    public_dns: dict[str, list[str]],
) -> None:
    tenant = await make_tenant(runtime)
    adapter = adapter_for(runtime, platform)
    spec = getattr(adapter, "oauth", None)
    body: dict[str, Any] = {"platform": platform}
    if not isinstance(spec, OAuthSpec):
        with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
            router.route().mock(side_effect=platform_double(None))
            response = await client.post("/v1/accounts/connect", headers=tenant.headers, json=body)
            assert router.calls.call_count == 0
        assert "authUrl" not in response.json()
        assert response.status_code in (201, 400, 422), response.text
        return

    registers = callable(getattr(adapter, "register_app", None))
    if registers:
        body["instance"] = "social.fake.example"
    else:
        monkeypatch.setattr(
            runtime.settings,
            "oauth_apps",
            {platform: {"clientId": "reg-client", "clientSecret": "reg-secret"}},
        )
    asked: list[Credentials] = []

    async def whoami(account: Credentials) -> Identity:
        asked.append(account)
        return Identity(external_id="4242", handle="fan", display_name="Fan")

    monkeypatch.setattr(adapter, "whoami", whoami)
    callback = f"http://127.0.0.1:8000/v1/accounts/callback/{platform}"
    with respx.mock(assert_all_mocked=True) as router:
        router.route().mock(side_effect=platform_double(spec))
        started = await client.post("/v1/accounts/connect", headers=tenant.headers, json=body)
        assert started.status_code == 200, started.text
        auth_url = started.json()["authUrl"]
        query = query_of(auth_url)
        assert query[spec.client_id_param] == "reg-client"
        assert query["redirect_uri"] == callback
        assert query["state"] == started.json()["state"]
        assert query["response_type"] == "code"
        for scope in spec.scopes:
            assert scope in query["scope"].split(spec.scope_separator)
        if spec.pkce:
            assert query["code_challenge_method"] == "S256"
        before = router.calls.call_count

        finished = await client.get(
            f"/v1/accounts/callback/{platform}",
            params={"code": "reg-code", "state": query["state"]},
        )
        assert finished.status_code == 200, finished.text
        exchange = [
            c.request for c in router.calls[before:] if "reg-code" in request_text(c.request)
        ]
    assert exchange, "the authorization code never reached the platform"
    if spec.pkce:
        sent = query_of("?" + exchange[0].content.decode()) if exchange[0].content else {}
        verifier = sent.get("code_verifier") or json.loads(exchange[0].content or b"{}").get(
            "code_verifier"
        )
        assert verifier, "a PKCE platform must receive the code_verifier"
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        assert digest.decode().rstrip("=") == query["code_challenge"]
    assert len(asked) == 1
    assert asked[0].access_token == "reg-access"
    assert asked[0].platform.value == platform
    linked = finished.json()
    assert linked["platform"] == platform
    assert linked["status"] == "connected"
    assert linked["handle"] == "fan"
    accounts = (await client.get("/v1/accounts", headers=tenant.headers)).json()["accounts"]
    assert [a["accountId"] for a in accounts] == [linked["accountId"]]
