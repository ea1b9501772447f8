"""TikTok through the Content Posting API: Direct Post of a video or a photo carousel,
inbox drafts and status polling to the final post id (publishing.py), creator info and
the account-aware validation it drives, the account's own videos and their metrics.

Edit, delete and comments are not in TikTok's public API (tiktok.md §5).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy.ext.asyncio import AsyncSession

from polypost.accounts.schemas import NativePost
from polypost.core.http import PlatformHttp
from polypost.core.pagination import Page, PageParams
from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.models import SocialAccount
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
    TokenSet,
    Transient,
)
from polypost.platforms.capabilities import capabilities_for
from polypost.platforms.connect import AppCredentials, Identity, OAuthSpec
from polypost.platforms.credentials import load_credentials
from polypost.platforms.memo import StepMemo
from polypost.platforms.native import tracked_posts
from polypost.platforms.tiktok import errors, oauth
from polypost.platforms.tiktok.bodies import CHUNK_SIZE
from polypost.platforms.tiktok.creator import (
    CreatorInfo,
    creator_violations,
    is_photo,
    media_violations,
    option_violations,
    options_of,
)
from polypost.platforms.tiktok.publishing import (
    API,
    POLL_DELAYS,
    UPLOAD_BUDGET_SECONDS,
    UPLOAD_RETRY_DELAYS,
    TikTokPublishing,
    is_publish_id,
)
from polypost.posts.validation import Problem, TargetDraft

logger = logging.getLogger(__name__)

USER_INFO_URL = f"{API}/v2/user/info/"
VIDEO_LIST_URL = f"{API}/v2/video/list/"
VIDEO_QUERY_URL = f"{API}/v2/video/query/"
USER_FIELDS = "open_id,union_id,avatar_url,display_name,username"
LIST_FIELDS = "id,title,video_description,create_time,share_url"
METRIC_FIELDS = "id,view_count,like_count,comment_count,share_count"
VALIDATION_TIMEOUT_SECONDS = 5.0
LIST_MAX = 20  # tiktok.md §5 video/list "≤20 per page"


class TikTokAdapter(TikTokPublishing):
    platform: ClassVar[Platform] = Platform.TIKTOK
    capabilities: ClassVar[Capabilities] = capabilities_for("tiktok")
    recovery: ClassVar[str] = "lookup"
    dedup_window: ClassVar[timedelta | None] = None
    oauth: ClassVar[OAuthSpec] = oauth.OAUTH

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.http = PlatformHttp(runtime.http)
        self.memo = StepMemo(runtime, "tiktok")
        self.now: Callable[[], datetime] = utcnow
        self.clock: Callable[[], float] = time.monotonic
        self.chunk_size = CHUNK_SIZE
        self.upload_budget = UPLOAD_BUDGET_SECONDS
        self.poll_delays: tuple[timedelta, ...] = POLL_DELAYS
        self.upload_retry_delays: tuple[timedelta, ...] = UPLOAD_RETRY_DELAYS

    # --- accounts ---------------------------------------------------------------------

    async def whoami(self, account: Credentials) -> Identity:
        raw = await self.http.json(
            self,
            "GET",
            USER_INFO_URL,
            params={"fields": USER_FIELDS},
            headers=self._auth(account),
        )
        user = errors.checked(raw).get("user")
        if not isinstance(user, dict) or not user.get("open_id"):
            raise Transient("TikTok answered /v2/user/info/ without a user")
        return Identity(
            external_id=str(user["open_id"]),
            handle=user.get("username"),
            display_name=user.get("display_name"),
            avatar_url=user.get("avatar_url"),
        )

    async def exchange_code(
        self, spec_app: AppCredentials, code: str, redirect_uri: str, code_verifier: str | None
    ) -> TokenSet:
        """Code → tokens with `client_key` and the client secret in the form."""
        form = {"code": code, "grant_type": "authorization_code", "redirect_uri": redirect_uri}
        if code_verifier:
            form["code_verifier"] = code_verifier
        return await oauth.request_tokens(self.http, spec_app, form, refreshing=False)

    async def refresh(self, account: Credentials) -> TokenSet:
        """A new token pair; TikTok rotates the refresh token (store the new one).

        Raises:
            AuthExpired: no refresh token, or TikTok refused it (`invalid_grant`).
        """
        if not account.refresh_token:
            raise AuthExpired("The TikTok account has no refresh token", code="no_refresh_token")
        if account.app is None:
            raise Permanent(
                "No TikTok developer app credentials are configured", code="credentials_missing"
            )
        form = {"grant_type": "refresh_token", "refresh_token": account.refresh_token}
        return await oauth.request_tokens(self.http, account.app, form, refreshing=True)

    async def warm_account(self, account: SocialAccount) -> None:
        """Fetch the creator's settings `validate_account` checks, before the post's
        write transaction starts (posts/drafts.py `warm_account_checks`). Kept for a few
        minutes; a fetch that fails leaves the static checks (publishing asks again)."""
        credentials = load_credentials(self.runtime, account)
        if await self._known_creator_info(credentials) is not None:
            return
        try:
            await self.creator_info(credentials, time_limit=VALIDATION_TIMEOUT_SECONDS)
        except PlatformError as error:
            logger.info(
                "TikTok creator info unavailable while validating",
                extra={"accountId": account.id, "kind": error.kind, "code": error.code},
            )

    async def _known_creator_info(self, account: Credentials) -> CreatorInfo | None:
        cached = await self.memo.get(f"creator:{account.account_id}")
        return CreatorInfo.from_data(cached) if cached is not None else None

    async def validate_account(self, account: SocialAccount, draft: TargetDraft) -> list[Problem]:
        """The account-aware checks of a post (posts/drafts.py calls this): a privacy
        level the creator may use, toggles the creator left on, the creator's maximum
        video length (from the settings `warm_account` fetched), and TikTok's photo and
        video dimensions. No platform call is made here."""
        options = options_of(draft.options)
        media = list(draft.media)
        photo = is_photo(draft.post_type, media)
        found = option_violations(options, photo) + media_violations(draft.post_type, media)
        if media:
            info = await self._known_creator_info(load_credentials(self.runtime, account))
            if info is not None:
                found += creator_violations(info, options, media, photo)
        return [
            Problem(
                code=v.code,
                account_id=account.id,
                platform=account.platform,
                rule=v.rule,
                limit=v.limit,
                actual=v.actual,
                message=f"tiktok: {v.message}",
            )
            for v in found
        ]

    # --- other operations -------------------------------------------------------------

    async def delete(self, account: Credentials, platform_post_id: str) -> None:
        raise Permanent("TikTok's API cannot delete posts", code="unsupported")

    async def edit(self, account: Credentials, platform_post_id: str, post: Outgoing) -> Published:
        raise Permanent("TikTok's API cannot edit posts", code="unsupported")

    async def _post_id(self, account: Credentials, platform_post_id: str) -> str:
        """The public post id; a publish id is resolved through `status/fetch`."""
        if not is_publish_id(platform_post_id):
            return platform_post_id
        status = await self._status(account, platform_post_id)
        ids = [str(i) for i in status.get("publicaly_available_post_id") or [] if i]
        if not ids:
            raise Permanent(
                "TikTok has not made this post public (yet); it has no metrics",
                code="not_available",
            )
        return ids[0]

    async def metrics(self, account: Credentials, platform_post_id: str) -> PostMetrics:
        """`POST /v2/video/query/` for one video (tiktok.md §5)."""
        post_id = await self._post_id(account, platform_post_id)
        data = await self._post(
            account,
            VIDEO_QUERY_URL,
            {"filters": {"video_ids": [post_id]}},
            params={"fields": METRIC_FIELDS},
            query=True,
        )
        videos = [v for v in data.get("videos") or [] if isinstance(v, dict)]
        if not videos:
            raise Permanent(f"TikTok has no video {post_id} for this account", code="not_found")
        video = videos[0]

        def count(name: str) -> int | None:
            value = video.get(name)
            return int(value) if isinstance(value, int) else None

        return PostMetrics(
            collected_at=self.now(),
            likes=count("like_count"),
            comments=count("comment_count"),
            shares=count("share_count"),
            views=count("view_count"),
        )

    async def list_posts(
        self, runtime: Runtime, session: AsyncSession, account: SocialAccount, params: PageParams
    ) -> Page[NativePost]:
        """`POST /v2/video/list/`, newest first; TikTok's own cursor is ours."""
        credentials = load_credentials(runtime, account)
        body: dict[str, Any] = {"max_count": min(LIST_MAX, params.limit)}
        if params.cursor:
            if not params.cursor.isdigit():
                raise Permanent("Invalid TikTok cursor", code="invalid_cursor")
            body["cursor"] = int(params.cursor)
        data = await self._post(
            credentials, VIDEO_LIST_URL, body, params={"fields": LIST_FIELDS}, query=True
        )
        videos = [v for v in data.get("videos") or [] if isinstance(v, dict) and v.get("id")]
        tracked = await tracked_posts(session, account.id, [str(v["id"]) for v in videos])
        posts = []
        for video in videos:
            video_id = str(video["id"])
            created = video.get("create_time")
            posts.append(
                NativePost(
                    platform_post_id=video_id,
                    caption=video.get("title") or video.get("video_description"),
                    timestamp=(
                        datetime.fromtimestamp(int(created), UTC)
                        if isinstance(created, int)
                        else self.now()
                    ),
                    in_db=video_id in tracked,
                    db_post_id=tracked.get(video_id),
                )
            )
        cursor = data.get("cursor")
        more = bool(data.get("has_more")) and cursor is not None
        return Page(items=posts, next_cursor=str(cursor) if more else None)
