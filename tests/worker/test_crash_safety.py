"""Crash safety of distributed publishing against a real `polypost worker` process.

500 due targets; the worker is SIGKILLed at random moments several times and restarted;
Redis is flushed mid-run. Every target must end published exactly once in the sandbox
ledger (or `outcome_unknown`, which the sandbox's lookup makes unnecessary): zero
duplicates, zero lost.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select

from polypost.core.runtime import Runtime
from polypost.models import PostTarget, SandboxLedgerEntry
from polypost.settings import Settings
from tests.fixtures.app import TEST_FERNET, TEST_SECRET
from tests.fixtures.factories import connect_sandbox, make_tenant

TARGETS = 500
ACCOUNTS = 25
LEASE_SECONDS = 3


def worker_env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYPOST_")}
    env.update(
        POLYPOST_DATABASE_URL=settings.database_url,
        POLYPOST_REDIS_URL=str(settings.redis_url),
        POLYPOST_SECRET_KEY=TEST_SECRET,
        POLYPOST_ENCRYPTION_KEYS=TEST_FERNET,
        POLYPOST_DATA_DIR=str(tmp_path / "worker-data"),
        POLYPOST_PUBLISH_LEASE_SECONDS=str(LEASE_SECONDS),
        POLYPOST_LOG_LEVEL="WARNING",
    )
    return env


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "polypost.cli", "worker", "--max-jobs", "50"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


async def counts(runtime: Runtime) -> Counter[str]:
    async with runtime.sessions() as session:
        rows = await session.execute(
            select(PostTarget.status, func.count()).group_by(PostTarget.status)
        )
        return Counter({status: n for status, n in rows.all()})


async def create_due_targets(client: httpx.AsyncClient, runtime: Runtime) -> None:
    tenant = await make_tenant(runtime)
    accounts = [
        await connect_sandbox(client, tenant, latencyMs=20, recovery="lookup")
        for _ in range(ACCOUNTS)
    ]
    for index in range(TARGETS // ACCOUNTS):
        response = await client.post(
            "/v1/posts",
            headers=tenant.headers,
            json={"accountIds": accounts, "content": f"crash test {index}", "publishNow": True},
        )
        assert response.status_code == 201, response.text


async def assert_exactly_once(runtime: Runtime) -> None:
    async with runtime.sessions() as session:
        targets = (await session.execute(select(PostTarget))).scalars().all()
        entries = (
            (
                await session.execute(
                    select(SandboxLedgerEntry).where(
                        SandboxLedgerEntry.outcome == "accepted",
                        SandboxLedgerEntry.action == "publish",
                    )
                )
            )
            .scalars()
            .all()
        )
    per_key = Counter(e.idempotency_key for e in entries)
    duplicates = {k: n for k, n in per_key.items() if n > 1}
    assert duplicates == {}, f"double posts: {duplicates}"
    assert len(targets) == TARGETS
    by_key = {e.idempotency_key: e for e in entries}
    for target in targets:
        if target.status == "failed":
            assert target.error_code == "outcome_unknown", (target.id, target.error_code)
            continue
        assert target.status == "published", (target.id, target.status)
        entry = by_key.get(f"{target.id}:main")
        assert entry is not None, f"{target.id} published without a ledger entry"
        assert entry.platform_post_id == target.platform_post_id


async def wait_until_done(runtime: Runtime, deadline: float) -> Counter[str]:
    while time.monotonic() < deadline:
        current = await counts(runtime)
        if current["published"] + current["failed"] == TARGETS:
            return current
        await asyncio.sleep(0.5)
    return await counts(runtime)


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_sigkilled_workers_never_double_post_or_lose_a_post(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings, tmp_path: Path
) -> None:
    seed = int(os.environ.get("POLYPOST_CRASH_SEED", random.randrange(1 << 30)))
    chaos = random.Random(seed)
    await create_due_targets(client, runtime)
    env = worker_env(settings, tmp_path)
    log = tmp_path / "worker.log"
    kills = 0
    for _ in range(5):
        worker = start_worker(env, log)
        await asyncio.sleep(chaos.uniform(1.0, 3.0))
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        kills += 1
        if (await counts(runtime))["published"] == TARGETS:
            break
    worker = start_worker(env, log)
    try:
        final = await wait_until_done(runtime, time.monotonic() + 120)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert final["published"] + final["failed"] == TARGETS, (
        f"seed {seed}, {kills} kills: {dict(final)}; log:\n{log.read_text()[-3000:]}"
    )
    await assert_exactly_once(runtime)


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_redis_flushed_mid_run_still_publishes_everything(
    client: httpx.AsyncClient, runtime: Runtime, settings: Settings, tmp_path: Path
) -> None:
    await create_due_targets(client, runtime)
    env = worker_env(settings, tmp_path)
    log = tmp_path / "worker.log"
    worker = start_worker(env, log)
    try:
        await asyncio.sleep(1.5)
        # FLUSHDB of the database arq uses: the same loss as FLUSHALL for this service,
        # without touching what other test workers keep in other Redis databases.
        redis = Redis.from_url(str(settings.redis_url))
        await redis.flushdb()
        await redis.aclose()
        final = await wait_until_done(runtime, time.monotonic() + 120)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert final["published"] == TARGETS, f"{dict(final)}; log:\n{log.read_text()[-3000:]}"
    await assert_exactly_once(runtime)
