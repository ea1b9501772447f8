from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from polypost.models.base import Base, Timestamps, id_column


class PostStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    PARTIAL = "partial"
    FAILED = "failed"
    CANCELED = "canceled"


class Post(Timestamps, Base):
    """What the client asked to publish; `status` is derived from its targets and stored
    so lists can filter on it."""

    __tablename__ = "posts"
    __table_args__ = (Index("ix_posts_workspace_scheduled", "workspace_id", "scheduled_at", "id"),)

    id: Mapped[str] = id_column()
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    content: Mapped[str | None] = mapped_column(Text)
    post_type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    scheduled_at: Mapped[datetime | None]
    media_ids: Mapped[list[str]] = mapped_column(default=list)
    # Every other body field (platformContent, platformOptions, thread, article, ...).
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    content_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    created_by_key_id: Mapped[str | None] = mapped_column(String(40))
    published_at: Mapped[datetime | None]
    canceled_at: Mapped[datetime | None]
