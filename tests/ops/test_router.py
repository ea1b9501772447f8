from __future__ import annotations

import asyncio
import math
import socket
import time

import httpx
import pytest

from polypost.app import create_app
from polypost.core.runtime import Runtime
from polypost.ops.metrics import REGISTRY
from polypost.settings import Settings
from polypost.worker.health import HEARTBEAT_KEY, STALE_AFTER, record_heartbeat
from tests.fixtures.factories import make_tenant


def closed_port() -> int:
    """A local port nothing listens on: connections to it are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def client_for(runtime: Runtime) -> httpx.AsyncClient:
    app = create_app(runtime=runtime, run_jobs=False)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def requests_total(method: str, route: str, status: str) -> float:
    value = REGISTRY.get_sample_value(
        "polypost_http_requests_total", {"method": method, "route": route, "status": status}
    )
    return value or 0.0


class TestHealthz:
    async def test_alive_without_credentials(self, client: httpx.AsyncClient):
        response = await client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
        assert response.headers["X-Request-Id"].startswith("req_")
        assert "RateLimit-Limit" not in response.headers

    async def test_a_bad_credential_does_not_matter(self, client: httpx.AsyncClient):
        response = await client.get("/healthz", headers={"X-Api-Key": "sk_live_nonsense"})
        assert response.status_code == 200


class TestReadyz:
    @pytest.mark.parametrize("backend", ["sqlite"])
    async def test_ready_once_the_embedded_runner_runs(self, runtime: Runtime):
        app = create_app(runtime=runtime, run_jobs=True)
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
        ):
            deadline = time.monotonic() + 10
            response = await client.get("/readyz")
            while response.status_code != 200 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
                response = await client.get("/readyz")
        assert response.status_code == 200
        assert response.json() == {
            "status": "ok",
            "checks": {"database": "ok", "worker": "ok", "publishing": "ok"},
        }

    async def test_unavailable_until_a_job_runner_reports(self, client: httpx.AsyncClient):
        response = await client.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["worker"] == "no job runner has reported yet"

    @pytest.mark.parametrize("backend", ["postgres"])
    async def test_distributed_ready_with_a_worker_heartbeat_in_redis(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        await record_heartbeat(runtime, "worker-host-1")
        response = await client.get("/readyz")
        assert response.status_code == 200
        assert response.json()["checks"] == {
            "database": "ok",
            "redis": "ok",
            "worker": "ok",
            "publishing": "ok",
        }

    @pytest.mark.parametrize("backend", ["postgres"])
    async def test_distributed_stale_heartbeat_is_not_ready(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        assert runtime.redis is not None
        await runtime.redis.zadd(HEARTBEAT_KEY, {"gone-worker": time.time() - STALE_AFTER - 30})
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["worker"].startswith("no job runner seen for ")

    @pytest.mark.parametrize("backend", ["postgres"])
    async def test_unreachable_redis_is_not_ready(self, settings: Settings):
        broken = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{closed_port()}/0"})
        runtime = Runtime.build(broken)
        try:
            async with await client_for(runtime) as client:
                response = await client.get("/readyz")
        finally:
            await runtime.close()
        assert response.status_code == 503
        checks = response.json()["checks"]
        assert checks["database"] == "ok"
        assert checks["redis"].startswith("error: ")
        assert "worker" not in checks

    @pytest.mark.parametrize("backend", ["postgres"])
    async def test_unreachable_database_is_not_ready(self, settings: Settings):
        broken = settings.model_copy(
            update={"database_url": f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/none"}
        )
        runtime = Runtime.build(broken)
        try:
            async with await client_for(runtime) as client:
                response = await client.get("/readyz")
        finally:
            await runtime.close()
        assert response.status_code == 503
        checks = response.json()["checks"]
        assert checks["database"].startswith("error: ")
        assert checks["redis"] == "ok"


class TestMetrics:
    async def test_counts_requests_by_route_template(self, client: httpx.AsyncClient):
        before = requests_total("GET", "/healthz", "200")
        assert (await client.get("/healthz")).status_code == 200
        response = await client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        assert requests_total("GET", "/healthz", "200") == before + 1
        assert 'polypost_http_requests_total{method="GET",route="/healthz",status="200"}' in (
            response.text
        )
        assert "polypost_http_request_duration_seconds_bucket" in response.text

    @pytest.mark.parametrize("backend", ["postgres"])
    async def test_reports_the_age_of_the_last_worker_heartbeat(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        await client.get("/metrics")
        never = REGISTRY.get_sample_value("polypost_worker_last_seen_seconds")
        assert never is not None
        assert math.isnan(never)
        assert runtime.redis is not None
        await runtime.redis.zadd(HEARTBEAT_KEY, {"worker-host-1": time.time() - 42})
        text = (await client.get("/metrics")).text
        assert "polypost_worker_last_seen_seconds" in text
        age = REGISTRY.get_sample_value("polypost_worker_last_seen_seconds")
        assert age is not None
        assert 42 <= age < 52

    async def test_path_parameters_do_not_become_labels(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        before = requests_total("DELETE", "/v1/keys/{key_id}", "404")
        missing = await client.delete("/v1/keys/key_doesnotexist42", headers=tenant.headers)
        assert missing.status_code == 404
        await client.get("/no/such/route/xyz42")
        text = (await client.get("/metrics")).text
        assert requests_total("DELETE", "/v1/keys/{key_id}", "404") == before + 1
        assert "key_doesnotexist42" not in text
        assert "xyz42" not in text
        assert requests_total("GET", "unmatched", "404") >= 1
