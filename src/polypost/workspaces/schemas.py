"""Wire shapes of brands (workspaces) and invites."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from polypost.core.schemas import ApiInput, ApiModel, UtcTimestamp
from polypost.models import Role
from polypost.settings import validate_timezone

MAX_RATE_LIMIT = 100_000
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


def _timezone(value: str | None) -> str | None:
    if value is None:
        raise ValueError("may not be null")
    return validate_timezone(value)


class BrandRead(ApiModel):
    brand_id: str
    name: str
    timezone: str = Field(description="IANA time zone for schedule times without an offset.")
    storage_quota_bytes: int
    rate_limit_per_minute: int = Field(description="Requests per minute per credential.")
    created_at: UtcTimestamp
    role: Role | None = Field(default=None, description="The caller's role; null for an API key.")


class BrandPage(ApiModel):
    brands: list[BrandRead]
    next_cursor: str | None


class BrandCreate(ApiInput):
    name: str = Field(min_length=1, max_length=200)
    timezone: str = Field(default="UTC", min_length=1, max_length=64, examples=["Europe/Paris"])

    _valid_timezone = field_validator("timezone")(_timezone)


class BrandUpdate(ApiInput):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = Field(default=None, min_length=1, max_length=64)
    rate_limit_per_minute: int | None = Field(
        default=None,
        ge=1,
        le=MAX_RATE_LIMIT,
        description="Requests per minute per credential; null restores the server default.",
    )

    _valid_timezone = field_validator("timezone")(_timezone)

    @field_validator("name")
    @classmethod
    def _name_not_null(cls, value: str | None) -> str:
        if value is None:
            raise ValueError("may not be null")
        return value


class BrandDeleted(ApiModel):
    brand_id: str
    deleted: bool


class InviteCreate(ApiInput):
    email: str | None = Field(
        default=None,
        max_length=320,
        pattern=EMAIL_PATTERN,
        description="Only a user with this email may accept; any user when omitted.",
    )
    role: Role
    expires_in_hours: int = Field(default=168, ge=1, le=720)

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str | None) -> str | None:
        return value.lower() if value is not None else None


class InviteRead(ApiModel):
    invite_id: str
    brand_id: str
    email: str | None
    role: Role
    status: Literal["pending", "accepted", "expired"]
    expires_at: UtcTimestamp
    created_at: UtcTimestamp
    accepted_at: UtcTimestamp | None
    accepted_by_user_id: str | None


class InviteCreated(InviteRead):
    token: str = Field(description="The secret. Shown only in this response.")
    accept_url: str = Field(description="`POST` here with the invitee's dashboard token.")


class InvitePage(ApiModel):
    invites: list[InviteRead]
    next_cursor: str | None


class InviteDeleted(ApiModel):
    invite_id: str
    deleted: bool
