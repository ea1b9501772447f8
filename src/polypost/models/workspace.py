from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from polypost.models.base import Base, Timestamps, id_column


class Workspace(Timestamps, Base):
    """A tenant ("brand" in the API). Every other row hangs off one."""

    __tablename__ = "workspaces"

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(200), index=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    storage_quota_bytes: Mapped[int] = mapped_column(BigInteger)
    rate_limit_per_minute: Mapped[int | None] = mapped_column(Integer)
