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
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, cast

from arq.constants import in_progress_key_prefix, result_key_prefix
from arq.worker import Retry
from sqlalchemy import ColumnElement, Table, and_, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.accounts import tokens
from polypost.core.ids import new_id
from polypost.core.runtime import Runtime
from polypost.core.timeutil import isoformat, utcnow
from polypost.models import AccountStatus, Media, Post, PostTarget, SocialAccount, TargetStatus
from polypost.ops.metrics import PUBLISH_LAG
from polypost.platforms.base import Credentials, Pending, PlatformError, Published, Transient
from polypost.platforms.registry import adapter_for, recovery_mode
from polypost.posts.enqueue import DueTarget, PlannedJob, enqueue_jobs, job_id, plan_jobs
from polypost.posts.lifecycle import (
    announce_publishing,
    flip_to_publishing,
    lock_post_state,
    settle_post_status,
    target_event,
)
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


class LeaseLost(Exception):
    """Another worker recovered this target; stop before touching the platform again."""


class _NotClaimed(Exception):
    """The claim matched no row: roll back the post status change made before it."""


@dataclass
class Claim:
    target_id: str
    owner: str
    lease: timedelta
    progress: dict[str, Any] = field(default_factory=dict)
    post_id: str = ""
    attempts: int = 0


@dataclass
class Work:
    """What one publish needs, read in the transaction that claimed the target."""

    target: PostTarget
    post: Post
    account: SocialAccount
    credentials: Credentials | None = None  # None when the account cannot publish
    steps: list[Step] = field(default_factory=list)
    # The step whose in-flight marker was committed with the claim (see `_prepare`).
    marked: str | None = None


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
    claimed = await _claim(runtime, target_id, revision, owner, parked)
    if claimed is None:
        return "skipped"
    claim, work = claimed
    return await run_claimed(runtime, claim, work)


Finish = Callable[[Claim], Awaitable[None]]


async def run_claimed(
    runtime: Runtime, claim: Claim, work: Work, finish: Finish | None = None
) -> str:
    """Publish a claimed target; `finish` writes its success (default: `_succeed`)."""
    try:
        return await _publish_claimed(runtime, claim, work, finish)
    except LeaseLost:
        logger.warning("lease lost mid-publish", extra={"targetId": claim.target_id})
        return "lease_lost"
    except (Retry, asyncio.CancelledError):
        raise
    except Exception as exc:
        # A bug or an outage of our own (database, storage) mid-publish: keep any inflight
        # marker so the next attempt checks the platform first, and retry with backoff.
        logger.exception("publish failed unexpectedly", extra={"targetId": claim.target_id})
        error = Transient(f"Internal error while publishing ({type(exc).__name__})")
        return await _handle_error(runtime, claim, error, work.account, keep_inflight=True)


def _account_usable(account: SocialAccount) -> bool:
    return account.disconnected_at is None and account.status == AccountStatus.CONNECTED


async def _claim(
    runtime: Runtime, target_id: str, revision: int, owner: str, parked: str | None = None
) -> tuple[Claim, Work] | None:
    """Claim the target and read everything its publish needs, in one transaction.

    The post is flipped to `publishing` first (keeping the lock order post, then
    target) and the whole transaction rolls back if the target turns out not claimable.
    """
    now = utcnow()
    lease = lease_for(runtime)
    if parked is not None:
        resumed = await _unpark(runtime, target_id, revision, owner, parked, lease)
        if resumed is not None:
            return resumed
        # Not parked any more: this continuation raised Retry and arq re-runs it with its
        # old token; the target is back to `scheduled` and takes a normal claim.
    try:
        async with runtime.sessions() as session, session.begin():
            flipped = await flip_to_publishing(
                session, select(PostTarget.post_id).where(PostTarget.id == target_id)
            )
            matching = (PostTarget.id == target_id, PostTarget.revision == revision)
            row = (
                await session.execute(claim_statement(matching, owner, lease, now))
            ).one_or_none()
            if row is None:
                raise _NotClaimed
            await announce_publishing(session, flipped)
            claim = claim_from(row, owner, lease, now)
            work = await _prepare(runtime, session, claim, mark=True)
    except _NotClaimed:
        return None
    return claim, work


def claim_statement(
    matching: tuple[ColumnElement[bool], ...], owner: str, lease: timedelta, now: datetime
) -> Any:
    """The claim: move matching targets that are due from `scheduled` to `publishing`
    under a lease, returning what `claim_from` needs."""
    return (
        update(PostTarget)
        .where(
            *matching,
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
        .returning(
            PostTarget.id,
            PostTarget.post_id,
            PostTarget.progress,
            PostTarget.attempts,
            PostTarget.scheduled_at,
            PostTarget.next_attempt_at,
        )
        .execution_options(synchronize_session=False)
    )


def claim_from(row: Any, owner: str, lease: timedelta, now: datetime) -> Claim:
    """The `Claim` of a row `claim_statement` returned; records its scheduling lag."""
    due = max((d for d in (row.scheduled_at, row.next_attempt_at) if d is not None), default=now)
    PUBLISH_LAG.observe(max(0.0, (now - due).total_seconds()))
    return Claim(
        target_id=row.id,
        owner=owner,
        lease=lease,
        progress=dict(row.progress or {}),
        post_id=row.post_id,
        attempts=row.attempts,
    )


async def _unpark(
    runtime: Runtime, target_id: str, revision: int, owner: str, parked: str, lease: timedelta
) -> tuple[Claim, Work] | None:
    """Take back a parked target: only the continuation job holding its token can."""
    now = utcnow()
    async with runtime.sessions() as session, session.begin():
        row = (
            await session.execute(
                update(PostTarget)
                .where(
                    PostTarget.id == target_id,
                    PostTarget.revision == revision,
                    PostTarget.status == TargetStatus.PUBLISHING,
                    PostTarget.lease_owner == parked,
                )
                .values(lease_owner=owner, lease_expires_at=now + lease, updated_at=now)
                .returning(PostTarget.post_id, PostTarget.progress, PostTarget.attempts)
                .execution_options(synchronize_session=False)
            )
        ).one_or_none()
        if row is None:
            return None
        claim = Claim(
            target_id=target_id,
            owner=owner,
            lease=lease,
            progress=dict(row.progress or {}),
            post_id=row.post_id,
            attempts=row.attempts,
        )
        return claim, await _prepare(runtime, session, claim, mark=False)


async def _prepare(runtime: Runtime, session: AsyncSession, claim: Claim, *, mark: bool) -> Work:
    return (await prepare_claims(runtime, session, {claim.target_id: claim}, mark=mark))[
        claim.target_id
    ][1]


# The first in-flight markers of targets the same transaction just claimed (no lease
# guard needed: no other worker can hold them yet).
TARGETS_TABLE = cast(Table, PostTarget.__table__)
_WRITE_MARKER = (
    update(TARGETS_TABLE)
    .where(TARGETS_TABLE.c.id == bindparam("b_id"))
    .values(progress=bindparam("b_progress"))
)


async def prepare_claims(
    runtime: Runtime, session: AsyncSession, claims: dict[str, Claim], *, mark: bool
) -> dict[str, tuple[Claim, Work]]:
    """Load the claimed targets with their posts, accounts and media in one query (media
    once per post), `_prepare_work` each; with `mark`, write their first in-flight markers
    in the claim's transaction."""
    loaded = (
        await session.execute(
            select(PostTarget, Post, SocialAccount)
            .join(Post, Post.id == PostTarget.post_id)
            .join(SocialAccount, SocialAccount.id == PostTarget.account_id)
            .where(PostTarget.id.in_(list(claims)))
        )
    ).all()
    media_of: dict[str, tuple[dict[str, Media], dict[str, str]]] = {}
    prepared: dict[str, tuple[Claim, Work]] = {}
    markers: list[dict[str, Any]] = []
    for target, post, account in loaded:
        if post.id not in media_of:
            media = await _load_media(session, post)
            media_of[post.id] = (media, await _media_urls(runtime, media))
        media, urls = media_of[post.id]
        claim = claims[target.id]
        work = await _prepare_work(
            runtime, session, claim, target, post, account, media, urls, mark=mark
        )
        if work.marked is not None:
            markers.append({"b_id": claim.target_id, "b_progress": dict(claim.progress)})
        prepared[target.id] = (claim, work)
    if markers:
        await session.execute(_WRITE_MARKER, markers)
    return prepared


async def _prepare_work(
    runtime: Runtime,
    session: AsyncSession,
    claim: Claim,
    target: PostTarget,
    post: Post,
    account: SocialAccount,
    media: dict[str, Media],
    urls: dict[str, str],
    *,
    mark: bool,
) -> Work:
    """Decrypt the credentials and build the steps of a claimed target.

    With `mark`, a fresh attempt (no in-flight step) also gets the first step's in-flight
    marker in `claim.progress` (`work.marked`), for the caller to write in the claim's
    transaction instead of a transaction of its own. Not when the token needs a refresh
    first: a failed refresh must leave no marker behind (it would make the next attempt
    treat the step as maybe sent).
    """
    work = Work(target=target, post=post, account=account)
    if not _account_usable(account):
        return work
    work.credentials = await tokens.credentials_of(session, runtime, account)
    work.steps = build_steps(target, post, account, media, urls)
    if not mark or claim.progress.get("inflight") or tokens.needs_refresh(work.credentials):
        return work
    done = claim.progress.get("steps", {})
    first = next((step for step in work.steps if step.name not in done), None)
    if first is not None:
        first.bind(done)
        _mark_inflight(claim, first)
        work.marked = first.name
    return work


async def _load_media(session: AsyncSession, post: Post) -> dict[str, Media]:
    media_ids = set(post.media_ids or [])
    for segment in post.options.get("thread") or []:
        media_ids.update(segment.get("mediaIds") or [])
    if post.options.get("coverMediaId"):
        media_ids.add(post.options["coverMediaId"])
    if not media_ids:
        return {}
    rows = await session.execute(select(Media).where(Media.id.in_(media_ids)))
    return {m.id: m for m in rows.scalars()}


def _mark_inflight(claim: Claim, step: Step) -> None:
    """Record that `step`'s call is about to start (committed before the call)."""
    claim.progress["inflight"] = {
        "step": step.name,
        "key": step.outgoing.key,
        "startedAt": isoformat(utcnow()),
    }
    claim.progress["stage"] = step.stage


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
        row = await _guarded_update(
            session,
            claim,
            PostTarget.revision,
            lease_owner=token,
            lease_expires_at=now + pending.retry_in + claim.lease,
            progress=dict(claim.progress),
        )
    revision = row.revision
    await runtime.queue.enqueue(
        "publish_target",
        claim.target_id,
        revision,
        token,
        job_id=f"{job_id(claim.target_id, revision)}:{token}",
        defer_until=now + pending.retry_in,
    )
    return "pending"


async def _guarded_update(
    session: AsyncSession, claim: Claim, *returning: Any, **values: Any
) -> Any:
    """Write to the target only while we still hold its lease; the `returning` columns
    of the row written, if any were asked for."""
    statement = (
        update(PostTarget)
        .where(
            PostTarget.id == claim.target_id,
            PostTarget.lease_owner == claim.owner,
            PostTarget.status == TargetStatus.PUBLISHING,
        )
        .values(updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    if returning:
        row = (await session.execute(statement.returning(*returning))).one_or_none()
        if row is None:
            raise LeaseLost(claim.target_id)
        return row
    result = await session.execute(statement)
    if getattr(result, "rowcount", 0) != 1:
        raise LeaseLost(claim.target_id)
    return None


async def _save_progress(runtime: Runtime, claim: Claim) -> None:
    async with runtime.sessions() as session, session.begin():
        await _guarded_update(
            session,
            claim,
            progress=dict(claim.progress),
            lease_expires_at=utcnow() + claim.lease,
        )


async def _publish_claimed(
    runtime: Runtime, claim: Claim, work: Work, finish: Finish | None = None
) -> str:
    account = work.account
    if work.credentials is None:
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
        # Rotated to the newest key (in `_prepare`), and refreshed first if the token is
        # about to expire.
        credentials = await tokens.ready_credentials(runtime, work.credentials)
    except PlatformError as error:
        return await _handle_error(runtime, claim, error, account)
    auth = _Auth(credentials)
    done: dict[str, Any] = claim.progress.setdefault("steps", {})
    remaining = [step for step in work.steps if step.name not in done]
    marked = work.marked  # a marker this run committed itself: not an interruption
    for index, step in enumerate(remaining):
        if marked != step.name:
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
                _mark_inflight(claim, step)
            await _save_progress(runtime, claim)
        marked = None
        try:
            async with _keeping_lease(runtime, claim):
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
        following = remaining[index + 1] if index + 1 < len(remaining) else None
        if following is None:
            break  # the result is written with the final state, in `_succeed`
        # The result and the next step's in-flight marker, in one write.
        following.bind(done)
        _mark_inflight(claim, following)
        await _save_progress(runtime, claim)
        marked = following.name
    if finish is None:
        await _succeed(runtime, claim)
    else:
        await finish(claim)
    return "published"


@asynccontextmanager
async def _keeping_lease(runtime: Runtime, claim: Claim) -> AsyncIterator[None]:
    """Extend the lease while a platform call runs, so a slow upload is not mistaken for
    a dead worker; a short lease then still recovers a dead worker's target quickly."""

    async def renew() -> None:
        interval = claim.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            try:
                await _save_progress(runtime, claim)
            except LeaseLost:
                return  # the write after the call reports it
            except Exception:
                logger.warning("could not extend a lease", exc_info=True)

    renewer = asyncio.create_task(renew())
    try:
        yield
    finally:
        renewer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewer


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
    attempts = claim.attempts
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
    await _settle(
        runtime,
        claim,
        announce=False,
        status=TargetStatus.SCHEDULED,
        next_attempt_at=when,
        lease_owner=None,
        lease_expires_at=None,
        error_code=kind,
        error_message=str(error),
        progress=dict(claim.progress),
        queued_at=now,
    )
    raise Retry(defer=max(timedelta(0), when - now))


# What a target's event reads, returned by the UPDATE that writes its final state.
_EVENT_COLUMNS = (
    PostTarget.id,
    PostTarget.workspace_id,
    PostTarget.post_id,
    PostTarget.account_id,
    PostTarget.platform,
    PostTarget.status,
    PostTarget.platform_post_id,
    PostTarget.permalink,
    PostTarget.error_code,
    PostTarget.error_message,
)


async def _settle(runtime: Runtime, claim: Claim, *, announce: bool, **values: Any) -> None:
    """Write the end of this attempt, the target's event (`announce`) and the post's
    derived status in one transaction, holding the post's row lock so sibling targets
    finishing at the same moment see each other's state."""
    async with runtime.sessions() as session, session.begin():
        post = await lock_post_state(session, claim.post_id)
        row = await _guarded_update(session, claim, *_EVENT_COLUMNS, **values)
        if announce:
            target_event(session, row)
        if post is not None:
            await settle_post_status(session, post)


async def _fail(
    runtime: Runtime,
    claim: Claim,
    code: str,
    message: str,
    *,
    expire_account: str | None = None,
) -> None:
    main = claim.progress.get("steps", {}).get("main") or {}
    await _settle(
        runtime,
        claim,
        announce=True,
        status=TargetStatus.FAILED,
        error_code=code,
        error_message=message[:2000],
        lease_owner=None,
        lease_expires_at=None,
        progress=dict(claim.progress),
        platform_post_id=main.get("id"),
        permalink=main.get("url"),
    )
    if expire_account is not None:
        await _expire_account(runtime, expire_account, message)


async def _expire_account(runtime: Runtime, account_id: str, message: str) -> None:
    """Mark the account expired (one `account.token_expired`) and fail its other pending
    targets with a reconnect message, in a transaction of its own: it locks other
    posts, which must not happen while this target's post is locked."""
    await tokens.expire_account(runtime, account_id, message)


async def _succeed(runtime: Runtime, claim: Claim) -> None:
    main = claim.progress.get("steps", {}).get("main") or {}
    claim.progress.pop("stage", None)
    await _settle(
        runtime,
        claim,
        announce=True,
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


# Set in Redis by the reconciler; gone means Redis lost its data (flushed, restarted
# without persistence), so every due target is handed over again at once instead of
# after `REQUEUE_AFTER`.
QUEUE_SENTINEL = "polypost:queue-sentinel"


async def reconcile_targets(ctx: JobContext) -> dict[str, int]:
    """Re-enqueue due targets with no live job and recover expired leases.

    Runs every few seconds in each job runner; concurrent runs are harmless (job ids
    dedupe and the recovery UPDATE is conditional).
    """
    runtime = ctx["runtime"]
    now = utcnow()
    recovered = await _recover_expired_leases(runtime, now)
    queue_lost = await _queue_lost(runtime)
    async with runtime.sessions() as session, session.begin():
        statement = (
            select(
                PostTarget.id,
                PostTarget.post_id,
                PostTarget.revision,
                PostTarget.scheduled_at,
                PostTarget.next_attempt_at,
            )
            .where(
                PostTarget.status == TargetStatus.SCHEDULED,
                PostTarget.scheduled_at <= now + PRESTAGE,
            )
            .order_by(PostTarget.scheduled_at)
            .limit(RECONCILE_BATCH)
        )
        if not queue_lost:
            statement = statement.where(
                or_(PostTarget.queued_at.is_(None), PostTarget.queued_at < now - REQUEUE_AFTER)
            )
        rows = (await session.execute(statement)).all()
        if rows:
            await session.execute(
                update(PostTarget)
                .where(PostTarget.id.in_([row.id for row in rows]))
                .values(queued_at=now)
                .execution_options(synchronize_session=False)
            )
    due = [
        DueTarget(
            row.post_id,
            row.id,
            row.revision,
            max(d for d in (row.scheduled_at, row.next_attempt_at, now) if d is not None),
        )
        for row in rows
    ]
    planned = plan_jobs(due)
    await enqueue_jobs(runtime, planned)
    stranded = await _free_stranded_jobs(runtime, [job for job in planned if job.when <= now])
    return {"enqueued": len(rows), "recovered": recovered + stranded}


async def _queue_lost(runtime: Runtime) -> bool:
    """True once after Redis lost its data (and on a first start, which is harmless)."""
    if runtime.redis is None:
        return False
    created = await runtime.redis.set(QUEUE_SENTINEL, utcnow().isoformat(), nx=True)
    if created:
        logger.warning("the queue holds no sentinel: handing every due target over again")
    return bool(created)


async def _free_stranded_jobs(runtime: Runtime, due: list[PlannedJob]) -> int:
    """Due targets whose job id arq will not take again, handed over under a new one.

    A target still `scheduled` and due after the reconcile grace period has a job that
    cannot run: either a worker died after taking it from arq but before claiming (arq
    keeps it "in progress" until its job_timeout + 10 s pass), or arq already finished
    it without running it (a job whose data vanished in a Redis flush is recorded as
    "expired", and the kept result blocks the id for `keep_result`). Either way arq
    refuses the same job id meanwhile, so the target gets a new revision and a new job;
    the old job, should arq ever run it, finds a stale revision and exits. Never a double
    post: only the claim in Postgres lets anyone publish.
    """
    if runtime.redis is None or not due:
        return 0
    pipe = runtime.redis.pipeline(transaction=False)
    for job in due:
        pipe.exists(f"{in_progress_key_prefix}{job.job_id}", f"{result_key_prefix}{job.job_id}")
    flags = await pipe.execute()
    stuck = [target for job, flag in zip(due, flags, strict=True) if flag for target in job.targets]
    if not stuck:
        return 0
    now = utcnow()
    renewed: list[DueTarget] = []
    async with runtime.sessions() as session, session.begin():
        for target in stuck:
            result = await session.execute(
                update(PostTarget)
                .where(
                    PostTarget.id == target.target_id,
                    PostTarget.revision == target.revision,
                    PostTarget.status == TargetStatus.SCHEDULED,
                )
                .values(revision=target.revision + 1, queued_at=now, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) == 1:
                renewed.append(replace(target, revision=target.revision + 1))
    await enqueue_jobs(runtime, plan_jobs(renewed))
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
            post = await lock_post_state(session, row.post_id)
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
                await settle_post_status(session, post)
    return len(expired)
