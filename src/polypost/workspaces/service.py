"""Workspace creation and lookup shared by the CLI, brands routes and invites."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.core.ids import Prefix, new_id
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
