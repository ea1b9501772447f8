"""Checking a post body against every target before anything is stored.

Resolves accounts and media (workspace-scoped: another workspace's id is "not found"),
parses the strict `platformOptions`, settles the post type, and runs each target
through its platform's capabilities. Create, update, validate and import share it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.accounts.tokens import renewable
from polypost.auth.principal import Principal
from polypost.core.errors import BadRequest, Forbidden, NotFound
from polypost.core.runtime import Runtime
from polypost.core.timeutil import isoformat, utcnow
from polypost.models import AccountStatus, Media, MediaStatus, SocialAccount, Workspace
from polypost.platforms.base import Article, MediaInfo, Platform, Poll, PostType, Segment
from polypost.platforms.capabilities import capabilities_for
from polypost.platforms.registry import PlatformUnavailable, adapter_for
from polypost.posts import errors
from polypost.posts.outgoing import media_info, per_platform
from polypost.posts.schemas import PostFields
from polypost.posts.timing import is_immediate, resolve_time
from polypost.posts.types import detect_post_type
from polypost.posts.validation import (
    Problem,
    TargetDraft,
    problems_to_details,
    validate_target,
)

# Fields kept in `posts.options` (everything but the columns and the start state).
OPTION_FIELDS = (
    "platform_content",
    "platform_schedules",
    "platform_options",
    "thread",
    "article",
    "link",
    "cover_media_id",
    "cover_offset_ms",
    "document_title",
    "first_comment",
    "poll",
    "alt_text",
)


@dataclass
class Prepared:
    post_type: PostType
    accounts: list[SocialAccount]
    media: dict[str, Media]
    options: dict[str, Any]
    targets: list[dict[str, Any]] = field(default_factory=list)


def _field_error(field_name: str, message: str) -> BadRequest:
    return BadRequest(message, details={"fields": [{"field": field_name, "message": message}]})


def _check_platform_keys(name: str, mapping: dict[str, Any] | None) -> None:
    for key in mapping or {}:
        try:
            Platform(key)
        except ValueError:
            raise _field_error(f"{name}.{key}", f"Unknown platform '{key}' in {name}.") from None


def parse_options(raw: dict[str, Any] | None) -> dict[str, Any]:
    """Strict platformOptions: an unknown platform or option is a 400 naming it."""
    if not raw:
        return {}
    from polypost.platforms.options import PlatformOptionsError, parse_platform_options

    try:
        return dict(parse_platform_options(raw))
    except PlatformOptionsError as exc:
        raise _field_error(f"platformOptions.{exc.path}", str(exc)) from None


async def load_accounts(
    session: AsyncSession, principal: Principal, account_ids: Sequence[str]
) -> list[SocialAccount]:
    rows = await session.execute(
        select(SocialAccount).where(
            SocialAccount.workspace_id == principal.workspace_id,
            SocialAccount.id.in_(account_ids),
            SocialAccount.disconnected_at.is_(None),
        )
    )
    found = {account.id: account for account in rows.scalars()}
    missing = [i for i in account_ids if i not in found]
    if missing:
        raise NotFound(
            "An account in accountIds is not in this workspace.",
            details={"accountIds": missing},
        )
    if principal.is_test:
        live = [i for i in account_ids if found[i].platform != Platform.SANDBOX]
        if live:
            raise Forbidden(
                "sk_test_ keys may only target sandbox accounts.", details={"accountIds": live}
            )
    return [found[i] for i in account_ids]


def referenced_media_ids(body: PostFields) -> list[str]:
    ids = list(body.media_ids or [])
    for segment in body.thread or []:
        ids.extend(segment.media_ids)
    if body.cover_media_id:
        ids.append(body.cover_media_id)
    return list(dict.fromkeys(ids))


async def load_media(
    session: AsyncSession, workspace_id: str, media_ids: Sequence[str]
) -> dict[str, Media]:
    if not media_ids:
        return {}
    rows = await session.execute(
        select(Media).where(Media.workspace_id == workspace_id, Media.id.in_(media_ids))
    )
    found = {m.id: m for m in rows.scalars()}
    missing = [i for i in media_ids if i not in found]
    if missing:
        raise NotFound("A media id is not in this workspace.", details={"mediaIds": missing})
    unusable = [i for i in media_ids if found[i].status != MediaStatus.UPLOADED]
    if unusable:
        raise errors.MediaInvalid(
            "Media must be uploaded and verified (POST /v1/media/{id}/complete) first.",
            details={"mediaIds": unusable, "statuses": {i: found[i].status for i in unusable}},
        )
    return found


def options_of(body: PostFields) -> dict[str, Any]:
    dumped = body.model_dump(
        mode="json", by_alias=True, include=set(OPTION_FIELDS), exclude_none=True
    )
    return {k: v for k, v in dumped.items() if v not in ({}, [])}


async def prepare(
    session: AsyncSession,
    principal: Principal,
    body: PostFields,
    account_ids: Sequence[str],
    runtime: Runtime | None = None,
) -> Prepared:
    """Everything create/update need, or the 400/403/404/422 that explains why not.

    With `runtime`, adapters that check a post against the account itself (a TikTok
    creator's privacy options, a Pinterest board) are asked too (`account_problems`).
    """
    _check_platform_keys("platformContent", body.platform_content)
    _check_platform_keys("platformSchedules", body.platform_schedules)
    parsed_options = parse_options(body.platform_options)
    accounts = await load_accounts(session, principal, account_ids)
    media = await load_media(session, principal.workspace_id, referenced_media_ids(body))
    main_media = [media_info(media[i]) for i in body.media_ids or []]
    post_type = (
        PostType(body.post_type)
        if body.post_type
        else detect_post_type(main_media, body.thread, body.article, body.poll, body.link)
    )
    if body.alt_text:
        unknown = sorted(set(body.alt_text) - set(media))
        if unknown:
            raise _field_error("altText", f"altText names media not attached: {unknown}")
    prepared = Prepared(post_type, accounts, media, options_of(body))
    problems = await token_problems(session, principal.workspace_id, body, accounts)
    for account in accounts:
        draft = build_draft(body, parsed_options, account, post_type, media, main_media)
        persona = (account.settings or {}).get("persona")
        caps = capabilities_for(account.platform, persona)
        problems.extend(validate_target(draft, caps))
        if runtime is not None:
            problems.extend(await account_problems(runtime, account, draft))
        prepared.targets.append(
            {
                "accountId": account.id,
                "platform": account.platform,
                "persona": persona,
                "postType": str(post_type),
                "textLength": caps.count_text(draft.text),
                "textLimit": caps.text_limit_for(post_type),
            }
        )
    if problems:
        code, details = problems_to_details(problems)
        raise errors.ERRORS_BY_CODE[code](
            "The post does not fit every target: see details.targets.", details=details
        )
    return prepared


async def warm_account_checks(
    runtime: Runtime, session: AsyncSession, workspace_id: str, account_ids: Sequence[str]
) -> None:
    """Let adapters fetch what their `validate_account` checks (a TikTok creator's
    settings) through the optional `warm_account(account)` hook, before `session`
    starts its transaction: platform calls never run inside a write transaction. A
    session already in one (a bulk import's later rows) skips this; the checks then use
    what earlier fetches cached."""
    if not account_ids or session.in_transaction():
        return
    async with runtime.read_sessions() as read:
        rows = await read.execute(
            select(SocialAccount).where(
                SocialAccount.workspace_id == workspace_id,
                SocialAccount.id.in_(account_ids),
                SocialAccount.disconnected_at.is_(None),
            )
        )
        accounts = list(rows.scalars())
    for account in accounts:
        try:
            adapter = adapter_for(runtime, account.platform)
        except PlatformUnavailable:
            continue
        warm = getattr(adapter, "warm_account", None)
        if warm is not None:
            await warm(account)


async def account_problems(
    runtime: Runtime, account: SocialAccount, draft: TargetDraft
) -> list[Problem]:
    """The adapter's optional `validate_account(account, draft) -> list[Problem]`: rules
    that depend on the account (fetched beforehand by `warm_account_checks`), beyond
    static capabilities. It makes no platform call itself."""
    try:
        adapter = adapter_for(runtime, account.platform)
    except PlatformUnavailable:
        return []
    hook = getattr(adapter, "validate_account", None)
    if hook is None:
        return []
    found: list[Problem] = await hook(account, draft)
    return found


def build_draft(
    body: PostFields,
    parsed_options: dict[str, Any],
    account: SocialAccount,
    post_type: PostType,
    media: dict[str, Media],
    main_media: list[MediaInfo],
) -> TargetDraft:
    text = per_platform(body.platform_content, account)
    if text is None:
        text = body.content or ""
    return TargetDraft(
        account_id=account.id,
        platform=account.platform,
        persona=(account.settings or {}).get("persona"),
        post_type=post_type,
        text=text,
        media=tuple(main_media),
        thread=tuple(
            Segment(text=segment.text, media=tuple(media_info(media[i]) for i in segment.media_ids))
            for segment in body.thread or []
        ),
        link=body.link,
        article=Article(**body.article.model_dump()) if body.article else None,
        first_comment=body.first_comment,
        poll=(
            Poll(options=tuple(body.poll.options), duration_minutes=body.poll.duration_minutes)
            if body.poll
            else None
        ),
        options=per_platform(parsed_options, account),
        cover=media_info(media[body.cover_media_id]) if body.cover_media_id else None,
        alt_texts=dict(body.alt_text or {}),
    )


async def token_problems(
    session: AsyncSession, workspace_id: str, body: PostFields, accounts: list[SocialAccount]
) -> list[Problem]:
    """Targets whose account cannot hold a valid token at its publish time: an expired
    or revoked account, or a token that expires before then and cannot be renewed (no
    refresh token, and not a self-renewing long-lived token).

    Refused up front (422 `content_invalid`, rules `account_expired` and
    `token_expires_before_publish`) rather than failing later. Drafts have no publish
    time and are not checked until they are scheduled.
    """
    if body.draft:
        return []
    now = utcnow()
    problems: list[Problem] = []
    timezone: str | None = None
    for account in accounts:
        if account.status in (AccountStatus.EXPIRED, AccountStatus.REVOKED):
            problems.append(
                _token_problem(
                    account,
                    "account_expired",
                    f"The {account.platform} account is {account.status}: reconnect it "
                    "(POST /v1/accounts/connect) before scheduling to it.",
                )
            )
            continue
        expires = account.token_expires_at
        if expires is None or renewable(account.platform, account.refresh_token_enc is not None):
            continue
        if timezone is None:
            workspace = await session.get(Workspace, workspace_id)
            timezone = workspace.timezone if workspace else "UTC"
        when = publish_time(body, account, timezone, now)
        if when >= expires:
            problems.append(
                _token_problem(
                    account,
                    "token_expires_before_publish",
                    f"The {account.platform} account's token expires at "
                    f"{isoformat(expires)}, before this target publishes "
                    f"({isoformat(when)}), and cannot be renewed: reconnect the account or "
                    "publish earlier.",
                )
            )
    return problems


def publish_time(
    body: PostFields, account: SocialAccount, timezone: str, now: datetime
) -> datetime:
    """When this account's target would publish (posts/service.py `_schedule` rules)."""
    own = per_platform(body.platform_schedules, account)
    if own is not None:
        when = resolve_time(own, timezone)
    elif body.scheduled_at is not None and not body.publish_now:
        when = resolve_time(body.scheduled_at, timezone)
    else:
        return now
    return now if is_immediate(when, now) else when


def _token_problem(account: SocialAccount, rule: str, message: str) -> Problem:
    return Problem(
        code="content_invalid",
        account_id=account.id,
        platform=account.platform,
        rule=rule,
        limit=None,
        actual=None,
        message=message,
    )
