"""The ASGI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from polypost import __version__
from polypost.api import api_routes, build_openapi, router
from polypost.core.errors import CODE_BY_STATUS, ApiError, envelope
from polypost.core.heap import settle_heap
from polypost.core.logging import configure_logging
from polypost.core.middleware import GatewayMiddleware, RequestContextMiddleware
from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.media.ingest import upload_limits
from polypost.ops.router import router as ops_router
from polypost.platforms.base import PlatformError
from polypost.settings import Settings, load_settings
from polypost.worker.runner import EmbeddedRunner

logger = logging.getLogger(__name__)


def _request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", "unknown"))


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(
        envelope(exc.code, exc.message, _request_id(request), exc.details),
        status_code=exc.status,
        headers=exc.headers or None,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 becomes our 400 `bad_request`, one entry per field."""
    assert isinstance(exc, RequestValidationError)
    fields = []
    message = "Invalid request."
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ())]
        if error.get("type") == "json_invalid":
            # FastAPI reports ("body", <character offset>); the offset is not a field.
            message = "The request body is not valid JSON."
            reason = error.get("ctx", {}).get("error", "invalid JSON")
            fields.append(
                {
                    "field": "body",
                    "in": "body",
                    "message": f"{reason} at character {location[1] if len(location) > 1 else 0}",
                    "type": "json_invalid",
                }
            )
            continue
        fields.append(
            {
                "field": ".".join(location[1:]) or ".".join(location),
                "in": location[0] if location else "body",
                "message": error.get("msg", "invalid"),
                "type": error.get("type", "invalid"),
            }
        )
    return JSONResponse(
        envelope("bad_request", message, _request_id(request), {"fields": fields}),
        status_code=400,
    )


def _allowed_methods(request: Request) -> str:
    """Every method the path supports: FastAPI's own `Allow` names only the first
    matching route's methods when several routes share a path."""
    path = request.scope["path"]
    methods: set[str] = set()
    for route in api_routes(request.app.routes):
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(path):
            methods |= set(route.methods or ())
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = CODE_BY_STATUS.get(exc.status_code, "error")
    message = {404: "No such route.", 405: "Method not allowed for this route."}.get(
        exc.status_code, str(exc.detail)
    )
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
    return JSONResponse(
        envelope(code, message, _request_id(request)),
        status_code=exc.status_code,
        headers=headers or None,
    )


async def _platform_error(request: Request, exc: Exception) -> JSONResponse:
    """A platform failed during a request (listing native posts, a live edit): say which
    way, never as a 500. A rate limit keeps its reset time."""
    assert isinstance(exc, PlatformError)
    headers: dict[str, str] = {}
    status = 502
    if exc.kind == "rate_limited":
        status = 429
        if exc.retry_at is not None:
            wait = max(1, int((exc.retry_at - utcnow()).total_seconds()))
            headers["Retry-After"] = str(wait)
    elif exc.kind == "permanent" and exc.code == "unsupported":
        status = 501
    details = {"kind": exc.kind, "platformCode": exc.code}
    code = "unsupported" if status == 501 else "rate_limited" if status == 429 else "platform_error"
    return JSONResponse(
        envelope(code, f"The platform answered: {exc.message}", _request_id(request), details),
        status_code=status,
        headers=headers or None,
    )


def create_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    run_jobs: bool = True,
) -> FastAPI:
    """Build the app. In embedded mode (no Redis) it also runs the job runner unless
    `run_jobs` is False (tests drive jobs directly)."""
    settings = settings or (runtime.settings if runtime else load_settings())
    runtime = runtime or Runtime.build(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runner = None
        if run_jobs and not settings.distributed:
            runner = EmbeddedRunner(runtime)
            await runner.start()
        settle_heap()
        try:
            yield
        finally:
            if runner is not None:
                await runner.stop()
            await runtime.close()

    app = FastAPI(
        title="Polypost API",
        version=__version__,
        description=(
            "One API to publish, schedule and track posts across social platforms. "
            "Errors use the envelope `{error: {code, message, details?, requestId}}`."
        ),
        openapi_url="/v1/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(PlatformError, _platform_error)
    app.include_router(ops_router)
    app.include_router(router)
    app.add_middleware(GatewayMiddleware, runtime=runtime)
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        upload_paths=upload_limits(settings),
    )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def serve_app() -> FastAPI:
    """Entry point for `uvicorn polypost.app:serve_app --factory` (Docker, compose)."""
    settings = load_settings()
    configure_logging(settings.log_level)
    return create_app(settings)
