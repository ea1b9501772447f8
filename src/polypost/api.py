"""The `/v1` router and the OpenAPI document built from it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from starlette.routing import BaseRoute

from polypost.accounts.redirect_uris import router as redirect_uris_router
from polypost.accounts.router import router as accounts_router
from polypost.auth.deps import Requires
from polypost.events.router import router as events_router
from polypost.keys.router import router as keys_router
from polypost.media.router import router as media_router
from polypost.platforms.byok_router import router as byok_router
from polypost.posts.router import router as posts_router
from polypost.webhooks.router import router as webhooks_router
from polypost.workspaces.router import router as workspaces_router

router = APIRouter(prefix="/v1")
router.include_router(keys_router)
router.include_router(accounts_router)
router.include_router(redirect_uris_router)
router.include_router(byok_router)
router.include_router(posts_router)
router.include_router(media_router)
router.include_router(webhooks_router)
router.include_router(events_router)
router.include_router(workspaces_router)


def api_routes(routes: Sequence[BaseRoute]) -> list[RouteContext]:
    """Every path operation. Since FastAPI 0.137 included routers stay lazy nodes in
    `app.routes`, so a plain `isinstance(route, APIRoute)` walk would see none of them."""
    return [c for c in iter_route_contexts(routes) if isinstance(c.original_route, APIRoute)]


def required_scope(dependant: Dependant) -> tuple[bool, str | None]:
    """(authenticated?, scope) from the route's `Requires` dependency, if any."""
    for dep in dependant.dependencies:
        if isinstance(dep.call, Requires):
            return True, dep.call.scope
        found, scope = required_scope(dep)
        if found:
            return found, scope
    return False, None


def required_credential(dependant: Dependant) -> str | None:
    """Which kind of credential a scope-less authenticated route wants ("any", "user")."""
    for dep in dependant.dependencies:
        if isinstance(dep.call, Requires):
            return dep.call.credential
        found = required_credential(dep)
        if found:
            return found
    return None


CREDENTIAL_NOTES = {
    "any": "Any valid credential (API key or user token); no scope needed.",
    "user": "A dashboard user token (JWT); API keys are refused with 403.",
}


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's spec, with our 400 instead of its 422 and each route's scope listed."""
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        servers=[{"url": "/"}],
    )
    scopes: dict[tuple[str | None, str], tuple[bool, str | None]] = {}
    credentials: dict[tuple[str | None, str], str | None] = {}
    for route in api_routes(app.routes):
        for method in route.methods or ():
            scopes[(route.path_format, method.lower())] = required_scope(route.dependant)
            credentials[(route.path_format, method.lower())] = required_credential(route.dependant)
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.get("responses", {})
            if "HTTPValidationError" in str(responses.get("422", {})):
                del responses["422"]
            authenticated, scope = scopes.get((path, method), (False, None))
            operation["x-required-scope"] = scope
            if authenticated and scope:
                note = f"Required scope: `{scope}`."
            elif authenticated:
                credential = credentials.get((path, method)) or "any"
                operation["x-required-credential"] = credential
                note = CREDENTIAL_NOTES[credential]
            else:
                note = "No authentication."
                operation.pop("security", None)
            operation["description"] = (operation.get("description", "") + "\n\n" + note).strip()
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    return schema
