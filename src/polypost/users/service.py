"""The signed-in user's profile, memberships and account deletion."""

from __future__ import annotations

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from polypost.core.errors import Conflict, Unauthorized
from polypost.models import Membership, Role, User, Workspace


async def get_user(session: AsyncSession, user_id: str) -> User:
    """The token's subject; a 401 if it was deleted after the token was issued."""
    user = await session.get(User, user_id)
    if user is None:
        raise Unauthorized("The token's subject is not a known user.")
    return user


async def memberships(session: AsyncSession, user_id: str) -> list[tuple[Membership, Workspace]]:
    """Every workspace the user belongs to, oldest membership first (one query)."""
    rows = await session.execute(
        select(Membership, Workspace)
        .join(Workspace, Workspace.id == Membership.workspace_id)
        .where(Membership.user_id == user_id)
        .order_by(Membership.created_at, Membership.id)
    )
    return [(membership, workspace) for membership, workspace in rows.all()]


async def sole_owned_shared_workspaces(session: AsyncSession, user_id: str) -> list[str]:
    """Workspaces the user alone owns while others are members: deleting the user would
    leave those members without anyone able to administer the workspace."""
    other = aliased(Membership)
    other_owner = exists().where(
        other.workspace_id == Membership.workspace_id,
        other.user_id != user_id,
        other.role == Role.OWNER,
    )
    other_member = exists().where(
        other.workspace_id == Membership.workspace_id, other.user_id != user_id
    )
    rows = await session.execute(
        select(Membership.workspace_id)
        .where(
            Membership.user_id == user_id,
            Membership.role == Role.OWNER,
            ~other_owner,
            other_member,
        )
        .order_by(Membership.workspace_id)
    )
    return list(rows.scalars())


async def delete_user(session: AsyncSession, user_id: str) -> None:
    """Delete the user and their memberships (FK cascade); workspaces are kept."""
    blocking = await sole_owned_shared_workspaces(session, user_id)
    if blocking:
        raise Conflict(
            "You are the only owner of brands that have other members: make another "
            "member an owner or remove the members first.",
            details={"brandIds": blocking},
        )
    await session.execute(delete(User).where(User.id == user_id))
