"""A service that publishes nothing must not look healthy."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import update

from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.models import PostTarget
from polypost.worker.health import record_heartbeat
from tests.fixtures.factories import connect_sandbox, make_tenant


async def overdue_post(client: httpx.AsyncClient, runtime: Runtime, minutes: int) -> None:
    tenant = await make_tenant(runtime)
    account = await connect_sandbox(client, tenant)
    response = await client.post(
        "/v1/posts", headers=tenant.headers, json={"accountIds": [account], "content": "due"}
    )
    assert response.status_code == 201
    async with runtime.sessions() as session:
        await session.execute(
            update(PostTarget).values(scheduled_at=utcnow() - timedelta(minutes=minutes))
        )
        await session.commit()


async def test_overdue_unclaimed_targets_fail_readiness(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await record_heartbeat(runtime, "alive-but-stuck")
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["publishing"] == "ok"
    await overdue_post(client, runtime, minutes=10)
    ready = await client.get("/readyz")
    assert ready.status_code == 503
    check = ready.json()["checks"]["publishing"]
    assert "1 targets overdue" in check
    assert "oldest waiting 6" in check  # ~600 s


async def test_metrics_expose_backlog_and_lag(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await overdue_post(client, runtime, minutes=1)
    text = (await client.get("/metrics")).text
    assert "polypost_targets_due_unclaimed 1.0" in text
    lag = next(
        float(line.split()[1])
        for line in text.splitlines()
        if line.startswith("polypost_scheduling_lag_seconds ")
    )
    assert 55 < lag < 120


async def test_a_recent_due_target_is_not_yet_a_problem(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await record_heartbeat(runtime, "alive")
    await overdue_post(client, runtime, minutes=1)
    assert (await client.get("/readyz")).status_code == 200
