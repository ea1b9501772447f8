"""Prometheus metrics (one process-wide registry, served at /metrics)."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from fastapi.routing import iter_route_contexts
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "polypost_http_requests_total",
    "HTTP requests by method, route template and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "polypost_http_request_duration_seconds",
    "HTTP request latency by route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
JOBS = Counter(
    "polypost_jobs_total",
    "Background job runs by function and outcome.",
    ["function", "outcome"],
    registry=REGISTRY,
)
TARGETS_DUE_UNCLAIMED = Gauge(
    "polypost_targets_due_unclaimed",
    "Targets whose time has come that no worker has claimed yet.",
    registry=REGISTRY,
)
SCHEDULING_LAG = Gauge(
    "polypost_scheduling_lag_seconds",
    "How long the oldest due, unclaimed target has been waiting.",
    registry=REGISTRY,
)
PUBLISH_LAG = Histogram(
    "polypost_publish_lag_seconds",
    "Due time to claim by a worker, per target attempt.",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
    registry=REGISTRY,
)
WORKER_LAST_SEEN = Gauge(
    "polypost_worker_last_seen_seconds",
    "Seconds since any job runner last reported a heartbeat.",
    registry=REGISTRY,
)


def _templates(app: Any) -> dict[int, str]:
    """Route object id → its full path template, built once per app.

    FastAPI puts the *original* route in `scope["route"]`, whose `path` lacks the prefixes
    of the routers that include it (`/keys/{key_id}`, not `/v1/keys/{key_id}`).
    """
    state = getattr(app, "state", None)
    cached: dict[int, str] | None = getattr(state, "route_templates", None)
    if cached is not None:
        return cached
    templates: dict[int, str] = {}
    for context in iter_route_contexts(getattr(app, "routes", [])):
        if context.path_format:
            templates.setdefault(id(context.original_route), context.path_format)
    if state is not None:
        state.route_templates = templates
    return templates


def route_template(scope: MutableMapping[str, Any]) -> str:
    """The matched route's template for metric labels: never the raw path, whose ids
    would create one time series per resource."""
    route = scope.get("route")
    if route is None:
        return "unmatched"
    template = _templates(scope.get("app")).get(id(route))
    return template or getattr(route, "path", None) or "unmatched"
