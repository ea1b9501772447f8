"""The services a run drives: a fresh migrated database, a Redis database of its own, and
the server and worker subprocesses (with their memory use)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench import config

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-key-0123456789-abcdefghijklmnopqrstuv"
# Tables a scenario fills; the workspace, its key and its accounts are kept between them.
SCENARIO_TABLES = (
    "sandbox_ledger",
    "post_targets",
    "posts",
    "events",
    "webhook_deliveries",
    "idempotency_keys",
)


async def recreate_database() -> None:
    """Drop and create `polypost_bench`, then apply every migration head."""
    admin = create_async_engine(config.PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{config.DATABASE}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{config.DATABASE}"'))
    finally:
        await admin.dispose()
    engine = create_async_engine(config.database_url())
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade)
    finally:
        await engine.dispose()


def _upgrade(connection: Any) -> None:
    from alembic import command

    from polypost.cli import alembic_config

    alembic = alembic_config(str(connection.engine.url))
    alembic.attributes["connection"] = connection
    command.upgrade(alembic, "heads")


async def truncate_scenario_tables() -> None:
    engine = create_async_engine(config.database_url())
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {', '.join(SCENARIO_TABLES)} CASCADE"))
    finally:
        await engine.dispose()


async def flush_redis() -> None:
    """FLUSHDB of the benchmark's own Redis database (never FLUSHALL)."""
    redis = Redis.from_url(config.redis_url())
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()  # type: ignore[attr-defined]


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS


async def backend_pids(engine: AsyncEngine) -> list[int]:
    """The Postgres server processes serving the benchmark database right now."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE datname = :db AND pid <> pg_backend_pid()"
            ),
            {"db": config.DATABASE},
        )
        return [int(pid) for (pid,) in rows]


@dataclass
class CpuMeter:
    """CPU seconds spent between `start` and `stop` by the processes under test and by
    the Postgres backends of the benchmark database. Backends are sampled every 0.2 s, so
    one that a connection pool opens and closes in between is counted up to its last
    sample. Unlike throughput, CPU per operation hardly changes when other load shares
    the cores, which makes it the steadier figure on a busy machine.
    """

    pids: list[int]
    exclude: set[int] = field(default_factory=set)
    started: dict[int, float] = field(default_factory=dict)
    backends_started: dict[int, float] = field(default_factory=dict)
    backends_last: dict[int, float] = field(default_factory=dict)
    engine: AsyncEngine | None = None
    sampler: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, pids: list[int], exclude: set[int] | None = None) -> CpuMeter:
        meter = cls(pids, exclude or set())
        meter.started = {pid: cpu_seconds(pid) or 0.0 for pid in pids}
        meter.engine = create_async_engine(config.PG_ADMIN_URL, pool_size=1, max_overflow=0)
        for pid in await backend_pids(meter.engine):
            meter.backends_started[pid] = cpu_seconds(pid) or 0.0
        meter.sampler = asyncio.create_task(meter._sample_forever())
        return meter

    async def _sample(self) -> None:
        assert self.engine is not None
        for pid in await backend_pids(self.engine):
            now = cpu_seconds(pid)
            if now is not None and pid not in self.exclude:
                self.backends_last[pid] = now

    async def _sample_forever(self) -> None:
        while True:
            await self._sample()
            await asyncio.sleep(0.2)

    async def stop(self) -> tuple[float, float]:
        """(seconds of the processes under test, seconds of their Postgres backends)."""
        ours = sum((cpu_seconds(pid) or self.started[pid]) - self.started[pid] for pid in self.pids)
        assert self.sampler is not None
        assert self.engine is not None
        self.sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.sampler
        await self._sample()
        await self.engine.dispose()
        backends = sum(
            last - self.backends_started.get(pid, 0.0) for pid, last in self.backends_last.items()
        )
        return ours, backends


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((config.HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def polypost_env(data_dir: Path, log_level: str) -> dict[str, str]:
    """Distributed mode against the benchmark database and Redis database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYPOST_")}
    env.update(
        POLYPOST_DATABASE_URL=config.database_url(),
        POLYPOST_REDIS_URL=config.redis_url(),
        POLYPOST_SECRET_KEY=SECRET,
        POLYPOST_ENCRYPTION_KEYS=ENCRYPTION_KEY,
        POLYPOST_DATA_DIR=str(data_dir),
        POLYPOST_LOG_LEVEL=log_level,
        # The load generator is one API key; the per-key limit would measure itself.
        POLYPOST_RATE_LIMIT_PER_MINUTE="1000000",
        PYTHONPATH=str(ROOT),
    )
    return env


ENCRYPTION_KEY = Fernet.generate_key().decode()


@dataclass
class Memory:
    """Resident memory of a process in MB (10^6 bytes): now, and the peak so far."""

    rss_mb: float
    peak_mb: float


def memory_of(pid: int) -> Memory:
    """From /proc: VmRSS now and VmHWM, the kernel's record of the peak."""
    values: dict[str, float] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0]) * 1024 / 1e6
    return Memory(rss_mb=values.get("VmRSS", 0.0), peak_mb=values.get("VmHWM", 0.0))


@dataclass
class Service:
    """One subprocess with its log file; stopped with SIGTERM, or killed on demand."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    peak_mb: float = 0.0
    started: list[float] = field(default_factory=list)

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.argv, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self.started.append(time.time())

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} is not running"
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def memory(self) -> Memory:
        memory = memory_of(self.pid)
        self.peak_mb = max(self.peak_mb, memory.peak_mb)
        return memory

    def kill(self) -> None:
        """SIGKILL: no cleanup runs, as in an OOM kill or a lost host."""
        assert self.process is not None
        self.memory()
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.process = None

    def stop(self, timeout: float = 20.0) -> None:
        if self.process is None:
            return
        if self.alive():
            self.memory()
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


async def wait_http(url: str, service: Service, limit: float = 60.0) -> None:
    """Until `url` answers 200; fail early when the process died."""
    deadline = time.monotonic() + limit
    async with httpx.AsyncClient(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if not service.alive():
                raise RuntimeError(f"{service.name} exited:\n{service.tail()}")
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{service.name} did not answer {url} within {limit} s:\n{service.tail()}")


def python_argv(*args: str) -> list[str]:
    return [sys.executable, *args]
