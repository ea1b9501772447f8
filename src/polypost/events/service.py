"""Reading the events log (the outbox), scoped to one workspace."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.core.pagination import Page, PageParams, paginate
from polypost.models import Event


@dataclass(frozen=True)
class EventFilter:
    types: list[str]
    start: datetime | None  # inclusive
    end: datetime | None  # exclusive
    resource_id: str | None = None


def _filtered(statement: Any, workspace_id: str, where: EventFilter) -> Any:
    statement = statement.where(Event.workspace_id == workspace_id)
    if where.types:
        statement = statement.where(Event.type.in_(where.types))
    if where.start is not None:
        statement = statement.where(Event.created_at >= where.start)
    if where.end is not None:
        statement = statement.where(Event.created_at < where.end)
    if where.resource_id is not None:
        statement = statement.where(Event.resource_id == where.resource_id)
    return statement


async def list_events(
    session: AsyncSession, workspace_id: str, where: EventFilter, params: PageParams
) -> Page[Event]:
    """Newest first; the cursor stays stable while new events arrive."""
    statement = _filtered(select(Event), workspace_id, where)
    return await paginate(session, statement, [Event.created_at, Event.id], params, descending=True)


def _utc_day(session: AsyncSession) -> Any:
    """The UTC calendar day of `created_at`, computed by the database."""
    if session.get_bind().dialect.name == "postgresql":
        # timestamptz -> UTC wall time first, whatever the session's TimeZone is.
        return func.date(func.timezone("UTC", Event.created_at))
    return func.date(Event.created_at)  # SQLite stores naive UTC text


@dataclass
class Summary:
    total: int
    by_type: dict[str, int]
    days: list[tuple[date, int, dict[str, int]]]


async def summarize(session: AsyncSession, workspace_id: str, where: EventFilter) -> Summary:
    """Counts per type and per UTC day, grouped in the database."""
    day = _utc_day(session).label("day")
    statement = _filtered(
        select(day, Event.type, func.count().label("n")), workspace_id, where
    ).group_by(day, Event.type)
    per_day: dict[date, dict[str, int]] = defaultdict(dict)
    by_type: dict[str, int] = defaultdict(int)
    for raw_day, type_, count in (await session.execute(statement)).all():
        parsed = raw_day if isinstance(raw_day, date) else date.fromisoformat(str(raw_day))
        per_day[parsed][type_] = int(count)
        by_type[type_] += int(count)
    days = [
        (d, sum(counts.values()), dict(sorted(counts.items())))
        for d, counts in sorted(per_day.items())
    ]
    return Summary(total=sum(by_type.values()), by_type=dict(sorted(by_type.items())), days=days)
