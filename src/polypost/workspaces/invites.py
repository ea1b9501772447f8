"""Invitations: a single-use secret token that grants a role in one workspace.

The token is 256 random bits shown once; only its HMAC (keyed with the server secret,
like API keys) is stored, so a leaked table cannot be turned into working invites.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.auth.principal import Principal
from polypost.auth.scopes import ROLE_RANK
from polypost.core.crypto import keyed_hash
from polypost.core.errors import Forbidden, Gone, NotFound
from polypost.core.ids import Prefix, base62, new_id
from polypost.core.pagination import Page, PageParams, paginate
from polypost.core.timeutil import utcnow
from polypost.models import Invite, Membership, Role, User
from polypost.workspaces.users import grant_role

TOKEN_PREFIX = "pinv_"  # noqa: S105 (a prefix, not a secret)
MAX_TOKEN_LENGTH = 128


def generate_token() -> str:
    return TOKEN_PREFIX + base62(secrets.randbits(256), 43)


def invite_status(invite: Invite) -> str:
    if invite.accepted_at is not None:
        return "accepted"
    if invite.expires_at <= utcnow():
        return "expired"
    return "pending"


def highest_grantable(principal: Principal) -> Role:
    """A user grants up to their own role; an API key (no person behind it) up to admin."""
    if principal.kind == "user" and principal.role is not None:
        return Role(principal.role)
    return Role.ADMIN


def check_grantable(principal: Principal, role: Role) -> None:
    ceiling = highest_grantable(principal)
    if ROLE_RANK[role] > ROLE_RANK[ceiling]:
        raise Forbidden(
            f"A credential with role '{ceiling}' cannot invite an '{role}'.",
            details={"role": str(role), "highestGrantable": str(ceiling)},
        )


async def create_invite(
    session: AsyncSession,
    pepper: bytes,
    principal: Principal,
    *,
    email: str | None,
    role: Role,
    expires_in_hours: int,
) -> tuple[Invite, str]:
    """Store the invite's hash; return the row and the token (shown once)."""
    check_grantable(principal, role)
    token = generate_token()
    invite = Invite(
        id=new_id(Prefix.INVITE),
        workspace_id=principal.workspace_id,
        email=email,
        role=role,
        token_hash=keyed_hash(pepper, token),
        created_by_user_id=principal.user_id,
        expires_at=utcnow() + timedelta(hours=expires_in_hours),
    )
    session.add(invite)
    await session.flush()
    return invite, token


async def list_invites(
    session: AsyncSession, workspace_id: str, params: PageParams
) -> Page[Invite]:
    statement = select(Invite).where(Invite.workspace_id == workspace_id)
    return await paginate(session, statement, [Invite.created_at, Invite.id], params)


async def delete_invite(session: AsyncSession, workspace_id: str, invite_id: str) -> None:
    invite = (
        await session.execute(
            select(Invite).where(Invite.id == invite_id, Invite.workspace_id == workspace_id)
        )
    ).scalar_one_or_none()
    if invite is None:
        raise NotFound("Invite not found.")
    await session.delete(invite)


async def accept_invite(
    session: AsyncSession, pepper: bytes, token: str, user: User
) -> tuple[Invite, Membership]:
    """Join the invite's workspace (or raise the user's role there), once."""
    invite = (
        await session.execute(select(Invite).where(Invite.token_hash == keyed_hash(pepper, token)))
    ).scalar_one_or_none()
    if invite is None:
        raise NotFound("Invite not found.")
    now = utcnow()
    if invite.accepted_at is not None:
        raise Gone("This invite has already been used.")
    if invite.expires_at <= now:
        raise Gone("This invite has expired.")
    if invite.email is not None and invite.email != user.email.lower():
        raise Forbidden("This invite was issued to a different email address.")
    # Conditional claim: of two concurrent accepts only one changes the row.
    claimed = cast(
        CursorResult[Any],
        await session.execute(
            update(Invite)
            .where(Invite.id == invite.id, Invite.accepted_at.is_(None))
            .values(accepted_at=now, accepted_by_user_id=user.id)
            .execution_options(synchronize_session=False)
        ),
    )
    if claimed.rowcount != 1:
        raise Gone("This invite has already been used.")
    membership = await grant_role(session, user, invite.workspace_id, invite.role)
    return invite, membership
