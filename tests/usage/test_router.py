from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from polypost.core.ids import Prefix, new_id
from polypost.core.runtime import Runtime
from polypost.core.timeutil import isoformat, utcnow
from polypost.models import (
    ApiKey,
    Event,
    Media,
    Post,
    PostTarget,
    SocialAccount,
    Webhook,
    WebhookDelivery,
    Workspace,
)
from polypost.usage.service import month_bounds
from tests.fixtures.factories import make_key, make_member, make_tenant
from tests.workspaces.people import bearer

JAN = datetime(2026, 1, 1, tzinfo=UTC)
FEB = datetime(2026, 2, 1, tzinfo=UTC)
DEC = datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC)
JANUARY = {"from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"}


async def fill(runtime: Runtime, workspace_id: str) -> None:
    """Activity in January 2026 plus rows just outside it, and current resources."""
    mid = JAN + timedelta(days=10)
    now = utcnow()
    async with runtime.sessions() as session:
        workspace = await session.get(Workspace, workspace_id)
        assert workspace is not None
        workspace.rate_limit_per_minute = 77
        accounts = [
            SocialAccount(
                id=new_id(Prefix.ACCOUNT),
                workspace_id=workspace_id,
                platform="sandbox",
                external_id=new_id("ext"),
                status=status,
                connected_at=now,
            )
            for status in ("connected", "connected", "expired")
        ]
        session.add_all(accounts)
        posts = {
            created: Post(
                id=new_id(Prefix.POST),
                workspace_id=workspace_id,
                post_type="text",
                status=status,
                created_at=created,
            )
            for created, status in (
                (mid, "draft"),
                (mid + timedelta(seconds=1), "published"),
                (mid + timedelta(seconds=2), "published"),
                (DEC, "failed"),
                (FEB, "scheduled"),
            )
        }
        session.add_all(posts.values())
        await session.flush()
        for created, status in (
            (mid, "published"),
            (mid, "published"),
            (mid, "failed"),
            (DEC, "failed"),
            (FEB, "published"),
        ):
            session.add(
                PostTarget(
                    id=new_id(Prefix.TARGET),
                    post_id=posts[mid].id,
                    workspace_id=workspace_id,
                    account_id=accounts[0].id,
                    platform="sandbox",
                    status=status,
                    created_at=created,
                )
            )
        webhooks = [
            Webhook(
                id=new_id(Prefix.WEBHOOK),
                workspace_id=workspace_id,
                url="https://example.com/hook",
                secret_enc="x",
            )
            for _ in range(2)
        ]
        session.add_all(webhooks)
        for created, status in (
            (mid, "delivered"),
            (mid, "delivered"),
            (mid, "failed"),
            (mid, "pending"),
            (mid, "sending"),
            (mid, "canceled"),
            (FEB, "delivered"),
        ):
            event = Event(id=new_id(Prefix.EVENT), workspace_id=workspace_id, type="t", data={})
            session.add(event)
            await session.flush()
            session.add(
                WebhookDelivery(
                    id=new_id(Prefix.DELIVERY),
                    webhook_id=webhooks[0].id,
                    workspace_id=workspace_id,
                    event_id=event.id,
                    event_type="t",
                    status=status,
                    created_at=created,
                )
            )
        for status, size, declared in (
            ("uploaded", 100, 90),
            ("pending", None, 50),
            ("invalid", 1000, None),
        ):
            session.add(
                Media(
                    id=new_id(Prefix.MEDIA),
                    workspace_id=workspace_id,
                    filename="f",
                    content_type="image/png",
                    storage_key=new_id("k"),
                    status=status,
                    size=size,
                    declared_size=declared,
                )
            )
        for revoked, expires in (
            (now, None),
            (None, now - timedelta(minutes=1)),
            (None, now + timedelta(days=1)),
        ):
            session.add(
                ApiKey(
                    id=new_id(Prefix.API_KEY),
                    workspace_id=workspace_id,
                    name="k",
                    prefix="sk_live_abcd",
                    last_four="abcd",
                    key_hash=new_id("h"),
                    scopes=[],
                    mode="live",
                    revoked_at=revoked,
                    expires_at=expires,
                )
            )
        await session.commit()


class TestGetUsage:
    async def test_counts_period_and_workspace_only(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime, "mine")
        other = await make_tenant(runtime, "other")
        await fill(runtime, tenant.workspace.id)
        await fill(runtime, other.workspace.id)
        response = await client.get("/v1/usage", headers=tenant.headers, params=JANUARY)
        assert response.status_code == 200
        assert response.json() == {
            "period": JANUARY,
            "posts": {
                "created": 3,
                "byStatus": {
                    "draft": 1,
                    "scheduled": 0,
                    "publishing": 0,
                    "published": 2,
                    "partial": 0,
                    "failed": 0,
                    "canceled": 0,
                },
            },
            "targets": {
                "total": 3,
                "draft": 0,
                "scheduled": 0,
                "publishing": 0,
                "published": 2,
                "failed": 1,
                "canceled": 0,
            },
            "media": {
                "count": 2,
                "usedBytes": 150,
                "quotaBytes": runtime.settings.default_storage_quota_bytes,
            },
            "webhooks": {
                "endpoints": 2,
                "deliveries": {"delivered": 2, "failed": 1, "pending": 2, "canceled": 1},
            },
            "accounts": {"connected": 2, "total": 3},
            "apiKeys": {"active": 2},
            "rateLimitPerMinute": 77,
        }

    async def test_defaults_to_current_month(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        await fill(runtime, tenant.workspace.id)
        async with runtime.sessions() as session:
            session.add(
                Post(
                    id=new_id(Prefix.POST),
                    workspace_id=tenant.workspace.id,
                    post_type="text",
                    status="scheduled",
                )
            )
            await session.commit()
        response = await client.get("/v1/usage", headers=tenant.headers)
        assert response.status_code == 200
        body = response.json()
        start, end = month_bounds(utcnow())
        assert body["period"] == {"from": isoformat(start), "to": isoformat(end)}
        assert body["period"]["from"].endswith("-01T00:00:00Z")
        assert body["posts"]["created"] == 1
        assert body["posts"]["byStatus"]["scheduled"] == 1
        assert body["targets"]["total"] == 0
        assert body["apiKeys"]["active"] == 2

    async def test_empty_workspace(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        body = (await client.get("/v1/usage", headers=tenant.headers)).json()
        assert body["posts"]["created"] == 0
        assert body["media"] == {
            "count": 0,
            "usedBytes": 0,
            "quotaBytes": runtime.settings.default_storage_quota_bytes,
        }
        assert body["webhooks"] == {
            "endpoints": 0,
            "deliveries": {"delivered": 0, "failed": 0, "pending": 0, "canceled": 0},
        }
        assert body["rateLimitPerMinute"] == runtime.settings.rate_limit_per_minute

    async def test_offsets_are_normalized_to_utc(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        response = await client.get(
            "/v1/usage",
            headers=tenant.headers,
            params={"from": "2026-01-01T05:30:00+05:30", "to": "2026-01-02T00:00:00-01:00"},
        )
        assert response.status_code == 200
        assert response.json()["period"] == {
            "from": "2026-01-01T00:00:00Z",
            "to": "2026-01-02T01:00:00Z",
        }

    async def test_366_days_is_allowed(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        response = await client.get(
            "/v1/usage",
            headers=tenant.headers,
            params={"from": "2024-01-01T00:00:00Z", "to": "2025-01-01T00:00:00Z"},
        )
        assert response.status_code == 200

    async def test_bad_periods_are_400(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        cases = [
            ({"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "from"),
            ({"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "from"),
            ({"from": "2024-01-01T00:00:00Z", "to": "2025-01-01T00:00:01Z"}, "to"),
            ({"from": "2026-01-01T00:00:00"}, "from"),
            ({"to": "yesterday"}, "to"),
        ]
        for params, field in cases:
            response = await client.get("/v1/usage", headers=tenant.headers, params=params)
            assert response.status_code == 400, params
            error = response.json()["error"]
            assert error["code"] == "bad_request"
            assert error["details"]["fields"][0]["field"] == field, params

    async def test_any_credential_is_enough(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        narrow = await make_key(runtime, tenant.workspace.id, {"posts:read"})
        viewer = await make_member(runtime, "v@example.com", tenant.workspace.id, "viewer")
        for headers in ({"X-Api-Key": narrow}, bearer(runtime, viewer.id)):
            response = await client.get("/v1/usage", headers=headers)
            assert response.status_code == 200
            assert response.json()["apiKeys"]["active"] == 2

    async def test_missing_credential_is_401(self, client: httpx.AsyncClient):
        assert (await client.get("/v1/usage")).status_code == 401
