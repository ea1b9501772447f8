"""Publishing the targets of one post that fall due together, as one job.

A post to ten accounts is ten targets due at the same instant. Publishing them as one
job claims them in one statement, reads their accounts in one query, publishes them
concurrently and writes their results in one transaction, instead of paying a queue job
and several transactions per target. Everything that is not that common first attempt
(a retry, a parked upload, a recovery) continues as the per-target `publish_target` job,
with the same claim, lease and in-flight rules (posts/jobs.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any, cast

from arq.worker import Retry
from sqlalchemy import Table, bindparam, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.core.coalesce import Coalescer
from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.models import Post, PostTarget, SocialAccount, TargetStatus
from polypost.ops.metrics import PUBLISH_LAG
from polypost.posts import jobs
from polypost.posts.enqueue import job_id
from polypost.posts.jobs import Claim, LeaseLost, Work
from polypost.posts.lifecycle import (
    announce_publishing,
    lock_post_state,
    mark_publishing,
    settle_post_status,
    target_event,
)
from polypost.worker.context import JobContext

logger = logging.getLogger(__name__)

# Results arriving this close together are written in one transaction.
FINISH_WINDOW = 0.005

_TABLE = cast(Table, PostTarget.__table__)
_targets = _TABLE.c
_WRITE_MARKER = (
    update(_TABLE).where(_targets.id == bindparam("b_id")).values(progress=bindparam("b_progress"))
)
_WRITE_PUBLISHED = (
    update(_TABLE)
    .where(_targets.id == bindparam("b_id"))
    .values(
        status=TargetStatus.PUBLISHED,
        platform_post_id=bindparam("b_platform_post_id"),
        permalink=bindparam("b_permalink"),
        published_at=bindparam("b_now"),
        updated_at=bindparam("b_now"),
        error_code=None,
        error_message=None,
        lease_owner=None,
        lease_expires_at=None,
        progress=bindparam("b_progress"),
    )
)


async def publish_targets(ctx: JobContext, post_id: str, items: list[Any]) -> dict[str, int]:
    """Publish the given targets of one post; each is claimed exactly as `publish_target`
    would, so a group job and a per-target job for the same target never both publish."""
    runtime = ctx["runtime"]
    owner = f"{ctx['worker_id']}:{ctx.get('job_try', 1)}"
    wanted = [(str(target_id), int(revision)) for target_id, revision in items]
    claimed = await _claim_group(runtime, post_id, wanted, owner)
    finisher: Coalescer[Claim, bool] = Coalescer(
        partial(_succeed_group, runtime, post_id), window=FINISH_WINDOW
    )

    async def finish(claim: Claim) -> None:
        if not await finisher.submit(claim):
            raise LeaseLost(claim.target_id)

    outcomes = await asyncio.gather(
        *(_publish_one(runtime, claim, work, finish) for claim, work in claimed)
    )
    counts = Counter(outcomes)
    counts["skipped"] += len(wanted) - len(claimed)
    return dict(counts)


async def _publish_one(runtime: Runtime, claim: Claim, work: Work, finish: jobs.Finish) -> str:
    try:
        return await jobs.run_claimed(runtime, claim, work, finish)
    except Retry as retry:
        # The target was rescheduled (posts.jobs._handle_error); it retries alone, as a
        # job of its own, named after the attempt so no earlier job id blocks it.
        defer = timedelta(milliseconds=retry.defer_score or 0)
        revision = work.target.revision
        await runtime.queue.enqueue(
            "publish_target",
            claim.target_id,
            revision,
            job_id=f"{job_id(claim.target_id, revision)}:retry{claim.attempts}",
            defer_until=utcnow() + defer,
        )
        return "retrying"


async def _claim_group(
    runtime: Runtime, post_id: str, wanted: list[tuple[str, int]], owner: str
) -> list[tuple[Claim, Work]]:
    """Claim every wanted target still due at its revision, in one transaction with the
    reads their publishes need and the first in-flight marker of each."""
    now = utcnow()
    lease = jobs.lease_for(runtime)
    try:
        async with runtime.sessions() as session, session.begin():
            flipped = await mark_publishing(session, post_id=post_id)
            rows = (
                await session.execute(
                    update(PostTarget)
                    .where(
                        tuple_(PostTarget.id, PostTarget.revision).in_(wanted),
                        PostTarget.post_id == post_id,
                        PostTarget.status == TargetStatus.SCHEDULED,
                        or_(PostTarget.scheduled_at.is_(None), PostTarget.scheduled_at <= now),
                        or_(
                            PostTarget.next_attempt_at.is_(None),
                            PostTarget.next_attempt_at <= now,
                        ),
                    )
                    .values(
                        status=TargetStatus.PUBLISHING,
                        lease_owner=owner,
                        lease_expires_at=now + lease,
                        attempts=PostTarget.attempts + 1,
                        updated_at=now,
                    )
                    .returning(
                        PostTarget.id,
                        PostTarget.progress,
                        PostTarget.attempts,
                        PostTarget.scheduled_at,
                        PostTarget.next_attempt_at,
                    )
                    .execution_options(synchronize_session=False)
                )
            ).all()
            if not rows:
                raise jobs.NotClaimed
            if flipped is not None:
                await announce_publishing(session, flipped)
            claims: dict[str, Claim] = {}
            for row in rows:
                due = max(
                    (d for d in (row.scheduled_at, row.next_attempt_at) if d is not None),
                    default=now,
                )
                PUBLISH_LAG.observe(max(0.0, (now - due).total_seconds()))
                claims[row.id] = Claim(
                    target_id=row.id,
                    owner=owner,
                    lease=lease,
                    progress=dict(row.progress or {}),
                    post_id=post_id,
                    attempts=row.attempts,
                )
            return await _prepare_group(runtime, session, claims)
    except jobs.NotClaimed:
        return []


async def _prepare_group(
    runtime: Runtime, session: AsyncSession, claims: dict[str, Claim]
) -> list[tuple[Claim, Work]]:
    loaded = (
        await session.execute(
            select(PostTarget, Post, SocialAccount)
            .join(Post, Post.id == PostTarget.post_id)
            .join(SocialAccount, SocialAccount.id == PostTarget.account_id)
            .where(PostTarget.id.in_(list(claims)))
        )
    ).all()
    post = loaded[0][1]  # one identity in the session: every row holds the same object
    media = await jobs.load_media(session, post)
    urls = await jobs.media_urls(runtime, media)
    prepared: list[tuple[Claim, Work]] = []
    markers: list[dict[str, Any]] = []
    for target, _, account in loaded:
        claim = claims[target.id]
        work = await jobs.prepare_work(
            runtime, session, claim, target, post, account, media, urls, mark=True
        )
        if work.marked is not None:
            markers.append({"b_id": claim.target_id, "b_progress": dict(claim.progress)})
        prepared.append((claim, work))
    if markers:
        # Rows this transaction just claimed: no other worker can hold them.
        await session.execute(_WRITE_MARKER, markers)
    return prepared


@dataclass
class _Held:
    workspace_id: str
    account_id: str
    platform: str


async def _succeed_group(runtime: Runtime, post_id: str, claims: list[Claim]) -> list[bool]:
    """Write the success of several targets of one post, their events and the post's
    status in one transaction. A target whose lease another worker took is left alone
    (False for it), exactly as `_succeed` would refuse it."""
    now = utcnow()
    async with runtime.sessions() as session, session.begin():
        post = await lock_post_state(session, post_id)
        owners = {claim.target_id: claim.owner for claim in claims}
        rows = (
            await session.execute(
                select(
                    PostTarget.id,
                    PostTarget.lease_owner,
                    PostTarget.workspace_id,
                    PostTarget.account_id,
                    PostTarget.platform,
                )
                .where(
                    PostTarget.id.in_(list(owners)),
                    PostTarget.status == TargetStatus.PUBLISHING,
                )
                .with_for_update()
            )
        ).all()
        held = {
            row.id: _Held(row.workspace_id, row.account_id, row.platform)
            for row in rows
            if row.lease_owner == owners[row.id]
        }
        writes: list[dict[str, Any]] = []
        for claim in claims:
            if claim.target_id not in held:
                continue
            main = claim.progress.get("steps", {}).get("main") or {}
            claim.progress.pop("stage", None)
            writes.append(
                {
                    "b_id": claim.target_id,
                    "b_platform_post_id": main.get("id"),
                    "b_permalink": main.get("url"),
                    "b_now": now,
                    "b_progress": dict(claim.progress),
                }
            )
        if writes:
            await session.execute(_WRITE_PUBLISHED, writes)
            for write in writes:
                info = held[write["b_id"]]
                target_event(
                    session,
                    _PublishedTarget(
                        id=write["b_id"],
                        workspace_id=info.workspace_id,
                        post_id=post_id,
                        account_id=info.account_id,
                        platform=info.platform,
                        platform_post_id=write["b_platform_post_id"],
                        permalink=write["b_permalink"],
                    ),
                )
        if post is not None:
            await settle_post_status(session, post)
    return [claim.target_id in held for claim in claims]


@dataclass
class _PublishedTarget:
    """What `target_event` reads of a target `_succeed_group` just wrote."""

    id: str
    workspace_id: str
    post_id: str
    account_id: str
    platform: str
    platform_post_id: str | None
    permalink: str | None
    status: str = TargetStatus.PUBLISHED
    error_code: str | None = None
    error_message: str | None = None
