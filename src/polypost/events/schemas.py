from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field

from polypost.core.schemas import ApiModel, UtcTimestamp


class EventRead(ApiModel):
    event_id: str = Field(validation_alias="id")
    type: str
    resource_id: str | None = Field(description="The post, target, account… it is about.")
    data: dict[str, Any] = Field(description="Same as the `data` of the webhook body.")
    created_at: UtcTimestamp


class EventPage(ApiModel):
    events: list[EventRead]
    next_cursor: str | None


class DaySummary(ApiModel):
    date: dt.date = Field(description="UTC day.")
    total: int
    by_type: dict[str, int]


class EventSummary(ApiModel):
    from_: UtcTimestamp = Field(alias="from")
    to: UtcTimestamp
    total: int
    by_type: dict[str, int]
    days: list[DaySummary] = Field(description="Days with at least one event, oldest first.")
