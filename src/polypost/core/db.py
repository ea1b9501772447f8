"""Engine and session factory for Postgres (asyncpg) and SQLite (aiosqlite)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from polypost.settings import Settings


def create_engine(settings: Settings, **overrides: Any) -> AsyncEngine:
    """One engine per process; SQLite gets WAL and a busy timeout so the embedded runner
    and API requests can write without `database is locked` errors."""
    if settings.is_sqlite:
        path = settings.database_url.split(":///", 1)[-1]
        if path and path != ":memory:":
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            settings.database_url, connect_args={"timeout": 30}, **overrides
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # We issue BEGIN ourselves (below) instead of the driver's deferred BEGIN.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _begin_immediate(connection: Any) -> None:
            # A deferred transaction that reads, then writes after another writer committed
            # fails with SQLITE_BUSY regardless of busy_timeout. Taking the write lock up
            # front makes concurrent jobs queue on busy_timeout instead (WAL keeps readers
            # outside transactions unblocked).
            if connection.get_execution_options().get(READ_ONLY):
                connection.exec_driver_sql("BEGIN")
            else:
                connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    options: dict[str, Any] = {"pool_size": 10, "max_overflow": 10, "pool_pre_ping": True}
    options.update(overrides)
    return create_async_engine(settings.database_url, **options)


READ_ONLY = "polypost_read_only"


def session_factory(
    engine: AsyncEngine, *, read_only: bool = False
) -> async_sessionmaker[AsyncSession]:
    """Sessions; `read_only` ones skip SQLite's up-front write lock (WAL readers never
    block, so reads do not queue behind writers)."""
    bind = engine.execution_options(**{READ_ONLY: True}) if read_only else engine
    return async_sessionmaker(bind, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def transaction(
    factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session that commits on success and rolls back on any exception."""
    async with factory() as session, session.begin():
        yield session
