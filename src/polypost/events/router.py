from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from polypost.auth.deps import WebhooksRead
from polypost.core.deps import ReadSession
from polypost.core.errors import BadRequest, responses
from polypost.core.pagination import PageParams, page_params
from polypost.core.timeutil import utcnow
from polypost.events import service
from polypost.events.schemas import DaySummary, EventPage, EventRead, EventSummary

router = APIRouter(prefix="/events", tags=["events"])

MAX_TYPES = 20
TYPE_PATTERN = re.compile(r"^[a-z][a-z_]{0,30}\.[a-z_]{1,32}$")
DEFAULT_SUMMARY_WINDOW = timedelta(days=30)
MAX_SUMMARY_WINDOW = timedelta(days=400)

TypeQuery = Annotated[
    list[str] | None,
    Query(
        alias="type",
        max_length=MAX_TYPES,
        description="Event types; repeat the parameter or separate with commas.",
    ),
]
FromQuery = Annotated[
    datetime | None,
    Query(alias="from", description="Inclusive RFC 3339 time (no offset = UTC)."),
]
ToQuery = Annotated[datetime | None, Query(description="Exclusive RFC 3339 time.")]


def _bad(field: str, message: str) -> BadRequest:
    return BadRequest(
        f"Invalid {field}: {message}.",
        details={"fields": [{"field": field, "in": "query", "message": message}]},
    )


def _types(raw: list[str] | None) -> list[str]:
    types = sorted({t.strip() for item in raw or [] for t in item.split(",") if t.strip()})
    if len(types) > MAX_TYPES:
        raise _bad("type", f"at most {MAX_TYPES} types")
    for type_ in types:
        if not TYPE_PATTERN.match(type_):
            raise _bad("type", f"{type_[:70]!r} is not an event type like post.published")
    return types


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _range(start: datetime | None, end: datetime | None) -> tuple[datetime | None, datetime | None]:
    start, end = _utc(start), _utc(end)
    if start is not None and end is not None and start >= end:
        raise _bad("from", "must be before `to`")
    return start, end


@router.get("", response_model=EventPage, responses=responses())
async def list_events(
    auth: WebhooksRead,
    session: ReadSession,
    params: Annotated[PageParams, Depends(page_params)],
    type_: TypeQuery = None,
    from_: FromQuery = None,
    to: ToQuery = None,
    resource_id: Annotated[
        str | None, Query(alias="resourceId", max_length=40, description="e.g. a `pst_…` id.")
    ] = None,
) -> EventPage:
    """The workspace's events log, newest first."""
    start, end = _range(from_, to)
    where = service.EventFilter(types=_types(type_), start=start, end=end, resource_id=resource_id)
    page = await service.list_events(session, auth.workspace_id, where, params)
    return EventPage(
        events=[EventRead.model_validate(e) for e in page.items], next_cursor=page.next_cursor
    )


@router.get("/summary", response_model=EventSummary, responses=responses())
async def summarize_events(
    auth: WebhooksRead,
    session: ReadSession,
    type_: TypeQuery = None,
    from_: FromQuery = None,
    to: ToQuery = None,
) -> EventSummary:
    """Event counts per type and per UTC day (default: the last 30 days, at most 400)."""
    start, end = _range(from_, to)
    end = end or utcnow()
    start = start or end - DEFAULT_SUMMARY_WINDOW
    if start >= end:
        raise _bad("from", "must be before `to`")
    if end - start > MAX_SUMMARY_WINDOW:
        raise _bad("from", f"the window is limited to {MAX_SUMMARY_WINDOW.days} days")
    where = service.EventFilter(types=_types(type_), start=start, end=end)
    summary = await service.summarize(session, auth.workspace_id, where)
    return EventSummary(
        from_=start,
        to=end,
        total=summary.total,
        by_type=summary.by_type,
        days=[DaySummary(date=d, total=t, by_type=c) for d, t, c in summary.days],
    )
