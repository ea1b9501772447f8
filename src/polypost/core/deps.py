"""Database session dependencies.

`WriteSession` commits after the route returns but before the response is sent
(`scope="function"`), so a client never sees success for an uncommitted change; hooks
registered with `after_commit` (e.g. job enqueues) run only once the commit succeeded.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.core.runtime import Runtime

logger = logging.getLogger(__name__)

AFTER_COMMIT = "after_commit"


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def _read_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_runtime(request).read_sessions() as session:
        yield session


async def _write_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_runtime(request).sessions() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            session.info.pop(AFTER_COMMIT, None)
            raise
        for hook in session.info.pop(AFTER_COMMIT, []):
            try:
                await hook()
            except Exception:
                # The reconciler re-enqueues from the database; a lost hook costs only lag.
                logger.exception("after-commit hook failed")


def after_commit(session: AsyncSession, hook: Callable[[], Awaitable[None]]) -> None:
    session.info.setdefault(AFTER_COMMIT, []).append(hook)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
ReadSession = Annotated[AsyncSession, Depends(_read_session)]
WriteSession = Annotated[AsyncSession, Depends(_write_session, scope="function")]
