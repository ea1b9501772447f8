"""Job-runner liveness: a service whose workers are gone must not look ready."""

from __future__ import annotations

import time

from polypost.core.runtime import Runtime

HEARTBEAT_KEY = "polypost:workers"
HEARTBEAT_INTERVAL = 10.0
# A worker is considered gone after missing several heartbeats.
STALE_AFTER = 60.0


async def record_heartbeat(runtime: Runtime, worker_id: str) -> None:
    now = time.time()
    if runtime.redis is not None:
        await runtime.redis.zadd(HEARTBEAT_KEY, {worker_id: now})
        await runtime.redis.zremrangebyscore(HEARTBEAT_KEY, "-inf", now - 24 * 3600)
    runtime.extras["last_heartbeat"] = now


async def last_heartbeat(runtime: Runtime) -> float | None:
    if runtime.redis is not None:
        newest = await runtime.redis.zrevrange(HEARTBEAT_KEY, 0, 0, withscores=True)
        return float(newest[0][1]) if newest else None
    value = runtime.extras.get("last_heartbeat")
    return float(value) if value is not None else None


async def worker_health(runtime: Runtime) -> tuple[bool, str]:
    seen = await last_heartbeat(runtime)
    if seen is None:
        return False, "no job runner has reported yet"
    age = time.time() - seen
    if age > STALE_AFTER:
        return False, f"no job runner seen for {int(age)} s"
    return True, "ok"
