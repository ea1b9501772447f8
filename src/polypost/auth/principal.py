"""Who is calling: the result of authenticating one request."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    workspace_id: str
    scopes: frozenset[str]
    kind: str  # "api_key" or "user"
    api_key_id: str | None = None
    user_id: str | None = None
    role: str | None = None
    is_test: bool = False
    rate_limit_per_minute: int = 120

    @property
    def id(self) -> str:
        """Stable identity for rate limits and idempotency scopes."""
        if self.api_key_id is not None:
            return self.api_key_id
        return f"{self.user_id}:{self.workspace_id}"
