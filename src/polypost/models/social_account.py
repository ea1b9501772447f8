from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from polypost.models.base import Base, Timestamps, id_column


class AccountStatus(StrEnum):
    CONNECTED = "connected"
    EXPIRED = "expired"
    REVOKED = "revoked"
    ERROR = "error"


class SocialAccount(Timestamps, Base):
    """A connected platform account. Tokens are Fernet ciphertext (see core/crypto.py)."""

    __tablename__ = "social_accounts"
    # One platform identity links to one workspace at a time (409 already_linked);
    # disconnected rows stay for history and free the identity for relinking.
    __table_args__ = (
        Index(
            "uq_social_accounts_live_identity",
            "platform",
            "external_id",
            unique=True,
            postgresql_where=text("disconnected_at IS NULL"),
            sqlite_where=text("disconnected_at IS NULL"),
        ),
    )

    id: Mapped[str] = id_column()
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    platform: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(255))
    handle: Mapped[str | None] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(String(255))
    avatar_url: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=AccountStatus.CONNECTED)
    access_token_enc: Mapped[str | None] = mapped_column(Text)
    refresh_token_enc: Mapped[str | None] = mapped_column(Text)
    token_expires_at: Mapped[datetime | None] = mapped_column(index=True)
    granted_scopes: Mapped[list[str]] = mapped_column(default=list)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    last_refresh_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    # A token refresh in progress (accounts/tokens.py): one per account across workers.
    refresh_lock_owner: Mapped[str | None] = mapped_column(String(64))
    refresh_lock_expires_at: Mapped[datetime | None]
    connected_at: Mapped[datetime]
    disconnected_at: Mapped[datetime | None]
