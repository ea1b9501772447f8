"""The token lifecycle: single-flight refreshes, refresh on 401, refresh ahead of expiry,
expiry handling, lazy key rotation, and scheduling onto accounts whose token will not
be valid."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import replace
from datetime import timedelta
from typing import Any, ClassVar

import httpx
import pytest
import respx
from cryptography.fernet import Fernet
from sqlalchemy import select, update

from polypost.accounts import tokens
from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.models import Event, PostTarget, SocialAccount
from polypost.platforms.base import Credentials, Platform, TokenSet
from polypost.platforms.registry import FACTORIES
from polypost.settings import Settings
from tests.accounts.fakes import (
    POSTS_URL,
    TOKEN_URL,
    FakeOAuthAdapter,
    form_of,
    load_account,
    make_account,
)
from tests.fixtures.factories import Tenant, make_tenant
from tests.fixtures.jobs import RunJobs

APP = {"linkedin": {"clientId": "app-id", "clientSecret": "app-secret"}}
BASIC = "Basic " + base64.b64encode(b"app-id:app-secret").decode()


def refreshed(
    access: str = "at-2", refresh: str | None = "rt-2", expires_in: int = 3600
) -> httpx.Response:
    body: dict[str, Any] = {
        "access_token": access,
        "expires_in": expires_in,
        "token_type": "bearer",
    }
    if refresh:
        body["refresh_token"] = refresh
    return httpx.Response(200, json=body)


@pytest.fixture
def app_configured(runtime: Runtime, monkeypatch: pytest.MonkeyPatch, fake_oauth: Any) -> None:
    monkeypatch.setattr(runtime.settings, "oauth_apps", APP)


async def events_of(runtime: Runtime, account_id: str, kind: str) -> list[Event]:
    async with runtime.sessions() as session:
        return list(
            (
                await session.execute(
                    select(Event).where(Event.resource_id == account_id, Event.type == kind)
                )
            ).scalars()
        )


async def post_now(client: httpx.AsyncClient, tenant: Tenant, account_id: str, **extra: Any) -> str:
    response = await client.post(
        "/v1/posts",
        headers=tenant.headers,
        json={"accountIds": [account_id], "content": "Hello from Polypost", **extra},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["postId"])


async def target_of(client: httpx.AsyncClient, tenant: Tenant, post_id: str) -> dict[str, Any]:
    body = (await client.get(f"/v1/posts/{post_id}", headers=tenant.headers)).json()
    target: dict[str, Any] = body["targets"][0]
    return target


def by_token(ok_token: str, post_id: str = "p-1") -> Any:
    """The platform accepts only `ok_token`; any other bearer is a 401."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") == f"Bearer {ok_token}":
            return httpx.Response(201, json={"id": post_id})
        return httpx.Response(401, json={"message": "Invalid access token"})

    return answer


@pytest.mark.usefixtures("app_configured")
class TestSingleFlightRefresh:
    async def test_two_workers_refreshing_at_once_make_one_platform_call(
        self, runtime: Runtime, settings: Settings
    ):
        tenant = await make_tenant(runtime)
        account_id = await make_account(runtime, tenant.workspace.id)
        other_worker = Runtime.build(runtime.settings)
        calls = 0

        async def slow_refresh(request: httpx.Request) -> httpx.Response:
            nonlocal calls
            calls += 1
            await asyncio.sleep(0.3)  # the other worker arrives while this one is in flight
            return refreshed()

        try:
            with respx.mock(assert_all_mocked=True) as router:
                route = router.post(TOKEN_URL).mock(side_effect=slow_refresh)
                first, second = await asyncio.gather(
                    tokens.refresh_account(runtime, account_id, stale_token="old-access"),
                    tokens.refresh_account(other_worker, account_id, stale_token="old-access"),
                )
        finally:
            await other_worker.close()
        assert calls == 1
        assert route.call_count == 1
        request = route.calls.last.request
        assert request.headers["authorization"] == BASIC
        assert form_of(request) == {"grant_type": "refresh_token", "refresh_token": "refresh-1"}
        assert first.access_token == second.access_token == "at-2"
        assert first.refresh_token == second.refresh_token == "rt-2"
        account = await load_account(runtime, account_id)
        assert runtime.cipher.decrypt(account.refresh_token_enc or "") == "rt-2"
        assert account.refresh_lock_owner is None
        assert account.last_refresh_at is not None

    async def test_concurrent_callers_in_one_process_share_one_refresh(self, runtime: Runtime):
        tenant = await make_tenant(runtime)
        account_id = await make_account(runtime, tenant.workspace.id)
        with respx.mock(assert_all_mocked=True) as router:
            route = router.post(TOKEN_URL).mock(return_value=refreshed())
            results = await asyncio.gather(
                *(
                    tokens.refresh_account(runtime, account_id, stale_token="old-access")
                    for _ in range(5)
                )
            )
        assert route.call_count == 1
        assert {r.access_token for r in results} == {"at-2"}

    async def test_a_claim_held_elsewhere_is_waited_for(self, runtime: Runtime):
        """A worker that died mid-refresh leaves a claim; it is honoured until it lapses."""
        tenant = await make_tenant(runtime)
        account_id = await make_account(runtime, tenant.workspace.id)
        async with runtime.sessions() as session:
            await session.execute(
                update(SocialAccount).values(
                    refresh_lock_owner="dead-worker",
                    refresh_lock_expires_at=utcnow() + timedelta(milliseconds=400),
                )
            )
            await session.commit()
        with respx.mock(assert_all_mocked=True) as router:
            route = router.post(TOKEN_URL).mock(return_value=refreshed())
            started = asyncio.get_running_loop().time()
            result = await tokens.refresh_account(runtime, account_id, stale_token="old-access")
            waited = asyncio.get_running_loop().time() - started
        assert route.call_count == 1
        assert result.access_token == "at-2"
        assert waited >= 0.3

    async def test_platform_without_a_new_refresh_token_keeps_the_stored_one(
        self, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        account_id = await make_account(runtime, tenant.workspace.id)
        with respx.mock(assert_all_mocked=True) as router:
            router.post(TOKEN_URL).mock(return_value=refreshed(refresh=None))
            result = await tokens.refresh_account(runtime, account_id)
        assert result.access_token == "at-2"
        assert result.refresh_token == "refresh-1"
        account = await load_account(runtime, account_id)
        assert runtime.cipher.decrypt(account.refresh_token_enc or "") == "refresh-1"


@pytest.mark.usefixtures("app_configured")
class TestPublishingWithTokens:
    async def test_a_401_refreshes_once_then_publishes(
        self, client: httpx.AsyncClient, runtime: Runtime, run_jobs: RunJobs
    ):
        tenant = await make_tenant(runtime)
        account_id = await make_account(
            runtime, tenant.workspace.id, expires_at=utcnow() + timedelta(hours=1)
        )
        with respx.mock(assert_all_mocked=True) as router:
            posts = router.post(POSTS_URL).mock(side_effect=by_token("at-2"))
            refresh = router.post(TOKEN_URL).mock(return_value=refreshed())
            post_id = await post_now(client, tenant, account_id, publishNow=True)
            await run_jobs()
        target = await target_of(client, tenant, post_id)
        assert target["status"] == "published", target
        assert target["platformPostId"] == "p-1"
        assert [c.request.headers["authorization"] for c in posts.calls] == [
            "Bearer old-access",
            "Bearer at-2",
        ]
        assert refresh.call_count == 1
        account = await load_account(runtime, account_id)
        assert account.status == "connected"
        assert runtime.cipher.decrypt(account.access_token_enc or "") == "at-2"

    async def test_a_token_about_to_expire_is_refreshed_before_publishing(
        self, client: httpx.AsyncClient, runtime: Runtime, run_jobs: RunJobs
    ):
        tenant = await make_tenant(runtime)
        account_id = await make_account(
            runtime, tenant.workspace.id, expires_at=utcnow() + timedelta(minutes=2)
        )
        with respx.mock(assert_all_mocked=True) as router:
            posts = router.post(POSTS_URL).mock(side_effect=by_token("at-2"))
            router.post(TOKEN_URL).mock(return_value=refreshed())
            post_id = await post_now(client, tenant, account_id, publishNow=True)
            await run_jobs()
        assert (await target_of(client, tenant, post_id))["status"] == "published"
        assert [c.request.headers["authorization"] for c in posts.calls] == ["Bearer at-2"]

    async def test_a_dead_refresh_token_expires_the_account_and_its_pending_targets(
        self, client: httpx.AsyncClient, runtime: Runtime, run_jobs: RunJobs
    ):
        tenant = await make_tenant(runtime)
        account_id = await make_account(
            runtime, tenant.workspace.id, expires_at=utcnow() + timedelta(days=30)
        )
        later = (utcnow() + timedelta(days=1)).isoformat()
        with respx.mock(assert_all_mocked=True) as router:
            posts = router.post(POSTS_URL).mock(side_effect=by_token("never"))
            router.post(TOKEN_URL).mock(
                return_value=httpx.Response(
                    400,
                    json={"error": "invalid_grant", "error_description": "Token was revoked"},
                )
            )
            scheduled_id = await post_now(
                client, tenant, account_id, scheduledAt=later, content="Tomorrow"
            )
            post_id = await post_now(client, tenant, account_id, publishNow=True)
            await run_jobs()
        assert posts.call_count == 1  # no retry after the refused refresh
        failed = await target_of(client, tenant, post_id)
        assert failed["status"] == "failed"
        assert failed["error"]["code"] == "auth_expired"
        assert "reconnect" in failed["error"]["message"]
        pending = await target_of(client, tenant, scheduled_id)
        assert pending["status"] == "failed"
        assert pending["error"]["code"] == "auth_expired"
        assert "reconnect it (POST /v1/accounts/connect)" in pending["error"]["message"]
        account = await load_account(runtime, account_id)
        assert account.status == "expired"
        assert "Token was revoked" in (account.last_error or "")
        expired = await events_of(runtime, account_id, "account.token_expired")
        assert len(expired) == 1
        assert expired[0].data["accountId"] == account_id
        assert expired[0].data["status"] == "expired"
        async with runtime.sessions() as session:
            failures = (
                (await session.execute(select(Event).where(Event.type == "target.failed")))
                .scalars()
                .all()
            )
        assert len(failures) == 2

    async def test_a_401_without_a_refresh_token_expires_the_account(
        self, client: httpx.AsyncClient, runtime: Runtime, run_jobs: RunJobs
    ):
        tenant = await make_tenant(runtime)
        account_id = await make_account(runtime, tenant.workspace.id, refresh_token=None)
        with respx.mock(assert_all_mocked=True) as router:
            router.post(POSTS_URL).mock(side_effect=by_token("never"))
            post_id = await post_now(client, tenant, account_id, publishNow=True)
            await run_jobs()
        assert (await target_of(client, tenant, post_id))["error"]["code"] == "auth_expired"
        assert (await load_account(runtime, account_id)).status == "expired"
        assert len(await events_of(runtime, account_id, "account.token_expired")) == 1


class TestExpireAccount:
    async def test_is_recorded_once(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        account_id = await make_account(runtime, tenant.workspace.id)
        assert await tokens.expire_account(runtime, account_id, "revoked") == 0
        assert await tokens.expire_account(runtime, account_id, "revoked again") == 0
        assert len(await events_of(runtime, account_id, "account.token_expired")) == 1
        account = await load_account(runtime, account_id)
        assert account.last_error == "revoked"
        assert account.last_error_at is not None


class SelfRefreshing:
    """A Threads-like adapter: the long-lived access token renews itself."""

    platform = Platform.THREADS
    calls: ClassVar[list[str]] = []

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime

    async def refresh(self, account: Credentials, app: Any = None) -> TokenSet:
        SelfRefreshing.calls.append(account.access_token or "")
        return TokenSet(access_token="long-2", expires_at=utcnow() + timedelta(days=60))


@pytest.mark.usefixtures("app_configured")
class TestPeriodicRefresh:
    async def test_refreshes_only_what_is_about_to_expire(
        self, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
    ):
        monkeypatch.setitem(FACTORIES, "threads", SelfRefreshing)
        SelfRefreshing.calls.clear()
        tenant = await make_tenant(runtime)
        now = utcnow()
        due = await make_account(
            runtime, tenant.workspace.id, external_id="due", expires_at=now + timedelta(minutes=5)
        )
        later = await make_account(
            runtime, tenant.workspace.id, external_id="later", expires_at=now + timedelta(hours=2)
        )
        expired = await make_account(
            runtime,
            tenant.workspace.id,
            external_id="gone",
            expires_at=now + timedelta(minutes=5),
            status="expired",
        )
        long_lived = await make_account(
            runtime,
            tenant.workspace.id,
            platform="threads",
            external_id="thr",
            access_token="long-1",
            refresh_token=None,
            expires_at=now + timedelta(days=3),
        )
        sandbox = await make_account(
            runtime,
            tenant.workspace.id,
            platform="sandbox",
            external_id="sbx",
            expires_at=now + timedelta(minutes=1),
        )
        with respx.mock(assert_all_mocked=True) as router:
            route = router.post(TOKEN_URL).mock(return_value=refreshed())
            counts = await tokens.refresh_expiring_tokens({"runtime": runtime})
            again = await tokens.refresh_expiring_tokens({"runtime": runtime})
        assert counts == {"refreshed": 2, "expired": 0, "failed": 0}
        assert again == {"refreshed": 0, "expired": 0, "failed": 0}
        assert route.call_count == 1
        assert form_of(route.calls.last.request)["refresh_token"] == "refresh-1"
        assert SelfRefreshing.calls == ["long-1"]
        for account_id, token in (
            (due, "at-2"),
            (later, "old-access"),
            (expired, "old-access"),
            (long_lived, "long-2"),
            (sandbox, "old-access"),
        ):
            account = await load_account(runtime, account_id)
            assert runtime.cipher.decrypt(account.access_token_enc or "") == token, account_id

    async def test_a_refused_refresh_expires_the_account(self, runtime: Runtime):
        tenant = await make_tenant(runtime)
        account_id = await make_account(
            runtime, tenant.workspace.id, expires_at=utcnow() + timedelta(minutes=1)
        )
        with respx.mock(assert_all_mocked=True) as router:
            router.post(TOKEN_URL).mock(
                return_value=httpx.Response(400, json={"error": "invalid_grant"})
            )
            counts = await tokens.refresh_expiring_tokens({"runtime": runtime})
        assert counts == {"refreshed": 0, "expired": 1, "failed": 0}
        assert (await load_account(runtime, account_id)).status == "expired"

    async def test_an_outage_is_recorded_and_retried_later(self, runtime: Runtime):
        tenant = await make_tenant(runtime)
        account_id = await make_account(
            runtime, tenant.workspace.id, expires_at=utcnow() + timedelta(minutes=1)
        )
        with respx.mock(assert_all_mocked=True) as router:
            router.post(TOKEN_URL).mock(return_value=httpx.Response(503, text="down"))
            counts = await tokens.refresh_expiring_tokens({"runtime": runtime})
        assert counts == {"refreshed": 0, "expired": 0, "failed": 1}
        account = await load_account(runtime, account_id)
        assert account.status == "connected"
        assert account.refresh_lock_owner is None
        assert "Token refresh failed" in (account.last_error or "")


class TestLazyKeyRotation:
    @pytest.fixture
    def rotated_settings(self, settings: Settings) -> tuple[Settings, Settings, str]:
        old_key = settings.encryption_keys[0]
        new_key = Fernet.generate_key().decode()
        rotated = settings.model_copy(update={"encryption_keys": [new_key, old_key]})
        return settings, rotated, new_key

    async def test_old_ciphertext_is_reencrypted_on_read(
        self, runtime: Runtime, rotated_settings: tuple[Settings, Settings, str]
    ):
        _, rotated, new_key = rotated_settings
        tenant = await make_tenant(runtime)
        account_id = await make_account(runtime, tenant.workspace.id)
        before = await load_account(runtime, account_id)
        new_runtime = Runtime.build(rotated)
        try:
            credentials = await tokens.current_credentials(new_runtime, account_id)
        finally:
            await new_runtime.close()
        assert credentials.access_token == "old-access"
        assert credentials.refresh_token == "refresh-1"
        after = await load_account(runtime, account_id)
        assert after.access_token_enc != before.access_token_enc
        only_new = Fernet(new_key.encode())
        assert only_new.decrypt((after.access_token_enc or "").encode()) == b"old-access"
        assert only_new.decrypt((after.refresh_token_enc or "").encode()) == b"refresh-1"

    async def test_rotation_never_overwrites_a_newer_token(
        self, runtime: Runtime, rotated_settings: tuple[Settings, Settings, str]
    ):
        _, rotated, _ = rotated_settings
        tenant = await make_tenant(runtime)
        account_id = await make_account(runtime, tenant.workspace.id)
        new_runtime = Runtime.build(rotated)
        try:
            async with new_runtime.sessions() as reader:
                stale = await reader.get(SocialAccount, account_id)
                assert stale is not None
                await reader.commit()  # keeps `stale` as read (expire_on_commit=False)
                # A refresh stores a new token between the read and the rotation.
                async with new_runtime.sessions() as writer:
                    await writer.execute(
                        update(SocialAccount).values(
                            access_token_enc=new_runtime.cipher.encrypt("newest")
                        )
                    )
                    await writer.commit()
                await tokens.rotate_tokens(reader, new_runtime.cipher, stale)
                await reader.commit()
            current = await load_account(new_runtime, account_id)
            assert new_runtime.cipher.decrypt(current.access_token_enc or "") == "newest"
            assert not new_runtime.cipher.needs_rotation(current.refresh_token_enc or "")
        finally:
            await new_runtime.close()

    async def test_a_refresh_rewrites_a_kept_refresh_token_under_the_new_key(
        self,
        runtime: Runtime,
        rotated_settings: tuple[Settings, Settings, str],
        fake_oauth: Any,
    ):
        _, rotated, new_key = rotated_settings
        rotated.oauth_apps = APP
        tenant = await make_tenant(runtime)
        account_id = await make_account(runtime, tenant.workspace.id)
        new_runtime = Runtime.build(rotated)
        try:
            with respx.mock(assert_all_mocked=True) as router:
                router.post(TOKEN_URL).mock(return_value=refreshed(refresh=None))
                await tokens.refresh_account(new_runtime, account_id)
        finally:
            await new_runtime.close()
        account = await load_account(runtime, account_id)
        only_new = Fernet(new_key.encode())
        assert only_new.decrypt((account.refresh_token_enc or "").encode()) == b"refresh-1"


@pytest.mark.usefixtures("fake_oauth")
class TestSchedulingNeedsAValidToken:
    async def test_token_expiring_before_the_publish_time_without_refresh_is_422(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        account_id = await make_account(
            runtime,
            tenant.workspace.id,
            refresh_token=None,
            expires_at=utcnow() + timedelta(hours=1),
        )
        body = {
            "accountIds": [account_id],
            "content": "Later",
            "scheduledAt": (utcnow() + timedelta(hours=2)).isoformat(),
        }
        for route in ("/v1/posts", "/v1/posts/validate"):
            response = await client.post(route, headers=tenant.headers, json=body)
            assert response.status_code == 422, response.text
            error = response.json()["error"]
            assert error["code"] == "content_invalid"
            problem = error["details"]["targets"][0]
            assert problem["accountId"] == account_id
            assert problem["rule"] == "token_expires_before_publish"
        soon = {**body, "scheduledAt": (utcnow() + timedelta(minutes=30)).isoformat()}
        assert (
            await client.post("/v1/posts", headers=tenant.headers, json=soon)
        ).status_code == 201
        per_platform = {
            **soon,
            "platformSchedules": {"linkedin": (utcnow() + timedelta(hours=3)).isoformat()},
        }
        refused = await client.post("/v1/posts", headers=tenant.headers, json=per_platform)
        assert refused.status_code == 422
        draft = {"accountIds": [account_id], "content": "Some day", "draft": True}
        assert (
            await client.post("/v1/posts", headers=tenant.headers, json=draft)
        ).status_code == 201

    async def test_a_refresh_token_makes_any_time_acceptable(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        account_id = await make_account(
            runtime, tenant.workspace.id, expires_at=utcnow() + timedelta(hours=1)
        )
        response = await client.post(
            "/v1/posts",
            headers=tenant.headers,
            json={
                "accountIds": [account_id],
                "content": "Next month",
                "scheduledAt": (utcnow() + timedelta(days=30)).isoformat(),
            },
        )
        assert response.status_code == 201, response.text

    @pytest.mark.parametrize("status", ["expired", "revoked"])
    async def test_an_account_needing_reconnection_is_422(
        self, client: httpx.AsyncClient, runtime: Runtime, status: str
    ):
        tenant = await make_tenant(runtime)
        account_id = await make_account(runtime, tenant.workspace.id, status=status)
        response = await client.post(
            "/v1/posts",
            headers=tenant.headers,
            json={"accountIds": [account_id], "content": "Now", "publishNow": True},
        )
        assert response.status_code == 422
        problem = response.json()["error"]["details"]["targets"][0]
        assert problem["rule"] == "account_expired"
        assert "reconnect" in problem["message"]
        async with runtime.sessions() as session:
            assert (await session.execute(select(PostTarget))).first() is None


REVOKE_URL = "https://api.fake.example/oauth/revoke"


class Revocable(FakeOAuthAdapter):
    oauth = replace(FakeOAuthAdapter.oauth, revoke_url=REVOKE_URL)


class TestRevokeOnDisconnect:
    async def test_disconnect_revokes_the_refresh_token(
        self, client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
    ):
        monkeypatch.setitem(FACTORIES, "linkedin", Revocable)
        monkeypatch.setattr(runtime.settings, "oauth_apps", APP)
        tenant = await make_tenant(runtime)
        account_id = await make_account(runtime, tenant.workspace.id)
        with respx.mock(assert_all_mocked=True) as router:
            route = router.post(REVOKE_URL).mock(return_value=httpx.Response(200))
            response = await client.delete(f"/v1/accounts/{account_id}", headers=tenant.headers)
        assert response.status_code == 200
        request = route.calls.last.request
        assert request.headers["authorization"] == BASIC
        assert form_of(request) == {"token": "refresh-1", "token_type_hint": "refresh_token"}
        account = await load_account(runtime, account_id)
        assert account.disconnected_at is not None
        assert account.refresh_token_enc is None

    async def test_a_failed_revocation_does_not_undo_the_disconnect(
        self, client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
    ):
        monkeypatch.setitem(FACTORIES, "linkedin", Revocable)
        monkeypatch.setattr(runtime.settings, "oauth_apps", APP)
        tenant = await make_tenant(runtime)
        account_id = await make_account(runtime, tenant.workspace.id)
        with respx.mock(assert_all_mocked=True) as router:
            router.post(REVOKE_URL).mock(return_value=httpx.Response(503))
            response = await client.delete(f"/v1/accounts/{account_id}", headers=tenant.headers)
        assert response.status_code == 200
        assert (await load_account(runtime, account_id)).disconnected_at is not None

    async def test_no_developer_app_means_no_revocation_call(
        self, client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
    ):
        monkeypatch.setitem(FACTORIES, "linkedin", Revocable)
        tenant = await make_tenant(runtime)
        account_id = await make_account(runtime, tenant.workspace.id)
        with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
            router.post(REVOKE_URL).mock(return_value=httpx.Response(200))
            response = await client.delete(f"/v1/accounts/{account_id}", headers=tenant.headers)
            assert router.calls.call_count == 0
        assert response.status_code == 200
