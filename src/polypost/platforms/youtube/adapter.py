"""YouTube through the Data API v3: videos and Shorts (publishing.py), the first
comment, edit, delete, statistics, the channel's uploads, and quota awareness.

A YouTube "post" is a video; `postType: reel` publishes a Short (YouTube classifies
vertical or square videos of up to 3 minutes as Shorts itself, youtube.md §2). The
post text is the description; title, tags, category, privacy (`privacyStatus` or
`ytPrivacy`) and made-for-kids come from `platformOptions.youtube`; the post's cover
(`coverMediaId`) becomes the custom thumbnail.

Every call spends the Google project's daily quota (quota.py): `quotaExceeded` makes
the publish `rate_limited` until midnight Pacific time, and later calls of that day are
held back without being sent.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy.ext.asyncio import AsyncSession

from polypost.accounts.schemas import NativePost
from polypost.core.http import PlatformHttp
from polypost.core.pagination import Page, PageParams
from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.models import SocialAccount
from polypost.platforms.base import (
    Capabilities,
    Credentials,
    MediaKind,
    Outgoing,
    Permanent,
    Platform,
    PostMetrics,
    PostType,
    Published,
    TokenSet,
    Transient,
)
from polypost.platforms.capabilities import capabilities_for
from polypost.platforms.connect import Identity, OAuthSpec, refresh_with_spec
from polypost.platforms.credentials import load_credentials
from polypost.platforms.memo import StepMemo
from polypost.platforms.native import tracked_posts
from polypost.platforms.options import YouTubeOptions
from polypost.platforms.resources import PageOption, PageSelection, PublishingQuota
from polypost.platforms.youtube import oauth
from polypost.platforms.youtube.metadata import video_url
from polypost.platforms.youtube.publishing import (
    API,
    CHUNK_SIZE,
    POLL_DELAYS,
    THUMBNAIL_MAX_BYTES,
    THUMBNAIL_TYPES,
    UPLOAD_BUDGET_SECONDS,
    UPLOAD_RETRY_DELAYS,
    YouTubePublishing,
)
from polypost.platforms.youtube.quota import QuotaMeter
from polypost.posts.types import ProblemCode
from polypost.posts.validation import Problem, TargetDraft

CHANNEL_FIELDS = "snippet"
# Video ids are 11 URL-safe characters; comment ids are longer.
VIDEO_ID = re.compile(r"[A-Za-z0-9_-]{11}")
LIST_MAX = 50  # playlistItems.list maxResults 0-50
# videos.update replaces whole parts: only these fields of them are writable.
WRITABLE_SNIPPET = ("title", "description", "tags", "categoryId", "defaultLanguage")
WRITABLE_STATUS = (
    "privacyStatus",
    "embeddable",
    "license",
    "publicStatsViewable",
    "publishAt",
    "selfDeclaredMadeForKids",
    "containsSyntheticMedia",
)


def _count(value: Any) -> int | None:
    """Statistics arrive as strings (youtube.md §7)."""
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _parse_time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


class YouTubeAdapter(YouTubePublishing):
    platform: ClassVar[Platform] = Platform.YOUTUBE
    capabilities: ClassVar[Capabilities] = capabilities_for("youtube")
    recovery: ClassVar[str] = "lookup"
    dedup_window: ClassVar[timedelta | None] = None
    oauth: ClassVar[OAuthSpec] = oauth.OAUTH

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.http = PlatformHttp(runtime.http)
        self.memo = StepMemo(runtime, "youtube")
        self.now: Callable[[], datetime] = utcnow
        self.clock: Callable[[], float] = time.monotonic
        self.quota = QuotaMeter(runtime, self.memo, lambda: self.now())
        self.chunk_size = CHUNK_SIZE
        self.upload_budget = UPLOAD_BUDGET_SECONDS
        self.poll_delays = POLL_DELAYS
        self.upload_retry_delays = UPLOAD_RETRY_DELAYS

    # --- accounts ---------------------------------------------------------------------

    async def _channel(self, account: Credentials, part: str) -> dict[str, Any]:
        body = await self._json(
            account,
            "channels.list",
            "GET",
            f"{API}/channels",
            params={"part": part, "mine": "true"},
        )
        items = [i for i in body.get("items") or [] if isinstance(i, dict) and i.get("id")]
        if not items:
            raise Permanent(
                "The Google account has no YouTube channel; create one first",
                code="youtubeSignupRequired",
            )
        return items[0]

    @staticmethod
    def _channel_option(channel: dict[str, Any]) -> PageOption:
        snippet = channel.get("snippet") if isinstance(channel.get("snippet"), dict) else {}
        thumbnails = (snippet or {}).get("thumbnails") or {}
        picture = (thumbnails.get("default") or {}).get("url")
        return PageOption(
            id=str(channel["id"]),
            name=str((snippet or {}).get("title") or channel["id"]),
            username=(snippet or {}).get("customUrl"),
            picture_url=picture,
        )

    async def whoami(self, account: Credentials) -> Identity:
        """The channel the token belongs to (`channels.list?mine=true`, youtube.md §1)."""
        option = self._channel_option(await self._channel(account, CHANNEL_FIELDS))
        return Identity(
            external_id=option.id,
            handle=option.username,
            display_name=option.name,
            avatar_url=option.picture_url,
        )

    async def refresh(self, account: Credentials) -> TokenSet:
        """A new access token; Google keeps the refresh token (none is returned)."""
        return await refresh_with_spec(self.http, "youtube", self.oauth, account)

    async def list_pages(self, account: Credentials) -> list[PageOption]:
        """The channel posts go to: the one the user picked on Google's consent screen
        (a brand account's channel is picked there too)."""
        return [self._channel_option(await self._channel(account, CHANNEL_FIELDS))]

    async def select_page(self, account: Credentials, page_id: str) -> PageSelection:
        """Confirm the channel; another channel needs a new connect choosing it.

        Raises:
            Permanent: `page_not_found` for any other channel id.
        """
        page = self._channel_option(await self._channel(account, CHANNEL_FIELDS))
        if page.id != page_id:
            raise Permanent(
                f"Channel {page_id} is not the one this account authorized ({page.id}); "
                "reconnect and pick it on Google's consent screen",
                code="page_not_found",
            )
        settings = {
            "pageId": page.id,
            "pageName": page.name,
            "pageUsername": page.username,
            "pagePictureUrl": page.picture_url,
        }
        return PageSelection(page=page, settings=settings)

    async def publishing_quota(self, account: Credentials) -> PublishingQuota:
        """Today's estimated spend of the Google project's quota (quota.py)."""
        return await self.quota.usage(account)

    async def validate_account(self, account: SocialAccount, draft: TargetDraft) -> list[Problem]:
        """What YouTube refuses beyond the static limits: `<`/`>` in the description,
        a landscape Short, a thumbnail that is not a JPEG/PNG of ≤2 MB, and a
        `thumbnailMediaId` other than the post's cover."""
        options = draft.options if isinstance(draft.options, YouTubeOptions) else YouTubeOptions()
        found: list[Problem] = []

        def problem(code: ProblemCode, rule: str, message: str, **numbers: int | None) -> None:
            found.append(
                Problem(
                    code=code,
                    account_id=account.id,
                    platform=account.platform,
                    rule=rule,
                    limit=numbers.get("limit"),
                    actual=numbers.get("actual"),
                    message=f"youtube: {message}",
                )
            )

        if options.description is None and ("<" in draft.text or ">" in draft.text):
            problem(
                "content_invalid",
                "text_invalid_characters",
                "the description (the post text) cannot contain < or >.",
            )
        for item in draft.media:
            if (
                draft.post_type is PostType.REEL
                and item.kind is MediaKind.VIDEO
                and item.width
                and item.height
                and item.width > item.height
            ):
                problem(
                    "media_invalid",
                    "short_not_vertical",
                    f"a Short is vertical or square; video {item.id} is "
                    f"{item.width}x{item.height}.",
                )
        cover = draft.cover
        if options.thumbnail_media_id and (cover is None or cover.id != options.thumbnail_media_id):
            problem(
                "content_invalid",
                "thumbnail_media_id_unsupported",
                "send the thumbnail as coverMediaId (thumbnailMediaId must name the same media).",
            )
        if cover is not None:
            if cover.content_type.lower() not in THUMBNAIL_TYPES:
                problem(
                    "media_invalid",
                    "thumbnail_format_not_supported",
                    f"the thumbnail must be JPEG or PNG, not {cover.content_type}.",
                )
            if cover.size is not None and cover.size > THUMBNAIL_MAX_BYTES:
                problem(
                    "media_invalid",
                    "thumbnail_too_large",
                    f"the thumbnail is {cover.size} bytes; the limit is {THUMBNAIL_MAX_BYTES}.",
                    limit=THUMBNAIL_MAX_BYTES,
                    actual=cover.size,
                )
        return found

    # --- other operations -------------------------------------------------------------

    async def delete(self, account: Credentials, platform_post_id: str) -> None:
        """`videos.delete` (204), or `comments.delete` for a first comment (a comment
        thread's id is its top-level comment's); one already gone (404) counts as
        deleted."""
        is_video = VIDEO_ID.fullmatch(platform_post_id) is not None
        await self._call(
            account,
            "videos.delete" if is_video else "comments.delete",
            "DELETE",
            f"{API}/{'videos' if is_video else 'comments'}",
            params={"id": platform_post_id},
            ok_statuses=frozenset({404}),
        )

    async def edit(self, account: Credentials, platform_post_id: str, post: Outgoing) -> Published:
        """Replace the description (and the title, tags or privacy the options name).

        `videos.update` replaces whole parts, so the current ones are read first and
        sent back with the changes (youtube.md §5, §7).
        """
        body = await self._json(
            account,
            "videos.list",
            "GET",
            f"{API}/videos",
            params={"part": "snippet,status", "id": platform_post_id},
        )
        items = [i for i in body.get("items") or [] if isinstance(i, dict)]
        if not items:
            raise Permanent(f"YouTube has no video {platform_post_id}", code="videoNotFound")
        current = items[0]
        options = post.options if isinstance(post.options, YouTubeOptions) else YouTubeOptions()
        snippet = {k: v for k, v in (current.get("snippet") or {}).items() if k in WRITABLE_SNIPPET}
        snippet["description"] = (
            options.description if options.description is not None else post.text
        )
        if options.title:
            snippet["title"] = options.title
        if options.tags is not None:
            snippet["tags"] = list(options.tags)
        if options.category_id:
            snippet["categoryId"] = options.category_id
        resource: dict[str, Any] = {"id": platform_post_id, "snippet": snippet}
        parts = ["snippet"]
        privacy = options.privacy_status or options.yt_privacy
        if privacy or options.made_for_kids is not None:
            status = {
                k: v for k, v in (current.get("status") or {}).items() if k in WRITABLE_STATUS
            }
            if privacy:
                status["privacyStatus"] = privacy
            if options.made_for_kids is not None:
                status["selfDeclaredMadeForKids"] = options.made_for_kids
            resource["status"] = status
            parts.append("status")
        await self._call(
            account,
            "videos.update",
            "PUT",
            f"{API}/videos",
            params={"part": ",".join(parts)},
            json=resource,
        )
        return Published(id=platform_post_id, url=video_url(platform_post_id, post.post_type))

    async def metrics(self, account: Credentials, platform_post_id: str) -> PostMetrics:
        """`videos.list?part=statistics` (youtube.md §5)."""
        body = await self._json(
            account,
            "videos.list",
            "GET",
            f"{API}/videos",
            params={"part": "statistics", "id": platform_post_id},
        )
        items = [i for i in body.get("items") or [] if isinstance(i, dict)]
        if not items:
            raise Permanent(f"YouTube has no video {platform_post_id}", code="videoNotFound")
        stats = items[0].get("statistics") or {}
        return PostMetrics(
            collected_at=self.now(),
            likes=_count(stats.get("likeCount")),
            comments=_count(stats.get("commentCount")),
            views=_count(stats.get("viewCount")),
        )

    async def list_posts(
        self, runtime: Runtime, session: AsyncSession, account: SocialAccount, params: PageParams
    ) -> Page[NativePost]:
        """The channel's uploads playlist, newest first (`playlistItems.list`)."""
        credentials = load_credentials(runtime, account)
        channel = await self._channel(credentials, "contentDetails")
        related = (channel.get("contentDetails") or {}).get("relatedPlaylists") or {}
        uploads = related.get("uploads")
        if not uploads:
            raise Transient("YouTube answered without the channel's uploads playlist")
        query: dict[str, Any] = {
            "part": "snippet,contentDetails",
            "playlistId": uploads,
            "maxResults": min(LIST_MAX, params.limit),
        }
        if params.cursor:
            query["pageToken"] = params.cursor
        body = await self._json(
            credentials, "playlistItems.list", "GET", f"{API}/playlistItems", params=query
        )
        rows = []
        for item in body.get("items") or []:
            details = item.get("contentDetails") or {}
            snippet = item.get("snippet") or {}
            video_id = details.get("videoId") or (snippet.get("resourceId") or {}).get("videoId")
            if video_id:
                rows.append((str(video_id), snippet, details))
        tracked = await tracked_posts(session, account.id, [row[0] for row in rows])
        posts = [
            NativePost(
                platform_post_id=video_id,
                caption=snippet.get("title"),
                timestamp=_parse_time(details.get("videoPublishedAt") or snippet.get("publishedAt"))
                or self.now(),
                in_db=video_id in tracked,
                db_post_id=tracked.get(video_id),
            )
            for video_id, snippet, details in rows
        ]
        token = body.get("nextPageToken")
        return Page(items=posts, next_cursor=str(token) if token else None)
