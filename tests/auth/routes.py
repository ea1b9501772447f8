"""Every `/v1` operation, discovered from the router so that new routes are covered by
the scope, auth and isolation tests without editing them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from polypost import api

PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # the template, e.g. /v1/keys/{key_id}
    authenticated: bool
    scope: str | None

    @property
    def params(self) -> list[str]:
        return PARAM.findall(self.path)

    def url(self, values: dict[str, str] | None = None, default: str = "zz_absent") -> str:
        values = values or {}
        return PARAM.sub(lambda m: values.get(m.group(1), default), self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def operations() -> list[Operation]:
    found = []
    for route in api.api_routes(api.router.routes):
        authenticated, scope = api.required_scope(route.dependant)
        for method in sorted(route.methods or ()):
            if method == "HEAD":
                continue
            found.append(Operation(method, str(route.path_format), authenticated, scope))
    return sorted(found, key=lambda op: (op.path, op.method))


def body_for(operation: Operation) -> dict[str, object] | None:
    """An empty JSON object where a body may be read: valid JSON, so FastAPI gets as far
    as the route's dependencies (where auth and scope are checked)."""
    return {} if operation.method in BODY_METHODS else None
