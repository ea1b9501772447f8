"""Shared state of a run: the services, the workspace with its API key and sandbox
accounts, and how to start and stop the processes under test."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from redis.asyncio import Redis

from bench import config
from bench.arq_baseline import READY_KEY
from bench.services import Service, flush_redis, free_port, polypost_env, python_argv, wait_http
from polypost.worker.health import HEARTBEAT_KEY
from polypost.worker.settings import WorkerSettings


def queue_settings(max_jobs: int | None = None) -> dict[str, float]:
    """Polypost's arq settings, which the arq baseline runs with too."""
    return {
        "max_jobs": max_jobs or WorkerSettings.max_jobs,
        "poll_delay": WorkerSettings.poll_delay,
        "job_timeout": WorkerSettings.job_timeout,
        "keep_result": WorkerSettings.keep_result,
    }


@dataclass
class Harness:
    sizes: config.Sizes
    workdir: Path
    log_level: str
    api: Service | None = None
    api_url: str = ""
    api_key: str = ""
    accounts: list[str] = field(default_factory=list)
    workers: list[Service] = field(default_factory=list)
    worker_peak_mb: float = 0.0
    api_peak_mb: float = 0.0
    arq_peak_mb: float = 0.0
    # Targets/s the API created the last burst at (a guess before the first one): how
    # far ahead the next burst must be scheduled.
    create_rate: float = 150.0

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Api-Key": self.api_key}

    def env(self) -> dict[str, str]:
        return polypost_env(self.workdir / "data", self.log_level)

    # The API ---------------------------------------------------------------------------

    async def start_api(self) -> None:
        port = free_port()
        self.api_url = f"http://{config.HOST}:{port}"
        self.api = Service(
            "polypost serve",
            python_argv("-m", "polypost.cli", "serve", "--host", config.HOST, "--port", str(port)),
            self.env(),
            self.workdir / "api.log",
        )
        self.api.start()
        await wait_http(f"{self.api_url}/healthz", self.api)

    def stop_api(self) -> None:
        if self.api is not None:
            self.api.stop()
            self.api_peak_mb = max(self.api_peak_mb, self.api.peak_mb)

    async def create_tenant(self) -> None:
        """A workspace with a full-scope key, made through Polypost's own services."""
        from polypost.auth.scopes import ALL_SCOPES
        from polypost.core.runtime import Runtime
        from polypost.keys.service import issue_key
        from polypost.settings import load_settings
        from polypost.workspaces.service import create_workspace

        env = self.env()
        settings = load_settings(
            database_url=env["POLYPOST_DATABASE_URL"],
            redis_url=env["POLYPOST_REDIS_URL"],
            secret_key=env["POLYPOST_SECRET_KEY"],
            encryption_keys=[env["POLYPOST_ENCRYPTION_KEYS"]],
            data_dir=self.workdir / "data",
        )
        runtime = Runtime.build(settings)
        try:
            async with runtime.sessions() as session:
                workspace = await create_workspace(session, settings, "bench")
                _, self.api_key = await issue_key(
                    session,
                    settings.signing_key,
                    workspace.id,
                    name="bench",
                    scopes=sorted(ALL_SCOPES),
                )
                await session.commit()
        finally:
            await runtime.close()

    async def connect_accounts(self, count: int, latency_ms: int) -> None:
        """Sandbox accounts whose every publish takes `latency_ms`, like a platform call."""
        async with httpx.AsyncClient(base_url=self.api_url, timeout=30.0) as client:
            for index in range(count):
                response = await client.post(
                    "/v1/accounts/connect",
                    headers=self.headers,
                    json={
                        "platform": "sandbox",
                        "handle": f"bench-{index}",
                        "behavior": {"latencyMs": latency_ms, "recovery": "lookup"},
                    },
                )
                if response.status_code != 201:
                    raise RuntimeError(f"connect failed: {response.status_code} {response.text}")
                self.accounts.append(response.json()["accountId"])

    # Polypost workers ------------------------------------------------------------------

    def worker_options(self) -> list[str]:
        max_jobs = self.sizes.max_jobs
        return ["--max-jobs", str(max_jobs)] if max_jobs else []

    def worker_service(self, index: int) -> Service:
        return Service(
            f"polypost worker {index}",
            python_argv("-m", "polypost.cli", "worker", *self.worker_options()),
            self.env(),
            self.workdir / f"worker-{index}.log",
        )

    async def start_workers(self, count: int) -> None:
        self.workers = [self.worker_service(i) for i in range(count)]
        for worker in self.workers:
            worker.start()
        await self.wait_workers_ready(self.workers)

    async def wait_workers_ready(self, workers: list[Service], limit: float = 60.0) -> None:
        """Until each worker has written its start-up heartbeat (its runtime is built)."""
        host = socket.gethostname()
        redis = Redis.from_url(config.redis_url())
        deadline = time.monotonic() + limit
        try:
            for worker in workers:
                while await redis.zscore(HEARTBEAT_KEY, f"{host}-{worker.pid}") is None:
                    if not worker.alive():
                        raise RuntimeError(f"{worker.name} exited:\n{worker.tail()}")
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{worker.name} not ready:\n{worker.tail()}")
                    await asyncio.sleep(0.1)
        finally:
            await redis.aclose()  # type: ignore[attr-defined]

    def stop_workers(self) -> None:
        for worker in self.workers:
            worker.stop()
            self.worker_peak_mb = max(self.worker_peak_mb, worker.peak_mb)
        self.workers = []

    def sample_memory(self) -> None:
        for service in [*self.workers, *([self.api] if self.api else [])]:
            if service.alive():
                service.memory()

    # arq baseline workers -------------------------------------------------------------

    async def start_arq_baseline(self, count: int) -> list[Service]:
        await flush_redis()
        env = self.env()
        env.update(
            BENCH_REDIS_URL=config.redis_url(),
            BENCH_ARQ_SETTINGS=json.dumps(queue_settings(self.sizes.max_jobs)),
        )
        workers = [
            Service(
                f"arq baseline worker {i}",
                python_argv("-m", "bench.arq_baseline"),
                env,
                self.workdir / f"arq-baseline-{i}.log",
            )
            for i in range(count)
        ]
        for worker in workers:
            worker.start()
        redis = Redis.from_url(config.redis_url())
        deadline = time.monotonic() + 60
        try:
            while await redis.scard(READY_KEY) < count:
                if time.monotonic() > deadline or not all(w.alive() for w in workers):
                    raise RuntimeError("arq baseline workers did not start:\n" + workers[0].tail())
                await asyncio.sleep(0.1)
        finally:
            await redis.aclose()  # type: ignore[attr-defined]
        return workers

    def stop_all(self) -> None:
        self.stop_workers()
        self.stop_api()
