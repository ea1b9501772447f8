"""Publishing jobs: claim, publish step by step, record; and the reconciler.

The rules that keep a post from being published twice (docs/architecture.md):
1. Only the worker that wins the claim (a conditional UPDATE on status + revision)
   publishes, and every later write is guarded by its lease; losing the lease stops it.
2. Before each platform call the step is written as `inflight` with its deterministic
   idempotency key and committed; after the call its platform id is recorded. A step
   found `inflight` on a later run means a worker died mid-call: the outcome is unknown,
   and the platform's own dedup (idempotency key within its window, or a lookup) decides.
   Where neither exists the target fails as `outcome_unknown` instead of guessing.
3. Postgres is the truth; the queue only carries intent. The reconciler re-enqueues due
   targets whose job vanished and recovers targets whose lease expired.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from arq.constants import in_progress_key_prefix
from arq.worker import Retry
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.accounts import tokens
from polypost.core.ids import new_id
from polypost.core.runtime import Runtime
from polypost.core.timeutil import isoformat, utcnow
from polypost.models import AccountStatus, Media, Post, PostTarget, SocialAccount, TargetStatus
from polypost.ops.metrics import PUBLISH_LAG
from polypost.platforms.base import Credentials, Pending, PlatformError, Published, Transient
from polypost.platforms.registry import adapter_for, recovery_mode
from polypost.posts.lifecycle import lock_post, refresh_post_status, target_event
from polypost.posts.outgoing import Step, as_progress, build_steps
from polypost.worker.context import JobContext

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
BACKOFF_BASE = timedelta(seconds=5)
BACKOFF_CAP = timedelta(minutes=15)
# Jobs are handed to the queue ahead of time so a burst at one instant is already queued.
PRESTAGE = timedelta(minutes=2)
# A target handed to the queue this recently is assumed still queued.
REQUEUE_AFTER = timedelta(seconds=30)
RECONCILE_BATCH = 2000
# A target may wait on platform-side processing this long before it fails.
MAX_PARKED = timedelta(hours=2)


def job_id(target_id: str, revision: int) -> str:
    return f"publish:{target_id}:{revision}"


async def enqueue_target(runtime: Runtime, target_id: str, revision: int, when: datetime) -> bool:
    return await runtime.queue.enqueue(
        "publish_target", target_id, revision, job_id=job_id(target_id, revision), defer_until=when
    )


# Enqueues in flight at once: each is a few Redis round trips, so a burst of them
# overlaps the waits instead of paying them one after another.
ENQUEUE_CONCURRENCY = 32


async def enqueue_many(runtime: Runtime, jobs: list[tuple[str, int, datetime]]) -> None:
    """Hand many targets to the queue concurrently (bounded)."""
    slots = asyncio.Semaphore(ENQUEUE_CONCURRENCY)

    async def one(target_id: str, revision: int, when: datetime) -> None:
        async with slots:
            await enqueue_target(runtime, target_id, revision, when)

    await asyncio.gather(*(one(*job) for job in jobs))


class LeaseLost(Exception):
    """Another worker recovered this target; stop before touching the platform again."""


@dataclass
class Claim:
    target_id: str
    owner: str
    lease: timedelta
    progress: dict[str, Any] = field(default_factory=dict)


def lease_for(runtime: Runtime) -> timedelta:
    return timedelta(seconds=runtime.settings.publish_lease_seconds)


async def publish_target(
    ctx: JobContext, target_id: str, revision: int, parked: str | None = None
) -> str:
    """Publish one target. Safe to run any number of times: only the claim winner acts.

    `parked` resumes a target that handed back its worker while the platform processed
    media (see `Pending`); it must match the parking token on the row.
    """
    runtime = ctx["runtime"]
    owner = f"{ctx['worker_id']}:{ctx.get('job_try', 1)}"
    claim = await _claim(runtime, target_id, revision, owner, parked)
    if claim is None:
        return "skipped"
    try:
        return await _publish_claimed(runtime, claim)
    except LeaseLost:
        logger.warning("lease lost mid-publish", extra={"targetId": target_id})
        return "lease_lost"
    except (Retry, asyncio.CancelledError):
        raise
    except Exception as exc:
        # A bug or an outage of our own (database, storage) mid-publish: keep any inflight
        # marker so the next attempt checks the platform first, and retry with backoff.
        logger.exception("publish failed unexpectedly", extra={"targetId": target_id})
        error = Transient(f"Internal error while publishing ({type(exc).__name__})")
        _target, _, account, _ = await _load(runtime, target_id)
        return await _handle_error(runtime, claim, error, account, keep_inflight=True)


async def _claim(
    runtime: Runtime, target_id: str, revision: int, owner: str, parked: str | None = None
) -> Claim | None:
    now = utcnow()
    lease = lease_for(runtime)
    if parked is not None:
        resumed = await _unpark(runtime, target_id, revision, owner, parked, lease)
        if resumed is not None:
            return resumed
        # Not parked any more: this continuation raised Retry and arq re-runs it with its
        # old token; the target is back to `scheduled` and takes a normal claim.
    async with runtime.sessions() as session, session.begin():
        post_id = (
            await session.execute(select(PostTarget.post_id).where(PostTarget.id == target_id))
        ).scalar_one_or_none()
        if post_id is None:
            return None
        post = await lock_post(session, post_id)
        if post is None:
            return None
        result = await session.execute(
            update(PostTarget)
            .where(
                PostTarget.id == target_id,
                PostTarget.revision == revision,
                PostTarget.status == TargetStatus.SCHEDULED,
                or_(PostTarget.scheduled_at.is_(None), PostTarget.scheduled_at <= now),
                or_(PostTarget.next_attempt_at.is_(None), PostTarget.next_attempt_at <= now),
            )
            .values(
                status=TargetStatus.PUBLISHING,
                lease_owner=owner,
                lease_expires_at=now + lease,
                attempts=PostTarget.attempts + 1,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            return None
        progress, due, retry_at = (
            await session.execute(
                select(
                    PostTarget.progress, PostTarget.scheduled_at, PostTarget.next_attempt_at
                ).where(PostTarget.id == target_id)
            )
        ).one()
        effective_due = max((d for d in (due, retry_at) if d is not None), default=now)
        PUBLISH_LAG.observe(max(0.0, (now - effective_due).total_seconds()))
        await refresh_post_status(session, post)
    return Claim(target_id=target_id, owner=owner, lease=lease, progress=dict(progress or {}))


async def _unpark(
    runtime: Runtime, target_id: str, revision: int, owner: str, parked: str, lease: timedelta
) -> Claim | None:
    """Take back a parked target: only the continuation job holding its token can."""
    now = utcnow()
    async with runtime.sessions() as session, session.begin():
        result = await session.execute(
            update(PostTarget)
            .where(
                PostTarget.id == target_id,
                PostTarget.revision == revision,
                PostTarget.status == TargetStatus.PUBLISHING,
                PostTarget.lease_owner == parked,
            )
            .values(lease_owner=owner, lease_expires_at=now + lease, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            return None
        progress = (
            await session.execute(select(PostTarget.progress).where(PostTarget.id == target_id))
        ).scalar_one()
    return Claim(target_id=target_id, owner=owner, lease=lease, progress=dict(progress or {}))


async def _park(runtime: Runtime, claim: Claim, pending: Pending) -> str:
    """Hand the worker back while the platform processes; a deferred job resumes us."""
    now = utcnow()
    inflight = claim.progress["inflight"]
    since = str(inflight.get("parkedSince") or isoformat(now))
    if now - datetime.fromisoformat(since) > MAX_PARKED:
        await _fail(
            runtime,
            claim,
            "processing_timeout",
            f"The platform was still processing after {MAX_PARKED} ({pending.stage}).",
        )
        return "failed"
    token = f"parked:{new_id('pk')}"
    inflight.update(resume=pending.state, parked=True, parkedSince=since)
    claim.progress["stage"] = pending.stage
    async with runtime.sessions() as session, session.begin():
        await _guarded_update(
            session,
            claim,
            lease_owner=token,
            lease_expires_at=now + pending.retry_in + claim.lease,
            progress=dict(claim.progress),
        )
        revision = (
            await session.execute(
                select(PostTarget.revision).where(PostTarget.id == claim.target_id)
            )
        ).scalar_one()
    await runtime.queue.enqueue(
        "publish_target",
        claim.target_id,
        revision,
        token,
        job_id=f"{job_id(claim.target_id, revision)}:{token}",
        defer_until=now + pending.retry_in,
    )
    return "pending"


async def _guarded_update(session: AsyncSession, claim: Claim, **values: Any) -> None:
    """Write to the target only while we still hold its lease."""
    result = await session.execute(
        update(PostTarget)
        .where(
            PostTarget.id == claim.target_id,
            PostTarget.lease_owner == claim.owner,
            PostTarget.status == TargetStatus.PUBLISHING,
        )
        .values(updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise LeaseLost(claim.target_id)


async def _save_progress(runtime: Runtime, claim: Claim) -> None:
    async with runtime.sessions() as session, session.begin():
        await _guarded_update(
            session,
            claim,
            progress=dict(claim.progress),
            lease_expires_at=utcnow() + claim.lease,
        )


async def _load(
    runtime: Runtime, target_id: str
) -> tuple[PostTarget, Post, SocialAccount, dict[str, Media]]:
    async with runtime.sessions() as session:
        target = await session.get(PostTarget, target_id)
        assert target is not None
        post = await session.get(Post, target.post_id)
        account = await session.get(SocialAccount, target.account_id)
        assert post is not None
        assert account is not None
        media_ids = set(post.media_ids or [])
        for segment in post.options.get("thread") or []:
            media_ids.update(segment.get("mediaIds") or [])
        if post.options.get("coverMediaId"):
            media_ids.add(post.options["coverMediaId"])
        media: dict[str, Media] = {}
        if media_ids:
            rows = await session.execute(select(Media).where(Media.id.in_(media_ids)))
            media = {m.id: m for m in rows.scalars()}
        return target, post, account, media


async def _publish_claimed(runtime: Runtime, claim: Claim) -> str:
    target, post, account, media = await _load(runtime, claim.target_id)
    if account.disconnected_at is not None or account.status != AccountStatus.CONNECTED:
        code = "account_disconnected" if account.disconnected_at else "auth_expired"
        await _fail(
            runtime,
            claim,
            code,
            "The account is no longer connected; reconnect it and retry the post.",
        )
        return "failed"
    adapter = adapter_for(runtime, account.platform)
    try:
        # Rotated to the newest key, and refreshed first if the token is about to expire.
        credentials = await tokens.publish_credentials(runtime, account.id)
    except PlatformError as error:
        return await _handle_error(runtime, claim, error, account)
    auth = _Auth(credentials)
    steps = build_steps(target, post, account, media, await _media_urls(runtime, media))
    done: dict[str, Any] = claim.progress.setdefault("steps", {})
    for step in steps:
        if step.name in done:
            continue
        inflight = claim.progress.get("inflight")
        resume = None
        if inflight and inflight.get("step") == step.name and inflight.get("parked"):
            resume = inflight.get("resume")  # our own continuation: not an interruption
        elif inflight and inflight.get("step") == step.name:
            try:
                recovered = await _recover(
                    runtime, claim, adapter, auth.credentials, step, inflight
                )
            except PlatformError as error:
                return await _handle_error(runtime, claim, error, account, keep_inflight=True)
            if recovered == "unknown":
                return "outcome_unknown"
            if isinstance(recovered, Published):
                done[step.name] = as_progress(recovered)
                claim.progress.pop("inflight", None)
                await _save_progress(runtime, claim)
                continue
        step.bind(done)
        if resume is not None:
            step.outgoing = replace(step.outgoing, resume=resume)
            claim.progress["inflight"].update(parked=False, resumedAt=isoformat(utcnow()))
        else:
            claim.progress["inflight"] = {
                "step": step.name,
                "key": step.outgoing.key,
                "startedAt": isoformat(utcnow()),
            }
            claim.progress["stage"] = step.stage
        await _save_progress(runtime, claim)
        try:
            published = await _call(runtime, adapter, step, account.id, auth)
        except Pending as pending:
            return await _park(runtime, claim, pending)
        except PlatformError as error:
            if step.optional:
                claim.progress.pop("inflight", None)
                claim.progress.setdefault("warnings", []).append(
                    {"step": step.name, "code": error.code or error.kind, "message": str(error)}
                )
                await _save_progress(runtime, claim)
                continue
            return await _handle_error(runtime, claim, error, account)
        done[step.name] = as_progress(published)
        claim.progress.pop("inflight", None)
        await _save_progress(runtime, claim)
    await _succeed(runtime, claim)
    return "published"


@dataclass
class _Auth:
    """The credentials a publish uses, and whether a 401 already led to a refresh."""

    credentials: Credentials
    refreshed: bool = False


async def _call(
    runtime: Runtime, adapter: Any, step: Step, account_id: str, auth: _Auth
) -> Published:
    """One platform call; a refused token (401) is refreshed once and the call repeated.

    The platform rejected the request before acting on it, so sending the same step
    again (same idempotency key) cannot post twice. The refresh is single-flight per
    account: concurrent publishes of one account share one refresh.
    """
    try:
        return await step.call(adapter, auth.credentials)
    except PlatformError as error:
        if (
            error.kind != "auth_expired"
            or auth.refreshed
            or not tokens.can_refresh(adapter, auth.credentials)
        ):
            raise
    auth.refreshed = True
    auth.credentials = await tokens.refresh_account(
        runtime, account_id, stale_token=auth.credentials.access_token
    )
    return await step.call(adapter, auth.credentials)


async def _media_urls(runtime: Runtime, media: dict[str, Media]) -> dict[str, str]:
    """Short-lived URLs of the media bytes (presigned S3 GET, or our own signed URL)."""
    if not media:
        return {}
    from polypost.storage import get_storage

    storage = get_storage(runtime)
    return {
        media_id: await storage.download_url(row.storage_key, content_type=row.content_type)
        for media_id, row in media.items()
    }


async def _recover(
    runtime: Runtime,
    claim: Claim,
    adapter: Any,
    credentials: Any,
    step: Step,
    inflight: dict[str, Any],
) -> Published | str | None:
    """A previous attempt died during this step's call: did the platform get it?

    Returns the adopted result, None when it is safe to send again, or "unknown" after
    failing the target as `outcome_unknown` (the platform can neither dedupe nor be
    searched, so sending again could post twice).
    """
    step.bind(claim.progress.get("steps", {}))
    started = datetime.fromisoformat(inflight["startedAt"])
    mode, window = recovery_mode(adapter, credentials)
    if mode == "idempotency_key" and (window is None or utcnow() - started < window):
        return None  # resending with the same idempotency key returns the original
    if mode in ("lookup", "idempotency_key"):
        # The state of the step's last `Pending` (an upload session, a publish id) is
        # what the platform can be asked about.
        outgoing = step.outgoing
        if inflight.get("resume"):
            outgoing = replace(outgoing, resume=inflight["resume"])
        try:
            found: Published | None = await adapter.find_published(credentials, outgoing)
        except PlatformError as error:
            if error.kind != "permanent":
                raise  # the lookup itself failed: retry the whole recovery later
        else:
            return found  # None: the platform has no such post, so sending is safe
    await _fail(
        runtime,
        claim,
        "outcome_unknown",
        f"A publish attempt ({step.name}) was interrupted and the platform offers no way to "
        "tell whether it went out. Check the account, then retry with "
        "includeOutcomeUnknown if it did not.",
    )
    return "unknown"


def backoff(attempts: int) -> timedelta:
    """Exponential backoff with ±20% jitter, capped."""
    delay = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** max(0, attempts - 1)))
    jittered: timedelta = delay * random.uniform(0.8, 1.2)
    return jittered


async def _handle_error(
    runtime: Runtime,
    claim: Claim,
    error: PlatformError,
    account: SocialAccount,
    *,
    keep_inflight: bool = False,
) -> str:
    kind = error.kind
    async with runtime.sessions() as session:
        attempts = (
            await session.execute(
                select(PostTarget.attempts).where(PostTarget.id == claim.target_id)
            )
        ).scalar_one()
    if kind == "auth_expired":
        await _fail(
            runtime,
            claim,
            "auth_expired",
            f"The platform rejected the account's credentials ({error}); reconnect it.",
            expire_account=account.id,
        )
        return "failed"
    retryable = kind == "rate_limited" or kind == "transient"
    if not retryable or attempts >= MAX_ATTEMPTS:
        code = error.code or kind if not retryable else f"{kind}_exhausted"
        message = str(error) if not retryable else f"Gave up after {attempts} attempts: {error}"
        await _fail(runtime, claim, code, message)
        return "failed"
    if (kind != "transient" or not error.maybe_sent) and not keep_inflight:
        claim.progress.pop("inflight", None)  # the request never reached the platform
    now = utcnow()
    retry_at: datetime | None = getattr(error, "retry_at", None)
    when = (
        retry_at
        if kind == "rate_limited" and retry_at and retry_at > now
        else now + backoff(attempts)
    )
    async with runtime.sessions() as session, session.begin():
        post = await lock_post(session, await _post_id(session, claim.target_id))
        await _guarded_update(
            session,
            claim,
            status=TargetStatus.SCHEDULED,
            next_attempt_at=when,
            lease_owner=None,
            lease_expires_at=None,
            error_code=kind,
            error_message=str(error),
            progress=dict(claim.progress),
            queued_at=now,
        )
        if post is not None:
            await refresh_post_status(session, post)
    raise Retry(defer=max(timedelta(0), when - now))


async def _post_id(session: AsyncSession, target_id: str) -> str:
    return (
        await session.execute(select(PostTarget.post_id).where(PostTarget.id == target_id))
    ).scalar_one()


async def _fail(
    runtime: Runtime,
    claim: Claim,
    code: str,
    message: str,
    *,
    expire_account: str | None = None,
) -> None:
    async with runtime.sessions() as session, session.begin():
        post = await lock_post(session, await _post_id(session, claim.target_id))
        main = claim.progress.get("steps", {}).get("main") or {}
        await _guarded_update(
            session,
            claim,
            status=TargetStatus.FAILED,
            error_code=code,
            error_message=message[:2000],
            lease_owner=None,
            lease_expires_at=None,
            progress=dict(claim.progress),
            platform_post_id=main.get("id"),
            permalink=main.get("url"),
        )
        target = await session.get(PostTarget, claim.target_id, populate_existing=True)
        assert target is not None
        target_event(session, target)
        if post is not None:
            await refresh_post_status(session, post)
    if expire_account is not None:
        await _expire_account(runtime, expire_account, message)


async def _expire_account(runtime: Runtime, account_id: str, message: str) -> None:
    """Mark the account expired (one `account.token_expired`) and fail its other pending
    targets with a reconnect message, in a transaction of its own: it locks other
    posts, which must not happen while this target's post is locked."""
    await tokens.expire_account(runtime, account_id, message)


async def _succeed(runtime: Runtime, claim: Claim) -> None:
    main = claim.progress.get("steps", {}).get("main") or {}
    async with runtime.sessions() as session, session.begin():
        post = await lock_post(session, await _post_id(session, claim.target_id))
        claim.progress.pop("stage", None)
        await _guarded_update(
            session,
            claim,
            status=TargetStatus.PUBLISHED,
            platform_post_id=main.get("id"),
            permalink=main.get("url"),
            published_at=utcnow(),
            error_code=None,
            error_message=None,
            lease_owner=None,
            lease_expires_at=None,
            progress=dict(claim.progress),
        )
        target = await session.get(PostTarget, claim.target_id, populate_existing=True)
        assert target is not None
        target_event(session, target)
        if post is not None:
            await refresh_post_status(session, post)


async def reconcile_targets(ctx: JobContext) -> dict[str, int]:
    """Re-enqueue due targets with no live job and recover expired leases.

    Runs every few seconds in each job runner; concurrent runs are harmless (job ids
    dedupe and the recovery UPDATE is conditional).
    """
    runtime = ctx["runtime"]
    now = utcnow()
    recovered = await _recover_expired_leases(runtime, now)
    async with runtime.sessions() as session, session.begin():
        rows = (
            await session.execute(
                select(
                    PostTarget.id,
                    PostTarget.revision,
                    PostTarget.scheduled_at,
                    PostTarget.next_attempt_at,
                )
                .where(
                    PostTarget.status == TargetStatus.SCHEDULED,
                    PostTarget.scheduled_at <= now + PRESTAGE,
                    or_(PostTarget.queued_at.is_(None), PostTarget.queued_at < now - REQUEUE_AFTER),
                )
                .order_by(PostTarget.scheduled_at)
                .limit(RECONCILE_BATCH)
            )
        ).all()
        if rows:
            await session.execute(
                update(PostTarget)
                .where(PostTarget.id.in_([row.id for row in rows]))
                .values(queued_at=now)
                .execution_options(synchronize_session=False)
            )
    jobs = [
        (
            row.id,
            row.revision,
            max(d for d in (row.scheduled_at, row.next_attempt_at, now) if d is not None),
        )
        for row in rows
    ]
    await enqueue_many(runtime, jobs)
    stranded = await _free_stranded_jobs(runtime, [job for job in jobs if job[2] <= now])
    return {"enqueued": len(rows), "recovered": recovered + stranded}


async def _free_stranded_jobs(runtime: Runtime, due: list[tuple[str, int, datetime]]) -> int:
    """Jobs a dead worker took from arq but never claimed in Postgres.

    arq keeps such a job "in progress" until its job_timeout + 10 s pass, refusing the
    same job id meanwhile. A target still `scheduled` whose job has been in progress since
    before the last reconcile period was taken by a worker that died before claiming (a
    live one claims at once), so it gets a new revision and a new job; the old job, should
    arq ever re-run it, finds a stale revision and exits. Never a double post: only the
    claim in Postgres lets anyone publish.
    """
    if runtime.redis is None or not due:
        return 0
    pipe = runtime.redis.pipeline(transaction=False)
    for target, revision, _ in due:
        pipe.exists(f"{in_progress_key_prefix}{job_id(target, revision)}")
    flags = await pipe.execute()
    stuck = [job for job, flag in zip(due, flags, strict=True) if flag]
    if not stuck:
        return 0
    now = utcnow()
    renewed: list[tuple[str, int, datetime]] = []
    async with runtime.sessions() as session, session.begin():
        for target_id, revision, when in stuck:
            result = await session.execute(
                update(PostTarget)
                .where(
                    PostTarget.id == target_id,
                    PostTarget.revision == revision,
                    PostTarget.status == TargetStatus.SCHEDULED,
                )
                .values(revision=revision + 1, queued_at=now, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) == 1:
                renewed.append((target_id, revision + 1, when))
    await enqueue_many(runtime, renewed)
    if renewed:
        logger.warning("freed jobs stranded by a dead worker", extra={"count": len(renewed)})
    return len(renewed)


async def _recover_expired_leases(runtime: Runtime, now: datetime) -> int:
    """A worker died mid-publish: hand the target to a new job under a new revision (so
    the dead job, if arq re-runs it, finds a stale revision and exits)."""
    async with runtime.sessions() as session, session.begin():
        expired = (
            await session.execute(
                select(PostTarget.id, PostTarget.post_id, PostTarget.revision)
                .where(
                    PostTarget.status == TargetStatus.PUBLISHING,
                    PostTarget.lease_expires_at < now,
                )
                .limit(RECONCILE_BATCH)
            )
        ).all()
        for row in expired:
            post = await lock_post(session, row.post_id)
            result = await session.execute(
                update(PostTarget)
                .where(
                    and_(
                        PostTarget.id == row.id,
                        PostTarget.status == TargetStatus.PUBLISHING,
                        PostTarget.lease_expires_at < now,
                    )
                )
                .values(
                    status=TargetStatus.SCHEDULED,
                    revision=PostTarget.revision + 1,
                    lease_owner=None,
                    lease_expires_at=None,
                    next_attempt_at=None,
                    queued_at=None,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) == 1 and post is not None:
                await refresh_post_status(session, post)
    return len(expired)
