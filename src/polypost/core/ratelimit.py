"""Per-credential rate limiting with GCRA (one value per key, no drip process).

A limit of N/minute lets a burst of N through, then one request every 60/N seconds.
Distributed mode keeps the state in Redis behind one Lua script (one round trip, atomic
across API replicas, clocked by Redis so replica clocks do not matter); embedded mode
keeps it in process memory.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Protocol

from redis.asyncio import Redis

WINDOW_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int
    retry_after: int

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


def gcra(tat: float, now: float, limit: int) -> tuple[Decision, float]:
    """Return the decision and the new theoretical arrival time to store."""
    interval = WINDOW_SECONDS / limit
    tat = max(tat, now)
    new_tat = tat + interval
    allow_at = new_tat - WINDOW_SECONDS
    if now < allow_at:
        return (
            Decision(False, limit, 0, math.ceil(tat - now), max(1, math.ceil(allow_at - now))),
            tat,
        )
    remaining = int((WINDOW_SECONDS - (new_tat - now)) // interval)
    return Decision(True, limit, max(0, remaining), math.ceil(new_tat - now), 0), new_tat


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int) -> Decision: ...


class MemoryRateLimiter:
    """In-process GCRA for embedded mode (one API process owns all state)."""

    def __init__(self) -> None:
        self._tats: dict[str, float] = {}

    async def hit(self, key: str, limit: int) -> Decision:
        now = time.monotonic()
        decision, tat = gcra(self._tats.get(key, now), now, limit)
        self._tats[key] = tat
        if len(self._tats) > 10_000:
            self._tats = {k: v for k, v in self._tats.items() if v > now}
        return decision


# KEYS[1] = state key; ARGV = limit, window. Returns allowed, remaining, reset, retry_after.
GCRA_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local interval = window / limit
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - window
if now < allow_at then
  return {0, 0, math.ceil(tat - now), math.max(1, math.ceil(allow_at - now))}
end
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1000)
local remaining = math.floor((window - (new_tat - now)) / interval)
return {1, remaining, math.ceil(new_tat - now), 0}
"""


class RedisRateLimiter:
    def __init__(self, redis: Redis[Any]) -> None:
        self._script = redis.register_script(GCRA_LUA)

    async def hit(self, key: str, limit: int) -> Decision:
        allowed, remaining, reset, retry_after = await self._script(
            keys=[f"polypost:ratelimit:{key}"], args=[limit, WINDOW_SECONDS]
        )
        return Decision(bool(allowed), limit, max(0, int(remaining)), int(reset), int(retry_after))
