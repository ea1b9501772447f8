"""When a post goes out: the workspace-timezone rule and the 30-second 'now' window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

IMMEDIATE_WINDOW = timedelta(seconds=30)


def resolve_time(value: datetime, workspace_timezone: str) -> datetime:
    """An offset makes the time exact; without one it is wall-clock time in the workspace's
    timezone (zoneinfo picks the right DST offset; a skipped or repeated local hour resolves
    with `fold=0`, i.e. the earlier offset)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(workspace_timezone))
    return value.astimezone(UTC)


def is_immediate(when: datetime, now: datetime) -> bool:
    return when <= now + IMMEDIATE_WINDOW
