"""Prometheus metrics (one process-wide registry, served at /metrics)."""

from __future__ import annotations

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
WORKER_LAST_SEEN = Gauge(
    "polypost_worker_last_seen_seconds",
    "Seconds since any job runner last reported a heartbeat.",
    registry=REGISTRY,
)
