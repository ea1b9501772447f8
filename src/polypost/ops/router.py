"""Liveness, readiness and metrics: public, outside `/v1`, never rate limited."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Literal

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text

from polypost.core.deps import RuntimeDep
from polypost.core.errors import responses
from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.ops.metrics import (
    REGISTRY,
    SCHEDULING_LAG,
    TARGETS_DUE_UNCLAIMED,
    WORKER_LAST_SEEN,
)
from polypost.posts.health import OVERDUE_AFTER, backlog
from polypost.worker.health import last_heartbeat, worker_health

logger = logging.getLogger(__name__)
router = APIRouter(tags=["ops"])

# A probe must answer before the orchestrator's own timeout, even when a dependency
# silently drops packets instead of refusing the connection.
CHECK_TIMEOUT = 3.0


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str]


async def _check(probe: Callable[[], Awaitable[object]]) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            await probe()
    except TimeoutError:
        return f"error: no answer within {CHECK_TIMEOUT:g} s"
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"


async def _ping_database(runtime: Runtime) -> None:
    async with runtime.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


@router.get("/healthz", response_model=Health, responses=responses(public=True))
async def healthz() -> Health:
    """Liveness: the process is up and serving."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "A dependency is not ready."}},
)
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    """Readiness: the database (and Redis in distributed mode) answer, and jobs run."""
    checks = {"database": await _check(lambda: _ping_database(runtime))}
    if runtime.redis is not None:
        checks["redis"] = await _check(runtime.redis.ping)
    ready = all(value == "ok" for value in checks.values())
    if ready:
        ok, detail = await worker_health(runtime)
        checks["worker"] = detail
        pending = await backlog(runtime)
        if pending.overdue:
            checks["publishing"] = (
                f"error: {pending.overdue} targets overdue by more than "
                f"{int(OVERDUE_AFTER.total_seconds())} s (oldest waiting "
                f"{int(pending.lag_seconds(utcnow()))} s)"
            )
        else:
            checks["publishing"] = "ok"
        ready = ok and not pending.overdue
    body = Readiness(status="ok" if ready else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


async def _update_worker_gauge(runtime: Runtime) -> None:
    """Refresh the heartbeat age at scrape time; NaN when no runner ever reported."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            seen = await last_heartbeat(runtime)
    except Exception:
        # Metrics must still render while Redis is down; /readyz reports that outage.
        logger.warning("worker heartbeat unavailable for /metrics", exc_info=True)
        return
    WORKER_LAST_SEEN.set(time.time() - seen if seen is not None else math.nan)


@router.get("/metrics", response_class=Response, responses=responses(public=True))
async def metrics(runtime: RuntimeDep) -> Response:
    """Prometheus metrics in the text exposition format."""
    await _update_worker_gauge(runtime)
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            pending = await backlog(runtime)
        TARGETS_DUE_UNCLAIMED.set(pending.due)
        SCHEDULING_LAG.set(pending.lag_seconds(utcnow()))
    except Exception:
        logger.warning("publishing backlog unavailable for /metrics", exc_info=True)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
