"""Wire shapes of `/v1/users/me`."""

from __future__ import annotations

from pydantic import Field

from polypost.core.schemas import ApiInput, ApiModel, UtcTimestamp
from polypost.models import Role


class MembershipRead(ApiModel):
    brand_id: str
    name: str
    role: Role
    joined_at: UtcTimestamp


class UserRead(ApiModel):
    user_id: str
    email: str
    name: str | None
    default_brand_id: str | None = Field(
        description="The brand a token acts on when no X-Workspace-Id header is sent."
    )
    created_at: UtcTimestamp
    memberships: list[MembershipRead]


class UserUpdate(ApiInput):
    name: str | None = Field(
        default=None, min_length=1, max_length=200, description="Null clears the name."
    )


class UserDeleted(ApiModel):
    user_id: str
    deleted: bool
