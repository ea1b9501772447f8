from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from polypost.models.base import Base, Timestamps, id_column


class TargetStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    FAILED = "failed"
    CANCELED = "canceled"


class PostTarget(Timestamps, Base):
    """One post on one account: the unit that is claimed, published and retried.

    `revision` is bumped by every edit so a stale queued job sees the mismatch and exits;
    `lease_expires_at` lets the reconciler recover a target whose worker died mid-publish.
    """

    __tablename__ = "post_targets"
    __table_args__ = (Index("ix_post_targets_due", "status", "scheduled_at"),)

    id: Mapped[str] = id_column()
    post_id: Mapped[str] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[str] = mapped_column(
        ForeignKey("social_accounts.id", ondelete="CASCADE"), index=True
    )
    platform: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    scheduled_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]
    # Last hand-over to the queue; the reconciler re-enqueues only stale ones.
    queued_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
    platform_post_id: Mapped[str | None] = mapped_column(String(255))
    permalink: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    # Per-step platform ids (thread segments, first comment) so retries resume.
    progress: Mapped[dict[str, Any]] = mapped_column(default=dict)
    published_at: Mapped[datetime | None]
