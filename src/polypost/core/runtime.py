"""Process-wide services built once from settings and shared by the API and jobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from polypost.auth.jwt import JwtVerifier
from polypost.core.crypto import TokenCipher
from polypost.core.db import create_engine, session_factory
from polypost.core.idempotency import IdempotencyStore
from polypost.core.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from polypost.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis | None
    limiter: RateLimiter
    idempotency: IdempotencyStore
    jwt: JwtVerifier
    cipher: TokenCipher
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        engine = create_engine(settings)
        sessions = session_factory(engine)
        redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
        limiter: RateLimiter = RedisRateLimiter(redis) if redis else MemoryRateLimiter()
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            redis=redis,
            limiter=limiter,
            idempotency=IdempotencyStore(sessions),
            jwt=JwtVerifier(settings),
            cipher=TokenCipher(settings.encryption_keys),
        )

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
        await self.engine.dispose()
