"""Per-credential rate limits as a client sees them, on both limiters (Redis GCRA in
distributed mode, in-process GCRA in embedded mode), plus the GCRA arithmetic itself.

The in-process limiter's clock is frozen so its counts are exact. Redis keeps its own
clock (`TIME` inside the script), so there the test allows for the budget that genuinely
refills while the requests run: one request per 60/limit seconds elapsed.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy import func, select

from polypost.core import ratelimit
from polypost.core.ratelimit import gcra
from polypost.core.runtime import Runtime
from polypost.models import ApiKey, Workspace
from tests.fixtures.factories import Tenant, make_key, make_tenant


@dataclass
class Clock:
    now: float

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(backend: str, monkeypatch: pytest.MonkeyPatch) -> Clock | None:
    """A frozen clock for the in-process limiter; None where Redis keeps time."""
    if backend == "postgres":
        return None
    frozen = Clock(time.monotonic())
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(monotonic=lambda: frozen.now))
    return frozen


@dataclass
class Burst:
    responses: list[httpx.Response]
    elapsed: float

    def refill(self, limit: int, clock: Clock | None) -> int:
        """Requests that may legitimately have refilled during the burst."""
        return 0 if clock is not None else math.ceil(self.elapsed * limit / 60) + 1


async def burst(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    count: int,
    stop: Callable[[httpx.Response], bool] = lambda r: False,
) -> Burst:
    started = time.monotonic()
    responses = []
    for _ in range(count):
        response = await client.get("/v1/keys", headers=headers, params={"limit": 1})
        responses.append(response)
        if stop(response):
            break
    return Burst(responses, time.monotonic() - started)


def is_limited(response: httpx.Response) -> bool:
    return response.status_code == 429


async def set_workspace_limit(runtime: Runtime, workspace_id: str, limit: int) -> None:
    async with runtime.sessions() as session:
        workspace = await session.get(Workspace, workspace_id)
        assert workspace is not None
        workspace.rate_limit_per_minute = limit
        await session.commit()


def assert_limited(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["requestId"] == response.headers["X-Request-Id"]
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= math.ceil(60 / limit)
    assert response.headers["RateLimit-Limit"] == str(limit)
    assert response.headers["RateLimit-Remaining"] == "0"
    assert int(response.headers["RateLimit-Reset"]) >= 1


class TestDefaultLimit:
    async def test_120_pass_then_429(
        self, client: httpx.AsyncClient, runtime: Runtime, clock: Clock | None
    ):
        assert runtime.settings.rate_limit_per_minute == 120
        tenant = await make_tenant(runtime)
        first = await burst(client, tenant.headers, 120)
        assert [r.status_code for r in first.responses] == [200] * 120
        for n, response in enumerate(first.responses, start=1):
            assert response.headers["RateLimit-Limit"] == "120"
            remaining = int(response.headers["RateLimit-Remaining"])
            assert 120 - n <= remaining <= 120 - n + first.refill(120, clock)
            assert 1 <= int(response.headers["RateLimit-Reset"]) <= 60
        if clock is not None:
            assert [int(r.headers["RateLimit-Remaining"]) for r in first.responses] == list(
                range(119, -1, -1)
            )
        allowance = first.refill(120, clock)
        extra = await burst(client, tenant.headers, allowance + 5, stop=is_limited)
        refilled = extra.responses[:-1]
        assert all(r.status_code == 200 for r in refilled)
        assert len(refilled) <= allowance + extra.refill(120, clock)
        assert_limited(extra.responses[-1], 120)
        if clock is not None:
            assert refilled == [], "the 121st request is refused"

    async def test_budget_refills_over_time(
        self, client: httpx.AsyncClient, runtime: Runtime, clock: Clock | None
    ):
        tenant = await make_tenant(runtime)
        await set_workspace_limit(runtime, tenant.workspace.id, 60)
        spent = await burst(client, tenant.headers, 70, stop=is_limited)
        limited = spent.responses[-1]
        assert_limited(limited, 60)
        wait = int(limited.headers["Retry-After"])
        if clock is not None:
            clock.advance(wait)
        else:
            await asyncio.sleep(wait)
        again = await client.get("/v1/keys", headers=tenant.headers)
        assert again.status_code == 200

    async def test_limited_request_is_not_executed(
        self, client: httpx.AsyncClient, runtime: Runtime, clock: Clock | None
    ):
        tenant = await make_tenant(runtime)
        await set_workspace_limit(runtime, tenant.workspace.id, 2)
        await burst(client, tenant.headers, 2)
        refused = await client.post("/v1/keys", headers=tenant.headers, json={"name": "late"})
        assert_limited(refused, 2)
        async with runtime.sessions() as session:
            count = await session.scalar(
                select(func.count()).where(ApiKey.workspace_id == tenant.workspace.id)
            )
        assert count == 1


class TestWorkspaceOverride:
    async def test_override_applies(
        self, client: httpx.AsyncClient, runtime: Runtime, clock: Clock | None
    ):
        tenant = await make_tenant(runtime)
        await set_workspace_limit(runtime, tenant.workspace.id, 5)
        result = await burst(client, tenant.headers, 6)
        assert [r.status_code for r in result.responses] == [200] * 5 + [429]
        assert [r.headers["RateLimit-Remaining"] for r in result.responses[:5]] == [
            "4",
            "3",
            "2",
            "1",
            "0",
        ]
        assert_limited(result.responses[5], 5)

    async def test_override_can_raise_the_limit(
        self, client: httpx.AsyncClient, runtime: Runtime, clock: Clock | None
    ):
        tenant = await make_tenant(runtime)
        await set_workspace_limit(runtime, tenant.workspace.id, 10_000)
        response = await client.get("/v1/keys", headers=tenant.headers)
        assert response.headers["RateLimit-Limit"] == "10000"

    async def test_other_workspaces_keep_the_default(
        self, client: httpx.AsyncClient, runtime: Runtime, clock: Clock | None
    ):
        limited = await make_tenant(runtime, "limited")
        await set_workspace_limit(runtime, limited.workspace.id, 1)
        other = await make_tenant(runtime, "other")
        response = await client.get("/v1/keys", headers=other.headers)
        assert response.headers["RateLimit-Limit"] == "120"


class TestSeparateBudgets:
    async def test_two_keys_have_separate_budgets(
        self, client: httpx.AsyncClient, runtime: Runtime, clock: Clock | None
    ):
        tenant: Tenant = await make_tenant(runtime)
        await set_workspace_limit(runtime, tenant.workspace.id, 3)
        second = {"X-Api-Key": await make_key(runtime, tenant.workspace.id, {"keys:write"})}
        first_burst = await burst(client, tenant.headers, 4)
        assert [r.status_code for r in first_burst.responses] == [200, 200, 200, 429]
        second_burst = await burst(client, second, 4)
        assert [r.status_code for r in second_burst.responses] == [200, 200, 200, 429]

    async def test_rejected_credentials_do_not_spend_a_budget(
        self, client: httpx.AsyncClient, runtime: Runtime, clock: Clock | None
    ):
        tenant = await make_tenant(runtime)
        await set_workspace_limit(runtime, tenant.workspace.id, 2)
        for _ in range(5):
            await client.get("/v1/keys", headers={"X-Api-Key": tenant.key[:-1] + "0"})
        result = await burst(client, tenant.headers, 2)
        assert [r.status_code for r in result.responses] == [200, 200]


class TestGcra:
    """The arithmetic both limiters implement (the Lua script mirrors `gcra`)."""

    def test_burst_of_limit_then_refusal(self):
        tat, now = 0.0, 1000.0
        allowed = 0
        for _ in range(130):
            decision, tat = gcra(tat, now, 120)
            if not decision.allowed:
                assert decision.retry_after == 1
                assert decision.remaining == 0
                break
            allowed += 1
        assert allowed == 120

    def test_one_more_every_interval(self):
        tat, now = 0.0, 1000.0
        for _ in range(120):
            _, tat = gcra(tat, now, 120)
        assert not gcra(tat, now + 0.49, 120)[0].allowed
        decision, tat = gcra(tat, now + 0.5, 120)
        assert decision.allowed
        assert decision.remaining == 0
        assert not gcra(tat, now + 0.5, 120)[0].allowed

    def test_idle_bucket_is_full_again(self):
        tat, now = 0.0, 1000.0
        for _ in range(120):
            _, tat = gcra(tat, now, 120)
        decision, _ = gcra(tat, now + 60, 120)
        assert decision.allowed
        assert decision.remaining == 119

    def test_refusal_does_not_consume(self):
        tat, now = 0.0, 1000.0
        for _ in range(5):
            _, tat = gcra(tat, now, 5)
        for _ in range(10):
            decision, new_tat = gcra(tat, now, 5)
            assert not decision.allowed
            assert new_tat == tat
        assert decision.retry_after == 12

    async def test_memory_limiter_keys_are_independent(self):
        limiter = ratelimit.MemoryRateLimiter()
        for _ in range(3):
            assert (await limiter.hit("a", 3)).allowed
        assert not (await limiter.hit("a", 3)).allowed
        assert (await limiter.hit("b", 3)).allowed
