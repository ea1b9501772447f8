"""The OpenAPI document: the committed copy is what the server serves, and every
operation documents its scope, its errors and itself."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from polypost.auth.scopes import ALL_SCOPES

COMMITTED = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"
METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}
AUTHENTICATED_ERRORS = ("400", "401", "403", "429")
CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")


@pytest.fixture
async def spec(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/v1/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def operations(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


async def test_served_without_credentials(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/openapi.json", headers={"X-Api-Key": "sk_live_bogus"})
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


async def test_committed_document_is_current(spec: dict[str, Any]) -> None:
    assert COMMITTED.exists(), "openapi/openapi.json is missing: run `make openapi`"
    committed = json.loads(COMMITTED.read_text())
    assert committed == spec, (
        "openapi/openapi.json differs from the served document: run `make openapi` "
        "and commit the result"
    )


async def test_every_operation_declares_its_scope(spec: dict[str, Any]) -> None:
    problems = []
    for name, operation in operations(spec):
        if "x-required-scope" not in operation:
            problems.append(f"{name}: no x-required-scope")
            continue
        scope = operation["x-required-scope"]
        public = not operation.get("security")
        credential = operation.get("x-required-credential")
        if scope is None and not public and credential not in ("any", "user"):
            problems.append(f"{name}: authenticated but neither a scope nor a credential kind")
        if scope is not None and scope not in ALL_SCOPES:
            problems.append(f"{name}: unknown scope {scope!r}")
        if scope is not None and public:
            problems.append(f"{name}: has a scope but no security requirement")
    assert problems == [], "\n".join(problems)


async def test_authenticated_operations_document_their_errors(spec: dict[str, Any]) -> None:
    problems = []
    for name, operation in operations(spec):
        responses = operation.get("responses", {})
        if operation.get("security"):
            missing = [status for status in AUTHENTICATED_ERRORS if status not in responses]
            if missing:
                problems.append(f"{name}: does not document {', '.join(missing)}")
        for status, response in responses.items():
            # /readyz answers 503 with its own check report for load balancers.
            api_error = status.startswith(("4", "5")) and " /v1/" in name
            if api_error and "application/json" in response.get("content", {}):
                schema = response["content"]["application/json"]["schema"]
                if schema.get("$ref") != "#/components/schemas/ErrorEnvelope":
                    problems.append(f"{name}: {status} is not the error envelope")
        if "422" in responses and "HTTPValidationError" in json.dumps(responses["422"]):
            problems.append(f"{name}: FastAPI's 422 is documented instead of our 400")
    assert problems == [], "\n".join(problems)


async def test_every_operation_is_described(spec: dict[str, Any]) -> None:
    problems = []
    for name, operation in operations(spec):
        if not operation.get("summary"):
            problems.append(f"{name}: no summary")
        if not (operation.get("description") or "").strip():
            problems.append(f"{name}: no description (the route's docstring)")
        if not operation.get("operationId"):
            problems.append(f"{name}: no operationId")
    assert problems == [], "\n".join(problems)


async def test_wire_names_are_camel_case(spec: dict[str, Any]) -> None:
    problems = []
    for schema_name, schema in spec.get("components", {}).get("schemas", {}).items():
        for prop in schema.get("properties", {}):
            if not CAMEL.match(prop):
                problems.append(f"schema {schema_name}: property {prop!r}")
    for name, operation in operations(spec):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and not CAMEL.match(parameter["name"]):
                problems.append(f"{name}: query parameter {parameter['name']!r}")
    assert problems == [], "\n".join(problems)


async def test_security_schemes_are_published(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Api-Key",
        "description": schemes["ApiKey"]["description"],
    }
    assert schemes["Bearer"]["scheme"] == "bearer"
    assert "ErrorEnvelope" in spec["components"]["schemas"]
