"""`/v1/users/me`: the signed-in user's profile, memberships and account deletion."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.core.deps import ReadSession, WriteSession
from polypost.core.errors import Conflict, responses
from polypost.models import User
from polypost.users import service
from polypost.users.deps import CurrentUser, DashboardUser
from polypost.users.schemas import MembershipRead, UserDeleted, UserRead, UserUpdate

router = APIRouter(prefix="/users", tags=["users"])


async def user_read(session: AsyncSession, user: User) -> UserRead:
    memberships = await service.memberships(session, user.id)
    default = user.default_workspace_id
    if default not in {workspace.id for _, workspace in memberships}:
        default = memberships[0][1].id if len(memberships) == 1 else None
    return UserRead(
        user_id=user.id,
        email=user.email,
        name=user.name,
        default_brand_id=default,
        created_at=user.created_at,
        memberships=[
            MembershipRead.model_validate(
                {
                    "brand_id": workspace.id,
                    "name": workspace.name,
                    "role": membership.role,
                    "joined_at": membership.created_at,
                }
            )
            for membership, workspace in memberships
        ],
    )


@router.get("/me", response_model=UserRead, responses=responses())
async def get_me(caller: CurrentUser, session: ReadSession) -> UserRead:
    """Your profile and your role in each brand (user tokens only, not API keys)."""
    return await user_read(session, await service.get_user(session, caller.user_id))


@router.patch("/me", response_model=UserRead, responses=responses())
async def update_me(body: UserUpdate, caller: DashboardUser, session: WriteSession) -> UserRead:
    """Change your display name (dashboard users only)."""
    user = await service.get_user(session, caller.user_id)
    if "name" in body.model_fields_set:
        user.name = body.name
    await session.flush()
    return await user_read(session, user)


@router.delete("/me", response_model=UserDeleted, responses=responses(Conflict))
async def delete_me(caller: DashboardUser, session: WriteSession) -> UserDeleted:
    """Delete your account and memberships; refused while you alone own a shared brand."""
    user = await service.get_user(session, caller.user_id)
    await service.delete_user(session, user.id)
    return UserDeleted(user_id=user.id, deleted=True)
