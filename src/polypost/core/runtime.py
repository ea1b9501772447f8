"""Process-wide services built once from settings and shared by the API and jobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from polypost.auth.jwt import JwtVerifier
from polypost.core.crypto import TokenCipher
from polypost.core.db import create_engine, session_factory
from polypost.core.idempotency import IdempotencyStore
from polypost.core.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from polypost.settings import Settings
from polypost.worker.queue import ArqQueue, EmbeddedQueue, JobQueue


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    read_sessions: async_sessionmaker[AsyncSession]
    redis: ArqRedis | None
    queue: JobQueue
    http: httpx.AsyncClient
    limiter: RateLimiter
    idempotency: IdempotencyStore
    jwt: JwtVerifier
    cipher: TokenCipher
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings, *, pre_ping: bool = True) -> Runtime:
        """`pre_ping=False` skips the liveness round trips SQLAlchemy makes on every pool
        checkout (three with asyncpg): the worker, where checkouts are the hot path,
        takes a dead connection as a failed job that the reconciler hands over again."""
        overrides: dict[str, Any] = {} if pre_ping else {"pool_pre_ping": False}
        engine = create_engine(settings, **overrides)
        sessions = session_factory(engine)
        redis: ArqRedis | None = (
            ArqRedis.from_url(settings.redis_url) if settings.redis_url else None  # type: ignore[assignment]
        )
        limiter: RateLimiter = RedisRateLimiter(redis) if redis else MemoryRateLimiter()
        queue: JobQueue = ArqQueue(redis) if redis else EmbeddedQueue()
        # One client for every platform call: pooled connections, bounded timeouts.
        http = httpx.AsyncClient(
            timeout=httpx.Timeout(30.0, connect=10.0),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
            follow_redirects=False,
        )
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            read_sessions=session_factory(engine, read_only=True),
            redis=redis,
            queue=queue,
            http=http,
            limiter=limiter,
            idempotency=IdempotencyStore(sessions),
            jwt=JwtVerifier(settings),
            cipher=TokenCipher(settings.encryption_keys),
        )

    async def close(self) -> None:
        await self.http.aclose()
        if self.redis is not None:
            await self.redis.aclose()  # type: ignore[attr-defined]
        await self.engine.dispose()
