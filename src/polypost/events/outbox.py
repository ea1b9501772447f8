"""The outbox: events are rows written in the same transaction as the change they
describe, so a committed change always has its event and a rolled-back one never does.
Webhook delivery fans them out afterwards (at least once)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from polypost.core.ids import Prefix, new_id
from polypost.models import Event


def record_event(
    session: AsyncSession,
    workspace_id: str,
    type_: str,
    data: dict[str, Any],
    *,
    resource_id: str | None = None,
) -> Event:
    """Add an event to the session; it commits (or not) with the caller's transaction."""
    event = Event(
        id=new_id(Prefix.EVENT),
        workspace_id=workspace_id,
        type=type_,
        resource_id=resource_id,
        data=data,
    )
    session.add(event)
    return event
