"""Sizes and addresses of one benchmark run (full or `--quick`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

PG_ADMIN_URL = os.environ.get(
    "POLYPOST_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REDIS_BASE_URL = os.environ.get("POLYPOST_BENCH_REDIS_URL", "redis://127.0.0.1:6379")
# A Redis database of its own, emptied with FLUSHDB: other processes on the machine use
# other databases of the same server, which FLUSHALL would wipe.
REDIS_DB = int(os.environ.get("POLYPOST_BENCH_REDIS_DB", "14"))
DATABASE = "polypost_bench"
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Sizes:
    """How much load each scenario applies; `--quick` shrinks every bound."""

    # (a) API: seconds per measurement, closed-loop connections, open-loop rate cap.
    api_seconds: float = 15.0
    api_warmup_seconds: float = 3.0
    api_concurrency: int = 16
    open_loop_fraction: float = 0.5
    open_loop_max_rate: float = 200.0
    fanouts: tuple[int, ...] = (1, 100)
    # (b)/(c) pipeline: targets due in the same second, accounts per post.
    bursts: tuple[int, ...] = (1_000, 10_000)
    accounts: int = 100
    pipeline_fanout: int = 10
    sandbox_latency_ms: int = 100
    workers: int = 2
    # arq jobs per worker process; None keeps Polypost's WorkerSettings.max_jobs.
    max_jobs: int | None = None
    # (d) recovery: the first burst size again, with a fault this long after the due time.
    fault_after_seconds: float = 1.0
    recovery_limit_seconds: float = 300.0


FULL = Sizes()
QUICK = replace(
    FULL,
    api_seconds=5.0,
    api_warmup_seconds=1.0,
    bursts=(1_000,),
)


def redis_url() -> str:
    return f"{REDIS_BASE_URL}/{REDIS_DB}"


def database_url() -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + DATABASE


def asyncpg_dsn(url: str) -> str:
    """The plain libpq URL asyncpg takes (no SQLAlchemy driver suffix)."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)
