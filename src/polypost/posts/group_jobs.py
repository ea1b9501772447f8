"""Publishing the targets of one post that fall due together, as one job.

A post to ten accounts is ten targets due at the same instant. Publishing them as one
job, and claiming and recording the targets of every job a worker process starts or
finishes within a few milliseconds together (one transaction each way, see
`core/coalesce.py`), replaces a queue job and several transactions per target with a
handful of statements per burst. Everything that is not that common first attempt (a
retry, a parked upload, a recovery) continues as the per-target `publish_target` job,
with the same claim, lease and in-flight rules (posts/jobs.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from arq.worker import Retry
from sqlalchemy import bindparam, select, tuple_, update

from polypost.core.coalesce import Coalescer
from polypost.core.ids import new_id
from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.models import PostTarget, TargetStatus
from polypost.posts import jobs
from polypost.posts.enqueue import job_id
from polypost.posts.jobs import Claim, LeaseLost, Work
from polypost.posts.lifecycle import (
    announce_publishing,
    flip_to_publishing,
    lock_post_states,
    settle_post_status,
    statuses_by_post,
    target_event,
)
from polypost.worker.context import JobContext

logger = logging.getLogger(__name__)

# Claims (and results) arriving this close together share one transaction.
BATCH_WINDOW = 0.005
# Jobs per claim transaction (each up to GROUP_SIZE targets), results per result one.
CLAIM_BATCH = 40
FINISH_BATCH = 500

_WRITE_PUBLISHED = (
    update(jobs.TARGETS_TABLE)
    .where(jobs.TARGETS_TABLE.c.id == bindparam("b_id"))
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
    batcher = _batcher(runtime)
    wanted = [(str(target_id), int(revision)) for target_id, revision in items]
    claimed = await batcher.claims.submit(_Wanted(post_id, wanted, str(ctx["worker_id"])))

    async def finish(claim: Claim) -> None:
        if not await batcher.finishes.submit(claim):
            raise LeaseLost(claim.target_id)

    outcomes = await asyncio.gather(
        *(_publish_one(runtime, claim, work, finish) for claim, work in claimed)
    )
    counts = Counter(outcomes)
    counts["skipped"] += len(wanted) - len(claimed)
    return dict(counts)


@dataclass
class _Wanted:
    post_id: str
    targets: list[tuple[str, int]]
    worker_id: str


@dataclass
class _Batcher:
    """The claim and result coalescers of one worker process (one per runtime)."""

    claims: Coalescer[_Wanted, list[tuple[Claim, Work]]]
    finishes: Coalescer[Claim, bool]


def _batcher(runtime: Runtime) -> _Batcher:
    batcher: _Batcher | None = runtime.extras.get("publish_batcher")
    if batcher is None:
        batcher = runtime.extras["publish_batcher"] = _Batcher(
            claims=Coalescer(
                partial(_claim_batch, runtime), window=BATCH_WINDOW, max_items=CLAIM_BATCH
            ),
            finishes=Coalescer(
                partial(_succeed_batch, runtime), window=BATCH_WINDOW, max_items=FINISH_BATCH
            ),
        )
    return batcher


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


async def _claim_batch(runtime: Runtime, requests: list[_Wanted]) -> list[list[tuple[Claim, Work]]]:
    """Claim every wanted target still due at its revision, for several jobs at once.

    One transaction: lock the posts (in id order), claim the targets in one UPDATE, flip
    the posts that got a claim to `publishing`, read what the publishes need and write
    every first in-flight marker. A target two jobs of the batch both want goes to the
    first.
    """
    now = utcnow()
    lease = jobs.lease_for(runtime)
    # One owner per batch: each claim below is won once, so the guard stays exact.
    owner = f"{requests[0].worker_id}:{new_id('ls')}"
    post_ids = sorted({request.post_id for request in requests})
    wanted = sorted({target for request in requests for target in request.targets})
    async with runtime.sessions() as session, session.begin():
        await lock_post_states(session, post_ids)
        matching = (
            tuple_(PostTarget.id, PostTarget.revision).in_(wanted),
            PostTarget.post_id.in_(post_ids),
        )
        rows = (await session.execute(jobs.claim_statement(matching, owner, lease, now))).all()
        if not rows:
            return [[] for _ in requests]
        flipped = await flip_to_publishing(session, sorted({row.post_id for row in rows}))
        await announce_publishing(session, flipped)
        claims = {row.id: jobs.claim_from(row, owner, lease, now) for row in rows}
        prepared = await jobs.prepare_claims(runtime, session, claims, mark=True)
    answers: list[list[tuple[Claim, Work]]] = []
    for request in requests:
        mine = [prepared.pop(target) for target, _ in request.targets if target in prepared]
        answers.append(mine)
    return answers


@dataclass
class _Held:
    workspace_id: str
    account_id: str
    platform: str


async def _succeed_batch(runtime: Runtime, claims: list[Claim]) -> list[bool]:
    """Write the success of several targets, their events and their posts' statuses in one
    transaction, holding the posts' row locks (taken in id order) so sibling targets
    finishing at the same moment see each other's state. A target whose lease another
    worker took is left alone (False for it), exactly as `_succeed` would refuse it."""
    now = utcnow()
    post_ids = sorted({claim.post_id for claim in claims})
    async with runtime.sessions() as session, session.begin():
        posts = await lock_post_states(session, post_ids)
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
                    "post_id": claim.post_id,
                }
            )
        if writes:
            await session.execute(_WRITE_PUBLISHED, [_params(write) for write in writes])
            for write in writes:
                info = held[write["b_id"]]
                target_event(
                    session,
                    _PublishedTarget(
                        id=write["b_id"],
                        workspace_id=info.workspace_id,
                        post_id=write["post_id"],
                        account_id=info.account_id,
                        platform=info.platform,
                        platform_post_id=write["b_platform_post_id"],
                        permalink=write["b_permalink"],
                    ),
                )
        statuses = await statuses_by_post(session, list(posts))
        for post_id, post in posts.items():
            await settle_post_status(session, post, statuses[post_id])
    return [claim.target_id in held for claim in claims]


def _params(write: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in write.items() if key.startswith("b_")}


@dataclass
class _PublishedTarget:
    """What `target_event` reads of a target `_succeed_batch` just wrote."""

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
