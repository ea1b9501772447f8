"""The workspace area of the API: brands, invites, the signed-in user and usage."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from polypost.auth.deps import WorkspaceAdmin
from polypost.auth.principal import Principal
from polypost.core.deps import ReadSession, RuntimeDep, WriteSession
from polypost.core.errors import Gone, NotFound, responses
from polypost.core.pagination import PageParams, page_params
from polypost.models import Invite, Workspace
from polypost.usage.router import router as usage_router
from polypost.users import service as users_service
from polypost.users.deps import AnyCaller, DashboardUser
from polypost.users.router import router as users_router
from polypost.workspaces import invites, service
from polypost.workspaces.schemas import (
    BrandCreate,
    BrandDeleted,
    BrandPage,
    BrandRead,
    BrandUpdate,
    InviteCreate,
    InviteCreated,
    InviteDeleted,
    InvitePage,
    InviteRead,
)

BrandId = Annotated[str, Path(max_length=40)]

brands_router = APIRouter(prefix="/brands", tags=["brands"])
invites_router = APIRouter(prefix="/invites", tags=["invites"])


def brand_read(workspace: Workspace, default_limit: int, role: str | None = None) -> BrandRead:
    return BrandRead.model_validate(
        {
            "brand_id": workspace.id,
            "name": workspace.name,
            "timezone": workspace.timezone,
            "storage_quota_bytes": workspace.storage_quota_bytes,
            "rate_limit_per_minute": workspace.rate_limit_per_minute or default_limit,
            "created_at": workspace.created_at,
            "role": role,
        }
    )


def invite_read(invite: Invite) -> InviteRead:
    return InviteRead.model_validate(
        {
            "invite_id": invite.id,
            "brand_id": invite.workspace_id,
            "email": invite.email,
            "role": invite.role,
            "status": invites.invite_status(invite),
            "expires_at": invite.expires_at,
            "created_at": invite.created_at,
            "accepted_at": invite.accepted_at,
            "accepted_by_user_id": invite.accepted_by_user_id,
        }
    )


@brands_router.get("", response_model=BrandPage, responses=responses())
async def list_brands(
    caller: AnyCaller,
    session: ReadSession,
    runtime: RuntimeDep,
    params: Annotated[PageParams, Depends(page_params)],
) -> BrandPage:
    """List the brands you can see: an API key's own, or every brand a user belongs to."""
    default_limit = runtime.settings.rate_limit_per_minute
    if isinstance(caller, Principal):
        page = await service.page_workspaces(session, params, workspace_id=caller.workspace_id)
        brands = [brand_read(w, default_limit) for w in page.items]
    else:
        page = await service.page_workspaces(session, params, user_id=caller.user_id)
        roles = await service.roles_of(session, caller.user_id, [w.id for w in page.items])
        brands = [brand_read(w, default_limit, roles.get(w.id)) for w in page.items]
    return BrandPage(brands=brands, next_cursor=page.next_cursor)


@brands_router.post("", status_code=201, response_model=BrandRead, responses=responses())
async def create_brand(
    body: BrandCreate, caller: DashboardUser, session: WriteSession, runtime: RuntimeDep
) -> BrandRead:
    """Create a brand (dashboard users only); you become its owner."""
    user = await users_service.get_user(session, caller.user_id)
    workspace = await service.create_workspace(
        session, runtime.settings, body.name, timezone=body.timezone, owner=user
    )
    return brand_read(workspace, runtime.settings.rate_limit_per_minute, "owner")


@brands_router.patch("/{brand_id}", response_model=BrandRead, responses=responses(NotFound))
async def update_brand(
    brand_id: BrandId,
    body: BrandUpdate,
    auth: WorkspaceAdmin,
    session: WriteSession,
    runtime: RuntimeDep,
) -> BrandRead:
    """Rename a brand, change its time zone or its per-credential rate limit."""
    if brand_id != auth.workspace_id:
        raise NotFound("Brand not found.")
    workspace = await service.get_workspace(session, brand_id)
    changes = body.model_dump(include=body.model_fields_set)
    for field in ("name", "timezone", "rate_limit_per_minute"):
        if field in changes:
            setattr(workspace, field, changes[field])
    await session.flush()
    return brand_read(workspace, runtime.settings.rate_limit_per_minute, auth.role)


@brands_router.delete("/{brand_id}", response_model=BrandDeleted, responses=responses(NotFound))
async def delete_brand(
    brand_id: BrandId, caller: DashboardUser, session: WriteSession
) -> BrandDeleted:
    """Delete a brand and everything in it (owners only); this cannot be undone."""
    workspace = await service.require_owner(session, caller.user_id, brand_id)
    await service.delete_workspace(session, workspace.id)
    return BrandDeleted(brand_id=brand_id, deleted=True)


@invites_router.get("", response_model=InvitePage, responses=responses())
async def list_invites(
    auth: WorkspaceAdmin,
    session: ReadSession,
    params: Annotated[PageParams, Depends(page_params)],
) -> InvitePage:
    """List the brand's invites with their status (tokens are never returned)."""
    page = await invites.list_invites(session, auth.workspace_id, params)
    return InvitePage(invites=[invite_read(i) for i in page.items], next_cursor=page.next_cursor)


@invites_router.post("", status_code=201, response_model=InviteCreated, responses=responses())
async def create_invite(
    body: InviteCreate, auth: WorkspaceAdmin, session: WriteSession, runtime: RuntimeDep
) -> InviteCreated:
    """Invite someone to the brand; the `token` and `acceptUrl` are in this response only."""
    invite, token = await invites.create_invite(
        session,
        runtime.settings.signing_key,
        auth,
        email=body.email,
        role=body.role,
        expires_in_hours=body.expires_in_hours,
    )
    accept_url = f"{runtime.settings.public_base_url}/v1/invites/{token}/accept"
    return InviteCreated.model_validate(
        {**invite_read(invite).model_dump(), "token": token, "accept_url": accept_url}
    )


@invites_router.delete("/{invite_id}", response_model=InviteDeleted, responses=responses(NotFound))
async def delete_invite(
    invite_id: Annotated[str, Path(max_length=40)], auth: WorkspaceAdmin, session: WriteSession
) -> InviteDeleted:
    """Delete an invite; its token stops working immediately."""
    await invites.delete_invite(session, auth.workspace_id, invite_id)
    return InviteDeleted(invite_id=invite_id, deleted=True)


@invites_router.post(
    "/{token}/accept", response_model=BrandRead, responses=responses(NotFound, Gone)
)
async def accept_invite(
    token: Annotated[str, Path(max_length=invites.MAX_TOKEN_LENGTH)],
    caller: DashboardUser,
    session: WriteSession,
    runtime: RuntimeDep,
) -> BrandRead:
    """Accept an invite with your dashboard token; returns the brand you joined."""
    user = await users_service.get_user(session, caller.user_id)
    invite, membership = await invites.accept_invite(
        session, runtime.settings.signing_key, token, user
    )
    workspace = await service.get_workspace(session, invite.workspace_id)
    return brand_read(workspace, runtime.settings.rate_limit_per_minute, membership.role)


router = APIRouter()
router.include_router(brands_router)
router.include_router(invites_router)
router.include_router(users_router)
router.include_router(usage_router)
