"""Knowing what YouTube quota Polypost has spent today (youtube.md §4).

The Data API's quota belongs to the Google Cloud project (the developer app), is
shared by every account connected through it, and resets at midnight Pacific time.
Every call is counted here with its documented cost, per project and Pacific day, so
`GET /v1/accounts/{id}/limits` can show the estimate. When Google answers
`quotaExceeded` the day is marked spent: until the reset, calls that cost quota are
refused here as `rate_limited` instead of being sent only to be refused again.
If the app sets `dailyQuota` (POLYPOST_OAUTH_APPS, e.g. after a quota increase), a
call that would pass it is held back the same way.

The counter is a cache (platforms/memo.py) and concurrent workers may each add to
their own read of it, so it is an estimate; Google's answer remains the authority.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from polypost.platforms.base import Credentials, RateLimited
from polypost.platforms.memo import StepMemo
from polypost.platforms.resources import PublishingQuota
from polypost.platforms.youtube.errors import QUOTA_EXCEEDED, next_quota_reset, quota_day

# youtube.md §4 cost table (videos.insert: the long-documented 1,600 units; current
# projects may count it in a bucket of its own, which only makes this estimate high).
COSTS = {
    "videos.insert": 1600,
    "videos.update": 50,
    "videos.delete": 50,
    "comments.delete": 50,
    "thumbnails.set": 50,
    "commentThreads.insert": 50,
    "videos.list": 1,
    "channels.list": 1,
    "playlistItems.list": 1,
    "commentThreads.list": 1,
}
DEFAULT_DAILY_QUOTA = 10_000
DAY_SECONDS = 86_400
# Kept past the Pacific day it counts (DST days are 23-25 h long).
ENTRY_TTL = timedelta(hours=26)


class QuotaMeter:
    def __init__(self, runtime: Any, memo: StepMemo, now: Callable[[], datetime]) -> None:
        self.runtime = runtime
        self.memo = memo
        self.now = now

    def _app(self, account: Credentials) -> dict[str, Any]:
        apps = getattr(getattr(self.runtime, "settings", None), "oauth_apps", None) or {}
        configured = apps.get("youtube") or {}
        return dict(configured) if isinstance(configured, dict) else {}

    def project(self, account: Credentials) -> str:
        """The developer app whose quota the account's calls spend."""
        if account.app is not None:
            return account.app.client_id
        return str(self._app(account).get("clientId") or "default")

    def budget(self, account: Credentials) -> tuple[int, bool]:
        """(daily units, whether the server configured them)."""
        configured = self._app(account).get("dailyQuota")
        if configured is not None and str(configured).isdigit():
            return int(configured), True
        return DEFAULT_DAILY_QUOTA, False

    def _key(self, account: Credentials) -> str:
        return f"quota:{self.project(account)}:{quota_day(self.now())}"

    async def _entry(self, account: Credentials) -> dict[str, Any]:
        return await self.memo.get(self._key(account)) or {"units": 0, "exhausted": False}

    async def check(self, account: Credentials, method: str) -> None:
        """Refuse a call the project's quota cannot cover today.

        Raises:
            RateLimited: `quotaExceeded` until the next midnight Pacific time.
        """
        entry = await self._entry(account)
        budget, configured = self.budget(account)
        over = configured and int(entry["units"]) + COSTS[method] > budget
        if entry.get("exhausted") or over:
            raise RateLimited(
                f"The YouTube API quota of this server's Google project is spent for today "
                f"({method} costs {COSTS[method]} units); it resets at midnight Pacific time",
                code=QUOTA_EXCEEDED,
                retry_at=next_quota_reset(self.now()),
            )

    async def spend(self, account: Credentials, method: str) -> None:
        entry = await self._entry(account)
        entry["units"] = int(entry["units"]) + COSTS[method]
        await self.memo.put(self._key(account), entry, ENTRY_TTL)

    async def exhausted(self, account: Credentials) -> None:
        entry = await self._entry(account)
        entry["exhausted"] = True
        await self.memo.put(self._key(account), entry, ENTRY_TTL)

    async def usage(self, account: Credentials) -> PublishingQuota:
        entry = await self._entry(account)
        budget, _ = self.budget(account)
        used = budget if entry.get("exhausted") else min(int(entry["units"]), budget)
        return PublishingQuota(
            used=used,
            total=budget,
            window_seconds=DAY_SECONDS,
            resets_at=next_quota_reset(self.now()),
        )
