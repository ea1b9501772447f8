"""Platform-side work an adapter keeps between attempts of one publishing step.

Some platforms publish in several calls: X uploads media before the post, Threads builds
a container, waits for it to finish processing, then publishes it. When an attempt ends
before the last call (the container is still processing, a 5xx), the next attempt should
resume with the media id or container it already has instead of starting over, and when
the last call's outcome is unknown the container's state tells whether it went out.

Entries live in Redis when the server has one (shared by every worker) and in the
runtime's memory otherwise (embedded mode: one process). They are a cache: losing one
costs a repeated upload, never a duplicate post, because recovery falls back to looking
the post up on the platform.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow

PREFIX = "polypost:memo:"


class StepMemo:
    """A small TTL key-value store of JSON objects, per platform namespace."""

    def __init__(self, runtime: Runtime, namespace: str) -> None:
        self.runtime = runtime
        self.namespace = namespace

    def _key(self, key: str) -> str:
        return f"{PREFIX}{self.namespace}:{key}"

    def _local(self) -> dict[str, tuple[datetime, str]]:
        store: dict[str, tuple[datetime, str]] = self.runtime.extras.setdefault("step_memo", {})
        return store

    async def get(self, key: str) -> dict[str, Any] | None:
        full = self._key(key)
        raw: str | bytes | None
        if self.runtime.redis is not None:
            raw = await self.runtime.redis.get(full)
        else:
            entry = self._local().get(full)
            raw = None
            if entry is not None:
                expires_at, raw = entry
                if expires_at <= utcnow():
                    self._local().pop(full, None)
                    raw = None
        if raw is None:
            return None
        value = json.loads(raw)
        return value if isinstance(value, dict) else None

    async def put(self, key: str, value: dict[str, Any], ttl: timedelta) -> None:
        full = self._key(key)
        raw = json.dumps(value, separators=(",", ":"))
        seconds = max(1, int(ttl.total_seconds()))
        if self.runtime.redis is not None:
            await self.runtime.redis.set(full, raw, ex=seconds)
            return
        store = self._local()
        now = utcnow()
        for stale in [k for k, (expires_at, _) in store.items() if expires_at <= now]:
            store.pop(stale, None)
        store[full] = (now + timedelta(seconds=seconds), raw)

    async def drop(self, key: str) -> None:
        full = self._key(key)
        if self.runtime.redis is not None:
            await self.runtime.redis.delete(full)
        else:
            self._local().pop(full, None)
