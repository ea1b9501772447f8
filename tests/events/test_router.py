from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from polypost.core.runtime import Runtime
from polypost.core.timeutil import isoformat, utcnow
from polypost.events.outbox import record_event
from polypost.models import Event
from tests.fixtures.factories import make_key, make_tenant


async def add_event(
    runtime: Runtime,
    workspace_id: str,
    type_: str,
    *,
    at: datetime | None = None,
    resource_id: str | None = None,
    data: dict[str, Any] | None = None,
) -> str:
    """An event at a chosen time (the outbox stamps `now`, summaries need history)."""
    async with runtime.sessions() as session:
        event = record_event(session, workspace_id, type_, data or {}, resource_id=resource_id)
        if at is not None:
            event.created_at = at
        await session.commit()
        return event.id


async def event_ids(client: httpx.AsyncClient, headers: dict[str, str], query: str) -> list[str]:
    response = await client.get("/v1/events" + query, headers=headers)
    assert response.status_code == 200, response.text
    return [e["eventId"] for e in response.json()["events"]]


class TestRecordEvent:
    async def test_event_commits_with_the_callers_transaction(self, runtime: Runtime):
        tenant = await make_tenant(runtime)
        async with runtime.sessions() as session:
            record_event(session, tenant.workspace.id, "post.published", {"postId": "pst_1"})
            await session.rollback()
        async with runtime.sessions() as session:
            kept = record_event(session, tenant.workspace.id, "post.failed", {}, resource_id="r")
            await session.commit()
        async with runtime.sessions() as session:
            rows = list(await session.scalars(select(Event)))
        assert [(e.id, e.type, e.resource_id, e.dispatched_at) for e in rows] == [
            (kept.id, "post.failed", "r", None)
        ]


class TestListEvents:
    async def test_newest_first_with_every_field(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        first = await add_event(runtime, tenant.workspace.id, "post.scheduled", resource_id="p1")
        second = await add_event(
            runtime, tenant.workspace.id, "post.published", resource_id="p1", data={"n": 2}
        )
        response = await client.get("/v1/events", headers=tenant.headers)
        body = response.json()
        assert [e["eventId"] for e in body["events"]] == [second, first]
        assert body["events"][0] == {
            "eventId": second,
            "type": "post.published",
            "resourceId": "p1",
            "data": {"n": 2},
            "createdAt": body["events"][0]["createdAt"],
        }
        assert body["events"][0]["createdAt"].endswith("Z")
        assert body["nextCursor"] is None

    async def test_filters(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        ws = tenant.workspace.id
        now = utcnow()
        old = await add_event(runtime, ws, "post.published", at=now - timedelta(days=3))
        mid = await add_event(
            runtime, ws, "media.ready", at=now - timedelta(days=2), resource_id="md_1"
        )
        new = await add_event(runtime, ws, "post.failed", at=now - timedelta(days=1))
        headers = tenant.headers
        assert await event_ids(client, headers, "?type=post.published") == [old]
        assert await event_ids(client, headers, "?type=post.published,post.failed") == [new, old]
        assert await event_ids(client, headers, "?type=post.failed&type=media.ready") == [new, mid]
        assert await event_ids(client, headers, "?resourceId=md_1") == [mid]
        since = isoformat(now - timedelta(days=2))
        until = isoformat(now - timedelta(days=1))
        params = {"from": since, "to": until}
        response = await client.get("/v1/events", headers=headers, params=params)
        assert [e["eventId"] for e in response.json()["events"]] == [mid]  # from ≤ t < to
        naive = (now - timedelta(days=1, hours=1)).replace(tzinfo=None).isoformat()
        response = await client.get("/v1/events", headers=headers, params={"from": naive})
        assert [e["eventId"] for e in response.json()["events"]] == [new]

    async def test_cursor_is_stable_while_events_arrive(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        ids = [await add_event(runtime, tenant.workspace.id, "media.ready") for _ in range(5)]
        first = (await client.get("/v1/events?limit=2", headers=tenant.headers)).json()
        await add_event(runtime, tenant.workspace.id, "media.ready")  # newer: not in later pages
        seen = [e["eventId"] for e in first["events"]]
        cursor = first["nextCursor"]
        while cursor:
            page = (
                await client.get(f"/v1/events?limit=2&cursor={cursor}", headers=tenant.headers)
            ).json()
            seen += [e["eventId"] for e in page["events"]]
            cursor = page["nextCursor"]
        assert seen == list(reversed(ids))

    async def test_other_workspaces_events_are_invisible(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        mine = await make_tenant(runtime, "mine")
        other = await make_tenant(runtime, "other")
        theirs = await add_event(runtime, other.workspace.id, "post.published", resource_id="x")
        assert await event_ids(client, mine.headers, "") == []
        assert await event_ids(client, mine.headers, "?resourceId=x") == []
        assert await event_ids(client, other.headers, "") == [theirs]

    @pytest.mark.parametrize(
        "query",
        [
            "?type=DROP TABLE",
            "?type=" + ",".join(f"post.t{chr(97 + i)}" for i in range(21)),
            "?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
            "?from=yesterday",
            "?resourceId=" + "r" * 41,
            "?limit=1000",
            "?cursor=%%%",
        ],
    )
    async def test_invalid_query_is_400(
        self, client: httpx.AsyncClient, runtime: Runtime, query: str
    ):
        tenant = await make_tenant(runtime)
        response = await client.get("/v1/events" + query, headers=tenant.headers)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "bad_request"

    async def test_needs_webhooks_read(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        poster = await make_key(runtime, tenant.workspace.id, {"posts:read", "posts:write"})
        reader = await make_key(runtime, tenant.workspace.id, {"webhooks:read"})
        for path in ("/v1/events", "/v1/events/summary"):
            denied = await client.get(path, headers={"X-Api-Key": poster})
            assert denied.status_code == 403
            assert denied.json()["error"]["details"]["requiredScope"] == "webhooks:read"
            assert (await client.get(path, headers={"X-Api-Key": reader})).status_code == 200


class TestEventSummary:
    async def test_counts_per_type_and_utc_day(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        other = await make_tenant(runtime, "other")
        ws = tenant.workspace.id
        day1 = datetime(2026, 11, 20, 23, 59, 59, tzinfo=UTC)
        day2 = datetime(2026, 11, 21, 0, 0, 1, tzinfo=UTC)
        for at, type_ in [
            (day1, "post.published"),
            (day1, "post.published"),
            (day1, "post.failed"),
            (day2, "post.published"),
            (day2 + timedelta(hours=23), "media.ready"),
        ]:
            await add_event(runtime, ws, type_, at=at)
        await add_event(runtime, other.workspace.id, "post.published", at=day1)
        await add_event(runtime, ws, "post.published", at=day1 - timedelta(days=40))
        params = {"from": "2026-11-01T00:00:00Z", "to": "2026-11-30T00:00:00Z"}
        response = await client.get("/v1/events/summary", headers=tenant.headers, params=params)
        assert response.status_code == 200, response.text
        assert response.json() == {
            "from": "2026-11-01T00:00:00Z",
            "to": "2026-11-30T00:00:00Z",
            "total": 5,
            "byType": {"media.ready": 1, "post.failed": 1, "post.published": 3},
            "days": [
                {
                    "date": "2026-11-20",
                    "total": 3,
                    "byType": {"post.failed": 1, "post.published": 2},
                },
                {
                    "date": "2026-11-21",
                    "total": 2,
                    "byType": {"media.ready": 1, "post.published": 1},
                },
            ],
        }
        only = await client.get(
            "/v1/events/summary",
            headers=tenant.headers,
            params={**params, "type": "post.failed"},
        )
        assert only.json()["byType"] == {"post.failed": 1}

    async def test_default_window_is_the_last_30_days(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        now = utcnow()
        await add_event(runtime, tenant.workspace.id, "post.published", at=now - timedelta(days=2))
        await add_event(runtime, tenant.workspace.id, "post.failed", at=now - timedelta(days=31))
        body = (await client.get("/v1/events/summary", headers=tenant.headers)).json()
        assert body["byType"] == {"post.published": 1}
        span = datetime.fromisoformat(body["to"]) - datetime.fromisoformat(body["from"])
        assert span == timedelta(days=30)

    async def test_window_is_limited(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        response = await client.get(
            "/v1/events/summary",
            headers=tenant.headers,
            params={"from": "2024-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        )
        assert response.status_code == 400
        assert "400 days" in response.json()["error"]["message"]
