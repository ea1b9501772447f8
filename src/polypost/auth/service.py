"""Turn a request's credential into a Principal, or raise the right 401/404."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.auth import keys
from polypost.auth.jwt import InvalidJwt, JwtVerifier
from polypost.auth.principal import Principal
from polypost.auth.scopes import ALL_SCOPES, ROLE_SCOPES
from polypost.core.crypto import keyed_hash
from polypost.core.errors import BadRequest, NotFound, Unauthorized
from polypost.core.timeutil import utcnow
from polypost.models import ApiKey, Membership, User, Workspace

# lastUsedAt is informative; writing it on every request would turn each read into a write.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def credential_from_headers(x_api_key: str | None, authorization: str | None) -> str | None:
    if x_api_key:
        return x_api_key.strip()
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized("Authorization header must be 'Bearer <token>'.")
        return value.strip()
    return None


async def authenticate(
    session: AsyncSession,
    *,
    credential: str,
    pepper: bytes,
    verifier: JwtVerifier,
    default_rate_limit: int,
    workspace_header: str | None,
) -> Principal:
    if keys.looks_like_api_key(credential):
        return await _authenticate_key(session, credential, pepper, default_rate_limit)
    if credential.count(".") == 2:
        return await _authenticate_jwt(
            session, credential, verifier, default_rate_limit, workspace_header
        )
    raise Unauthorized("Unrecognized credential format.")


async def _authenticate_key(
    session: AsyncSession, credential: str, pepper: bytes, default_rate_limit: int
) -> Principal:
    if not keys.is_well_formed(credential):
        raise Unauthorized("Malformed API key.")
    row = (
        await session.execute(
            select(ApiKey, Workspace.rate_limit_per_minute)
            .join(Workspace, Workspace.id == ApiKey.workspace_id)
            .where(ApiKey.key_hash == keyed_hash(pepper, credential))
        )
    ).one_or_none()
    if row is None:
        raise Unauthorized("Unknown API key.")
    api_key, workspace_limit = row
    now = utcnow()
    if api_key.revoked_at is not None:
        raise Unauthorized("This API key has been revoked.")
    if api_key.expires_at is not None and api_key.expires_at <= now:
        raise Unauthorized("This API key has expired.")
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
        await session.execute(
            update(ApiKey).where(ApiKey.id == api_key.id).values(last_used_at=now)
        )
        await session.commit()
    return Principal(
        workspace_id=api_key.workspace_id,
        scopes=frozenset(api_key.scopes),
        kind="api_key",
        api_key_id=api_key.id,
        is_test=api_key.is_test,
        rate_limit_per_minute=workspace_limit or default_rate_limit,
    )


def granted_scopes(claims: dict[str, Any]) -> frozenset[str]:
    """What an OAuth 2.1 access token was granted (`scope`, RFC 9068: space-separated;
    some issuers send a list), intersected with the role's scopes by the caller. A token
    without the claim is a dashboard token and keeps the whole role. A claim in any other
    shape is refused rather than ignored: ignoring it would widen the token to the role."""
    if "scope" not in claims:
        return ALL_SCOPES
    granted = claims["scope"]
    if isinstance(granted, str):
        return frozenset(granted.split())
    if isinstance(granted, list) and all(isinstance(item, str) for item in granted):
        return frozenset(granted)
    raise Unauthorized("Invalid token: the scope claim must be a string or a list of strings.")


async def _authenticate_jwt(
    session: AsyncSession,
    credential: str,
    verifier: JwtVerifier,
    default_rate_limit: int,
    workspace_header: str | None,
) -> Principal:
    try:
        claims = await verifier.verify(credential)
    except InvalidJwt as exc:
        raise Unauthorized(f"Invalid token: {exc}.") from None
    user = await session.get(User, str(claims["sub"]))
    if user is None:
        raise Unauthorized("The token's subject is not a known user.")
    memberships = (
        (await session.execute(select(Membership).where(Membership.user_id == user.id)))
        .scalars()
        .all()
    )
    by_workspace = {m.workspace_id: m for m in memberships}
    if workspace_header:
        membership = by_workspace.get(workspace_header)
        if membership is None:
            raise NotFound("Workspace not found.")
    elif user.default_workspace_id in by_workspace:
        membership = by_workspace[user.default_workspace_id]
    elif len(memberships) == 1:
        membership = memberships[0]
    elif not memberships:
        raise NotFound("The user belongs to no workspace.")
    else:
        raise BadRequest("X-Workspace-Id is required: the user belongs to several workspaces.")
    scopes = ROLE_SCOPES[membership.role] & granted_scopes(claims)
    workspace = await session.get(Workspace, membership.workspace_id)
    return Principal(
        workspace_id=membership.workspace_id,
        scopes=scopes,
        kind="user",
        user_id=user.id,
        role=membership.role,
        rate_limit_per_minute=(workspace.rate_limit_per_minute if workspace else None)
        or default_rate_limit,
    )
