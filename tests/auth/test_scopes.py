"""The scope matrix: every authenticated `/v1` operation refuses a credential that lacks
its scope (403 `forbidden`, `details.requiredScope`) and any request without a credential
(401). Operations are discovered from the router, so routes added later are covered."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from polypost.api import api_routes
from polypost.auth.scopes import ALL_SCOPES
from polypost.core.runtime import Runtime
from tests.auth.routes import Operation, body_for, operations
from tests.fixtures.factories import make_tenant

AUTHENTICATED = [op for op in operations() if op.authenticated]
SCOPED = [op for op in AUTHENTICATED if op.scope is not None]


def test_discovery_sees_routes() -> None:
    assert any(str(op) == "POST /v1/keys" and op.scope == "keys:write" for op in SCOPED)


def test_router_holds_every_v1_operation_of_the_app(app: FastAPI) -> None:
    """The matrix iterates `api.router`; nothing under /v1 may be mounted elsewhere."""
    served = {
        (method, route.path_format)
        for route in api_routes(app.routes)
        if str(route.path_format).startswith("/v1/")
        for method in route.methods or ()
        if method != "HEAD"
    }
    assert served == {(op.method, op.path) for op in operations()}


@pytest.mark.parametrize("operation", SCOPED, ids=str)
async def test_missing_scope_is_403(
    client: httpx.AsyncClient, runtime: Runtime, operation: Operation
) -> None:
    assert operation.scope is not None
    tenant = await make_tenant(runtime, scopes=ALL_SCOPES - {operation.scope})
    response = await client.request(
        operation.method, operation.url(), headers=tenant.headers, json=body_for(operation)
    )
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "forbidden"
    assert error["details"]["requiredScope"] == operation.scope
    assert error["requestId"] == response.headers["X-Request-Id"]


@pytest.mark.parametrize("operation", SCOPED, ids=str)
async def test_the_required_scope_alone_passes_the_check(
    client: httpx.AsyncClient, runtime: Runtime, operation: Operation
) -> None:
    assert operation.scope is not None
    tenant = await make_tenant(runtime, scopes={operation.scope})
    response = await client.request(
        operation.method, operation.url(), headers=tenant.headers, json=body_for(operation)
    )
    assert response.status_code != 401, response.text
    if response.status_code == 403:
        details = response.json()["error"].get("details") or {}
        assert details.get("requiredScope") != operation.scope, response.text


@pytest.mark.parametrize("operation", AUTHENTICATED, ids=str)
async def test_no_credential_is_401(client: httpx.AsyncClient, operation: Operation) -> None:
    response = await client.request(operation.method, operation.url(), json=body_for(operation))
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("operation", AUTHENTICATED, ids=str)
async def test_revoked_credential_is_401(
    client: httpx.AsyncClient, runtime: Runtime, operation: Operation
) -> None:
    tenant = await make_tenant(runtime)
    bad = {"X-Api-Key": tenant.key[:-1] + ("0" if tenant.key[-1] != "0" else "1")}
    response = await client.request(
        operation.method, operation.url(), headers=bad, json=body_for(operation)
    )
    assert response.status_code == 401, response.text
