"""Engagement numbers of a post, read live from each platform that reports them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.core.runtime import Runtime
from polypost.models import SocialAccount, TargetStatus
from polypost.platforms.base import PlatformError
from polypost.platforms.capabilities import capabilities_for
from polypost.platforms.credentials import load_credentials
from polypost.platforms.registry import adapter_for
from polypost.posts.schemas import PostMetricsRead, TargetMetrics
from polypost.posts.service import get


async def post_metrics(
    session: AsyncSession, runtime: Runtime, workspace_id: str, post_id: str
) -> PostMetricsRead:
    view = await get(session, workspace_id, post_id)
    live = [t for t in view.targets if t.status == TargetStatus.PUBLISHED and t.platform_post_id]
    accounts = {
        a.id: a
        for a in (
            await session.execute(
                select(SocialAccount).where(SocialAccount.id.in_({t.account_id for t in live}))
            )
        ).scalars()
    }
    await session.close()  # nothing held open across the platform calls
    rows: list[TargetMetrics] = []
    for target in live:
        account = accounts[target.account_id]
        caps = capabilities_for(account.platform, (account.settings or {}).get("persona"))
        base = {"target_id": target.id, "account_id": account.id, "platform": account.platform}
        if not caps.metrics:
            rows.append(TargetMetrics(**base, error="the platform reports no post metrics"))
            continue
        assert target.platform_post_id is not None
        try:
            numbers = await adapter_for(runtime, account.platform).metrics(
                load_credentials(runtime, account), target.platform_post_id
            )
        except PlatformError as error:
            rows.append(TargetMetrics(**base, error=str(error)))
            continue
        rows.append(
            TargetMetrics(
                **base,
                likes=numbers.likes,
                comments=numbers.comments,
                shares=numbers.shares,
                impressions=numbers.impressions,
                reach=numbers.reach,
                views=numbers.views,
                clicks=numbers.clicks,
                collected_at=numbers.collected_at,
            )
        )
    return PostMetricsRead(post_id=view.post.id, targets=rows)
