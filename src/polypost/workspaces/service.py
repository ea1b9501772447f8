"""Workspace creation and lookup shared by the CLI, brands routes and invites."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.core.errors import Forbidden, NotFound
from polypost.core.ids import Prefix, new_id
from polypost.core.pagination import Page, PageParams, paginate
from polypost.models import Membership, Role, User, Workspace
from polypost.settings import Settings


async def create_workspace(
    session: AsyncSession,
    settings: Settings,
    name: str,
    *,
    timezone: str = "UTC",
    owner: User | None = None,
) -> Workspace:
    workspace = Workspace(
        id=new_id(Prefix.WORKSPACE),
        name=name,
        timezone=timezone,
        storage_quota_bytes=settings.default_storage_quota_bytes,
    )
    session.add(workspace)
    await session.flush()
    if owner is not None:
        session.add(
            Membership(
                id=new_id(Prefix.MEMBERSHIP),
                workspace_id=workspace.id,
                user_id=owner.id,
                role=Role.OWNER,
            )
        )
        if owner.default_workspace_id is None:
            owner.default_workspace_id = workspace.id
        await session.flush()
    return workspace


async def find_workspace_by_name(session: AsyncSession, name: str) -> Workspace | None:
    """The oldest workspace with this exact name (names are labels, not unique keys)."""
    return (
        await session.execute(
            select(Workspace).where(Workspace.name == name).order_by(Workspace.created_at).limit(1)
        )
    ).scalar_one_or_none()


async def get_or_create_workspace(
    session: AsyncSession, settings: Settings, name: str
) -> tuple[Workspace, bool]:
    existing = await find_workspace_by_name(session, name)
    if existing is not None:
        return existing, False
    return await create_workspace(session, settings, name), True


async def get_workspace(session: AsyncSession, workspace_id: str) -> Workspace:
    workspace = await session.get(Workspace, workspace_id)
    if workspace is None:
        raise NotFound("Brand not found.")
    return workspace


async def page_workspaces(
    session: AsyncSession,
    params: PageParams,
    *,
    workspace_id: str | None = None,
    user_id: str | None = None,
) -> Page[Workspace]:
    """One workspace (an API key's) or every workspace a user belongs to."""
    statement = select(Workspace)
    if user_id is not None:
        statement = statement.join(Membership, Membership.workspace_id == Workspace.id).where(
            Membership.user_id == user_id
        )
    if workspace_id is not None:
        statement = statement.where(Workspace.id == workspace_id)
    return await paginate(session, statement, [Workspace.created_at, Workspace.id], params)


async def roles_of(
    session: AsyncSession, user_id: str, workspace_ids: Sequence[str]
) -> dict[str, str]:
    """The user's role in each of `workspace_ids`, in one query."""
    if not workspace_ids:
        return {}
    rows = await session.execute(
        select(Membership.workspace_id, Membership.role).where(
            Membership.user_id == user_id, Membership.workspace_id.in_(workspace_ids)
        )
    )
    return {workspace_id: role for workspace_id, role in rows.all()}


async def require_owner(session: AsyncSession, user_id: str, workspace_id: str) -> Workspace:
    """The workspace if the user owns it; 404 when not a member, 403 when not an owner."""
    row = (
        await session.execute(
            select(Workspace, Membership.role)
            .join(Membership, Membership.workspace_id == Workspace.id)
            .where(Workspace.id == workspace_id, Membership.user_id == user_id)
        )
    ).one_or_none()
    if row is None:
        raise NotFound("Brand not found.")
    workspace, role = row
    if role != Role.OWNER:
        raise Forbidden(
            "Only an owner can delete a brand.", details={"role": role, "requiredRole": "owner"}
        )
    return workspace


async def delete_workspace(session: AsyncSession, workspace_id: str) -> None:
    """Delete the workspace; every row in it goes with it through FK cascades."""
    # Users whose default pointed here fall back to their oldest remaining membership,
    # so their tokens keep resolving without an X-Workspace-Id header.
    fallback = (
        select(Membership.workspace_id)
        .where(Membership.user_id == User.id, Membership.workspace_id != workspace_id)
        .order_by(Membership.created_at, Membership.id)
        .limit(1)
        .scalar_subquery()
    )
    await session.execute(
        update(User)
        .where(User.default_workspace_id == workspace_id)
        .values(default_workspace_id=fallback)
        .execution_options(synchronize_session=False)
    )
    await session.execute(delete(Workspace).where(Workspace.id == workspace_id))
