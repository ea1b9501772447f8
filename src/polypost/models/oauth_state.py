from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from polypost.core.timeutil import utcnow
from polypost.models.base import Base, id_column


class OAuthState(Base):
    """One started OAuth connect flow. The signed `state` sent to the platform names this
    row; `used_at` makes it single-use. Secrets of the flow (the PKCE verifier, a
    dynamically registered app) stay here, encrypted, never in a URL."""

    __tablename__ = "oauth_states"

    id: Mapped[str] = id_column()
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    platform: Mapped[str] = mapped_column(String(32))
    redirect_uri: Mapped[str | None] = mapped_column(Text)
    data_enc: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]
