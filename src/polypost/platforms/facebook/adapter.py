"""Facebook Pages through the Graph API (Pages, Video and Reels APIs).

An account is a Facebook user (long-lived user token, Facebook Login); posts go to the
Page chosen with `PATCH /v1/accounts/{id}/pages/{pageId}`, whose Page token is stored
encrypted in the account's settings. Post types (facebook.md §2): text and link/article
(`/feed`), one image (`/photos`), several images (unpublished photos attached to one
`/feed` post), video (`graph-video …/videos`, Meta pulls the file by URL), reel
(`/video_reels` start → rupload by URL → finish; also a video with
`platformOptions.facebook.asReel`) and story (photo or video).

Video processing never holds a worker: until the video reports ready, `publish` raises
`Pending("processing", state, retry_in)` and the job calls it again with `post.resume`;
past a deadline the publish fails as `processing_timeout`.

Facebook has no idempotency key. An interrupted publish is settled by lookup
(`recovery = "lookup"`): remembered progress (step memo) says which objects exist, a
reel's status says whether its finish call took effect, and otherwise the Page's recent
posts/videos are searched for the text. Stories cannot be looked up (facebook.md §7):
an interrupted story is reported as unknown rather than posted twice.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

import httpx
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
from polypost.platforms.facebook import pages, reading
from polypost.platforms.facebook.graph import LABEL, PageApi, published_or_publishing
from polypost.platforms.facebook.publishing import STATE_TTL, Kind, PageStep, kind_of, reel_url
from polypost.platforms.memo import StepMemo
from polypost.platforms.meta import errors
from polypost.platforms.meta import oauth as facebook_login
from polypost.platforms.meta.graph import (
    FACEBOOK_GRAPH,
    FACEBOOK_VIDEO_GRAPH,
    CommentPage,
    after_cursor,
    bearer,
    data,
    fingerprint,
    graph_version,
    insight_values,
    parse_time,
    same_text,
)
from polypost.platforms.native import tracked_posts
from polypost.platforms.resources import SECRET_SETTING, PageOption, PageSelection

# facebook.md §1: Postiz's permission set, plus comments (pages_read_user_engagement).
SCOPES = (
    "pages_show_list",
    "pages_manage_posts",
    "pages_read_engagement",
    "pages_manage_engagement",
    "pages_read_user_engagement",
    "read_insights",
    "business_management",
)
# Without these nothing can be published; the connect is refused when one was unticked.
REQUIRED_SCOPES = ("pages_show_list", "pages_manage_posts")
POLL_DELAYS = (
    timedelta(seconds=10),
    timedelta(seconds=20),
    timedelta(seconds=30),
    timedelta(seconds=60),
)
# facebook.md §7: reels outside 3-90 s fail in processing, which takes minutes.
VIDEO_DEADLINE = timedelta(minutes=30)
LOOKUP_WINDOW = timedelta(hours=24)
LOOKUP_SKEW = timedelta(minutes=2)


class FacebookAdapter:
    platform: ClassVar[Platform] = Platform.FACEBOOK
    capabilities: ClassVar[Capabilities] = capabilities_for("facebook")
    recovery: ClassVar[str] = "lookup"
    dedup_window: ClassVar[timedelta | None] = None

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.http = PlatformHttp(runtime.http)
        self.memo = StepMemo(runtime, "facebook")
        self.version = graph_version(runtime)
        self.api = f"{FACEBOOK_GRAPH}/{self.version}"
        self.oauth = OAuthSpec(
            authorize_url=facebook_login.authorize_url(self.version),
            token_url=facebook_login.token_url(self.version),
            scopes=SCOPES,
            scope_separator=",",
            pkce=False,
            client_auth="body",
        )
        self.now = utcnow
        self.poll_delays: tuple[timedelta, ...] = POLL_DELAYS
        self.video_deadline = VIDEO_DEADLINE

    def classify(self, response: httpx.Response) -> PlatformError:
        """Graph errors and usage headers (facebook.md §6; platforms/meta/errors.py)."""
        return errors.classify(response, LABEL)

    # --- helpers ----------------------------------------------------------------------

    def page(self, account: Credentials) -> PageApi:
        """Calls as the account's selected Page.

        Raises:
            Permanent: `page_not_selected`.
            AuthExpired: the stored Page token cannot be decrypted (select it again).
        """
        page_id = account.settings.get("pageId")
        secret = account.settings.get(SECRET_SETTING)
        if not page_id or not isinstance(secret, str):
            raise Permanent(
                "Choose the Facebook Page to post to first "
                "(PATCH /v1/accounts/{id}/pages/{pageId})",
                code="page_not_selected",
            )
        try:
            token = self.runtime.cipher.decrypt(secret)
        except ValueError as exc:
            raise AuthExpired(
                "The stored Page token cannot be read; select the Page again",
                code="page_token_invalid",
            ) from exc
        return PageApi(
            http=self.http,
            classifier=self,
            api=self.api,
            video_api=f"{FACEBOOK_VIDEO_GRAPH}/{self.version}",
            page_id=str(page_id),
            token=token,
        )

    def _key(self, account: Credentials, post: Outgoing) -> str:
        return f"{account.account_id}:{post.key}:{fingerprint(post)}"

    # --- publishing -------------------------------------------------------------------

    async def publish(self, account: Credentials, post: Outgoing) -> Published:
        """One Page post of any supported type (facebook/publishing.py)."""
        if post.reply_to is not None:
            raise Permanent("Facebook Pages have no reply chains", code="unsupported")
        page = self.page(account)
        key = self._key(account, post)
        state: dict[str, Any] = dict(post.resume or {}) or (await self.memo.get(key) or {})
        done = state.get("published")
        if isinstance(done, dict) and done.get("id"):
            return Published(id=str(done["id"]), url=done.get("url"))
        step = PageStep(
            runtime=self.runtime,
            memo=self.memo,
            page=page,
            post=post,
            key=key,
            state=state,
            now=self.now,
            poll_delays=self.poll_delays,
            video_deadline=self.video_deadline,
            version=self.version,
        )
        published = await step.run()
        try:
            await self.memo.put(
                key, {**state, "published": {"id": published.id, "url": published.url}}, STATE_TTL
            )
        except Exception:  # the post is out; a lost note only costs a lookup later
            return published
        return published

    async def comment(self, account: Credentials, post: Outgoing) -> Published:
        """The first comment, as the Page (facebook.md §2)."""
        if post.reply_to is None:
            raise Permanent("A first comment needs the post it belongs to", code="invalid_request")
        page = self.page(account)
        answer = await page.post(f"{post.reply_to.id}/comments", data={"message": post.text})
        if not answer.get("id"):
            raise Transient("Facebook commented without returning the comment id", maybe_sent=True)
        return Published(id=str(answer["id"]))

    # --- recovery ---------------------------------------------------------------------

    async def find_published(self, account: Credentials, post: Outgoing) -> Published | None:
        page = self.page(account)
        if post.reply_to is not None:
            return await self._find_comment(page, post)
        key = self._key(account, post)
        state = await self.memo.get(key) or {}
        done = state.get("published")
        if isinstance(done, dict) and done.get("id"):
            return Published(id=str(done["id"]), url=done.get("url"))
        kind = kind_of(post)
        if kind == "story":
            raise Permanent(
                "Facebook stories cannot be looked up after an interrupted publish",
                code="unsupported",
            )
        video_id = state.get("video")
        if kind == "reel" and video_id:
            body = await page.get(str(video_id), {"fields": "status"})
            if not published_or_publishing(body):
                return None  # the finish call never took effect
            return Published(id=str(video_id), url=reel_url(str(video_id)))
        if kind == "video" and video_id:
            # The upload call answered, so the video post exists.
            return Published(id=str(video_id), url=await page.permalink(str(video_id)))
        if kind == "reel" and state:
            return None  # an upload session without its finish publishes nothing
        return await self._lookup(page, post, kind)

    async def _lookup(self, page: PageApi, post: Outgoing, kind: Kind) -> Published | None:
        """The Page's recent post (or video) with this step's text.

        Raises:
            Permanent: `unsupported`, the post has no text to recognise it by.
        """
        if not post.text.strip():
            raise Permanent("This Facebook post has no text to recognise it by", code="unsupported")
        video = kind in ("video", "reel")
        edge = {"video": "videos", "reel": "video_reels"}.get(kind, "posts")
        fields = reading.VIDEO_FIELDS if video else reading.POST_FIELDS
        body = await page.get(f"{page.page_id}/{edge}", {"fields": fields, "limit": 25})
        since = self.now() - LOOKUP_WINDOW - LOOKUP_SKEW
        return reading.matching_post(body, post.text, since, video=video)

    async def _find_comment(self, page: PageApi, post: Outgoing) -> Published | None:
        assert post.reply_to is not None
        found = await self._comments(page, post.reply_to.id, None, 50)
        for comment in found.comments:
            if comment.author_id == page.page_id and same_text(comment.text, post.text):
                return Published(id=comment.id)
        return None

    # --- other operations -------------------------------------------------------------

    async def delete(self, account: Credentials, platform_post_id: str) -> None:
        """`DELETE /{post-id}` (or the video id); already gone counts as deleted."""
        page = self.page(account)
        try:
            await self.http.request(
                self, "DELETE", f"{self.api}/{platform_post_id}", headers=page.headers
            )
        except Permanent as exc:
            if exc.code != errors.MISSING_OBJECT:
                raise

    async def edit(self, account: Credentials, platform_post_id: str, post: Outgoing) -> Published:
        """New text for a post created through the API (`message`), or a video's
        `description`; media cannot be replaced (facebook.md §5)."""
        page = self.page(account)
        field = "message" if reading.is_post_id(platform_post_id) else "description"
        await page.post(platform_post_id, data={field: post.text})
        return Published(id=platform_post_id, url=await page.permalink(platform_post_id))

    async def metrics(self, account: Credentials, platform_post_id: str) -> PostMetrics:
        """Reactions, comments and shares, plus insights where the Page has them
        (insights need ≥100 Page likes and may lag; their absence is not an error)."""
        page = self.page(account)
        if reading.is_post_id(platform_post_id):
            counters = await page.get(platform_post_id, {"fields": reading.POST_COUNTERS})
            insights = await self._insights(
                page, f"{platform_post_id}/insights", reading.POST_INSIGHTS
            )
            return reading.post_metrics(counters, insights)
        counters = await page.get(platform_post_id, {"fields": reading.VIDEO_COUNTERS})
        insights = await self._insights(
            page, f"{platform_post_id}/video_insights", reading.VIDEO_INSIGHTS
        )
        return reading.video_metrics(counters, insights)

    async def _insights(self, page: PageApi, path: str, metrics: str) -> dict[str, int]:
        try:
            return insight_values(await page.get(path, {"metric": metrics}))
        except Permanent:
            return {}

    async def _comments(
        self, page: PageApi, object_id: str, cursor: str | None, limit: int
    ) -> CommentPage:
        params: dict[str, Any] = {
            "fields": reading.COMMENT_FIELDS,
            "filter": "stream",
            "order": "reverse_chronological",
            "limit": limit,
        }
        if cursor:
            params["after"] = cursor
        return reading.comments_page(await page.get(f"{object_id}/comments", params))

    async def list_comments(
        self, account: Credentials, post_id: str, cursor: str | None = None, limit: int = 25
    ) -> CommentPage:
        """Comments under one post, newest first (facebook.md §5)."""
        return await self._comments(self.page(account), post_id, cursor, limit)

    async def list_posts(
        self, runtime: Runtime, session: AsyncSession, account: SocialAccount, params: PageParams
    ) -> Page[NativePost]:
        """The selected Page's posts (`GET /{page-id}/posts`), newest first."""
        page = self.page(load_credentials(runtime, account))
        query: dict[str, Any] = {"fields": reading.POST_FIELDS, "limit": params.limit}
        if params.cursor:
            query["after"] = params.cursor
        body = await page.get(f"{page.page_id}/posts", query)
        items = [i for i in data(body) if i.get("id")]
        tracked = await tracked_posts(session, account.id, [str(i["id"]) for i in items])
        posts = [
            NativePost(
                platform_post_id=str(item["id"]),
                caption=item.get("message"),
                timestamp=parse_time(item.get("created_time")) or utcnow(),
                in_db=str(item["id"]) in tracked,
                db_post_id=tracked.get(str(item["id"])),
            )
            for item in items
        ]
        return Page(items=posts, next_cursor=after_cursor(body))

    # --- accounts ---------------------------------------------------------------------

    async def list_pages(self, account: Credentials) -> list[PageOption]:
        """The Pages the user granted (`GET /v1/accounts/{id}/pages`)."""
        return await pages.list_pages(self.http, self, self.api, account.access_token)

    async def select_page(self, account: Credentials, page_id: str) -> PageSelection:
        """The chosen Page and its Page token (`PATCH /v1/accounts/{id}/pages/{pageId}`)."""
        return await pages.select_page(self.http, self, self.api, account.access_token, page_id)

    async def whoami(self, account: Credentials) -> Identity:
        body = await self.http.json(
            self,
            "GET",
            f"{self.api}/me",
            params={"fields": "id,name,picture"},
            headers=bearer(account.access_token, LABEL),
        )
        if not isinstance(body, dict) or not body.get("id"):
            raise Transient("Facebook answered /me without a user id")
        picture = body.get("picture") if isinstance(body.get("picture"), dict) else {}
        inner = (picture or {}).get("data")
        return Identity(
            external_id=str(body["id"]),
            display_name=body.get("name"),
            avatar_url=inner.get("url") if isinstance(inner, dict) else None,
        )

    async def exchange_code(
        self, spec_app: AppCredentials, code: str, redirect_uri: str, code_verifier: str | None
    ) -> TokenSet:
        """Code → short-lived → long-lived user token, refused when a permission Polypost
        needs was unticked in the dialog (facebook.md §1)."""
        tokens = await facebook_login.exchange_code(
            self.http, self, self.version, spec_app, code, redirect_uri, LABEL
        )
        granted = await facebook_login.granted_permissions(
            self.http, self, self.version, tokens.access_token, LABEL
        )
        facebook_login.require_permissions(granted, REQUIRED_SCOPES, LABEL)
        return TokenSet(
            access_token=tokens.access_token, expires_at=tokens.expires_at, scopes=granted
        )

    async def revoke(self, account: Credentials) -> None:
        """After a disconnect: withdraw the app's permissions (`DELETE /me/permissions`),
        which also ends the Page tokens it issued."""
        await self.http.request(
            self,
            "DELETE",
            f"{self.api}/me/permissions",
            headers=bearer(account.access_token, LABEL),
        )

    async def refresh(self, account: Credentials) -> TokenSet:
        """A new long-lived user token for the current one (`fb_exchange_token`); the
        Page token keeps working either way.

        Raises:
            AuthExpired: the user token is already expired or revoked.
        """
        if not account.access_token:
            raise AuthExpired("The Facebook account has no access token", code="190")
        return await facebook_login.extend(
            self.http, self, self.version, account.app, account.access_token, LABEL
        )
