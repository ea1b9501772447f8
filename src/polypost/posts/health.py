"""Is publishing keeping up? Due targets nobody has claimed are the symptom of a dead or
overloaded worker pool (the failure mode behind "scheduled posts never went out")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select

from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.models import PostTarget, TargetStatus

# Longer than the reconciler's re-enqueue period plus a normal queue wait.
OVERDUE_AFTER = timedelta(seconds=120)


@dataclass(frozen=True)
class Backlog:
    due: int
    overdue: int
    oldest_due_at: datetime | None

    def lag_seconds(self, now: datetime) -> float:
        return max(0.0, (now - self.oldest_due_at).total_seconds()) if self.oldest_due_at else 0.0


async def backlog(runtime: Runtime) -> Backlog:
    """Targets due now that no worker holds (waiting out a rate limit does not count)."""
    now = utcnow()
    due_at = func.coalesce(PostTarget.next_attempt_at, PostTarget.scheduled_at)
    statement = select(
        func.count(),
        func.count().filter(due_at <= now - OVERDUE_AFTER),
        func.min(due_at),
    ).where(
        PostTarget.status == TargetStatus.SCHEDULED,
        PostTarget.scheduled_at <= now,
        or_(PostTarget.next_attempt_at.is_(None), PostTarget.next_attempt_at <= now),
    )
    async with runtime.sessions() as session:
        due, overdue, oldest = (await session.execute(statement)).one()
    if isinstance(oldest, str):  # SQLite returns the aggregate as text
        oldest = datetime.fromisoformat(oldest).replace(tzinfo=now.tzinfo)
    elif oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=now.tzinfo)
    return Backlog(due=int(due or 0), overdue=int(overdue or 0), oldest_due_at=oldest)
