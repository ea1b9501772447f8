"""The `/v1` router and the OpenAPI document built from it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from polypost.auth.deps import Requires
from polypost.keys.router import router as keys_router

router = APIRouter(prefix="/v1")
router.include_router(keys_router)


def _required_scope(dependant: Dependant) -> tuple[bool, str | None]:
    """(authenticated?, scope) from the route's `Requires` dependency, if any."""
    for dep in dependant.dependencies:
        if isinstance(dep.call, Requires):
            return True, dep.call.scope
        found, scope = _required_scope(dep)
        if found:
            return found, scope
    return False, None


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's spec, with our 400 instead of its 422 and each route's scope listed."""
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        servers=[{"url": "/"}],
    )
    scopes: dict[tuple[str, str], tuple[bool, str | None]] = {}
    for route in app.routes:
        if isinstance(route, APIRoute):
            for method in route.methods or ():
                scopes[(route.path_format, method.lower())] = _required_scope(route.dependant)
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.get("responses", {})
            if "HTTPValidationError" in str(responses.get("422", {})):
                del responses["422"]
            authenticated, scope = scopes.get((path, method), (False, None))
            operation["x-required-scope"] = scope
            if authenticated:
                note = f"Required scope: `{scope}`." if scope else "Any valid credential."
            else:
                note = "No authentication."
                operation.pop("security", None)
            operation["description"] = (operation.get("description", "") + "\n\n" + note).strip()
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    return schema
