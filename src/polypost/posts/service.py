"""Post rules: create, read, edit, publish, retry, remove. No HTTP here; the caller's
`WriteSession` commits, and jobs are queued only after that commit."""

from __future__ import annotations

import hashlib
import unicodedata
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.auth.principal import Principal
from polypost.core.deps import after_commit
from polypost.core.errors import Conflict, NotFound
from polypost.core.ids import Prefix, new_id
from polypost.core.pagination import Page, PageParams
from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.events.outbox import record_event
from polypost.models import (
    Post,
    PostStatus,
    PostTarget,
    SocialAccount,
    TargetStatus,
    Workspace,
)
from polypost.platforms.base import PlatformError
from polypost.platforms.capabilities import capabilities_for
from polypost.platforms.credentials import load_credentials
from polypost.platforms.registry import adapter_for
from polypost.posts import errors
from polypost.posts.drafts import Prepared, load_accounts, prepare, warm_account_checks
from polypost.posts.enqueue import DueTarget, enqueue_many
from polypost.posts.jobs import PRESTAGE
from polypost.posts.lifecycle import lock_post, post_event_data, refresh_post_status
from polypost.posts.outgoing import build_steps, per_platform
from polypost.posts.presenters import PostView
from polypost.posts.repository import PostRepository
from polypost.posts.schemas import (
    ManualRemoval,
    PostCreate,
    PostFields,
    PostRemoved,
    PostUpdate,
    PostUpdated,
    RetryRequest,
    ValidationResult,
)
from polypost.posts.timing import is_immediate, resolve_time

DUPLICATE_WINDOW = timedelta(hours=24)


def content_hash(body: PostFields) -> str:
    """What "the same content" means for the duplicate guard: normalised text (NFC,
    whitespace collapsed, case folded), per-platform captions, thread texts and media."""

    def norm(text: str | None) -> str:
        return " ".join(unicodedata.normalize("NFC", text or "").casefold().split())

    parts = [norm(body.content)]
    parts += sorted(f"{k}={norm(v)}" for k, v in (body.platform_content or {}).items())
    parts += [norm(s.text) + "|" + ",".join(s.media_ids) for s in body.thread or []]
    parts += sorted(body.media_ids or [])
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


async def _workspace(session: AsyncSession, workspace_id: str) -> Workspace:
    workspace = await session.get(Workspace, workspace_id)
    if workspace is None:
        raise NotFound("Workspace not found.")
    return workspace


def _schedule(
    body: PostFields, accounts: list[SocialAccount], timezone: str, now: datetime
) -> tuple[datetime | None, bool, dict[str, datetime]]:
    """(post time, immediate?, per-account times); drafts have no time."""
    if body.draft:
        return None, False, {}
    base = now
    if body.scheduled_at is not None and not body.publish_now:
        base = resolve_time(body.scheduled_at, timezone)
    immediate = is_immediate(base, now)
    if immediate:
        base = now
    times: dict[str, datetime] = {}
    for account in accounts:
        own = per_platform(body.platform_schedules, account)
        when = resolve_time(own, timezone) if own is not None else base
        times[account.id] = now if is_immediate(when, now) else when
    return base, immediate, times


async def _duplicate_of(
    session: AsyncSession, workspace_id: str, digest: str, account_ids: list[str], now: datetime
) -> str | None:
    statement = (
        select(Post.id)
        .join(PostTarget, PostTarget.post_id == Post.id)
        .where(
            Post.workspace_id == workspace_id,
            Post.content_hash == digest,
            Post.created_at >= now - DUPLICATE_WINDOW,
            PostTarget.account_id.in_(account_ids),
            PostTarget.status.not_in([TargetStatus.CANCELED, TargetStatus.FAILED]),
        )
        .limit(1)
    )
    return (await session.execute(statement)).scalar_one_or_none()


def _queue_after_commit(session: AsyncSession, runtime: Runtime, targets: list[PostTarget]) -> None:
    """Queue the targets due soon once the commit succeeded; later ones are handed over by
    the reconciler when they enter its prestage window (Redis then holds no far-future
    jobs, and a post scheduled for next week costs no queue work now)."""
    horizon = utcnow() + PRESTAGE
    jobs = [
        DueTarget(t.post_id, t.id, t.revision, t.scheduled_at)
        for t in targets
        if t.status == TargetStatus.SCHEDULED
        and t.scheduled_at is not None
        and t.scheduled_at <= horizon
    ]
    if not jobs:
        return

    async def enqueue() -> None:
        await enqueue_many(runtime, jobs)

    after_commit(session, enqueue)


async def create(
    session: AsyncSession, runtime: Runtime, principal: Principal, body: PostCreate
) -> PostView:
    await warm_account_checks(runtime, session, principal.workspace_id, body.account_ids)
    prepared = await prepare(session, principal, body, body.account_ids, runtime)
    workspace = await _workspace(session, principal.workspace_id)
    now = utcnow()
    digest = content_hash(body)
    if not body.allow_duplicate and not body.draft:
        existing = await _duplicate_of(session, workspace.id, digest, body.account_ids, now)
        if existing is not None:
            raise errors.DuplicateContent(
                "The same content was sent to one of these accounts in the last 24 hours. "
                "Send allowDuplicate: true to post it again.",
                details={"existingPostId": existing},
            )
    when, immediate, times = _schedule(body, prepared.accounts, workspace.timezone, now)
    post = Post(
        id=new_id(Prefix.POST),
        workspace_id=workspace.id,
        content=body.content,
        post_type=str(prepared.post_type),
        status=PostStatus.DRAFT if body.draft else PostStatus.SCHEDULED,
        scheduled_at=when,
        media_ids=list(body.media_ids or []),
        options=prepared.options,
        content_hash=digest,
        created_by_key_id=principal.api_key_id,
    )
    session.add(post)
    await session.flush()
    targets = [
        _new_target(post, account, times.get(account.id), now) for account in prepared.accounts
    ]
    session.add_all(targets)
    await session.flush()
    if post.status == PostStatus.SCHEDULED:
        record_event(
            session,
            post.workspace_id,
            "post.scheduled",
            post_event_data(post, [t.status for t in targets]),
            resource_id=post.id,
        )
    _queue_after_commit(session, runtime, targets)
    return PostView(post=post, targets=targets, immediate=immediate)


def _new_target(
    post: Post, account: SocialAccount, when: datetime | None, now: datetime
) -> PostTarget:
    return PostTarget(
        id=new_id(Prefix.TARGET),
        post_id=post.id,
        workspace_id=post.workspace_id,
        account_id=account.id,
        platform=account.platform,
        status=TargetStatus.DRAFT if when is None else TargetStatus.SCHEDULED,
        revision=1,
        attempts=0,
        scheduled_at=when,
        queued_at=now if when is not None else None,
        progress={},
    )


async def get(session: AsyncSession, workspace_id: str, post_id: str) -> PostView:
    repository = PostRepository(session, workspace_id)
    post = await repository.require(post_id)
    return PostView(post=post, targets=await repository.targets(post.id))


async def list_posts(
    session: AsyncSession,
    workspace_id: str,
    params: PageParams,
    **filters: Any,
) -> tuple[Page[Post], dict[str, list[PostTarget]]]:
    repository = PostRepository(session, workspace_id)
    page = await repository.page(params, **filters)
    targets = await repository.targets_for([p.id for p in page.items])
    return page, targets


async def validate(
    session: AsyncSession, principal: Principal, body: PostCreate, runtime: Runtime | None = None
) -> ValidationResult:
    if runtime is not None:
        await warm_account_checks(runtime, session, principal.workspace_id, body.account_ids)
    prepared = await prepare(session, principal, body, body.account_ids, runtime)
    return ValidationResult(valid=True, post_type=str(prepared.post_type), targets=prepared.targets)


async def _locked(session: AsyncSession, workspace_id: str, post_id: str) -> PostView:
    repository = PostRepository(session, workspace_id)
    post = await repository.require(post_id)
    locked = await lock_post(session, post.id)
    assert locked is not None
    return PostView(post=locked, targets=await repository.targets(post.id))


def _merged(view: PostView, body: PostUpdate) -> PostCreate:
    """The stored post with the fields sent in `body` replaced (empty value clears)."""
    post = view.post
    current: dict[str, Any] = {
        "accountIds": [t.account_id for t in view.targets if t.status != TargetStatus.CANCELED],
        "content": post.content,
        "mediaIds": post.media_ids or None,
        "postType": post.post_type,
        **post.options,
    }
    if post.scheduled_at is not None and post.status == PostStatus.SCHEDULED:
        current["scheduledAt"] = post.scheduled_at.isoformat()
    elif post.status == PostStatus.DRAFT:
        current["draft"] = True
    sent = body.model_dump(mode="json", by_alias=True, include=body.model_fields_set)
    for start_state in ("scheduledAt", "publishNow", "draft"):
        if start_state in sent:
            for other in ("scheduledAt", "publishNow", "draft"):
                current.pop(other, None)
    if "mediaIds" in sent and "postType" not in sent:
        current.pop("postType", None)  # let the new media decide again
    for key, value in sent.items():
        if value in (None, "", [], {}):
            current.pop(key, None)
        else:
            current[key] = value
    current.pop("allowDuplicate", None)
    return PostCreate.model_validate(current)


async def update(
    session: AsyncSession, runtime: Runtime, principal: Principal, post_id: str, body: PostUpdate
) -> PostUpdated:
    async with runtime.read_sessions() as read:
        snapshot = await get(read, principal.workspace_id, post_id)
    await warm_account_checks(
        runtime,
        session,
        principal.workspace_id,
        body.account_ids or [t.account_id for t in snapshot.targets],
    )
    statuses = {t.status for t in snapshot.targets}
    if TargetStatus.PUBLISHING in statuses:
        raise errors.NotEditable("The post is being published right now; retry shortly.")
    if TargetStatus.PUBLISHED in statuses:
        return await _edit_live(session, runtime, principal, snapshot, body)
    view = await _locked(session, principal.workspace_id, post_id)
    if any(t.status == TargetStatus.PUBLISHING for t in view.targets):
        raise errors.NotEditable("The post is being published right now; retry shortly.")
    if view.post.status not in (PostStatus.DRAFT, PostStatus.SCHEDULED):
        raise errors.NotEditable(
            f"A {view.post.status} post cannot be edited; use /retry for failed targets."
        )
    was_draft = view.post.status == PostStatus.DRAFT
    merged = _merged(view, body)
    prepared = await prepare(session, principal, merged, merged.account_ids, runtime)
    workspace = await _workspace(session, principal.workspace_id)
    now = utcnow()
    when, immediate, times = _schedule(merged, prepared.accounts, workspace.timezone, now)
    old_time = view.post.scheduled_at
    post = view.post
    post.content = merged.content
    post.media_ids = list(merged.media_ids or [])
    post.post_type = str(prepared.post_type)
    post.options = prepared.options
    post.scheduled_at = when
    post.content_hash = content_hash(merged)
    post.updated_at = now
    targets = await _retarget(session, post, view.targets, prepared, times, now)
    await refresh_post_status(session, post)
    _queue_after_commit(session, runtime, targets)
    return _updated(
        PostView(post=post, targets=targets, immediate=immediate),
        rescheduled=when != old_time,
        activated=was_draft and when is not None,
    )


async def _retarget(
    session: AsyncSession,
    post: Post,
    current: list[PostTarget],
    prepared: Prepared,
    times: dict[str, datetime],
    now: datetime,
) -> list[PostTarget]:
    """Keep targets of accounts still listed (new revision), cancel the others, add new."""
    by_account = {t.account_id: t for t in current if t.status != TargetStatus.CANCELED}
    wanted = {a.id for a in prepared.accounts}
    result: list[PostTarget] = []
    for target in current:
        if target.account_id not in wanted and target.status != TargetStatus.CANCELED:
            target.status = TargetStatus.CANCELED
            target.revision += 1
        result.append(target)
    for account in prepared.accounts:
        when = times.get(account.id)
        existing = by_account.get(account.id)
        if existing is None:
            added = _new_target(post, account, when, now)
            session.add(added)
            result.append(added)
            continue
        target = existing
        target.revision += 1  # any queued job for the old version now exits
        target.scheduled_at = when
        target.status = TargetStatus.DRAFT if when is None else TargetStatus.SCHEDULED
        target.queued_at = now if when is not None else None
        target.next_attempt_at = None
        target.error_code = target.error_message = None
    await session.flush()
    return result


def _updated(
    view: PostView,
    *,
    rescheduled: bool = False,
    activated: bool = False,
    unsupported: list[dict[str, str]] | None = None,
) -> PostUpdated:
    from polypost.posts.presenters import post_read

    read = post_read(view)
    return PostUpdated(
        **read.model_dump(),
        updated=True,
        rescheduled=rescheduled,
        activated=activated,
        unsupported=unsupported or [],
    )


LIVE_EDITABLE = {"content", "platform_content"}


async def _edit_live(
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    snapshot: PostView,
    body: PostUpdate,
) -> PostUpdated:
    """Caption edit of a (partly) published post, on the platforms that allow it.

    Platform calls happen before the write transaction starts: a slow platform must not
    hold database locks (and on SQLite would block the sandbox's own ledger write)."""
    extra = sorted(body.model_fields_set - LIVE_EDITABLE)
    if extra:
        raise errors.NotEditable(
            "Only content and platformContent can change once a post is live.",
            details={"fields": extra},
        )
    preview = snapshot.post
    if "content" in body.model_fields_set:
        preview.content = body.content
    options = dict(preview.options)
    if "platform_content" in body.model_fields_set:
        if body.platform_content:
            options["platformContent"] = body.platform_content
        else:
            options.pop("platformContent", None)
    preview.options = options
    unsupported: list[dict[str, str]] = []
    live = [
        t for t in snapshot.targets if t.status == TargetStatus.PUBLISHED and t.platform_post_id
    ]
    async with runtime.read_sessions() as read:
        accounts = {
            a.id: a for a in await load_accounts(read, principal, [t.account_id for t in live])
        }
    for target in live:
        account = accounts[target.account_id]
        reason = await _edit_on_platform(runtime, account, target, preview)
        if reason is not None:
            unsupported.append(
                {"accountId": account.id, "platform": account.platform, "reason": reason}
            )
    view = await _locked(session, principal.workspace_id, snapshot.post.id)
    view.post.content = preview.content
    view.post.options = options
    view.post.updated_at = utcnow()
    pending = [t for t in view.targets if t.status == TargetStatus.SCHEDULED]
    for target in pending:
        target.revision += 1  # the queued job would publish the old caption
        target.queued_at = utcnow()
    await session.flush()
    _queue_after_commit(session, runtime, pending)
    return _updated(view, unsupported=unsupported)


async def _edit_on_platform(
    runtime: Runtime, account: SocialAccount, target: PostTarget, post: Post
) -> str | None:
    """Edit one live post; the reason it could not be edited, or None."""
    caps = capabilities_for(account.platform, (account.settings or {}).get("persona"))
    if not caps.edit:
        return "the platform does not allow editing published posts"
    assert target.platform_post_id is not None
    adapter = adapter_for(runtime, account.platform)
    step = build_steps(target, post, account, {})[0]
    try:
        await adapter.edit(
            load_credentials(runtime, account), target.platform_post_id, step.outgoing
        )
    except PlatformError as error:
        return str(error)
    return None


async def publish_now(
    session: AsyncSession, runtime: Runtime, principal: Principal, post_id: str
) -> PostView:
    view = await _locked(session, principal.workspace_id, post_id)
    if view.post.status not in (PostStatus.DRAFT, PostStatus.SCHEDULED):
        raise errors.NotEditable(f"A {view.post.status} post cannot be published again.")
    now = utcnow()
    pending = [t for t in view.targets if t.status in (TargetStatus.DRAFT, TargetStatus.SCHEDULED)]
    for target in pending:
        target.status = TargetStatus.SCHEDULED
        target.scheduled_at = now
        target.next_attempt_at = None
        target.revision += 1
        target.queued_at = now
    view.post.scheduled_at = now
    await session.flush()
    await refresh_post_status(session, view.post)
    _queue_after_commit(session, runtime, pending)
    return PostView(post=view.post, targets=view.targets, immediate=True)


async def retry(
    session: AsyncSession, runtime: Runtime, workspace_id: str, post_id: str, options: RetryRequest
) -> PostView:
    view = await _locked(session, workspace_id, post_id)
    now = utcnow()
    chosen = [
        t
        for t in view.targets
        if t.status == TargetStatus.FAILED
        and (t.error_code != "outcome_unknown" or options.include_outcome_unknown)
    ]
    if not chosen:
        raise Conflict(
            "No failed targets to retry.",
            details={
                "outcomeUnknown": [t.id for t in view.targets if t.error_code == "outcome_unknown"]
            },
        )
    for target in chosen:
        if target.error_code == "outcome_unknown":
            progress = dict(target.progress or {})
            progress.pop("inflight", None)  # the user checked: send again
            target.progress = progress
        target.status = TargetStatus.SCHEDULED
        target.scheduled_at = now
        target.next_attempt_at = None
        target.attempts = 0
        target.revision += 1
        target.queued_at = now
    await session.flush()
    await refresh_post_status(session, view.post)
    _queue_after_commit(session, runtime, chosen)
    return PostView(post=view.post, targets=view.targets)


async def remove(
    session: AsyncSession, runtime: Runtime, workspace_id: str, post_id: str, *, keep_pending: bool
) -> PostRemoved:
    """DELETE (`keep_pending=False`): cancel what has not gone out and remove what has.
    Unpublish (`keep_pending=True`): only remove what is live.

    Platform deletes run before the write transaction, so no database lock is held
    across a platform call; the result is then recorded on the locked post."""
    async with runtime.read_sessions() as read:
        snapshot = await get(read, workspace_id, post_id)
        accounts = {
            a.id: a
            for a in (
                await read.execute(
                    select(SocialAccount).where(
                        SocialAccount.id.in_({t.account_id for t in snapshot.targets})
                    )
                )
            ).scalars()
        }
    if any(t.status == TargetStatus.PUBLISHING for t in snapshot.targets):
        raise errors.Publishing()
    outcomes: dict[str, str | None] = {}
    for target in snapshot.targets:
        live_ids = _live_ids(target) if target.status in LIVE_STATUSES else []
        if live_ids:
            outcomes[target.id] = await _delete_live(runtime, accounts[target.account_id], live_ids)
    view = await _locked(session, workspace_id, post_id)
    removed: list[str] = []
    manual: list[ManualRemoval] = []
    for target in view.targets:
        account = accounts.get(target.account_id)
        if target.id in outcomes:
            reason = outcomes[target.id]
            if reason is None:
                target.status = TargetStatus.CANCELED
                removed.append(target.platform)
            elif account is not None:
                manual.append(
                    ManualRemoval(account_id=account.id, platform=account.platform, reason=reason)
                )
        elif target.status == TargetStatus.PUBLISHING and account is not None:
            manual.append(
                ManualRemoval(
                    account_id=account.id,
                    platform=account.platform,
                    reason="it started publishing meanwhile; delete again once it settles",
                )
            )
        elif not keep_pending and target.status in (
            TargetStatus.DRAFT,
            TargetStatus.SCHEDULED,
            TargetStatus.FAILED,
        ):
            target.status = TargetStatus.CANCELED
            target.revision += 1
    await session.flush()
    await refresh_post_status(session, view.post)
    return PostRemoved(
        post_id=view.post.id, status=view.post.status, removed_from=removed, manual=manual
    )


LIVE_STATUSES = (TargetStatus.PUBLISHED, TargetStatus.FAILED)


def _live_ids(target: PostTarget) -> list[str]:
    """Platform ids this target created, newest first (comment, replies, then the post)."""
    steps = (target.progress or {}).get("steps", {})
    ordered = [steps["comment"]["id"]] if "comment" in steps else []
    segments = sorted(
        (k for k in steps if k.startswith("segment:")),
        key=lambda k: int(k.split(":")[1]),
        reverse=True,
    )
    ordered += [steps[k]["id"] for k in segments]
    main = steps.get("main", {}).get("id") or target.platform_post_id
    if main:
        ordered.append(main)
    return ordered


async def _delete_live(runtime: Runtime, account: SocialAccount, ids: list[str]) -> str | None:
    """Delete every id on the platform; the reason it could not, or None when done."""
    caps = capabilities_for(account.platform, (account.settings or {}).get("persona"))
    if not caps.delete:
        return "platform has no delete API"
    if account.disconnected_at is not None:
        return "the account is disconnected"
    adapter = adapter_for(runtime, account.platform)
    credentials = load_credentials(runtime, account)
    try:
        for platform_post_id in ids:
            await adapter.delete(credentials, platform_post_id)
    except PlatformError as error:
        return f"the platform refused the delete: {error}"
    return None
