"""`Idempotency-Key` on POST, exercised through POST /v1/keys: replays, reuse with another
body, a retry racing the first attempt, per-key scoping, what is (not) stored, and
expiry."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI, Request
from sqlalchemy import func, select, update

from polypost.core.deps import get_runtime
from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.models import ApiKey, IdempotencyKey
from polypost.worker.context import JobContext
from polypost.worker.jobs import purge_idempotency_keys
from tests.fixtures.factories import Tenant, make_key, make_tenant


def with_key(tenant: Tenant, key: str) -> dict[str, str]:
    return {**tenant.headers, "Idempotency-Key": key}


async def key_count(runtime: Runtime, workspace_id: str) -> int:
    async with runtime.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(ApiKey).where(ApiKey.workspace_id == workspace_id)
        )
    return int(count or 0)


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["requestId"] == response.headers["X-Request-Id"]


@pytest.fixture
async def tenant(runtime: Runtime) -> Tenant:
    return await make_tenant(runtime)


class TestReplay:
    async def test_same_request_replays_the_first_response(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        body = {"name": "ci", "scopes": ["posts:read"]}
        first = await client.post("/v1/keys", headers=with_key(tenant, "create-1"), json=body)
        assert first.status_code == 201
        assert "Idempotent-Replayed" not in first.headers
        second = await client.post("/v1/keys", headers=with_key(tenant, "create-1"), json=body)
        assert second.status_code == 201
        assert second.headers["Idempotent-Replayed"] == "true"
        assert second.content == first.content
        assert second.headers["content-type"] == first.headers["content-type"]
        assert second.headers["X-Request-Id"] != first.headers["X-Request-Id"]
        assert await key_count(runtime, tenant.workspace.id) == 2

    async def test_replayed_key_still_works(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        for _ in range(3):
            response = await client.post(
                "/v1/keys", headers=with_key(tenant, "lost-response"), json={"name": "x"}
            )
        secret = response.json()["key"]
        assert (await client.get("/v1/keys", headers={"X-Api-Key": secret})).status_code == 200
        assert await key_count(runtime, tenant.workspace.id) == 2

    async def test_replay_carries_rate_limit_headers(
        self, client: httpx.AsyncClient, tenant: Tenant
    ):
        await client.post("/v1/keys", headers=with_key(tenant, "rl"), json={"name": "x"})
        replay = await client.post("/v1/keys", headers=with_key(tenant, "rl"), json={"name": "x"})
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert "RateLimit-Remaining" in replay.headers

    async def test_stored_response_is_encrypted(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        """The response holds a secret shown once; it must not sit in plaintext for 24 h."""
        created = await client.post(
            "/v1/keys", headers=with_key(tenant, "secret"), json={"name": "x"}
        )
        secret = created.json()["key"]
        async with runtime.sessions() as session:
            stored = (
                await session.execute(
                    select(IdempotencyKey.response_body).where(IdempotencyKey.key == "secret")
                )
            ).scalar_one()
        assert stored
        assert secret.encode() not in stored
        assert b'"name"' not in stored

    async def test_requests_without_a_key_are_not_deduplicated(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        for _ in range(2):
            await client.post("/v1/keys", headers=tenant.headers, json={"name": "x"})
        assert await key_count(runtime, tenant.workspace.id) == 3


class TestReuse:
    async def test_same_key_different_body_is_422(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        await client.post("/v1/keys", headers=with_key(tenant, "k"), json={"name": "a"})
        response = await client.post("/v1/keys", headers=with_key(tenant, "k"), json={"name": "b"})
        assert_error(response, 422, "idempotency_key_reused")
        assert await key_count(runtime, tenant.workspace.id) == 2

    async def test_same_key_other_route_is_422(self, client: httpx.AsyncClient, tenant: Tenant):
        await client.post("/v1/keys", headers=with_key(tenant, "k"), json={"name": "a"})
        response = await client.post(
            "/v1/keys?limit=5", headers=with_key(tenant, "k"), json={"name": "a"}
        )
        assert_error(response, 422, "idempotency_key_reused")

    async def test_keys_are_scoped_per_api_key(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        other = {"X-Api-Key": await make_key(runtime, tenant.workspace.id, {"keys:write"})}
        first = await client.post(
            "/v1/keys", headers=with_key(tenant, "shared"), json={"name": "a"}
        )
        second = await client.post(
            "/v1/keys",
            headers={**other, "Idempotency-Key": "shared"},
            json={"name": "b", "scopes": ["keys:write"]},
        )
        assert first.status_code == second.status_code == 201
        assert "Idempotent-Replayed" not in second.headers
        assert first.json()["keyId"] != second.json()["keyId"]

    async def test_another_workspace_cannot_replay_a_response(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        other = await make_tenant(runtime, "other")
        body = {"name": "mine"}
        mine = await client.post("/v1/keys", headers=with_key(tenant, "guess"), json=body)
        theirs = await client.post("/v1/keys", headers=with_key(other, "guess"), json=body)
        assert theirs.status_code == 201
        assert "Idempotent-Replayed" not in theirs.headers
        assert theirs.json()["key"] != mine.json()["key"]


class TestInProgress:
    async def test_concurrent_retry_is_409(
        self, client: httpx.AsyncClient, app: FastAPI, runtime: Runtime, tenant: Tenant
    ):
        started, release = asyncio.Event(), asyncio.Event()

        async def slow_runtime(request: Request) -> Runtime:
            started.set()
            await release.wait()
            return get_runtime(request)

        app.dependency_overrides[get_runtime] = slow_runtime
        body = {"name": "slow"}
        headers = with_key(tenant, "race")
        first = asyncio.create_task(client.post("/v1/keys", headers=headers, json=body))
        try:
            await asyncio.wait_for(started.wait(), timeout=10)
            racing = await client.post("/v1/keys", headers=headers, json=body)
            assert_error(racing, 409, "idempotency_in_progress")
            other_body = await client.post("/v1/keys", headers=headers, json={"name": "else"})
            assert_error(other_body, 422, "idempotency_key_reused")
        finally:
            release.set()
            done = await asyncio.wait_for(first, timeout=10)
            app.dependency_overrides.clear()
        assert done.status_code == 201
        replay = await client.post("/v1/keys", headers=headers, json=body)
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert replay.content == done.content
        assert await key_count(runtime, tenant.workspace.id) == 2

    async def test_a_crashed_attempt_frees_the_key(
        self, client: httpx.AsyncClient, app: FastAPI, runtime: Runtime, tenant: Tenant
    ):
        async def broken_runtime(request: Request) -> Runtime:
            raise RuntimeError("database went away")

        app.dependency_overrides[get_runtime] = broken_runtime
        try:
            crashed = await client.post(
                "/v1/keys", headers=with_key(tenant, "crash"), json={"name": "x"}
            )
        finally:
            app.dependency_overrides.clear()
        assert_error(crashed, 500, "internal")
        retried = await client.post(
            "/v1/keys", headers=with_key(tenant, "crash"), json={"name": "x"}
        )
        assert retried.status_code == 201
        assert "Idempotent-Replayed" not in retried.headers

    async def test_stale_lock_is_taken_over(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        """A process killed mid-request leaves its claim; after the lock timeout a retry
        runs instead of waiting forever."""
        await client.post("/v1/keys", headers=with_key(tenant, "stale"), json={"name": "x"})
        async with runtime.sessions() as session:
            await session.execute(
                update(IdempotencyKey)
                .where(IdempotencyKey.key == "stale")
                .values(
                    status="in_progress",
                    response_status=None,
                    response_body=None,
                    locked_until=utcnow() - timedelta(seconds=1),
                )
            )
            await session.commit()
        retried = await client.post(
            "/v1/keys", headers=with_key(tenant, "stale"), json={"name": "x"}
        )
        assert retried.status_code == 201
        assert "Idempotent-Replayed" not in retried.headers


class TestWhatIsStored:
    async def test_400_is_not_stored(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        bad = await client.post("/v1/keys", headers=with_key(tenant, "fix-me"), json={"name": ""})
        assert_error(bad, 400, "bad_request")
        fixed = await client.post(
            "/v1/keys", headers=with_key(tenant, "fix-me"), json={"name": "ok"}
        )
        assert fixed.status_code == 201
        assert "Idempotent-Replayed" not in fixed.headers
        again = await client.post(
            "/v1/keys", headers=with_key(tenant, "fix-me"), json={"name": "ok"}
        )
        assert again.headers["Idempotent-Replayed"] == "true"
        assert await key_count(runtime, tenant.workspace.id) == 2

    async def test_403_is_not_stored(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        limited = {
            "X-Api-Key": await make_key(runtime, tenant.workspace.id, {"keys:write"}),
            "Idempotency-Key": "grant",
        }
        refused = await client.post(
            "/v1/keys", headers=limited, json={"name": "x", "scopes": ["posts:read"]}
        )
        assert_error(refused, 403, "forbidden")
        allowed = await client.post(
            "/v1/keys", headers=limited, json={"name": "x", "scopes": ["keys:write"]}
        )
        assert allowed.status_code == 201

    @pytest.mark.parametrize(
        "key",
        [
            pytest.param("k" * 256, id="too-long"),
            pytest.param("has space", id="space"),
            pytest.param("tab\tinside", id="control"),
            pytest.param("caf\u00e9".encode(), id="non-ascii"),
        ],
    )
    async def test_invalid_key_is_400(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, key: str | bytes
    ):
        headers: dict[str, str | bytes] = {**tenant.headers, "Idempotency-Key": key}
        response = await client.post("/v1/keys", headers=headers, json={"name": "x"}, extensions={})
        assert_error(response, 400, "bad_request")
        assert response.json()["error"]["details"]["fields"][0]["field"] == "Idempotency-Key"
        assert await key_count(runtime, tenant.workspace.id) == 1

    async def test_longest_valid_key(self, client: httpx.AsyncClient, tenant: Tenant):
        response = await client.post(
            "/v1/keys", headers=with_key(tenant, "k" * 255), json={"name": "x"}
        )
        assert response.status_code == 201


class TestExpiry:
    async def test_old_records_are_purged_and_the_key_reusable(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        await client.post("/v1/keys", headers=with_key(tenant, "old"), json={"name": "a"})
        await client.post("/v1/keys", headers=with_key(tenant, "fresh"), json={"name": "b"})
        async with runtime.sessions() as session:
            await session.execute(
                update(IdempotencyKey)
                .where(IdempotencyKey.key == "old")
                .values(created_at=utcnow() - timedelta(hours=24, minutes=1))
            )
            await session.commit()
        ctx: JobContext = {"runtime": runtime, "worker_id": "test"}
        assert await purge_idempotency_keys(ctx) == 1
        reused = await client.post("/v1/keys", headers=with_key(tenant, "old"), json={"name": "c"})
        assert reused.status_code == 201
        assert "Idempotent-Replayed" not in reused.headers
        fresh = await client.post("/v1/keys", headers=with_key(tenant, "fresh"), json={"name": "b"})
        assert fresh.headers["Idempotent-Replayed"] == "true"
        assert await purge_idempotency_keys(ctx) == 0

    async def test_expired_record_is_not_replayed_even_before_the_purge(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        await client.post("/v1/keys", headers=with_key(tenant, "late"), json={"name": "a"})
        async with runtime.sessions() as session:
            await session.execute(
                update(IdempotencyKey)
                .where(IdempotencyKey.key == "late")
                .values(created_at=utcnow() - timedelta(hours=25))
            )
            await session.commit()
        response = await client.post(
            "/v1/keys", headers=with_key(tenant, "late"), json={"name": "other"}
        )
        assert response.status_code == 201
        assert "Idempotent-Replayed" not in response.headers
