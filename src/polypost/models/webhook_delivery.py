from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from polypost.models.base import Base, Timestamps, id_column


class DeliveryStatus(StrEnum):
    """`pending` waits for `next_attempt_at`; `sending` is claimed by a sender until
    `next_attempt_at` (the lease), after which another sender may resend it."""

    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELED = "canceled"


class WebhookDelivery(Timestamps, Base):
    """One event for one endpoint; `attempts_log` keeps each request/response (capped)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        # Fan-out is at most once per endpoint and event, whatever the dispatchers do.
        UniqueConstraint("webhook_id", "event_id"),
    )

    id: Mapped[str] = id_column()
    webhook_id: Mapped[str] = mapped_column(
        ForeignKey("webhooks.id", ondelete="CASCADE"), index=True
    )
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    attempts_log: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    delivered_at: Mapped[datetime | None]
