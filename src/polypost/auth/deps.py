"""Route dependencies: who is calling and whether they may (scope checks)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from polypost.auth.principal import Principal
from polypost.auth.scopes import Scope
from polypost.core.errors import ApiError, Forbidden, Unauthorized

api_key_header = APIKeyHeader(
    name="X-Api-Key",
    auto_error=False,
    scheme_name="ApiKey",
    description="Workspace API key: `sk_live_…`, `sk_test_…` or `sapi_key_…`.",
)
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="Bearer",
    description="An API key, or an EdDSA dashboard / OAuth 2.1 JWT (with `X-Workspace-Id`).",
)


class Requires:
    """Dependency enforcing a credential and, optionally, one scope.

    `api.py` reads `.scope` from each route's dependencies to publish `x-required-scope`.
    """

    # The kind of caller a route without a scope accepts (published in the OpenAPI doc).
    credential = "any"

    def __init__(self, scope: Scope | None) -> None:
        self.scope = scope

    async def __call__(
        self,
        request: Request,
        _api_key: Annotated[str | None, Security(api_key_header)] = None,
        _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None,
    ) -> Principal:
        error: ApiError | None = getattr(request.state, "auth_error", None)
        if error is not None:
            raise error
        principal: Principal | None = getattr(request.state, "principal", None)
        if principal is None:
            raise Unauthorized("Missing credential: send X-Api-Key or Authorization: Bearer.")
        if self.scope is not None and self.scope not in principal.scopes:
            raise Forbidden(
                f"This credential lacks the '{self.scope}' scope.",
                details={"requiredScope": str(self.scope)},
            )
        return principal


Authenticated = Annotated[Principal, Depends(Requires(None))]
AccountsRead = Annotated[Principal, Depends(Requires(Scope.ACCOUNTS_READ))]
AccountsWrite = Annotated[Principal, Depends(Requires(Scope.ACCOUNTS_WRITE))]
PostsRead = Annotated[Principal, Depends(Requires(Scope.POSTS_READ))]
PostsWrite = Annotated[Principal, Depends(Requires(Scope.POSTS_WRITE))]
MediaRead = Annotated[Principal, Depends(Requires(Scope.MEDIA_READ))]
MediaWrite = Annotated[Principal, Depends(Requires(Scope.MEDIA_WRITE))]
AnalyticsRead = Annotated[Principal, Depends(Requires(Scope.ANALYTICS_READ))]
InboxRead = Annotated[Principal, Depends(Requires(Scope.INBOX_READ))]
InboxWrite = Annotated[Principal, Depends(Requires(Scope.INBOX_WRITE))]
WebhooksRead = Annotated[Principal, Depends(Requires(Scope.WEBHOOKS_READ))]
WebhooksWrite = Annotated[Principal, Depends(Requires(Scope.WEBHOOKS_WRITE))]
KeysWrite = Annotated[Principal, Depends(Requires(Scope.KEYS_WRITE))]
WorkspaceAdmin = Annotated[Principal, Depends(Requires(Scope.WORKSPACE_ADMIN))]
