"""`GET /v1/usage`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from polypost.auth.deps import Authenticated
from polypost.core.deps import ReadSession, RuntimeDep
from polypost.core.errors import responses
from polypost.core.timeutil import utcnow
from polypost.usage import service
from polypost.usage.schemas import UsageRead

router = APIRouter(prefix="/usage", tags=["usage"])


@router.get("", response_model=UsageRead, responses=responses())
async def get_usage(
    auth: Authenticated,
    session: ReadSession,
    runtime: RuntimeDep,
    from_: Annotated[
        AwareDatetime | None,
        Query(
            alias="from",
            description="RFC 3339 start (inclusive); default the current month's first day, UTC.",
        ),
    ] = None,
    to: Annotated[
        AwareDatetime | None,
        Query(description="RFC 3339 end (exclusive); default the next month's first day, UTC."),
    ] = None,
) -> UsageRead:
    """The brand's activity in a period (at most 366 days) and its current resource use."""
    now = utcnow()
    period = service.resolve_period(from_, to, now)
    return await service.compute_usage(
        session,
        auth.workspace_id,
        period,
        default_rate_limit=runtime.settings.rate_limit_per_minute,
        now=now,
    )
