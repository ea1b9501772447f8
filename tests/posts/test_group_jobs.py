"""A post's targets due together go out as one `publish_targets` job: claimed and
recorded together, yet each with the per-target guarantees (one claim winner, retries of
its own, leases, no double post)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from polypost.core.runtime import Runtime
from polypost.core.timeutil import isoformat, utcnow
from polypost.models import Event, PostTarget
from polypost.posts import jobs
from polypost.posts.group_jobs import publish_targets
from polypost.worker.context import JobContext
from tests.fixtures.factories import Tenant, connect_sandbox
from tests.fixtures.jobs import RunJobs
from tests.posts.helpers import ledger_of

pytestmark = pytest.mark.usefixtures("fast_backoff")


def ctx(runtime: Runtime, worker: str = "test") -> JobContext:
    return {"runtime": runtime, "worker_id": worker, "job_try": 1}


async def post_now(
    client: httpx.AsyncClient, tenant: Tenant, accounts: list[str], content: str = "together"
) -> Any:
    body = {"accountIds": accounts, "content": content, "scheduledAt": isoformat(utcnow())}
    response = await client.post("/v1/posts", headers=tenant.headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def queued(runtime: Runtime) -> list[tuple[str, tuple[Any, ...]]]:
    """(function, args) of every job waiting in the queue."""
    if runtime.redis is not None:
        return [(job.function, tuple(job.args)) for job in await runtime.redis.queued_jobs()]
    return [(job.function, job.args) for job in runtime.queue._heap]  # type: ignore[attr-defined]


async def event_types(runtime: Runtime) -> list[str]:
    async with runtime.sessions() as session:
        return list((await session.execute(select(Event.type).order_by(Event.id))).scalars())


async def test_a_post_to_several_accounts_is_one_job(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, run_jobs: RunJobs
) -> None:
    accounts = [await connect_sandbox(client, tenant) for _ in range(3)]
    created = await post_now(client, tenant, accounts)
    targets = sorted([t["targetId"], 1] for t in created["targets"])
    assert await queued(runtime) == [("publish_targets", (created["postId"], targets))]
    await run_jobs()
    body = (await client.get(f"/v1/posts/{created['postId']}", headers=tenant.headers)).json()
    assert body["status"] == "published"
    assert {t["status"] for t in body["targets"]} == {"published"}
    for target in body["targets"]:
        entries = await ledger_of(client, tenant, target["accountId"])
        assert [e["platformPostId"] for e in entries] == [target["platformPostId"]]
    types = await event_types(runtime)
    assert types.count("target.published") == 3
    assert types.count("post.publishing") == 1
    assert types.count("post.published") == 1


async def test_a_failing_target_retries_alone(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, run_jobs: RunJobs
) -> None:
    good = [await connect_sandbox(client, tenant) for _ in range(2)]
    flaky = await connect_sandbox(client, tenant, failWith="transient", failTimes=1)
    created = await post_now(client, tenant, [*good, flaky])
    await run_jobs()
    body = (await client.get(f"/v1/posts/{created['postId']}", headers=tenant.headers)).json()
    assert body["status"] == "published"
    for account in good:
        assert [e["outcome"] for e in await ledger_of(client, tenant, account)] == ["accepted"]
    outcomes = [e["outcome"] for e in await ledger_of(client, tenant, flaky)]
    assert outcomes == ["rejected", "accepted"]
    flaky_target = next(t for t in body["targets"] if t["accountId"] == flaky)
    assert flaky_target["attempts"] == 2


async def test_a_group_and_single_jobs_racing_publish_each_target_once(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    accounts = [await connect_sandbox(client, tenant, latencyMs=50) for _ in range(3)]
    created = await post_now(client, tenant, accounts)
    items = [[t["targetId"], 1] for t in created["targets"]]
    results = await asyncio.gather(
        publish_targets(ctx(runtime, "a"), created["postId"], items),
        publish_targets(ctx(runtime, "b"), created["postId"], items),
        *(jobs.publish_target(ctx(runtime, "c"), target, 1) for target, _ in items),
    )
    group_a, group_b, *singles = results
    published = group_a.get("published", 0) + group_b.get("published", 0)
    published += singles.count("published")
    assert published == 3
    for account in accounts:
        assert len(await ledger_of(client, tenant, account)) == 1


async def test_a_stale_revision_is_skipped(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    accounts = [await connect_sandbox(client, tenant) for _ in range(2)]
    created = await post_now(client, tenant, accounts)
    stale = [[t["targetId"], 0] for t in created["targets"]]
    assert await publish_targets(ctx(runtime), created["postId"], stale) == {"skipped": 2}
    for account in accounts:
        assert await ledger_of(client, tenant, account) == []
    body = (await client.get(f"/v1/posts/{created['postId']}", headers=tenant.headers)).json()
    assert body["status"] == "scheduled"  # the post's status change rolled back too


async def start_slow_publish(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, *, latency_ms: int
) -> tuple[list[str], asyncio.Task[dict[str, int]]]:
    """A post to two accounts whose calls take `latency_ms`, being published."""
    accounts = [await connect_sandbox(client, tenant, latencyMs=latency_ms) for _ in range(2)]
    created = await post_now(client, tenant, accounts)
    items = [[t["targetId"], 1] for t in created["targets"]]
    task = asyncio.create_task(publish_targets(ctx(runtime), created["postId"], items))
    return accounts, task


async def test_a_lease_is_renewed_while_a_slow_call_runs(
    client: httpx.AsyncClient,
    runtime: Runtime,
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(jobs, "lease_for", lambda runtime: timedelta(seconds=0.6))
    accounts, publishing = await start_slow_publish(client, runtime, tenant, latency_ms=1500)
    await asyncio.sleep(1.0)  # past the lease's first expiry, mid-call
    assert (await jobs.reconcile_targets(ctx(runtime)))["recovered"] == 0
    assert await publishing == {"published": 2, "skipped": 0}
    async with runtime.sessions() as session:
        revisions = (await session.execute(select(PostTarget.revision))).scalars().all()
    assert revisions == [1, 1]
    for account in accounts:
        assert len(await ledger_of(client, tenant, account)) == 1


async def test_a_dead_workers_lease_still_expires(
    client: httpx.AsyncClient,
    runtime: Runtime,
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(jobs, "lease_for", lambda runtime: timedelta(seconds=0.3))
    _, publishing = await start_slow_publish(client, runtime, tenant, latency_ms=2000)
    await asyncio.sleep(0.3)
    publishing.cancel()  # the worker dies mid-call: nothing renews its leases any more
    with pytest.raises(asyncio.CancelledError):
        await publishing
    await asyncio.sleep(0.5)
    assert (await jobs.reconcile_targets(ctx(runtime)))["recovered"] == 2


async def test_posts_due_together_are_claimed_and_recorded_together(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    accounts = [await connect_sandbox(client, tenant, latencyMs=20) for _ in range(3)]
    posts = [await post_now(client, tenant, accounts, f"post {n}") for n in range(4)]
    results = await asyncio.gather(
        *(
            publish_targets(
                ctx(runtime), post["postId"], [[t["targetId"], 1] for t in post["targets"]]
            )
            for post in posts
        )
    )
    assert results == [{"published": 3, "skipped": 0}] * 4
    for post in posts:
        body = (await client.get(f"/v1/posts/{post['postId']}", headers=tenant.headers)).json()
        assert body["status"] == "published"
    for account in accounts:
        assert len(await ledger_of(client, tenant, account)) == 4
    types = await event_types(runtime)
    assert types.count("post.publishing") == 4
    assert types.count("post.published") == 4
    assert types.count("target.published") == 12


async def test_a_target_whose_lease_was_taken_is_not_overwritten(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    accounts = [await connect_sandbox(client, tenant, latencyMs=300) for _ in range(2)]
    created = await post_now(client, tenant, accounts)
    items = sorted([t["targetId"], 1] for t in created["targets"])
    publishing = asyncio.create_task(publish_targets(ctx(runtime), created["postId"], items))
    await asyncio.sleep(0.15)
    stolen = items[0][0]
    async with runtime.sessions() as session, session.begin():
        await session.execute(
            update(PostTarget).where(PostTarget.id == stolen).values(lease_owner="recovery:1")
        )
    assert await publishing == {"published": 1, "lease_lost": 1, "skipped": 0}
    async with runtime.sessions() as session:
        rows = dict((await session.execute(select(PostTarget.id, PostTarget.status))).all())
    assert rows[stolen] == "publishing"  # left to the worker that holds it now
    assert rows[items[1][0]] == "published"
