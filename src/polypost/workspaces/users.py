"""Users and memberships (CLI `polypost users create`, invites)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.auth.scopes import ROLE_RANK
from polypost.core.ids import Prefix, new_id
from polypost.models import Membership, Role, User, Workspace
from polypost.settings import Settings
from polypost.workspaces.service import get_or_create_workspace


async def get_or_create_user(session: AsyncSession, email: str) -> User:
    email = email.strip().lower()
    user = (await session.execute(select(User).where(User.email == email))).scalar_one_or_none()
    if user is None:
        user = User(id=new_id(Prefix.USER), email=email)
        session.add(user)
        await session.flush()
    return user


async def set_membership(
    session: AsyncSession, user: User, workspace_id: str, role: str
) -> Membership:
    membership = (
        await session.execute(
            select(Membership).where(
                Membership.user_id == user.id, Membership.workspace_id == workspace_id
            )
        )
    ).scalar_one_or_none()
    if membership is None:
        membership = Membership(
            id=new_id(Prefix.MEMBERSHIP), workspace_id=workspace_id, user_id=user.id, role=role
        )
        session.add(membership)
    else:
        membership.role = role
    if user.default_workspace_id is None:
        user.default_workspace_id = workspace_id
    await session.flush()
    return membership


async def grant_role(session: AsyncSession, user: User, workspace_id: str, role: str) -> Membership:
    """Make the user a member with at least `role`; an existing higher role is kept."""
    existing = (
        await session.execute(
            select(Membership).where(
                Membership.user_id == user.id, Membership.workspace_id == workspace_id
            )
        )
    ).scalar_one_or_none()
    if existing is not None and ROLE_RANK[Role(existing.role)] >= ROLE_RANK[Role(role)]:
        return existing
    return await set_membership(session, user, workspace_id, role)


async def add_member(
    session: AsyncSession, settings: Settings, *, email: str, workspace_name: str, role: str
) -> tuple[User, Workspace]:
    user = await get_or_create_user(session, email)
    workspace, _ = await get_or_create_workspace(session, settings, workspace_name)
    await set_membership(session, user, workspace.id, role)
    return user, workspace
