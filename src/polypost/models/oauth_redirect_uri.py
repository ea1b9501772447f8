from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from polypost.core.timeutil import utcnow
from polypost.models.base import Base, id_column


class OAuthRedirectUri(Base):
    """A URI the workspace allows as `redirectUri` of a connect flow (exact match)."""

    __tablename__ = "oauth_redirect_uris"
    __table_args__ = (UniqueConstraint("workspace_id", "uri"),)

    id: Mapped[str] = id_column()
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    uri: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
