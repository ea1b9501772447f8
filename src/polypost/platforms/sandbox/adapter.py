"""The sandbox platform: a simulated network for the demo, `sk_test_` keys, tests and
benchmarks.

Each account can take on a real platform's capabilities (`persona`) and inject latency
and failures (`behavior`). Everything it receives — publishes, replies, comments, edits,
deletes, accepted or rejected, duplicates included — goes into a ledger in the database,
written in its own transaction like a real platform's storage, so every worker process
shares it and tests can prove nothing was posted twice.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, ClassVar

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.accounts.schemas import NativePost
from polypost.core.coalesce import Coalescer
from polypost.core.ids import new_id
from polypost.core.pagination import Page, PageParams, paginate
from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.models import PostTarget, SandboxLedgerEntry, SocialAccount
from polypost.platforms.base import (
    AuthExpired,
    Capabilities,
    Credentials,
    Outgoing,
    Permanent,
    Platform,
    PlatformError,
    PostMetrics,
    Published,
    RateLimited,
    Transient,
)
from polypost.platforms.capabilities import capabilities_for

BASE_URL = "https://sandbox.polypost.invalid"
# Mastodon keeps idempotency keys for an hour; the sandbox's "idempotent" mode does too.
IDEMPOTENCY_WINDOW = timedelta(hours=1)
# What creates a post on the platform (edits and deletes act on an existing one).
PUBLISHING_ACTIONS = ("publish", "reply", "comment")


def _behavior(credentials: Credentials) -> dict[str, Any]:
    return dict(credentials.settings.get("behavior") or {})


class SandboxAdapter:
    platform: ClassVar[Platform] = Platform.SANDBOX
    capabilities: ClassVar[Capabilities] = capabilities_for("sandbox")

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def recovery_for(self, credentials: Credentials) -> tuple[str, timedelta | None]:
        mode = _behavior(credentials).get("recovery", "lookup")
        if mode == "idempotent":
            return "idempotency_key", IDEMPOTENCY_WINDOW
        return str(mode), None

    async def _record(
        self,
        credentials: Credentials,
        action: str,
        outcome: str,
        post: Outgoing | None = None,
        platform_post_id: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> None:
        """Append to the ledger; returns once the entry is committed. Entries written by
        concurrent publishes share one transaction (see `Coalescer`)."""
        ledger: Coalescer[dict[str, Any], None] = self.runtime.extras.get("sandbox_ledger")  # type: ignore[assignment]
        if ledger is None:
            ledger = self.runtime.extras["sandbox_ledger"] = Coalescer(self._write)
        await ledger.submit(
            {
                "id": new_id("sbl"),
                "account_id": credentials.account_id,
                "action": action,
                "outcome": outcome,
                "platform_post_id": platform_post_id,
                "idempotency_key": post.key if post is not None else None,
                "text": post.text if post is not None else None,
                "payload": payload or {},
                "created_at": utcnow(),
            }
        )

    async def _write(self, entries: list[dict[str, Any]]) -> list[None]:
        async with self.runtime.sessions() as session, session.begin():
            await session.execute(insert(SandboxLedgerEntry), entries)
        return [None] * len(entries)

    async def _inject(self, credentials: Credentials, action: str, post: Outgoing) -> None:
        """Latency, then the configured failure for the first `failTimes` publishes."""
        behavior = _behavior(credentials)
        latency = behavior.get("latencyMs") or 0
        if latency:
            await asyncio.sleep(latency / 1000)
        fail_with = behavior.get("failWith")
        if not fail_with:
            return
        fail_times = behavior.get("failTimes")
        if fail_times is not None:
            async with self.runtime.sessions() as session:
                rejected = (
                    await session.execute(
                        select(func.count())
                        .select_from(SandboxLedgerEntry)
                        .where(
                            SandboxLedgerEntry.account_id == credentials.account_id,
                            SandboxLedgerEntry.outcome == "rejected",
                        )
                    )
                ).scalar_one()
            if rejected >= fail_times:
                return
        await self._record(credentials, action, "rejected", post, payload={"error": fail_with})
        raise self._error(fail_with, behavior)

    @staticmethod
    def _error(kind: str, behavior: dict[str, Any]) -> PlatformError:
        if kind == "rate_limited":
            reset = utcnow() + timedelta(seconds=int(behavior.get("retryAfterSeconds") or 60))
            return RateLimited("Sandbox rate limit", code="429", retry_at=reset)
        if kind == "auth_expired":
            return AuthExpired("Sandbox token revoked", code="401")
        if kind == "transient":
            return Transient("Sandbox upstream error", code="503")
        return Permanent("Sandbox refused the post", code="sandbox_refused")

    def _published(self, credentials: Credentials, platform_post_id: str) -> Published:
        handle = credentials.handle or credentials.account_id
        return Published(id=platform_post_id, url=f"{BASE_URL}/{handle}/posts/{platform_post_id}")

    async def _existing(self, credentials: Credentials, key: str) -> SandboxLedgerEntry | None:
        async with self.runtime.sessions() as session:
            return (
                await session.execute(
                    select(SandboxLedgerEntry)
                    .where(
                        SandboxLedgerEntry.account_id == credentials.account_id,
                        SandboxLedgerEntry.idempotency_key == key,
                        SandboxLedgerEntry.outcome == "accepted",
                        SandboxLedgerEntry.action.in_(PUBLISHING_ACTIONS),
                    )
                    .order_by(SandboxLedgerEntry.created_at)
                    .limit(1)
                )
            ).scalar_one_or_none()

    async def publish(self, account: Credentials, post: Outgoing) -> Published:
        action = "reply" if post.reply_to is not None else "publish"
        await self._inject(account, action, post)
        if self.recovery_for(account)[0] == "idempotency_key":
            original = await self._existing(account, post.key)
            if original is not None and original.platform_post_id:
                await self._record(account, action, "deduplicated", post, original.platform_post_id)
                return self._published(account, original.platform_post_id)
        platform_post_id = new_id("sbp")
        await self._record(
            account,
            action,
            "accepted",
            post,
            platform_post_id,
            payload={
                "targetId": post.target_id,
                "postType": str(post.post_type),
                "mediaIds": [m.id for m in post.media],
                "replyTo": post.reply_to.id if post.reply_to else None,
                "link": post.link,
            },
        )
        return self._published(account, platform_post_id)

    async def comment(self, account: Credentials, post: Outgoing) -> Published:
        platform_post_id = new_id("sbc")
        await self._record(
            account,
            "comment",
            "accepted",
            post,
            platform_post_id,
            payload={
                "targetId": post.target_id,
                "parent": post.reply_to.id if post.reply_to else None,
            },
        )
        return self._published(account, platform_post_id)

    async def find_published(self, account: Credentials, post: Outgoing) -> Published | None:
        if self.recovery_for(account)[0] == "none":
            raise Permanent("The sandbox is set to offer no lookup", code="unsupported")
        entry = await self._existing(account, post.key)
        if entry is None or not entry.platform_post_id:
            return None
        return self._published(account, entry.platform_post_id)

    async def delete(self, account: Credentials, platform_post_id: str) -> None:
        await self._record(account, "delete", "accepted", platform_post_id=platform_post_id)

    async def edit(self, account: Credentials, platform_post_id: str, post: Outgoing) -> Published:
        await self._record(account, "edit", "accepted", post, platform_post_id)
        return self._published(account, platform_post_id)

    async def metrics(self, account: Credentials, platform_post_id: str) -> PostMetrics:
        # Deterministic numbers derived from the id, so tests and demos see stable values.
        seed = sum(platform_post_id.encode())
        return PostMetrics(
            collected_at=utcnow(),
            likes=seed % 97,
            comments=seed % 13,
            shares=seed % 7,
            impressions=seed % 997 + 100,
            reach=seed % 691 + 50,
            views=seed % 991,
            clicks=seed % 31,
        )

    async def list_posts(
        self, runtime: Runtime, session: AsyncSession, account: SocialAccount, params: PageParams
    ) -> Page[NativePost]:
        statement = select(SandboxLedgerEntry).where(SandboxLedgerEntry.account_id == account.id)
        page = await paginate(
            session,
            statement,
            [SandboxLedgerEntry.created_at, SandboxLedgerEntry.id],
            params,
        )
        platform_ids = [e.platform_post_id for e in page.items if e.platform_post_id]
        tracked: dict[str, str] = {}
        if platform_ids:
            rows = await session.execute(
                select(PostTarget.platform_post_id, PostTarget.post_id).where(
                    PostTarget.account_id == account.id,
                    PostTarget.platform_post_id.in_(platform_ids),
                )
            )
            tracked = {row.platform_post_id: row.post_id for row in rows}
        posts = [
            NativePost(
                platform_post_id=entry.platform_post_id,
                caption=entry.text,
                timestamp=entry.created_at,
                action=entry.action,
                outcome=entry.outcome,
                idempotency_key=entry.idempotency_key,
                in_db=entry.platform_post_id in tracked,
                db_post_id=tracked.get(entry.platform_post_id or ""),
            )
            for entry in page.items
        ]
        return Page(items=posts, next_cursor=page.next_cursor)
