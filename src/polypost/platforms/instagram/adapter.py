"""Instagram through the Graph API: Instagram Login (graph.instagram.com, the way
Polypost connects accounts) or Facebook Login (graph.facebook.com, a Facebook user token
of a Page-linked business account; settings `login: facebook`, or told by the token).

Publishing is container(s) → FINISHED → `media_publish` (instagram.md §2). Waiting never
holds a worker: a container still IN_PROGRESS raises `Pending("processing", state,
retry_in)`, the job parks the target and calls `publish` again with `post.resume` set to
that state (container ids, the children already finished, a deadline). Past the
deadline the publish fails as `processing_timeout`. The state is also kept in the step
memo (platforms/memo.py), so an attempt that ended with an error resumes with the same
containers instead of making Meta fetch the files again.

The account's 24-hour publishing cap (`content_publishing_limit`) is read before any
container is made: at the cap the attempt is rate limited until the oldest counted post
leaves the window, instead of spending containers (400 a day) on certain refusals.

Instagram has no idempotency key. Only `media_publish` creates a post, so an
interrupted publish is settled by lookup (`recovery = "lookup"`): the remembered
container's `status_code` says whether it went out (PUBLISHED) or not (FINISHED), and the
media is then found among the account's recent media by its caption.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.accounts.schemas import NativePost
from polypost.core.http import PlatformHttp
from polypost.core.pagination import Page, PageParams
from polypost.core.runtime import Runtime
from polypost.core.timeutil import isoformat, utcnow
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
    RateLimited,
    TokenSet,
    Transient,
)
from polypost.platforms.capabilities import capabilities_for
from polypost.platforms.connect import AppCredentials, Identity, OAuthSpec
from polypost.platforms.credentials import load_credentials
from polypost.platforms.instagram import containers, oauth, reading
from polypost.platforms.instagram.containers import PUBLISHED
from polypost.platforms.instagram.publishing import (
    LABEL,
    LOOKUP_WINDOW,
    ContainerStep,
    IgApi,
)
from polypost.platforms.memo import StepMemo
from polypost.platforms.meta import errors
from polypost.platforms.meta import oauth as facebook_login
from polypost.platforms.meta.graph import (
    FACEBOOK_GRAPH,
    INSTAGRAM_GRAPH,
    CommentPage,
    after_cursor,
    data,
    fingerprint,
    graph_version,
    insight_values,
    parse_time,
    same_text,
)
from polypost.platforms.native import tracked_posts
from polypost.platforms.resources import PublishingQuota

Login = Literal["instagram", "facebook"]
# instagram.md §2: "poll about once per minute for up to 5 minutes; images usually
# finish in seconds, video can take minutes". Early polls are quicker for images.
POLL_DELAYS = (
    timedelta(seconds=5),
    timedelta(seconds=10),
    timedelta(seconds=20),
    timedelta(seconds=30),
    timedelta(seconds=60),
)
IMAGE_DEADLINE = timedelta(minutes=10)
VIDEO_DEADLINE = timedelta(minutes=30)


class InstagramAdapter:
    platform: ClassVar[Platform] = Platform.INSTAGRAM
    capabilities: ClassVar[Capabilities] = capabilities_for("instagram")
    recovery: ClassVar[str] = "lookup"
    dedup_window: ClassVar[timedelta | None] = None
    oauth: ClassVar[OAuthSpec] = oauth.OAUTH

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.http = PlatformHttp(runtime.http)
        self.memo = StepMemo(runtime, "instagram")
        self.version = graph_version(runtime)
        self.now = utcnow
        self.poll_delays: tuple[timedelta, ...] = POLL_DELAYS
        self.image_deadline = IMAGE_DEADLINE
        self.video_deadline = VIDEO_DEADLINE

    def classify(self, response: httpx.Response) -> PlatformError:
        """Graph errors and usage headers (instagram.md §6; platforms/meta/errors.py)."""
        return errors.classify(response, LABEL)

    # --- helpers ----------------------------------------------------------------------

    @staticmethod
    def login(account: Credentials) -> Login:
        """Which login the account's token comes from: its setting, else the token
        (Facebook user tokens start with "EAA", Instagram Login tokens with "IG")."""
        value = account.settings.get("login")
        if value in ("instagram", "facebook"):
            return "facebook" if value == "facebook" else "instagram"
        return "facebook" if (account.access_token or "").startswith("EAA") else "instagram"

    def graph(self, account: Credentials) -> IgApi:
        host = FACEBOOK_GRAPH if self.login(account) == "facebook" else INSTAGRAM_GRAPH
        return IgApi(
            http=self.http,
            classifier=self,
            api=f"{host}/{self.version}",
            user_id=account.external_id,
            token=account.access_token,
        )

    def _step(self, account: Credentials, post: Outgoing, state: dict[str, Any]) -> ContainerStep:
        return ContainerStep(
            graph=self.graph(account),
            runtime=self.runtime,
            memo=self.memo,
            post=post,
            key=f"{account.account_id}:{post.key}:{fingerprint(post)}",
            state=state,
            now=self.now,
            poll_delays=self.poll_delays,
        )

    # --- quota ------------------------------------------------------------------------

    async def publishing_quota(self, account: Credentials) -> PublishingQuota:
        """The rolling 24-hour publishing cap and its use (`content_publishing_limit`)."""
        body = await self.graph(account).get(
            f"{account.external_id}/content_publishing_limit", {"fields": "quota_usage,config"}
        )
        return reading.quota_from(body)

    async def _quota_reset(self, account: Credentials, quota: PublishingQuota) -> datetime:
        """When the oldest post counted in the window leaves it."""
        try:
            body = await self.graph(account).get(
                f"{account.external_id}/media",
                {"fields": "id,timestamp", "limit": min(100, max(quota.total, 1))},
            )
        except PlatformError:
            body = {}
        return reading.quota_reset(body, quota, self.now())

    async def _check_quota(self, account: Credentials) -> None:
        """Refuse to start a post the cap would refuse at `media_publish`.

        Raises:
            RateLimited: `publishing_limit`, until a slot frees up.
        """
        try:
            quota = await self.publishing_quota(account)
        except PlatformError as exc:
            if exc.kind != "permanent":
                raise
            return  # no permission to read it: `media_publish` still enforces the cap
        if quota.remaining > 0:
            return
        raise RateLimited(
            f"Instagram's publishing limit is reached ({quota.used}/{quota.total} posts "
            "in 24 hours)",
            code="publishing_limit",
            retry_at=await self._quota_reset(account, quota),
        )

    # --- publishing -------------------------------------------------------------------

    async def publish(self, account: Credentials, post: Outgoing) -> Published:
        """One post: image, carousel (2-10 mixed), reel/video (with cover) or story."""
        if post.reply_to is not None:
            raise Permanent("Instagram has no reply chains", code="unsupported")
        if not post.media:
            raise Permanent("Instagram posts need media", code="media_required")
        if not account.access_token:
            raise AuthExpired("The Instagram account has no access token", code="190")
        step = self._step(account, post, {})
        step.state = dict(post.resume or {}) or (await self.memo.get(step.key) or {})
        done = step.state.get("published")
        if isinstance(done, dict) and done.get("id"):
            return Published(id=str(done["id"]), url=done.get("url"))
        if not step.state.get("deadline"):
            await self._check_quota(account)
            deadline = self.video_deadline if containers.has_video(post) else self.image_deadline
            step.state = {"deadline": isoformat(self.now() + deadline), "polls": 0}
        return await step.run()

    async def comment(self, account: Credentials, post: Outgoing) -> Published:
        """The first comment under the published media (instagram.md §2)."""
        if post.reply_to is None:
            raise Permanent("A first comment needs the media it belongs to", code="invalid_request")
        body = await self.graph(account).post(
            f"{post.reply_to.id}/comments", {"message": post.text}
        )
        if not isinstance(body, dict) or not body.get("id"):
            raise Transient("Instagram commented without returning the comment id", maybe_sent=True)
        return Published(id=str(body["id"]))

    # --- recovery ---------------------------------------------------------------------

    async def find_published(self, account: Credentials, post: Outgoing) -> Published | None:
        if post.reply_to is not None:
            return await self._find_comment(account, post)
        step = self._step(account, post, {})
        step.state = await self.memo.get(step.key) or {}
        done = step.state.get("published")
        if isinstance(done, dict) and done.get("id"):
            return Published(id=str(done["id"]), url=done.get("url"))
        container = step.state.get("container")
        if container:
            status = (await step.graph.status(str(container))).get("status_code")
            if status != PUBLISHED:
                return None  # only this container could have been published
            return await step.adopt()
        if step.state:
            return None  # only children were made: nothing publishable existed
        return await step.graph.find(post, self.now() - LOOKUP_WINDOW, known=False)

    async def _find_comment(self, account: Credentials, post: Outgoing) -> Published | None:
        assert post.reply_to is not None
        page = await self.list_comments(account, post.reply_to.id, limit=50)
        for comment in page.comments:
            mine = account.handle is None or comment.author_name == account.handle
            if mine and same_text(comment.text, post.text):
                return Published(id=comment.id)
        return None

    # --- other operations -------------------------------------------------------------

    async def delete(self, account: Credentials, platform_post_id: str) -> None:
        """`DELETE /{ig-media-id}`: Facebook Login only, with `instagram_manage_contents`
        (instagram.md §5); media already gone counts as deleted."""
        if self.login(account) != "facebook":
            raise Permanent(
                "Instagram Login accounts cannot delete media through the API",
                code="unsupported",
            )
        graph = self.graph(account)
        try:
            await self.http.request(
                self, "DELETE", f"{graph.api}/{platform_post_id}", headers=graph.headers
            )
        except Permanent as exc:
            if exc.code != errors.MISSING_OBJECT:
                raise

    async def edit(self, account: Credentials, platform_post_id: str, post: Outgoing) -> Published:
        # instagram.md §5 "Edit caption | Not supported".
        raise Permanent("Instagram captions cannot be edited through the API", code="unsupported")

    async def metrics(self, account: Credentials, platform_post_id: str) -> PostMetrics:
        """Insights of one media, with the public counters as a fallback (insights lag
        up to 48 h and stories under 5 viewers have none: code 10)."""
        graph = self.graph(account)
        info = await graph.get(
            platform_post_id, {"fields": "media_product_type,like_count,comments_count"}
        )
        metric = reading.STORY_METRICS if reading.is_story(info) else reading.FEED_METRICS
        try:
            values = insight_values(
                await graph.get(f"{platform_post_id}/insights", {"metric": metric})
            )
        except Permanent:
            values = {}
        return reading.media_metrics(info, values)

    async def list_comments(
        self, account: Credentials, media_id: str, cursor: str | None = None, limit: int = 25
    ) -> CommentPage:
        """Comments under one media, oldest first as Graph lists them (instagram.md §5)."""
        params: dict[str, Any] = {"fields": reading.COMMENT_FIELDS, "limit": limit}
        if cursor:
            params["after"] = cursor
        body = await self.graph(account).get(f"{media_id}/comments", params)
        return reading.comments_page(body)

    async def list_posts(
        self, runtime: Runtime, session: AsyncSession, account: SocialAccount, params: PageParams
    ) -> Page[NativePost]:
        """The account's own media (`GET /{ig-user-id}/media`), newest first."""
        query: dict[str, Any] = {"fields": reading.MEDIA_FIELDS, "limit": params.limit}
        if params.cursor:
            query["after"] = params.cursor
        graph = self.graph(load_credentials(runtime, account))
        body = await graph.get(f"{account.external_id}/media", query)
        items = [i for i in data(body) if i.get("id")]
        tracked = await tracked_posts(session, account.id, [str(i["id"]) for i in items])
        posts = [
            NativePost(
                platform_post_id=str(item["id"]),
                caption=item.get("caption"),
                timestamp=parse_time(item.get("timestamp")) or utcnow(),
                in_db=str(item["id"]) in tracked,
                db_post_id=tracked.get(str(item["id"])),
            )
            for item in items
        ]
        return Page(items=posts, next_cursor=after_cursor(body))

    # --- accounts ---------------------------------------------------------------------

    async def whoami(self, account: Credentials) -> Identity:
        """The professional account behind the token (platforms/instagram/reading.py)."""
        graph = self.graph(account)
        if self.login(account) == "facebook":
            body = await graph.get("me/accounts", {"fields": reading.PAGES_FIELDS, "limit": 100})
            return reading.identity_from_pages(body)
        return reading.identity_from_me(await graph.get("me", {"fields": reading.ME_FIELDS}))

    async def exchange_code(
        self, spec_app: AppCredentials, code: str, redirect_uri: str, code_verifier: str | None
    ) -> TokenSet:
        """Code → short-lived token → long-lived (60-day) token (instagram.md §1b)."""
        return await oauth.exchange_code(self.http, self, spec_app, code, redirect_uri)

    async def refresh(self, account: Credentials) -> TokenSet:
        """A new 60-day token for the current long-lived one (no refresh token exists):
        `ig_refresh_token`, or `fb_exchange_token` for a Facebook Login token.

        Raises:
            AuthExpired: the token is already expired or revoked.
        """
        if not account.access_token:
            raise AuthExpired("The Instagram account has no access token", code="190")
        if self.login(account) == "facebook":
            return await facebook_login.extend(
                self.http, self, self.version, account.app, account.access_token, LABEL
            )
        return await oauth.refresh(self.http, self, account.access_token)
