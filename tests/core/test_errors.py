"""Every kind of failure a client can meet comes back in the one error envelope, with a
request id, and without leaking internals."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from polypost.app import create_app
from polypost.core.runtime import Runtime
from tests.fixtures.factories import Tenant, make_tenant


def assert_envelope(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, object] = body["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert error["message"]
    assert error["requestId"] == response.headers["X-Request-Id"]
    assert set(error) <= {"code", "message", "details", "requestId"}
    return error


@pytest.fixture
async def tenant(runtime: Runtime) -> Tenant:
    return await make_tenant(runtime)


class TestBadRequest:
    async def test_malformed_json(self, client: httpx.AsyncClient, tenant: Tenant):
        response = await client.post(
            "/v1/keys",
            headers={**tenant.headers, "Content-Type": "application/json"},
            content=b'{"name": "x",',
        )
        error = assert_envelope(response, 400, "bad_request")
        details = error["details"]
        assert isinstance(details, dict)
        field = details["fields"][0]
        assert field["field"] == "body"
        assert field["type"] == "json_invalid"
        assert "JSON" in str(error["message"])

    async def test_body_that_is_not_an_object(self, client: httpx.AsyncClient, tenant: Tenant):
        response = await client.post("/v1/keys", headers=tenant.headers, json=["name"])
        error = assert_envelope(response, 400, "bad_request")
        assert error["details"]["fields"][0]["in"] == "body"  # type: ignore[index]

    async def test_missing_field_is_named(self, client: httpx.AsyncClient, tenant: Tenant):
        response = await client.post("/v1/keys", headers=tenant.headers, json={})
        error = assert_envelope(response, 400, "bad_request")
        fields = error["details"]["fields"]  # type: ignore[index]
        assert [(f["field"], f["in"], f["type"]) for f in fields] == [("name", "body", "missing")]
        assert all(f["message"] for f in fields)

    async def test_every_invalid_field_is_listed_by_its_wire_name(
        self, client: httpx.AsyncClient, tenant: Tenant
    ):
        response = await client.post(
            "/v1/keys",
            headers=tenant.headers,
            json={"name": "", "mode": "prod", "expiresAt": "tomorrow", "extra": 1},
        )
        error = assert_envelope(response, 400, "bad_request")
        named = {f["field"] for f in error["details"]["fields"]}  # type: ignore[index]
        assert named == {"name", "mode", "expiresAt", "extra"}

    async def test_invalid_query_parameter(self, client: httpx.AsyncClient, tenant: Tenant):
        response = await client.get("/v1/keys?limit=lots", headers=tenant.headers)
        error = assert_envelope(response, 400, "bad_request")
        assert error["details"]["fields"] == [  # type: ignore[index]
            {
                "field": "limit",
                "in": "query",
                "message": error["details"]["fields"][0]["message"],  # type: ignore[index]
                "type": "int_parsing",
            }
        ]

    async def test_nothing_is_created_by_a_bad_request(
        self, client: httpx.AsyncClient, tenant: Tenant
    ):
        await client.post("/v1/keys", headers=tenant.headers, json={"name": ""})
        keys = (await client.get("/v1/keys", headers=tenant.headers)).json()["keys"]
        assert len(keys) == 1


class TestRouting:
    async def test_unknown_route(self, client: httpx.AsyncClient, tenant: Tenant):
        for path in ("/v1/nothing-here", "/nothing", "/v1/keys/a/b/c"):
            assert_envelope(await client.get(path, headers=tenant.headers), 404, "not_found")

    async def test_unknown_route_without_credential(self, client: httpx.AsyncClient):
        assert_envelope(await client.get("/v1/nothing-here"), 404, "not_found")

    async def test_wrong_method(self, client: httpx.AsyncClient, tenant: Tenant):
        response = await client.put("/v1/keys", headers=tenant.headers, json={})
        assert_envelope(response, 405, "method_not_allowed")
        assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


class TestPayloadTooLarge:
    async def test_declared_length_over_the_limit(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        limit = runtime.settings.max_body_bytes
        body = b'{"name": "' + b"x" * limit + b'"}'
        response = await client.post(
            "/v1/keys",
            headers={**tenant.headers, "Content-Type": "application/json"},
            content=body,
        )
        error = assert_envelope(response, 413, "payload_too_large")
        assert str(limit) in str(error["message"])

    async def test_chunked_body_over_the_limit(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        limit = runtime.settings.max_body_bytes

        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"name": "'
            for _ in range(limit // 4096 + 2):
                yield b"x" * 4096
            yield b'"}'

        response = await client.post(
            "/v1/keys",
            headers={**tenant.headers, "Content-Type": "application/json"},
            content=chunks(),
        )
        assert "content-length" not in response.request.headers
        assert_envelope(response, 413, "payload_too_large")

    async def test_chunked_body_over_the_limit_with_idempotency_key(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        limit = runtime.settings.max_body_bytes

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(limit // 4096 + 2):
                yield b" " * 4096

        response = await client.post(
            "/v1/keys",
            headers={
                **tenant.headers,
                "Content-Type": "application/json",
                "Idempotency-Key": "big-1",
            },
            content=chunks(),
        )
        assert_envelope(response, 413, "payload_too_large")
        retry = await client.post(
            "/v1/keys", headers={**tenant.headers, "Idempotency-Key": "big-1"}, json={"name": "ok"}
        )
        assert retry.status_code == 201

    async def test_body_at_the_limit_is_accepted(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        limit = runtime.settings.max_body_bytes
        prefix, suffix = b'{"name": "ok"', b"}"
        body = prefix + b" " * (limit - len(prefix) - len(suffix)) + suffix
        assert len(body) == limit
        response = await client.post(
            "/v1/keys",
            headers={**tenant.headers, "Content-Type": "application/json"},
            content=body,
        )
        assert response.status_code == 201, response.text


class TestInternalError:
    @pytest.fixture
    def broken_app(self, runtime: Runtime) -> FastAPI:
        app = create_app(runtime=runtime, run_jobs=False)

        @app.get("/v1/boom")
        async def boom() -> None:
            raise RuntimeError("secret-internal-detail at /srv/app/db.py line 42")

        return app

    async def test_unhandled_exception_is_a_500_envelope(self, broken_app: FastAPI):
        transport = httpx.ASGITransport(app=broken_app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/v1/boom", headers={"X-Request-Id": "trace-me-123"})
        error = assert_envelope(response, 500, "internal")
        assert error["requestId"] == "trace-me-123"
        assert "details" not in error
        for leak in ("Traceback", "RuntimeError", "secret-internal-detail", "db.py"):
            assert leak not in response.text

    async def test_the_app_keeps_serving_after_a_500(self, broken_app: FastAPI, runtime: Runtime):
        tenant = await make_tenant(runtime)
        transport = httpx.ASGITransport(app=broken_app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/v1/boom")).status_code == 500
            assert (await client.get("/v1/keys", headers=tenant.headers)).status_code == 200


class TestRequestId:
    async def test_every_response_has_one(self, client: httpx.AsyncClient, tenant: Tenant):
        responses = [
            await client.get("/v1/keys", headers=tenant.headers),
            await client.get("/v1/keys"),
            await client.get("/v1/nothing"),
            await client.get("/healthz"),
            await client.get("/v1/openapi.json"),
            await client.post("/v1/keys", headers=tenant.headers, json={}),
        ]
        ids = [r.headers["X-Request-Id"] for r in responses]
        assert all(ids)
        assert len(set(ids)) == len(ids)

    async def test_valid_incoming_id_is_echoed(self, client: httpx.AsyncClient, tenant: Tenant):
        for incoming in ("abc-123", "0f8fad5b-d9cb-469f-a165-70867728950e", "a.b:c_d"):
            response = await client.get(
                "/v1/keys", headers={**tenant.headers, "X-Request-Id": incoming}
            )
            assert response.headers["X-Request-Id"] == incoming

    async def test_invalid_incoming_id_is_replaced(self, client: httpx.AsyncClient, tenant: Tenant):
        for incoming in ("has space", "x" * 200, "new\\nline", "<script>"):
            response = await client.get(
                "/v1/keys/none", headers={**tenant.headers, "X-Request-Id": incoming}
            )
            generated = response.headers["X-Request-Id"]
            assert generated != incoming
            assert generated.startswith("req_")
            assert response.json()["error"]["requestId"] == generated
