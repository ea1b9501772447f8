"""BYOK: `/v1/platforms/{platform}/credentials` and where the flows use the app."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import select

from polypost.accounts import tokens
from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.models import PlatformCredential
from polypost.platforms.base import Permanent
from polypost.platforms.connect import AppCredentials
from polypost.platforms.registry import FACTORIES
from tests.accounts.fakes import (
    TOKEN_URL,
    FakeOAuthAdapter,
    form_of,
    load_account,
    make_account,
    query_of,
)
from tests.fixtures.factories import make_tenant

X_TOKEN_URL = "https://api.x.com/2/oauth2/token"
SECRET = "very-secret-value-123"


async def put_x(client: httpx.AsyncClient, headers: dict[str, str], **extra: Any) -> httpx.Response:
    body = {"clientId": "x-client", "clientSecret": SECRET, **extra}
    return await client.put("/v1/platforms/x/credentials", headers=headers, json=body)


class TestCredentialsRoutes:
    async def test_unset_then_set_then_deleted(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        empty = await client.get("/v1/platforms/x/credentials", headers=tenant.headers)
        assert empty.status_code == 200
        assert empty.json()["configured"] is False
        assert empty.json()["source"] is None

        stored = await put_x(client, tenant.headers, extra={"apiKey": "k", "apiSecret": "s"})
        assert stored.status_code == 200, stored.text
        body = stored.json()
        assert body["platform"] == "x"
        assert body["configured"] is True
        assert body["source"] == "workspace"
        assert body["clientId"] == "x-client"
        assert body["clientSecretSet"] is True
        assert body["extraKeys"] == ["apiKey", "apiSecret"]
        assert SECRET not in stored.text

        read = await client.get("/v1/platforms/twitter/credentials", headers=tenant.headers)
        assert read.json()["clientId"] == "x-client"
        assert SECRET not in read.text
        async with runtime.sessions() as session:
            row = (await session.execute(select(PlatformCredential))).scalar_one()
        assert SECRET not in (row.client_secret_enc or "")
        assert runtime.cipher.decrypt(row.client_secret_enc or "") == SECRET

        deleted = await client.delete("/v1/platforms/x/credentials", headers=tenant.headers)
        assert deleted.json() == {"platform": "x", "deleted": True}
        again = await client.delete("/v1/platforms/x/credentials", headers=tenant.headers)
        assert again.status_code == 404

    async def test_put_replaces(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        await put_x(client, tenant.headers)
        replaced = await client.put(
            "/v1/platforms/x/credentials", headers=tenant.headers, json={"clientId": "public-app"}
        )
        assert replaced.json()["clientId"] == "public-app"
        assert replaced.json()["clientSecretSet"] is False
        async with runtime.sessions() as session:
            rows = (await session.execute(select(PlatformCredential))).scalars().all()
        assert len(rows) == 1

    async def test_server_wide_app_is_reported_without_secrets(
        self, client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
    ):
        monkeypatch.setattr(
            runtime.settings, "oauth_apps", {"x": {"clientId": "srv", "clientSecret": SECRET}}
        )
        tenant = await make_tenant(runtime)
        read = await client.get("/v1/platforms/x/credentials", headers=tenant.headers)
        assert read.json()["source"] == "server"
        assert read.json()["clientId"] == "srv"
        assert SECRET not in read.text
        await put_x(client, tenant.headers)
        read = await client.get("/v1/platforms/x/credentials", headers=tenant.headers)
        assert read.json()["source"] == "workspace"

    async def test_workspaces_are_isolated(self, client: httpx.AsyncClient, runtime: Runtime):
        owner = await make_tenant(runtime, "owner")
        other = await make_tenant(runtime, "other")
        await put_x(client, owner.headers)
        read = await client.get("/v1/platforms/x/credentials", headers=other.headers)
        assert read.json()["configured"] is False
        assert (
            await client.delete("/v1/platforms/x/credentials", headers=other.headers)
        ).status_code == 404

    @pytest.mark.parametrize(
        ("platform", "status"), [("myspace", 404), ("bluesky", 422), ("sandbox", 422)]
    )
    async def test_platforms_without_developer_apps(
        self, client: httpx.AsyncClient, runtime: Runtime, platform: str, status: int
    ):
        tenant = await make_tenant(runtime)
        response = await client.get(f"/v1/platforms/{platform}/credentials", headers=tenant.headers)
        assert response.status_code == status
        if status == 422:
            assert response.json()["error"]["code"] == "unsupported"

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"clientId": ""},
            {"clientId": "a", "extra": {"k" * 65: "v"}},
            {"clientId": "a", "clientSecret": "s" * 1025},
            {"clientId": "a", "extra": {str(n): "v" for n in range(11)}},
            {"clientId": "a", "scopes": ["x"]},
        ],
    )
    async def test_body_is_validated(
        self, client: httpx.AsyncClient, runtime: Runtime, body: dict[str, Any]
    ):
        tenant = await make_tenant(runtime)
        response = await client.put(
            "/v1/platforms/x/credentials", headers=tenant.headers, json=body
        )
        assert response.status_code == 400

    async def test_needs_workspace_admin(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime, scopes={"accounts:write", "accounts:read"})
        for method in ("get", "delete"):
            response = await client.request(
                method, "/v1/platforms/x/credentials", headers=tenant.headers
            )
            assert response.status_code == 403
        assert (await put_x(client, tenant.headers)).status_code == 403
        test = await client.post("/v1/platforms/x/credentials/test", headers=tenant.headers)
        assert test.status_code == 403


class TestCredentialsTest:
    async def test_nothing_configured_is_412(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        response = await client.post("/v1/platforms/x/credentials/test", headers=tenant.headers)
        assert response.status_code == 412
        assert response.json()["error"]["code"] == "credentials_missing"

    async def test_x_app_accepted_when_only_the_probe_code_is_refused(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        await put_x(client, tenant.headers)
        with respx.mock(assert_all_mocked=True) as router:
            route = router.post(X_TOKEN_URL).mock(
                return_value=httpx.Response(
                    400,
                    json={
                        "error": "invalid_request",
                        "error_description": "Value passed for the authorization code was invalid.",
                    },
                )
            )
            response = await client.post("/v1/platforms/x/credentials/test", headers=tenant.headers)
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["valid"] is True
        assert result["source"] == "workspace"
        request = route.calls.last.request
        expected = base64.b64encode(f"x-client:{SECRET}".encode()).decode()
        assert request.headers["authorization"] == f"Basic {expected}"
        sent = form_of(request)
        assert sent["grant_type"] == "authorization_code"
        assert sent["redirect_uri"] == "http://127.0.0.1:8000/v1/accounts/callback/x"
        read = (await client.get("/v1/platforms/x/credentials", headers=tenant.headers)).json()
        assert read["lastTestOk"] is True
        assert read["lastTestedAt"] is not None

    async def test_x_app_refused(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        await put_x(client, tenant.headers)
        with respx.mock(assert_all_mocked=True) as router:
            router.post(X_TOKEN_URL).mock(
                return_value=httpx.Response(
                    401,
                    json={
                        "error": "unauthorized_client",
                        "error_description": "Missing valid authorization header",
                    },
                )
            )
            response = await client.post("/v1/platforms/x/credentials/test", headers=tenant.headers)
        assert response.status_code == 200
        assert response.json()["valid"] is False
        assert "Missing valid authorization header" in response.json()["message"]
        read = (await client.get("/v1/platforms/x/credentials", headers=tenant.headers)).json()
        assert read["lastTestOk"] is False

    async def test_platform_outage_is_502(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        await put_x(client, tenant.headers)
        with respx.mock(assert_all_mocked=True) as router:
            router.post(X_TOKEN_URL).mock(return_value=httpx.Response(503, text="over capacity"))
            response = await client.post("/v1/platforms/x/credentials/test", headers=tenant.headers)
        assert response.status_code == 502
        assert response.json()["error"]["code"] == "platform_error"

    async def test_an_adapter_hook_replaces_the_probe(
        self, client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
    ):
        seen: list[AppCredentials] = []

        class WithHook(FakeOAuthAdapter):
            async def test_app_credentials(self, app: AppCredentials) -> None:
                seen.append(app)

        monkeypatch.setitem(FACTORIES, "linkedin", WithHook)
        tenant = await make_tenant(runtime)
        await client.put(
            "/v1/platforms/linkedin/credentials",
            headers=tenant.headers,
            json={"clientId": "li", "clientSecret": "li-secret"},
        )
        with respx.mock(assert_all_mocked=True) as router:
            response = await client.post(
                "/v1/platforms/linkedin/credentials/test", headers=tenant.headers
            )
            assert router.calls.call_count == 0
        assert response.json()["valid"] is True
        assert seen == [AppCredentials("li", "li-secret", {})]


@pytest.mark.usefixtures("fake_oauth")
class TestAppInTheFlows:
    async def test_connect_uses_the_workspace_app(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        await client.put(
            "/v1/platforms/linkedin/credentials",
            headers=tenant.headers,
            json={"clientId": "ws-app", "clientSecret": "ws-secret"},
        )
        started = await client.post(
            "/v1/accounts/connect", headers=tenant.headers, json={"platform": "linkedin"}
        )
        assert query_of(started.json()["authUrl"])["client_id"] == "ws-app"

    async def test_refresh_uses_the_workspace_app(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        await client.put(
            "/v1/platforms/linkedin/credentials",
            headers=tenant.headers,
            json={"clientId": "ws-app", "clientSecret": "ws-secret"},
        )
        account_id = await make_account(runtime, tenant.workspace.id)
        with respx.mock(assert_all_mocked=True) as router:
            route = router.post(TOKEN_URL).mock(
                return_value=httpx.Response(200, json={"access_token": "new", "expires_in": 60})
            )
            await tokens.refresh_account(runtime, account_id)
        expected = base64.b64encode(b"ws-app:ws-secret").decode()
        assert route.calls.last.request.headers["authorization"] == f"Basic {expected}"

    async def test_refresh_without_any_app_fails_without_expiring(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        account_id = await make_account(runtime, tenant.workspace.id)
        with respx.mock(assert_all_mocked=True) as router:
            with pytest.raises(Permanent, match="developer app") as caught:
                await tokens.refresh_account(runtime, account_id)
            assert router.calls.call_count == 0
        assert caught.value.code == "credentials_missing"
        account = await load_account(runtime, account_id)
        assert account.status == "connected"
        assert "developer app" in (account.last_error or "")

    async def test_x_refresh_gets_the_app_from_byok(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        """The real X adapter takes the app as `refresh(account, app=…)`."""
        tenant = await make_tenant(runtime)
        await put_x(client, tenant.headers)
        account_id = await make_account(
            runtime,
            tenant.workspace.id,
            platform="x",
            external_id="2244994945",
            expires_at=utcnow() + timedelta(minutes=1),
        )
        with respx.mock(assert_all_mocked=True) as router:
            route = router.post(X_TOKEN_URL).mock(
                return_value=httpx.Response(
                    200,
                    json={
                        "token_type": "bearer",
                        "expires_in": 7200,
                        "access_token": "x-new",
                        "refresh_token": "x-refresh-2",
                        "scope": "tweet.read tweet.write users.read media.write offline.access",
                    },
                )
            )
            credentials = await tokens.refresh_account(runtime, account_id)
        request = route.calls.last.request
        expected = base64.b64encode(f"x-client:{SECRET}".encode()).decode()
        assert request.headers["authorization"] == f"Basic {expected}"
        assert form_of(request) == {"grant_type": "refresh_token", "refresh_token": "refresh-1"}
        assert credentials.access_token == "x-new"
        account = await load_account(runtime, account_id)
        assert runtime.cipher.decrypt(account.refresh_token_enc or "") == "x-refresh-2"
        assert "offline.access" in account.granted_scopes
