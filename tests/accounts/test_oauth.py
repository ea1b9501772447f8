"""The generic OAuth connect flow: start, callback, state handling, linking."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

import httpx
import pytest
import respx
from sqlalchemy import select, update

from polypost.accounts.oauth import purge_oauth_states
from polypost.core.crypto import sign_payload
from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.models import Event, OAuthState, SocialAccount
from polypost.platforms.registry import FACTORIES
from tests.accounts.fakes import (
    ME_URL,
    TOKEN_URL,
    form_of,
    load_account,
    query_of,
    set_app,
    whitelist,
)
from tests.fixtures.factories import Tenant, make_tenant

CALLBACK = "http://127.0.0.1:8000/v1/accounts/callback/linkedin"
DONE = "https://app.example.com/oauth/done?from=polypost"


def token_body(
    access: str = "at-1", refresh: str | None = "rt-1", expires_in: int = 3600
) -> dict[str, object]:
    body: dict[str, object] = {
        "access_token": access,
        "token_type": "bearer",
        "expires_in": expires_in,
        "scope": "w_member_social openid",
    }
    if refresh:
        body["refresh_token"] = refresh
    return body


async def start(
    client: httpx.AsyncClient, tenant: Tenant, redirect_uri: str | None = None
) -> dict[str, str]:
    body: dict[str, str] = {"platform": "linkedin"}
    if redirect_uri:
        body["redirectUri"] = redirect_uri
    response = await client.post("/v1/accounts/connect", headers=tenant.headers, json=body)
    assert response.status_code == 200, response.text
    started: dict[str, str] = response.json()
    return started


async def ready_tenant(client: httpx.AsyncClient, runtime: Runtime, name: str = "acme") -> Tenant:
    tenant = await make_tenant(runtime, name)
    await set_app(client, tenant.headers)
    return tenant


def mock_platform(
    router: respx.MockRouter, *, member: str = "member-1", token: dict[str, object] | None = None
) -> tuple[respx.Route, respx.Route]:
    token_route = router.post(TOKEN_URL).mock(
        return_value=httpx.Response(200, json=token or token_body())
    )
    me_route = router.get(ME_URL).mock(
        return_value=httpx.Response(200, json={"id": member, "handle": "ada", "name": "Ada L."})
    )
    return token_route, me_route


@pytest.mark.usefixtures("fake_oauth")
class TestStartConnect:
    async def test_authorize_url_carries_pkce_state_and_scopes(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await ready_tenant(client, runtime)
        started = await start(client, tenant)
        assert started["platform"] == "linkedin"
        assert started["authUrl"].startswith("https://fake.example/oauth/authorize?")
        query = query_of(started["authUrl"])
        assert query.pop("code_challenge")
        assert query == {
            "response_type": "code",
            "client_id": "app-id",
            "redirect_uri": CALLBACK,
            "state": started["state"],
            "scope": "w_member_social openid",
            "code_challenge_method": "S256",
            "prompt": "consent",
        }
        expires = started["expiresAt"]
        assert expires.endswith("Z")

    async def test_pkce_verifier_stays_on_the_server(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await ready_tenant(client, runtime)
        started = await start(client, tenant)
        async with runtime.sessions() as session:
            row = (await session.execute(select(OAuthState))).scalar_one()
        assert "codeVerifier" not in row.data_enc
        assert "app-secret" not in row.data_enc
        assert "app-secret" not in started["authUrl"]

    async def test_without_a_developer_app_is_412(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        response = await client.post(
            "/v1/accounts/connect", headers=tenant.headers, json={"platform": "linkedin"}
        )
        assert response.status_code == 412
        assert response.json()["error"]["code"] == "credentials_missing"

    async def test_server_wide_app_is_used_without_byok(
        self, client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
    ):
        monkeypatch.setattr(
            runtime.settings, "oauth_apps", {"linkedin": {"clientId": "server-app"}}
        )
        tenant = await make_tenant(runtime)
        started = await start(client, tenant)
        assert query_of(started["authUrl"])["client_id"] == "server-app"

    async def test_redirect_uri_must_be_whitelisted_exactly(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await ready_tenant(client, runtime)
        await whitelist(client, tenant.headers, DONE)
        for uri in (DONE + "&x=1", "https://app.example.com/oauth/done", "https://evil.example/"):
            response = await client.post(
                "/v1/accounts/connect",
                headers=tenant.headers,
                json={"platform": "linkedin", "redirectUri": uri},
            )
            assert response.status_code == 400, uri
            error = response.json()["error"]
            assert error["code"] == "redirect_uri_not_allowed"
            assert error["details"]["fields"][0]["field"] == "redirectUri"
        assert (await start(client, tenant, DONE))["authUrl"]

    async def test_another_workspaces_whitelist_does_not_count(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        other = await make_tenant(runtime, "other")
        await whitelist(client, other.headers, DONE)
        tenant = await ready_tenant(client, runtime)
        response = await client.post(
            "/v1/accounts/connect",
            headers=tenant.headers,
            json={"platform": "linkedin", "redirectUri": DONE},
        )
        assert response.status_code == 400

    async def test_unknown_and_unavailable_platforms(
        self, client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
    ):
        tenant = await make_tenant(runtime)
        unknown = await client.post(
            "/v1/accounts/connect", headers=tenant.headers, json={"platform": "myspace"}
        )
        assert unknown.status_code == 400
        assert unknown.json()["error"]["details"]["fields"][0]["field"] == "platform"
        monkeypatch.delitem(FACTORIES, "youtube", raising=False)
        missing = await client.post(
            "/v1/accounts/connect", headers=tenant.headers, json={"platform": "youtube"}
        )
        assert missing.status_code == 422
        assert missing.json()["error"]["code"] == "unsupported"
        # Sandbox connects in one call; asking it for OAuth is a validation error.
        no_oauth = await client.post(
            "/v1/accounts/connect",
            headers=tenant.headers,
            json={"platform": "sandbox", "redirectUri": DONE},
        )
        assert no_oauth.status_code == 400

    async def test_needs_accounts_write(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime, scopes={"accounts:read"})
        response = await client.post(
            "/v1/accounts/connect", headers=tenant.headers, json={"platform": "linkedin"}
        )
        assert response.status_code == 403


@pytest.mark.usefixtures("fake_oauth")
class TestCallback:
    async def test_round_trip_links_the_account_the_platform_names(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await ready_tenant(client, runtime)
        started = await start(client, tenant)
        challenge = query_of(started["authUrl"])["code_challenge"]
        with respx.mock(assert_all_mocked=True) as router:
            token_route, me_route = mock_platform(router)
            response = await client.get(
                "/v1/accounts/callback/linkedin",
                params={"code": "the-code", "state": started["state"]},
            )
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"
        linked = response.json()
        assert linked["platform"] == "linkedin"
        assert linked["handle"] == "ada"
        assert linked["displayName"] == "Ada L."
        assert linked["status"] == "connected"
        assert linked["tokenExpiresAt"] is not None

        token_request = token_route.calls.last.request
        expected_basic = base64.b64encode(b"app-id:app-secret").decode()
        assert token_request.headers["authorization"] == f"Basic {expected_basic}"
        token_form = form_of(token_request)
        verifier = token_form.pop("code_verifier")
        digest = hashlib.sha256(verifier.encode()).digest()
        assert base64.urlsafe_b64encode(digest).decode().rstrip("=") == challenge
        assert token_form == {
            "grant_type": "authorization_code",
            "code": "the-code",
            "redirect_uri": CALLBACK,
        }
        assert me_route.calls.last.request.headers["authorization"] == "Bearer at-1"

        account = await load_account(runtime, linked["accountId"])
        assert account.workspace_id == tenant.workspace.id
        assert account.external_id == "member-1"
        assert "at-1" not in (account.access_token_enc or "")
        assert runtime.cipher.decrypt(account.access_token_enc or "") == "at-1"
        assert runtime.cipher.decrypt(account.refresh_token_enc or "") == "rt-1"
        assert account.granted_scopes == ["w_member_social", "openid"]
        async with runtime.sessions() as session:
            types = (
                (await session.execute(select(Event.type).where(Event.resource_id == account.id)))
                .scalars()
                .all()
            )
        assert types == ["account.connected"]

    async def test_redirects_to_the_whitelisted_uri_with_the_account(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await ready_tenant(client, runtime)
        await whitelist(client, tenant.headers, DONE)
        started = await start(client, tenant, DONE)
        with respx.mock(assert_all_mocked=True) as router:
            mock_platform(router)
            response = await client.get(
                "/v1/accounts/callback/linkedin",
                params={"code": "c", "state": started["state"]},
            )
        assert response.status_code == 302
        location = response.headers["location"]
        assert location.startswith("https://app.example.com/oauth/done?")
        query = query_of(location)
        assert query["from"] == "polypost"
        assert query["platform"] == "linkedin"
        assert query["state"] == started["state"]
        assert query["accountId"].startswith("acc_")
        assert "error" not in query

    async def test_denied_consent_redirects_with_the_error_and_calls_nothing(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await ready_tenant(client, runtime)
        await whitelist(client, tenant.headers, DONE)
        started = await start(client, tenant, DONE)
        with respx.mock(assert_all_mocked=True) as router:
            response = await client.get(
                "/v1/accounts/callback/linkedin",
                params={
                    "error": "access_denied",
                    "error_description": "The user cancelled",
                    "state": started["state"],
                },
            )
            assert router.calls.call_count == 0
        assert response.status_code == 302
        query = query_of(response.headers["location"])
        assert query["error"] == "access_denied"
        assert query["errorDescription"] == "The user cancelled"
        assert "accountId" not in query

    async def test_refused_code_is_reported_not_linked(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await ready_tenant(client, runtime)
        started = await start(client, tenant)
        with respx.mock(assert_all_mocked=True) as router:
            router.post(TOKEN_URL).mock(
                return_value=httpx.Response(
                    400, json={"error": "invalid_grant", "error_description": "Code expired"}
                )
            )
            response = await client.get(
                "/v1/accounts/callback/linkedin",
                params={"code": "old", "state": started["state"]},
            )
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "credentials_invalid"
        assert "Code expired" in error["message"]
        async with runtime.sessions() as session:
            assert (await session.execute(select(SocialAccount))).first() is None

    async def test_tampered_state_is_refused(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await ready_tenant(client, runtime)
        started = await start(client, tenant)
        body, signature = started["state"].split(".")
        flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
        forged_other_key = sign_payload(
            b"another-key" * 4, {"sid": "x", "ws": "y", "p": "linkedin"}, 600
        )
        with respx.mock(assert_all_mocked=True) as router:
            for state in (f"{flipped}.{signature}", forged_other_key, "garbage", ""):
                response = await client.get(
                    "/v1/accounts/callback/linkedin", params={"code": "c", "state": state}
                )
                assert response.status_code == 400, state
                assert response.json()["error"]["code"] == "state_invalid"
            missing = await client.get("/v1/accounts/callback/linkedin", params={"code": "c"})
            assert missing.json()["error"]["code"] == "state_invalid"
            assert router.calls.call_count == 0

    async def test_state_is_bound_to_its_platform(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await ready_tenant(client, runtime)
        started = await start(client, tenant)
        response = await client.get(
            "/v1/accounts/callback/x", params={"code": "c", "state": started["state"]}
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "state_invalid"

    async def test_state_works_once(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await ready_tenant(client, runtime)
        started = await start(client, tenant)
        with respx.mock(assert_all_mocked=True) as router:
            token_route, _ = mock_platform(router)
            first = await client.get(
                "/v1/accounts/callback/linkedin", params={"code": "c", "state": started["state"]}
            )
            replay = await client.get(
                "/v1/accounts/callback/linkedin", params={"code": "c", "state": started["state"]}
            )
        assert first.status_code == 200
        assert replay.status_code == 400
        assert replay.json()["error"]["code"] == "state_used"
        assert token_route.call_count == 1

    async def test_expired_state_is_refused(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await ready_tenant(client, runtime)
        started = await start(client, tenant)
        async with runtime.sessions() as session:
            await session.execute(
                update(OAuthState).values(expires_at=utcnow() - timedelta(seconds=1))
            )
            await session.commit()
        with respx.mock(assert_all_mocked=True) as router:
            response = await client.get(
                "/v1/accounts/callback/linkedin", params={"code": "c", "state": started["state"]}
            )
            assert router.calls.call_count == 0
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "state_expired"

    async def test_state_past_its_signed_lifetime_is_refused(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await ready_tenant(client, runtime)
        await start(client, tenant)
        async with runtime.sessions() as session:
            row = (await session.execute(select(OAuthState))).scalar_one()
        stale = sign_payload(
            runtime.settings.signing_key,
            {"sid": row.id, "ws": tenant.workspace.id, "p": "linkedin"},
            -1,
        )
        response = await client.get(
            "/v1/accounts/callback/linkedin", params={"code": "c", "state": stale}
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "state_invalid"

    async def test_same_identity_in_another_workspace_is_already_linked(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        first = await ready_tenant(client, runtime, "first")
        second = await ready_tenant(client, runtime, "second")
        await whitelist(client, second.headers, DONE)
        with respx.mock(assert_all_mocked=True) as router:
            mock_platform(router)
            started = await start(client, first)
            linked = await client.get(
                "/v1/accounts/callback/linkedin", params={"code": "c", "state": started["state"]}
            )
            assert linked.status_code == 200
            again = await start(client, second, DONE)
            refused = await client.get(
                "/v1/accounts/callback/linkedin", params={"code": "c", "state": again["state"]}
            )
            json_again = await start(client, second)
            refused_json = await client.get(
                "/v1/accounts/callback/linkedin",
                params={"code": "c", "state": json_again["state"]},
            )
        assert refused.status_code == 302
        assert query_of(refused.headers["location"])["error"] == "already_linked"
        assert refused_json.status_code == 409
        assert refused_json.json()["error"]["code"] == "already_linked"
        assert first.workspace.id not in refused_json.text
        listed = await client.get("/v1/accounts", headers=second.headers)
        assert listed.json()["accounts"] == []

    async def test_relinking_updates_the_row_and_keeps_the_refresh_token(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await ready_tenant(client, runtime)
        with respx.mock(assert_all_mocked=True) as router:
            token_route, _ = mock_platform(router)
            first = await start(client, tenant)
            one = await client.get(
                "/v1/accounts/callback/linkedin", params={"code": "c", "state": first["state"]}
            )
            token_route.mock(
                return_value=httpx.Response(200, json=token_body("at-2", refresh=None))
            )
            second = await start(client, tenant)
            two = await client.get(
                "/v1/accounts/callback/linkedin", params={"code": "c", "state": second["state"]}
            )
        assert one.json()["accountId"] == two.json()["accountId"]
        account = await load_account(runtime, one.json()["accountId"])
        assert runtime.cipher.decrypt(account.access_token_enc or "") == "at-2"
        assert runtime.cipher.decrypt(account.refresh_token_enc or "") == "rt-1"
        listed = await client.get("/v1/accounts", headers=tenant.headers)
        assert len(listed.json()["accounts"]) == 1

    async def test_relinking_revives_an_expired_account(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await ready_tenant(client, runtime)
        with respx.mock(assert_all_mocked=True) as router:
            mock_platform(router)
            first = await start(client, tenant)
            linked = (
                await client.get(
                    "/v1/accounts/callback/linkedin",
                    params={"code": "c", "state": first["state"]},
                )
            ).json()
            async with runtime.sessions() as session:
                await session.execute(
                    update(SocialAccount).values(status="expired", last_error="refused")
                )
                await session.commit()
            second = await start(client, tenant)
            again = await client.get(
                "/v1/accounts/callback/linkedin", params={"code": "c", "state": second["state"]}
            )
        assert again.json()["accountId"] == linked["accountId"]
        assert again.json()["status"] == "connected"
        account = await load_account(runtime, linked["accountId"])
        assert account.last_error is None


@pytest.mark.usefixtures("fake_oauth")
class TestPurgeStates:
    async def test_flows_older_than_a_day_are_dropped(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await ready_tenant(client, runtime)
        await start(client, tenant)
        await start(client, tenant)
        async with runtime.sessions() as session:
            stale_id = (await session.execute(select(OAuthState.id).limit(1))).scalar_one()
            await session.execute(
                update(OAuthState)
                .where(OAuthState.id == stale_id)
                .values(expires_at=utcnow() - timedelta(days=2))
            )
            await session.commit()
        assert await purge_oauth_states({"runtime": runtime}) == 1
        async with runtime.sessions() as session:
            left = (await session.execute(select(OAuthState.id))).scalars().all()
        assert len(left) == 1
        assert stale_id not in left
