"""The publish job and the reconciler: error classes, retries, recovery without
double-posting, parked media processing, stale jobs."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from polypost.core.runtime import Runtime
from polypost.core.timeutil import isoformat, utcnow
from polypost.models import Event, PostTarget, SocialAccount
from polypost.platforms import registry
from polypost.platforms.base import Credentials, Outgoing, Pending, Published, Transient
from polypost.platforms.sandbox.adapter import SandboxAdapter
from polypost.posts import jobs
from polypost.posts.enqueue import job_id
from polypost.worker.context import JobContext
from tests.fixtures.factories import Tenant, connect_sandbox
from tests.fixtures.jobs import RunJobs
from tests.posts.helpers import ledger_of

pytestmark = pytest.mark.usefixtures("fast_backoff")


async def post_to(client: httpx.AsyncClient, tenant: Tenant, accounts: list[str], **body: Any):
    payload = {"accountIds": accounts, "content": body.pop("content", "hello"), **body}
    response = await client.post("/v1/posts", headers=tenant.headers, json=payload)
    assert response.status_code == 201, response.text
    return response.json()


async def status(client: httpx.AsyncClient, tenant: Tenant, post_id: str) -> dict[str, Any]:
    return dict((await client.get(f"/v1/posts/{post_id}", headers=tenant.headers)).json())


async def event_types(runtime: Runtime) -> list[str]:
    async with runtime.sessions() as session:
        return list((await session.execute(select(Event.type).order_by(Event.id))).scalars())


def ctx(runtime: Runtime) -> JobContext:
    return {"runtime": runtime, "worker_id": "test", "job_try": 1}


class TestErrorClasses:
    async def test_permanent_failure_records_the_platform_reason(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, run_jobs: RunJobs
    ):
        account = await connect_sandbox(client, tenant, failWith="permanent")
        created = await post_to(client, tenant, [account])
        await run_jobs()
        body = await status(client, tenant, created["postId"])
        assert body["status"] == "failed"
        target = body["targets"][0]
        assert target["error"]["code"] == "sandbox_refused"
        assert target["attempts"] == 1
        assert "target.failed" in await event_types(runtime)
        assert "post.failed" in await event_types(runtime)

    async def test_transient_failure_is_retried(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, run_jobs: RunJobs
    ):
        account = await connect_sandbox(client, tenant, failWith="transient", failTimes=2)
        created = await post_to(client, tenant, [account])
        await run_jobs()
        target = (await status(client, tenant, created["postId"]))["targets"][0]
        assert target["status"] == "published"
        assert target["attempts"] == 3
        entries = await ledger_of(client, tenant, account)
        assert [e["outcome"] for e in entries] == ["rejected", "rejected", "accepted"]

    async def test_attempts_are_bounded(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, run_jobs: RunJobs
    ):
        account = await connect_sandbox(client, tenant, failWith="transient")
        created = await post_to(client, tenant, [account])
        await run_jobs()
        target = (await status(client, tenant, created["postId"]))["targets"][0]
        assert target["status"] == "failed"
        assert target["attempts"] == jobs.MAX_ATTEMPTS
        assert target["error"]["code"] == "transient_exhausted"

    async def test_rate_limit_waits_for_the_reset(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, run_jobs: RunJobs
    ):
        account = await connect_sandbox(
            client, tenant, failWith="rate_limited", failTimes=1, retryAfterSeconds=1
        )
        created = await post_to(client, tenant, [account])
        await run_jobs()
        target = (await status(client, tenant, created["postId"]))["targets"][0]
        assert target["status"] == "scheduled"
        assert target["error"]["code"] == "rate_limited"
        async with runtime.sessions() as session:
            row = await session.get(PostTarget, target["targetId"])
            assert row is not None
            assert row.next_attempt_at is not None
            assert row.next_attempt_at > utcnow()
        await asyncio.sleep(1.1)
        await run_jobs()
        target = (await status(client, tenant, created["postId"]))["targets"][0]
        assert target["status"] == "published"

    async def test_auth_expired_marks_the_account(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, run_jobs: RunJobs
    ):
        account = await connect_sandbox(client, tenant, failWith="auth_expired")
        created = await post_to(client, tenant, [account])
        await run_jobs()
        target = (await status(client, tenant, created["postId"]))["targets"][0]
        assert target["status"] == "failed"
        assert target["error"]["code"] == "auth_expired"
        assert "reconnect" in target["error"]["message"]
        accounts = (await client.get("/v1/accounts", headers=tenant.headers)).json()["accounts"]
        assert accounts[0]["status"] == "expired"
        assert "account.token_expired" in await event_types(runtime)

    async def test_one_failing_account_makes_the_post_partial(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, run_jobs: RunJobs
    ):
        good = [await connect_sandbox(client, tenant) for _ in range(2)]
        bad = await connect_sandbox(client, tenant, failWith="permanent")
        created = await post_to(client, tenant, [*good, bad])
        await run_jobs()
        body = await status(client, tenant, created["postId"])
        assert body["status"] == "partial"
        types = await event_types(runtime)
        assert types.count("target.published") == 2
        assert types.count("target.failed") == 1
        assert types.count("post.partial") == 1


class TestStaleJobs:
    async def test_an_edit_makes_the_queued_job_a_no_op(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, run_jobs: RunJobs
    ):
        account = await connect_sandbox(client, tenant)
        created = await post_to(client, tenant, [account], content="first")
        target_id = created["targets"][0]["targetId"]
        edited = await client.put(
            f"/v1/posts/{created['postId']}", headers=tenant.headers, json={"content": "second"}
        )
        assert edited.status_code == 200, edited.text
        assert await jobs.publish_target(ctx(runtime), target_id, 1) == "skipped"
        await run_jobs()
        entries = await ledger_of(client, tenant, account)
        assert [e["caption"] for e in entries] == ["second"]


class InterruptedSandbox(SandboxAdapter):
    """Accepts the post, then the worker 'dies' before recording it."""

    async def publish(self, account: Credentials, post: Outgoing) -> Published:
        await super().publish(account, post)
        raise asyncio.CancelledError


async def interrupt_publish(
    client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch, target_id: str
) -> None:
    """Run the claim and the platform call, then lose the worker (no cleanup ran)."""
    monkeypatch.setitem(registry.FACTORIES, "sandbox", InterruptedSandbox)
    runtime.extras.pop("adapters", None)
    with pytest.raises(asyncio.CancelledError):
        await jobs.publish_target(ctx(runtime), target_id, 1)
    monkeypatch.setitem(registry.FACTORIES, "sandbox", SandboxAdapter)
    runtime.extras.pop("adapters", None)
    async with runtime.sessions() as session:
        await session.execute(
            update(PostTarget)
            .where(PostTarget.id == target_id)
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()


class TestRecovery:
    async def test_lookup_adopts_the_post_the_dead_worker_made(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        tenant: Tenant,
        run_jobs: RunJobs,
        monkeypatch: pytest.MonkeyPatch,
    ):
        account = await connect_sandbox(client, tenant, recovery="lookup")
        created = await post_to(client, tenant, [account], scheduledAt=isoformat(utcnow()))
        target_id = created["targets"][0]["targetId"]
        await interrupt_publish(client, runtime, monkeypatch, target_id)
        result = await jobs.reconcile_targets(ctx(runtime))
        assert result["recovered"] == 1
        await run_jobs()
        target = (await status(client, tenant, created["postId"]))["targets"][0]
        assert target["status"] == "published"
        entries = await ledger_of(client, tenant, account)
        assert len(entries) == 1
        assert target["platformPostId"] == entries[0]["platformPostId"]

    async def test_nothing_found_means_it_is_safe_to_send(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        tenant: Tenant,
        run_jobs: RunJobs,
    ):
        account = await connect_sandbox(client, tenant, recovery="lookup")
        created = await post_to(client, tenant, [account])
        target_id = created["targets"][0]["targetId"]
        # A worker claimed it and wrote its intent, then died before calling the platform.
        async with runtime.sessions() as session:
            await session.execute(
                update(PostTarget)
                .where(PostTarget.id == target_id)
                .values(
                    status="publishing",
                    lease_owner="dead",
                    lease_expires_at=utcnow() - timedelta(seconds=1),
                    progress={
                        "inflight": {
                            "step": "main",
                            "key": f"{target_id}:main",
                            "startedAt": isoformat(utcnow()),
                        }
                    },
                )
            )
            await session.commit()
        await jobs.reconcile_targets(ctx(runtime))
        await run_jobs()
        assert len(await ledger_of(client, tenant, account)) == 1
        target = (await status(client, tenant, created["postId"]))["targets"][0]
        assert target["status"] == "published"

    async def test_no_way_to_tell_fails_as_outcome_unknown(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        tenant: Tenant,
        run_jobs: RunJobs,
        monkeypatch: pytest.MonkeyPatch,
    ):
        account = await connect_sandbox(client, tenant, recovery="none")
        created = await post_to(client, tenant, [account])
        target_id = created["targets"][0]["targetId"]
        await interrupt_publish(client, runtime, monkeypatch, target_id)
        await jobs.reconcile_targets(ctx(runtime))
        await run_jobs()
        target = (await status(client, tenant, created["postId"]))["targets"][0]
        assert target["status"] == "failed"
        assert target["error"]["code"] == "outcome_unknown"
        assert len(await ledger_of(client, tenant, account)) == 1
        # A plain retry leaves it alone; the explicit flag sends again.
        retry = await client.post(f"/v1/posts/{created['postId']}/retry", headers=tenant.headers)
        assert retry.status_code == 409
        retry = await client.post(
            f"/v1/posts/{created['postId']}/retry",
            headers=tenant.headers,
            json={"includeOutcomeUnknown": True},
        )
        assert retry.status_code == 200
        await run_jobs()
        assert len(await ledger_of(client, tenant, account)) == 2

    async def test_idempotency_key_platforms_resend_within_the_window(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        tenant: Tenant,
        run_jobs: RunJobs,
        monkeypatch: pytest.MonkeyPatch,
    ):
        account = await connect_sandbox(client, tenant, recovery="idempotent")
        created = await post_to(client, tenant, [account])
        target_id = created["targets"][0]["targetId"]
        await interrupt_publish(client, runtime, monkeypatch, target_id)
        await jobs.reconcile_targets(ctx(runtime))
        await run_jobs()
        entries = await ledger_of(client, tenant, account)
        assert [e["outcome"] for e in entries] == ["accepted", "deduplicated"]
        target = (await status(client, tenant, created["postId"]))["targets"][0]
        assert target["platformPostId"] == entries[0]["platformPostId"]

    async def test_reconciler_requeues_after_the_queue_is_lost(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, run_jobs: RunJobs
    ):
        account = await connect_sandbox(client, tenant)
        created = await post_to(client, tenant, [account])
        if runtime.redis is not None:
            await runtime.redis.flushdb()
        else:
            runtime.queue.clear()  # type: ignore[attr-defined]
        await run_jobs()
        assert await ledger_of(client, tenant, account) == []
        async with runtime.sessions() as session:
            await session.execute(update(PostTarget).values(queued_at=None))
            await session.commit()
        assert (await jobs.reconcile_targets(ctx(runtime)))["enqueued"] == 1
        await run_jobs()
        body = await status(client, tenant, created["postId"])
        assert body["status"] == "published"

    @pytest.mark.parametrize("backend", ["postgres"], indirect=True)
    async def test_a_flushed_queue_is_noticed_at_once(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, run_jobs: RunJobs
    ):
        """Redis lost its data (the reconciler's sentinel is gone): targets handed over a
        moment ago are handed over again now, not after REQUEUE_AFTER."""
        assert runtime.redis is not None
        account = await connect_sandbox(client, tenant)
        await jobs.reconcile_targets(ctx(runtime))  # sets the sentinel
        created = await post_to(client, tenant, [account])
        await runtime.redis.flushdb()
        assert (await jobs.reconcile_targets(ctx(runtime)))["enqueued"] == 1
        assert (await jobs.reconcile_targets(ctx(runtime)))["enqueued"] == 0  # noticed once
        await run_jobs()
        body = await status(client, tenant, created["postId"])
        assert body["status"] == "published"
        assert len(await ledger_of(client, tenant, account)) == 1

    @pytest.mark.parametrize("backend", ["postgres"], indirect=True)
    async def test_a_job_arq_finished_without_running_is_replaced(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, run_jobs: RunJobs
    ):
        """A flush can leave arq a job id without its data: arq records it as expired and
        its kept result refuses the id; the reconciler hands the target over anew."""
        assert runtime.redis is not None
        account = await connect_sandbox(client, tenant)
        created = await post_to(client, tenant, [account])
        target_id = created["targets"][0]["targetId"]
        await runtime.redis.flushdb()
        await runtime.redis.set(f"arq:result:{job_id(target_id, 1)}", b"expired", ex=60)
        await jobs.reconcile_targets(ctx(runtime))
        await run_jobs()
        body = await status(client, tenant, created["postId"])
        assert body["status"] == "published"
        assert len(await ledger_of(client, tenant, account)) == 1


class FlakyThreadSandbox(SandboxAdapter):
    """Fails the second reply once, with nothing sent."""

    failed = False

    async def publish(self, account: Credentials, post: Outgoing) -> Published:
        if post.key.endswith("segment:2") and not FlakyThreadSandbox.failed:
            FlakyThreadSandbox.failed = True
            raise Transient("connection reset before sending")
        return await super().publish(account, post)


async def test_a_thread_resumes_where_it_stopped(
    client: httpx.AsyncClient,
    runtime: Runtime,
    tenant: Tenant,
    run_jobs: RunJobs,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    FlakyThreadSandbox.failed = False
    monkeypatch.setitem(registry.FACTORIES, "sandbox", FlakyThreadSandbox)
    account = await connect_sandbox(client, tenant, "x")
    created = await post_to(
        client,
        tenant,
        [account],
        content="",
        thread=[{"text": "one"}, {"text": "two"}, {"text": "three"}],
        firstComment="links below",
    )
    await run_jobs()
    entries = await ledger_of(client, tenant, account)
    assert [e["caption"] for e in entries] == ["one", "two", "three", "links below"]
    assert [e["action"] for e in entries] == ["publish", "reply", "reply", "comment"]
    target = (await status(client, tenant, created["postId"]))["targets"][0]
    assert target["status"] == "published"
    assert target["attempts"] == 2


class ProcessingSandbox(SandboxAdapter):
    """The platform processes media for two polls before the post can go out."""

    async def publish(self, account: Credentials, post: Outgoing) -> Published:
        polls = int((post.resume or {}).get("polls", 0))
        if polls < 2:
            raise Pending("processing", {"polls": polls + 1}, timedelta(0))
        return await super().publish(account, post)


async def test_processing_parks_the_target_without_holding_a_worker(
    client: httpx.AsyncClient,
    runtime: Runtime,
    tenant: Tenant,
    run_jobs: RunJobs,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(registry.FACTORIES, "sandbox", ProcessingSandbox)
    account = await connect_sandbox(client, tenant)
    created = await post_to(client, tenant, [account])
    target_id = created["targets"][0]["targetId"]
    assert await jobs.publish_target(ctx(runtime), target_id, 1) == "pending"
    polled = await client.get(f"/v1/posts/{created['postId']}/status", headers=tenant.headers)
    assert polled.json()["targets"][0]["status"] == "publishing"
    assert polled.json()["targets"][0]["stage"] == "processing"
    async with runtime.sessions() as session:
        row = await session.get(PostTarget, target_id)
        assert row is not None
        assert row.lease_owner is not None
        assert row.lease_owner.startswith("parked:")
    await run_jobs()
    target = (await status(client, tenant, created["postId"]))["targets"][0]
    assert target["status"] == "published"
    assert len(await ledger_of(client, tenant, account)) == 1


async def test_disconnected_account_fails_pending_targets(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, run_jobs: RunJobs
) -> None:
    account = await connect_sandbox(client, tenant)
    later = isoformat(utcnow() + timedelta(hours=1))
    created = await post_to(client, tenant, [account], scheduledAt=later)
    response = await client.delete(f"/v1/accounts/{account}", headers=tenant.headers)
    assert response.json() == {"accountId": account, "disconnected": True, "failedTargets": 1}
    target = (await status(client, tenant, created["postId"]))["targets"][0]
    assert target["status"] == "failed"
    assert target["error"]["code"] == "account_disconnected"
    async with runtime.sessions() as session:
        row = await session.get(SocialAccount, account)
        assert row is not None
        assert row.disconnected_at is not None
    listed = (await client.get("/v1/accounts", headers=tenant.headers)).json()["accounts"]
    assert listed == []


async def test_subscribers_hear_of_the_start_once(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, run_jobs: RunJobs
) -> None:
    first = await connect_sandbox(client, tenant, "x")
    second = await connect_sandbox(client, tenant, "linkedin")
    later = isoformat(utcnow() + timedelta(hours=1))
    created = await post_to(client, tenant, [first, second], platformSchedules={"linkedin": later})
    await run_jobs()
    async with runtime.sessions() as session:
        await session.execute(
            update(PostTarget)
            .where(PostTarget.account_id == second)
            .values(scheduled_at=utcnow() - timedelta(seconds=1), queued_at=None)
        )
        await session.commit()
    await jobs.reconcile_targets(ctx(runtime))
    await run_jobs()
    assert (await status(client, tenant, created["postId"]))["status"] == "published"
    async with runtime.sessions() as session:
        types = list(
            (
                await session.execute(
                    select(Event.type)
                    .where(Event.resource_id == created["postId"], Event.type.like("post.%"))
                    .order_by(Event.id)
                )
            ).scalars()
        )
    assert sorted(types) == ["post.published", "post.publishing", "post.scheduled"]
