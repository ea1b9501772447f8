"""The bare endpoint `POST /v1/posts` is compared with: FastAPI + an asyncpg pool, a
pydantic body, and one transaction inserting the post row and its target rows.

No authentication, rate limit, account check, duplicate guard, event or queue: what is
left is the floor any implementation on this stack pays. Served by uvicorn with the
same defaults as `polypost serve` (uvloop, httptools, one process):
`python -m uvicorn bench.baseline_app:app`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import asyncpg  # type: ignore[import-untyped]
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

SCHEMA = """
CREATE TABLE IF NOT EXISTS baseline_posts (
    id text PRIMARY KEY,
    content text NOT NULL,
    status text NOT NULL,
    scheduled_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS baseline_targets (
    id text PRIMARY KEY,
    post_id text NOT NULL REFERENCES baseline_posts (id) ON DELETE CASCADE,
    account_id text NOT NULL,
    status text NOT NULL,
    scheduled_at timestamptz
);
"""


class PostIn(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    content: str = Field(max_length=100_000)
    account_ids: list[str] = Field(min_length=1, max_length=100)
    scheduled_at: datetime | None = None


class PostOut(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    id: str
    status: str
    target_ids: list[str]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    dsn = os.environ["BENCH_BASELINE_DSN"]
    pool = await asyncpg.create_pool(dsn, min_size=10, max_size=10)
    async with pool.acquire() as conn:
        await conn.execute(SCHEMA)
    app.state.pool = pool
    try:
        yield
    finally:
        await pool.close()


app = FastAPI(lifespan=lifespan)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness for the benchmark's start-up wait."""
    return {"status": "ok"}


@app.post("/v1/posts", status_code=201, response_model=PostOut, response_model_by_alias=True)
async def create_post(body: PostIn) -> PostOut:
    """Insert one post and its targets in one transaction."""
    post_id = uuid.uuid4().hex
    target_ids = [uuid.uuid4().hex for _ in body.account_ids]
    pool: asyncpg.Pool = app.state.pool
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO baseline_posts (id, content, status, scheduled_at) "
            "VALUES ($1, $2, 'scheduled', $3)",
            post_id,
            body.content,
            body.scheduled_at,
        )
        await conn.execute(
            "INSERT INTO baseline_targets (id, post_id, account_id, status, scheduled_at) "
            "SELECT t, $2, a, 'scheduled', $4 FROM unnest($1::text[], $3::text[]) AS u(t, a)",
            target_ids,
            post_id,
            body.account_ids,
            body.scheduled_at,
        )
    return PostOut(id=post_id, status="scheduled", target_ids=target_ids)
