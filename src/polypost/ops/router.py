"""Liveness, readiness and metrics: public, outside `/v1`, never rate limited."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from polypost.core.deps import RuntimeDep
from polypost.core.errors import responses
from polypost.ops.metrics import REGISTRY
from polypost.worker.health import worker_health

router = APIRouter(tags=["ops"])


@router.get("/healthz", responses=responses(public=True))
async def healthz() -> dict[str, str]:
    """Liveness: the process is up and serving."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "A dependency is not ready."}})
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    """Readiness: the database (and Redis in distributed mode) answer, and jobs run."""
    checks: dict[str, Any] = {}
    ready = True
    try:
        async with runtime.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        ready = False
        checks["database"] = f"error: {type(exc).__name__}"
    if runtime.redis is not None:
        try:
            await runtime.redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            ready = False
            checks["redis"] = f"error: {type(exc).__name__}"
    if ready:
        ok, detail = await worker_health(runtime)
        checks["worker"] = detail
        ready = ok
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get("/metrics", response_class=Response)
async def metrics() -> Response:
    """Prometheus metrics in the text exposition format."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
