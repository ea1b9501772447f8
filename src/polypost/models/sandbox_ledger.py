from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from polypost.core.timeutil import utcnow
from polypost.models.base import Base, id_column


class SandboxLedgerEntry(Base):
    """Everything the sandbox platform received, duplicates included.

    It stands in for a platform's own database, so it is written in its own transaction,
    independent of the target update that follows a publish (as a real platform would be).
    """

    __tablename__ = "sandbox_ledger"
    __table_args__ = (Index("ix_sandbox_ledger_account_created", "account_id", "created_at", "id"),)

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = mapped_column(ForeignKey("social_accounts.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16))
    platform_post_id: Mapped[str | None] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(128), index=True)
    text: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
