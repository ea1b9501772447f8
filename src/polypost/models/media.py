from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from polypost.models.base import Base, Timestamps, id_column


class MediaStatus(StrEnum):
    PENDING = "pending"
    UPLOADED = "uploaded"
    INVALID = "invalid"


class MediaKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"
    DOCUMENT = "document"


class Media(Timestamps, Base):
    """One file in a workspace's library. `pending` until its upload is verified;
    `expires_at` is when an unfinished (or invalid) one is cleaned up."""

    __tablename__ = "media"
    __table_args__ = (
        Index("ix_media_workspace_created", "workspace_id", "created_at", "id"),
        Index("ix_media_status_expires", "status", "expires_at"),
    )

    id: Mapped[str] = id_column()
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=MediaStatus.PENDING)
    storage_key: Mapped[str] = mapped_column(Text)
    declared_size: Mapped[int | None] = mapped_column(BigInteger)
    size: Mapped[int | None] = mapped_column(BigInteger)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    expires_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
