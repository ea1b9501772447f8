from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from polypost.auth.scopes import ALL_SCOPES
from polypost.core.schemas import ApiInput, ApiModel, UtcTimestamp


class KeyCreate(ApiInput):
    name: str = Field(min_length=1, max_length=200)
    scopes: list[str] = Field(
        default_factory=lambda: sorted(ALL_SCOPES),
        max_length=len(ALL_SCOPES),
        description="Defaults to every scope.",
    )
    mode: Literal["live", "test"] = Field(
        default="live", description="`test` keys (`sk_test_…`) may only target sandbox accounts."
    )
    expires_at: UtcTimestamp | None = None

    @field_validator("scopes")
    @classmethod
    def _known_scopes(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - ALL_SCOPES)
        if unknown:
            raise ValueError(f"unknown scopes: {', '.join(unknown)}")
        if not value:
            raise ValueError("at least one scope is required")
        return sorted(set(value))


class KeyRead(ApiModel):
    key_id: str = Field(validation_alias="id")
    name: str
    prefix: str
    last_four: str
    scopes: list[str]
    mode: str
    created_at: UtcTimestamp
    last_used_at: UtcTimestamp | None
    expires_at: UtcTimestamp | None
    revoked_at: UtcTimestamp | None


class KeyCreated(KeyRead):
    key: str = Field(description="The secret. Shown only in this response; store it now.")


class KeyPage(ApiModel):
    keys: list[KeyRead]
    next_cursor: str | None


class KeyRevoked(ApiModel):
    key_id: str
    revoked: bool
