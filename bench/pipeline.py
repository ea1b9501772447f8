"""(b) publish throughput, (c) scheduling lag and (d) recovery: bursts of targets due in
the same second, published by `polypost worker` processes through arq to the sandbox,
beside arq running trivial jobs with the same settings.

All timings come from the database afterwards: the due time is the target's
`scheduled_at`, the platform call is the sandbox ledger entry's `created_at` (written as
the simulated call returns, so it includes the sandbox latency), and `published_at`
marks the end of the pipeline.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import httpx
from arq.connections import ArqRedis, RedisSettings, create_pool
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench import config
from bench.harness import Harness
from bench.loadgen import percentile
from bench.services import CpuMeter, cpu_seconds, flush_redis, truncate_scenario_tables

Fault = Literal["flushdb", "sigkill"]
# A POST whose scheduledAt is within 30 s of now publishes at once (posts/timing.py), so
# every post of a burst is sent at least this long before the due time.
IMMEDIATE_WINDOW = 30.0
CREATE_CONCURRENCY = 8


class TooSlowToCreate(Exception):
    """The posts could not all be created ahead of the due time; retry with more lead."""


@dataclass
class Burst:
    """What happened to `size` targets due at `due` (epoch seconds)."""

    size: int
    due: float
    lags: list[float] = field(default_factory=list)
    finished: list[float] = field(default_factory=list)
    published: int = 0
    failed: int = 0
    duplicates: int = 0
    missing_calls: int = 0
    create_seconds: float = 0.0
    fault: Fault | None = None
    fault_at: float | None = None
    # Stopped at the deadline with targets still pending.
    gave_up_at: float | None = None
    # CPU seconds of the worker processes, and of their Postgres backends.
    worker_cpu: float | None = None
    database_cpu: float | None = None

    @property
    def complete(self) -> bool:
        return self.published + self.failed == self.size and self.gave_up_at is None

    def lag(self, fraction: float) -> float:
        return percentile(self.lags, fraction)

    @property
    def all_done_after(self) -> float:
        """Due time → the last target finished (NaN when some never did)."""
        if not self.finished or not self.complete:
            return math.nan
        return max(self.finished) - self.due

    @property
    def throughput(self) -> float:
        """Targets finished per second from the due time (up to the deadline if cut off)."""
        if not self.finished:
            return math.nan
        end = self.gave_up_at if self.gave_up_at is not None else max(self.finished)
        return len(self.finished) / (end - self.due)

    def cpu_per_target(self) -> float | None:
        """Worker + database CPU seconds per finished target."""
        if self.worker_cpu is None or self.database_cpu is None or not self.finished:
            return None
        return (self.worker_cpu + self.database_cpu) / len(self.finished)

    @property
    def recovery(self) -> float:
        """Fault → the last target finished."""
        if self.fault_at is None or not self.finished or not self.complete:
            return math.nan
        return max(self.finished) - self.fault_at

    def summary(self) -> str:
        text = (
            f"{self.size} due: {self.published} published, {self.failed} failed, "
            f"{self.duplicates} duplicate platform calls, {self.missing_calls} published "
            f"without a platform call; lag p50 {self.lag(0.5):.3f} s, p99 "
            f"{self.lag(0.99):.3f} s, max {max(self.lags, default=math.nan):.3f} s; last "
            f"done {self.all_done_after:.2f} s after due ({self.throughput:,.0f}/s)"
        )
        if self.gave_up_at is not None:
            text += f"; STOPPED at the deadline, {self.gave_up_at - self.due:.0f} s after due"
        cpu = self.cpu_per_target()
        if cpu is not None and self.worker_cpu is not None and self.database_cpu is not None:
            text += (
                f"; CPU {self.worker_cpu:.1f} s in the workers + {self.database_cpu:.1f} s in "
                f"Postgres = {1000 * cpu:.1f} ms per target"
            )
        if self.create_seconds:
            text += f"; created through the API in {self.create_seconds:.1f} s"
        if self.fault_at is not None:
            text += f"; {self.fault} {self.fault_at - self.due:.1f} s after due, "
            text += f"recovered {self.recovery:.1f} s later"
        return text


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


async def create_posts(harness: Harness, size: int, due: float, tag: str) -> float:
    """`size` targets due at `due`: posts of `pipeline_fanout` accounts each, spread
    evenly over the accounts. Returns the seconds it took."""
    fanout = harness.sizes.pipeline_fanout
    accounts = harness.accounts
    bodies = []
    for index in range(math.ceil(size / fanout)):
        count = min(fanout, size - index * fanout)
        first = index * fanout
        bodies.append(
            {
                "accountIds": [accounts[(first + j) % len(accounts)] for j in range(count)],
                "content": f"burst {tag} post {index}",
                "scheduledAt": iso(due),
            }
        )
    pending = iter(bodies)
    started = time.time()
    async with httpx.AsyncClient(base_url=harness.api_url, timeout=60.0) as client:

        async def sender() -> None:
            for body in pending:
                if time.time() > due - IMMEDIATE_WINDOW - 0.5:
                    raise TooSlowToCreate(f"{size} targets: creation ran into the due time")
                response = await client.post("/v1/posts", headers=harness.headers, json=body)
                if response.status_code != 201:
                    raise RuntimeError(f"create failed: {response.status_code} {response.text}")

        try:
            async with asyncio.TaskGroup() as group:  # one failure cancels the other senders
                for _ in range(CREATE_CONCURRENCY):
                    group.create_task(sender())
        except ExceptionGroup as errors:
            cause: Exception = errors.exceptions[0]
            for error in errors.exceptions:
                if isinstance(error, TooSlowToCreate):
                    cause = error
            raise cause from None
    return time.time() - started


async def collect(size: int, due: float) -> Burst:
    """Read every target's fate and its platform calls from the database."""
    burst = Burst(size=size, due=due)
    engine = create_async_engine(config.database_url())
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    """
                    SELECT t.status,
                           EXTRACT(EPOCH FROM t.scheduled_at) AS due,
                           EXTRACT(EPOCH FROM t.published_at) AS published,
                           EXTRACT(EPOCH FROM l.first_call) AS called,
                           COALESCE(l.calls, 0) AS calls
                    FROM post_targets t
                    LEFT JOIN (
                        SELECT idempotency_key, min(created_at) AS first_call, count(*) AS calls
                        FROM sandbox_ledger WHERE outcome = 'accepted'
                        GROUP BY idempotency_key
                    ) l ON l.idempotency_key = t.id || :suffix
                    """
                ),
                {"suffix": ":main"},
            )
            for row in rows:
                if row.status == "published":
                    burst.published += 1
                    burst.finished.append(float(row.published))
                elif row.status == "failed":
                    burst.failed += 1
                if row.called is None:
                    burst.missing_calls += row.status == "published"
                    continue
                burst.lags.append(float(row.called) - float(row.due))
                burst.duplicates += max(0, int(row.calls) - 1)
    finally:
        await engine.dispose()
    return burst


async def target_counts(engine: AsyncEngine) -> tuple[int, int]:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT count(*) FILTER (WHERE status = 'published'), "
                    "count(*) FILTER (WHERE status = 'failed') FROM post_targets"
                )
            )
        ).one()
        return int(row[0]), int(row[1])


async def polypost_burst(
    harness: Harness, size: int, *, fault: Fault | None = None, tag: str = ""
) -> Burst:
    """One burst, retried once with a longer lead if creating the posts took too long."""
    try:
        return await _polypost_burst(harness, size, fault, tag)
    except TooSlowToCreate:
        harness.stop_workers()
        harness.create_rate = harness.create_rate / 2
        return await _polypost_burst(harness, size, fault, tag + "-retry")


async def _polypost_burst(harness: Harness, size: int, fault: Fault | None, tag: str) -> Burst:
    sizes = harness.sizes
    await truncate_scenario_tables()
    await flush_redis()
    # Creation (at the last measured rate, with a margin) + the 30 s window + start-up.
    lead = IMMEDIATE_WINDOW + 1.5 * size / harness.create_rate + 8.0
    due = math.ceil(time.time() + lead)
    create_seconds = await create_posts(harness, size, due, tag or str(size))
    harness.create_rate = size / create_seconds
    await harness.start_workers(sizes.workers)
    if time.time() > due:
        raise RuntimeError("the workers started after the due time; raise the lead")
    limit = sizes.recovery_limit_seconds if fault else 60 + size / 25
    deadline = due + limit
    fault_at: float | None = None
    gave_up_at: float | None = time.time()
    engine = create_async_engine(config.database_url(), pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            own = int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())
        meter = await CpuMeter.start([worker.pid for worker in harness.workers], exclude={own})
        while time.time() < deadline:
            await asyncio.sleep(0.5)
            now = time.time()
            if fault is not None and fault_at is None and now >= due + sizes.fault_after_seconds:
                fault_at = now
                await inject(harness, fault)
            if now < due:
                continue
            harness.sample_memory()
            published, failed = await target_counts(engine)
            if published + failed >= size:
                gave_up_at = None
                break
            gave_up_at = time.time()
        worker_cpu, database_cpu = await meter.stop()
    finally:
        await engine.dispose()
    harness.stop_workers()
    burst = await collect(size, due)
    burst.create_seconds = create_seconds
    burst.fault, burst.fault_at, burst.gave_up_at = fault, fault_at, gave_up_at
    if fault is None:  # a killed worker's CPU time is lost with it
        burst.worker_cpu, burst.database_cpu = worker_cpu, database_cpu
    return burst


async def inject(harness: Harness, fault: Fault) -> None:
    if fault == "flushdb":
        await flush_redis()
        return
    # SIGKILL one worker mid-burst and start a replacement at once, as a supervisor would.
    victim = harness.workers[0]
    victim.kill()
    harness.worker_peak_mb = max(harness.worker_peak_mb, victim.peak_mb)
    replacement = harness.worker_service(len(harness.workers) + 100)
    replacement.start()
    harness.workers[0] = replacement


async def arq_burst(harness: Harness, size: int, function: str) -> tuple[Burst, float]:
    """`size` arq jobs due in the same second on the baseline workers; returns the burst
    (lag = due → job finished, as the ledger entry is written when the call returns) and
    the workers' peak memory."""
    workers = await harness.start_arq_baseline(harness.sizes.workers)
    pool: ArqRedis = await create_pool(RedisSettings.from_dsn(config.redis_url()))
    started = {worker.pid: cpu_seconds(worker.pid) or 0.0 for worker in workers}
    worker_cpu = 0.0
    try:
        # Lead time for the enqueueing (about 1,000 jobs/s from one client; half that when
        # the machine is busy); the lag is measured from `due`, so the lead costs nothing.
        due = math.ceil(time.time() + 3 + size / 400)
        when = datetime.fromtimestamp(due, UTC)
        jobs = iter(range(size))

        async def enqueuer() -> None:
            for index in jobs:
                await pool.enqueue_job(function, _job_id=f"bench:{index}", _defer_until=when)

        await asyncio.gather(*(enqueuer() for _ in range(CREATE_CONCURRENCY)))
        if time.time() > due:
            raise RuntimeError("enqueueing the arq baseline ran into the due time")
        deadline = due + 60 + size / 50
        gave_up_at: float | None = time.time()
        while time.time() < deadline:
            await asyncio.sleep(0.25)
            if time.time() > due and await pool.zcard("arq:queue") == 0:
                gave_up_at = None
                break
            gave_up_at = time.time()
            for worker in workers:
                worker.memory()
        worker_cpu = sum((cpu_seconds(pid) or 0.0) - cpu for pid, cpu in started.items())
        results = await pool.all_job_results()
    finally:
        await pool.aclose()  # type: ignore[attr-defined]
        for worker in workers:
            worker.stop()
    burst = Burst(
        size=size, due=due, worker_cpu=worker_cpu, database_cpu=0.0, gave_up_at=gave_up_at
    )
    for result in results:
        finished = result.finish_time.timestamp()
        burst.finished.append(finished)
        burst.lags.append(finished - due)
        burst.published += result.success
        burst.failed += not result.success
    return burst, max(w.peak_mb for w in workers)
