from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from polypost.models.base import Base, Timestamps, id_column


class PlatformCredential(Timestamps, Base):
    """A workspace's own developer-app credentials for one platform (BYOK).

    The secret and the extra values are Fernet ciphertext; the client id is not secret
    (it appears in every authorize URL)."""

    __tablename__ = "platform_credentials"
    __table_args__ = (UniqueConstraint("workspace_id", "platform"),)

    id: Mapped[str] = id_column()
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    platform: Mapped[str] = mapped_column(String(32))
    client_id: Mapped[str] = mapped_column(String(512))
    client_secret_enc: Mapped[str | None] = mapped_column(Text)
    extra_enc: Mapped[str | None] = mapped_column(Text)
    last_tested_at: Mapped[datetime | None]
    last_test_ok: Mapped[bool | None] = mapped_column(Boolean)
