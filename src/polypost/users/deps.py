"""Credentials for routes about people rather than one workspace.

The gateway resolves a JWT to a (user, workspace) principal, which fails for a user who
belongs to no workspace yet (or several, none chosen). Routes about the person
themselves (their profile, their brands, accepting an invite) verify the token here, so
a new user can create or join a first brand. API keys act for a workspace, not a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials

from polypost.auth.deps import Requires, api_key_header, bearer
from polypost.auth.jwt import InvalidJwt
from polypost.auth.keys import looks_like_api_key
from polypost.auth.principal import Principal
from polypost.auth.service import credential_from_headers
from polypost.core.deps import get_runtime
from polypost.core.errors import ApiError, Forbidden, RateLimited, Unauthorized

API_KEY_REFUSED = (
    "API keys act for a workspace, not a person: this route needs a dashboard user token "
    "(Authorization: Bearer <JWT>)."
)
DELEGATED_REFUSED = (
    "OAuth access tokens are delegated to an application and cannot manage the user's own "
    "account or brands: use a dashboard session token."
)


@dataclass(frozen=True, slots=True)
class UserCaller:
    """A verified user token. `principal` is the gateway's workspace resolution, when one
    was possible; `delegated` marks an OAuth 2.1 access token (it carries `scope`)."""

    user_id: str
    delegated: bool
    principal: Principal | None


async def _resolve(request: Request, *, users_only: bool) -> Principal | UserCaller:
    error: ApiError | None = getattr(request.state, "auth_error", None)
    principal: Principal | None = getattr(request.state, "principal", None)
    # An unknown, malformed, revoked or expired credential stays a 401; only the
    # workspace-resolution failures (no membership, no workspace chosen) are bypassed.
    if isinstance(error, Unauthorized):
        raise error
    credential = credential_from_headers(
        request.headers.get("x-api-key"), request.headers.get("authorization")
    )
    if credential is None:
        raise Unauthorized("Missing credential: send X-Api-Key or Authorization: Bearer.")
    if looks_like_api_key(credential):
        if error is not None:
            raise error
        if users_only:
            raise Forbidden(API_KEY_REFUSED)
        assert principal is not None
        return principal
    runtime = get_runtime(request)
    try:
        claims = await runtime.jwt.verify(credential)
    except InvalidJwt as exc:
        raise Unauthorized(f"Invalid token: {exc}.") from None
    user_id = str(claims["sub"])
    if principal is None:
        # The gateway rate-limits only what it resolved; a user without a workspace
        # still gets the server's default limit.
        decision = await runtime.limiter.hit(f"{user_id}:", runtime.settings.rate_limit_per_minute)
        request.state.response_headers.update(decision.headers())
        if not decision.allowed:
            raise RateLimited(
                f"Rate limit of {decision.limit} requests per minute exceeded; "
                f"retry in {decision.retry_after} s.",
                headers=decision.headers(),
            )
    return UserCaller(
        user_id=user_id,
        delegated=isinstance(claims.get("scope"), str),
        principal=principal if principal is not None and principal.kind == "user" else None,
    )


class RequiresCaller(Requires):
    """Any valid credential: the API key's principal, or the verified user."""

    def __init__(self) -> None:
        super().__init__(None)

    async def __call__(  # type: ignore[override]
        self,
        request: Request,
        _api_key: Annotated[str | None, Security(api_key_header)] = None,
        _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None,
    ) -> Principal | UserCaller:
        return await _resolve(request, users_only=False)


class RequiresUser(Requires):
    """A user token; API keys get 403. `dashboard` also refuses OAuth access tokens."""

    credential = "user"

    def __init__(self, *, dashboard: bool = False) -> None:
        super().__init__(None)
        self.dashboard = dashboard

    async def __call__(  # type: ignore[override]
        self,
        request: Request,
        _api_key: Annotated[str | None, Security(api_key_header)] = None,
        _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None,
    ) -> UserCaller:
        caller = await _resolve(request, users_only=True)
        assert isinstance(caller, UserCaller)
        if self.dashboard and caller.delegated:
            raise Forbidden(DELEGATED_REFUSED)
        return caller


AnyCaller = Annotated[Principal | UserCaller, Depends(RequiresCaller())]
CurrentUser = Annotated[UserCaller, Depends(RequiresUser())]
DashboardUser = Annotated[UserCaller, Depends(RequiresUser(dashboard=True))]
