"""LinkedIn: the versioned REST API (`/rest/posts`, Images, Videos, Documents)
(shared/platforms/linkedin.md).

Every versioned call carries `LinkedIn-Version` (settings `linkedin_version`, bumped
yearly) and `X-Restli-Protocol-Version: 2.0.0`; URNs in paths are URL-encoded. A post's
author is the member (`urn:li:person:{sub}`) or, with the Community Management product,
an organization (`organizationUrn` in the account's settings or `platformOptions`).

Media is uploaded first (`media.py`); a video is published only once LinkedIn has
processed it: the adapter hands the worker back with `Pending` while the video's status
is PROCESSING and creates the post when it is AVAILABLE.

`POST /rest/posts` has no idempotency key, so an interrupted create is settled by
`find_published` (`recovery` "lookup"): an organization's recent posts are searched for
the same commentary; otherwise, within `DUPLICATE_WINDOW` of the first send, the very
same body is sent again, which LinkedIn either creates (the first never landed) or
refuses as `DUPLICATE_POST` naming the existing post's URN, which is adopted. Past that
window nothing can tell, and the target fails as `outcome_unknown`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, NoReturn
from urllib.parse import quote

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.accounts.schemas import NativePost
from polypost.core.errors import BadRequest
from polypost.core.http import PlatformHttp, json_object, retry_at_from_headers
from polypost.core.pagination import Page, PageParams
from polypost.core.runtime import Runtime
from polypost.core.timeutil import isoformat, utcnow
from polypost.models import SocialAccount
from polypost.platforms.base import (
    AuthExpired,
    Capabilities,
    Credentials,
    MediaInfo,
    MediaKind,
    Outgoing,
    Pending,
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
from polypost.platforms.connect import Identity, OAuthSpec, refresh_with_spec
from polypost.platforms.credentials import load_credentials
from polypost.platforms.linkedin import oauth
from polypost.platforms.linkedin.media import Uploader
from polypost.platforms.linkedin.text import escape, unescape
from polypost.platforms.memo import StepMemo
from polypost.platforms.native import listing_error, tracked_posts
from polypost.platforms.options import LinkedInOptions
from polypost.platforms.registry import PlatformUnavailable

API = "https://api.linkedin.com"
REST = f"{API}/rest"
USERINFO = f"{API}/v2/userinfo"
FEED = "https://www.linkedin.com/feed/update/"
# linkedin.md §4: identical commentary re-posted "within ~10 minutes" is refused as
# DUPLICATE_POST naming the existing post; half of that is trusted.
DUPLICATE_WINDOW = timedelta(minutes=5)
UPLOAD_MEMO = timedelta(days=1)
# Video processing (linkedin.md §3): how often to look and how long to wait in all.
PROCESSING_POLL = timedelta(seconds=15)
PROCESSING_DEADLINE = timedelta(minutes=90)
POLL_DURATIONS = {
    1440: "ONE_DAY",
    3 * 1440: "THREE_DAYS",
    7 * 1440: "SEVEN_DAYS",
    14 * 1440: "FOURTEEN_DAYS",
}
DEFAULT_POLL_DURATION = "SEVEN_DAYS"
COMMENTARY_LIMIT = 3000
POST_URN = re.compile(r"^urn:li:(share|ugcPost):\d{1,30}$")
ORGANIZATION_URN = re.compile(r"^urn:li:organization:\d{1,20}$")
PERSON_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
DUPLICATE_OF = re.compile(r"duplicate of (urn:li:(?:share|ugcPost):\d+)")
LOOKUP_COUNT = 20
MAX_PAGE = 100
# linkedin.md §6: 403s Postiz found to clear by themselves.
TRANSIENT_403 = ("unable to obtain activity",)
WAITING_CODES = frozenset({"MEDIA_ASSET_WAITING_UPLOAD"})


class DuplicatePost(Permanent):
    """422 DUPLICATE_POST: LinkedIn already has this content, as the post `urn`."""

    def __init__(self, message: str, urn: str | None) -> None:
        super().__init__(message, code="duplicate_content")
        self.urn = urn


def encode(urn: str) -> str:
    """A URN as a path segment or query value (`urn%3Ali%3Ashare%3A1`)."""
    return quote(urn, safe="")


def post_urn(platform_post_id: str) -> str:
    """Raises:
    Permanent: code `invalid_post_id`, not a LinkedIn post URN."""
    if not POST_URN.match(platform_post_id):
        raise Permanent(f"{platform_post_id!r} is not a LinkedIn post URN", code="invalid_post_id")
    return platform_post_id


def feed_url(urn: str) -> str:
    return FEED + urn


def next_midnight(now: datetime | None = None) -> datetime:
    """linkedin.md §4: daily quotas reset at midnight UTC."""
    now = now or utcnow()
    return datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)


def _input_codes(body: Mapping[str, Any]) -> list[str]:
    details = body.get("errorDetails")
    errors = details.get("inputErrors") if isinstance(details, dict) else None
    return [str(e["code"]) for e in errors or [] if isinstance(e, dict) and e.get("code")]


class LinkedInAdapter:
    platform: ClassVar[Platform] = Platform.LINKEDIN
    capabilities: ClassVar[Capabilities] = capabilities_for("linkedin")
    recovery: ClassVar[str] = "lookup"
    dedup_window: ClassVar[timedelta | None] = None
    oauth: ClassVar[OAuthSpec] = oauth.OAUTH

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.version = runtime.settings.linkedin_version
        self.http = PlatformHttp(runtime.http)
        self.uploader = Uploader(self, self.http, REST)
        self.memo = StepMemo(runtime, "linkedin")

    # --- errors -----------------------------------------------------------------------

    def classify(self, response: httpx.Response) -> PlatformError:
        """linkedin.md §6: `{status, serviceErrorCode, code, message}` and, for
        validation, `errorDetails.inputErrors[].code`."""
        body = json_object(response)
        status = response.status_code
        message = str(body.get("message") or f"HTTP {status}")
        codes = _input_codes(body)
        code = codes[0] if codes else str(body.get("code") or status)
        lowered = message.lower()
        if status == 401:
            return AuthExpired(f"LinkedIn refused the token: {message}", code=code)
        if status == 429:
            # No rate-limit headers: a "throttle limit" is a daily quota.
            retry_at = (
                next_midnight()
                if "throttle limit" in lowered
                else retry_at_from_headers(response.headers)
            )
            return RateLimited(f"LinkedIn rate limit: {message}", code=code, retry_at=retry_at)
        if "DUPLICATE_POST" in codes or (status == 422 and "duplicate" in lowered):
            found = DUPLICATE_OF.search(message)
            urn = found.group(1) if found else None
            return DuplicatePost(
                f"LinkedIn refused a duplicate of {urn or 'an existing post'}: change the text "
                "or wait before posting it again",
                urn,
            )
        if status == 426 or code in ("NONEXISTENT_VERSION", "VERSION_MISSING"):
            return Permanent(
                f"LinkedIn no longer serves API version {self.version}: set "
                f"POLYPOST_LINKEDIN_VERSION to a current one ({message})",
                code="version_unsupported",
            )
        if status == 409 or status >= 500:
            return Transient(f"LinkedIn error {status}: {message}", code=str(status))
        if status == 403 and any(m in lowered for m in TRANSIENT_403):
            return Transient(f"LinkedIn: {message}", code="403")
        if status == 404:
            return Permanent(f"LinkedIn: {message}", code="not_found")
        return Permanent(f"LinkedIn: {message}", code=code)

    # --- connecting -------------------------------------------------------------------

    def _headers(self, account: Credentials, **extra: str) -> dict[str, str]:
        if not account.access_token:
            raise AuthExpired("The LinkedIn account has no access token", code="no_token")
        return {
            "Authorization": f"Bearer {account.access_token}",
            "LinkedIn-Version": self.version,
            "X-Restli-Protocol-Version": "2.0.0",
            **extra,
        }

    async def whoami(self, account: Credentials) -> Identity:
        """OpenID Connect userinfo (linkedin.md §1): `sub` is the member id."""
        body = await self.http.json(
            self, "GET", USERINFO, headers={"Authorization": f"Bearer {account.access_token}"}
        )
        sub = body.get("sub") if isinstance(body, dict) else None
        if not isinstance(sub, str) or not PERSON_ID.match(sub):
            raise Transient("LinkedIn answered userinfo without the member id")
        name = body.get("name") or " ".join(
            str(body[k]) for k in ("given_name", "family_name") if body.get(k)
        )
        return Identity(
            external_id=sub,
            handle=name or sub,
            display_name=name or None,
            avatar_url=body.get("picture") or None,
        )

    async def refresh(self, account: Credentials) -> TokenSet:
        """The refresh-token grant; apps LinkedIn has not approved for refresh tokens
        get none, and their members reconnect every 60 days."""
        return await refresh_with_spec(self.http, "linkedin", self.oauth, account)

    # --- publishing -------------------------------------------------------------------

    @staticmethod
    def _options(post: Outgoing | None) -> LinkedInOptions:
        options = post.options if post is not None else None
        return options if isinstance(options, LinkedInOptions) else LinkedInOptions()

    def _author(self, account: Credentials, post: Outgoing | None = None) -> str:
        organization = self._options(post).organization_urn or account.settings.get(
            "organizationUrn"
        )
        if organization:
            if not ORGANIZATION_URN.match(str(organization)):
                raise Permanent(f"{organization!r} is not an organization URN", code="bad_author")
            return str(organization)
        if not PERSON_ID.match(account.external_id):
            # linkedin.md §7: a blank id becomes `urn:li:person:` → 400 INVALID_URN_ID.
            raise Permanent("The LinkedIn account has no member id", code="bad_author")
        return f"urn:li:person:{account.external_id}"

    @staticmethod
    def _commentary(post: Outgoing) -> str:
        text = post.text
        if post.link and post.link not in text:
            text = f"{text}\n{post.link}" if text else post.link
        if len(text) > COMMENTARY_LIMIT:
            raise Permanent(
                f"The text with its link is over LinkedIn's {COMMENTARY_LIMIT} characters",
                code="content_invalid",
            )
        return escape(text)

    async def _upload(
        self, account: Credentials, post: Outgoing, author: str, media: MediaInfo
    ) -> str:
        """One file's URN, uploaded once per step (remembered across attempts)."""
        memo_key = f"{post.key}:uploads"
        uploads = await self.memo.get(memo_key) or {}
        remembered = uploads.get(media.id)
        if isinstance(remembered, str):
            return remembered
        headers = self._headers(account)
        if media.kind is MediaKind.VIDEO:
            urn = await self.uploader.video(headers, author, media)
        elif media.kind is MediaKind.DOCUMENT:
            urn = await self.uploader.file(headers, "documents", author, media)
        else:
            urn = await self.uploader.file(headers, "images", author, media)
        await self.memo.put(memo_key, {**uploads, media.id: urn}, UPLOAD_MEMO)
        return urn

    async def _content(
        self, account: Credentials, post: Outgoing, author: str
    ) -> tuple[dict[str, Any] | None, list[str]]:
        """The post's `content` (linkedin.md §2) and the URNs LinkedIn must finish
        processing before the post is created."""
        if post.poll is not None:
            minutes = post.poll.duration_minutes
            return {
                "poll": {
                    "question": post.text,
                    "options": [{"text": option} for option in post.poll.options],
                    "settings": {
                        "duration": POLL_DURATIONS.get(minutes or 0, DEFAULT_POLL_DURATION)
                    },
                }
            }, []
        if post.article is not None:
            article: dict[str, Any] = {
                "source": post.article.url,
                # The Posts API does not read the page: a title is required.
                "title": post.article.title or post.article.url,
            }
            if post.article.description:
                article["description"] = post.article.description
            if post.cover is not None:
                article["thumbnail"] = await self._upload(account, post, author, post.cover)
                alt = post.alt_texts.get(post.cover.id)
                if alt:
                    article["thumbnailAltText"] = alt
            return {"article": article}, []
        if not post.media:
            return None, []
        urns = [await self._upload(account, post, author, media) for media in post.media]
        first = post.media[0]
        if len(post.media) > 1:
            images = [
                {"id": urn} | ({"altText": post.alt_texts[m.id]} if m.id in post.alt_texts else {})
                for urn, m in zip(urns, post.media, strict=True)
            ]
            return {"multiImage": {"images": images}}, []
        entry: dict[str, Any] = {"id": urns[0]}
        waiting: list[str] = []
        if first.kind is MediaKind.VIDEO:
            waiting.append(urns[0])
        elif first.kind is MediaKind.DOCUMENT:
            # linkedin.md §2 "title = <required card title>".
            entry["title"] = post.document_title or first.filename or "Document"
            waiting.append(urns[0])
        elif first.id in post.alt_texts:
            entry["altText"] = post.alt_texts[first.id]
        return {"media": entry}, waiting

    def _body(self, post: Outgoing, author: str, content: dict[str, Any] | None) -> dict[str, Any]:
        options = self._options(post)
        body: dict[str, Any] = {
            "author": author,
            "commentary": self._commentary(post),
            "visibility": options.visibility or "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": bool(options.disable_reshare),
        }
        if content is not None:
            body["content"] = content
        return body

    async def _status(self, account: Credentials, urn: str) -> str | None:
        """A media asset's status; None when this token may not read it (linkedin.md §3:
        member tokens get 403 on images and documents)."""
        collection = {"video": "videos", "document": "documents", "image": "images"}[
            urn.split(":")[2]
        ]
        try:
            body = await self.http.json(
                self, "GET", f"{REST}/{collection}/{encode(urn)}", headers=self._headers(account)
            )
        except Permanent as error:
            if error.code in ("403", "ACCESS_DENIED") or "forbidden" in error.message.lower():
                return None
            raise
        status = body.get("status") if isinstance(body, dict) else None
        if status == "PROCESSING_FAILED":
            reason = body.get("processingFailureReason") or "no reason given"
            raise Permanent(f"LinkedIn could not process {urn}: {reason}", code="media_invalid")
        return str(status) if status else None

    async def _wait_ready(self, account: Credentials, state: dict[str, Any]) -> None:
        """Raise `Pending` until every waited-for asset is AVAILABLE."""
        for urn in state.get("waiting") or []:
            try:
                status = await self._status(account, str(urn))
            except (Transient, RateLimited):
                status = "PROCESSING"  # look again later rather than upload again
            if status in ("PROCESSING", "WAITING_UPLOAD"):
                self._wait_longer(state, str(urn))

    @staticmethod
    def _wait_longer(state: dict[str, Any], what: str) -> NoReturn:
        """`Pending` again, unless processing has taken longer than LinkedIn ever needs."""
        if utcnow() - datetime.fromisoformat(str(state["since"])) > PROCESSING_DEADLINE:
            raise Permanent(
                f"LinkedIn was still processing {what} after {PROCESSING_DEADLINE}",
                code="processing_timeout",
            )
        raise Pending("processing", state, PROCESSING_POLL)

    async def publish(self, account: Credentials, post: Outgoing) -> Published:
        """Upload the media, wait for LinkedIn to process a video or document, then
        `POST /rest/posts`; the new post's URN comes in `x-restli-id`."""
        author = self._author(account, post)
        if post.resume is not None:
            state = dict(post.resume)
        else:
            content, waiting = await self._content(account, post, author)
            state = {"content": content, "waiting": waiting, "since": isoformat(utcnow())}
        await self._wait_ready(account, state)
        body = self._body(post, author, state["content"])
        await self.memo.put(
            f"{post.key}:sent", {"at": isoformat(utcnow()), "body": body}, DUPLICATE_WINDOW
        )
        try:
            return await self._create(account, body)
        except Permanent as error:
            if error.code in WAITING_CODES or any(c in error.message for c in WAITING_CODES):
                # The media was not ready after all: nothing was created; look again later.
                self._wait_longer(state, "the media")
            raise

    async def _create(self, account: Credentials, body: Mapping[str, Any]) -> Published:
        try:
            response = await self.http.request(
                self, "POST", f"{REST}/posts", headers=self._headers(account), json=dict(body)
            )
        except Transient as error:
            if error.code and error.code.startswith("5") and not error.maybe_sent:
                # linkedin.md §6: after a 5xx the post may still have been created.
                raise Transient(error.message, code=error.code, maybe_sent=True) from error
            raise
        urn = response.headers.get("x-restli-id") or json_object(response).get("id")
        if not isinstance(urn, str) or not urn:
            raise Transient("LinkedIn created the post without naming it", maybe_sent=True)
        return Published(id=urn, url=feed_url(urn))

    async def comment(self, account: Credentials, post: Outgoing) -> Published:
        """`POST /rest/socialActions/{post}/comments` as the post's author."""
        if post.reply_to is None:
            raise Permanent("A first comment needs the post it comments on", code="not_found")
        parent = post_urn(post.reply_to.id)
        response = await self.http.request(
            self,
            "POST",
            f"{REST}/socialActions/{encode(parent)}/comments",
            headers=self._headers(account),
            json={
                "actor": self._author(account, post),
                "object": parent,
                "message": {"text": post.text},
            },
        )
        created = json_object(response)
        urn = (
            response.headers.get("x-restli-id")
            or created.get("$URN")
            or created.get("commentUrn")
            or created.get("id")
        )
        if not urn:
            raise Transient("LinkedIn created the comment without naming it", maybe_sent=True)
        return Published(id=str(urn), url=feed_url(parent))

    # --- recovery ---------------------------------------------------------------------

    async def find_published(self, account: Credentials, post: Outgoing) -> Published | None:
        """Settle an interrupted create or comment (see the module docstring)."""
        if post.reply_to is not None:
            return await self._find_comment(account, post)
        author = self._author(account, post)
        listed = False
        if ORGANIZATION_URN.match(author):
            commentary = self._commentary(post)
            try:
                elements = await self._posts_by(account, author, 0, LOOKUP_COUNT)
            except (AuthExpired, Permanent):
                elements = []  # no r_organization_social: only the probe below can tell
            else:
                listed = True
            for element in elements:
                if element.get("commentary") == commentary and element.get("id"):
                    urn = str(element["id"])
                    return Published(id=urn, url=feed_url(urn))
        sent = await self.memo.get(f"{post.key}:sent")
        fresh = sent is not None and utcnow() - datetime.fromisoformat(str(sent["at"])) < (
            DUPLICATE_WINDOW
        )
        if sent is None or not fresh or not post.text.strip():
            if listed:
                return None  # the organization's recent posts show none: safe to send
            raise Permanent(
                "LinkedIn offers no way to tell whether this post went out", code="unsupported"
            )
        try:
            return await self._create(account, sent["body"])
        except DuplicatePost as duplicate:
            if duplicate.urn is None:
                raise
            return Published(id=duplicate.urn, url=feed_url(duplicate.urn))

    async def _find_comment(self, account: Credentials, post: Outgoing) -> Published | None:
        assert post.reply_to is not None
        parent = post_urn(post.reply_to.id)
        actor = self._author(account, post)
        try:
            body = await self.http.json(
                self,
                "GET",
                f"{REST}/socialActions/{encode(parent)}/comments?count=50",
                headers=self._headers(account),
            )
        except (AuthExpired, Permanent) as error:
            raise Permanent(
                f"LinkedIn comments are not readable with this token ({error.code})",
                code="unsupported",
            ) from error
        elements = body.get("elements") if isinstance(body, dict) else None
        for element in elements or []:
            if not isinstance(element, dict):
                continue
            message = element.get("message")
            text = message.get("text") if isinstance(message, dict) else None
            if element.get("actor") == actor and text == post.text:
                urn = element.get("commentUrn") or element.get("$URN") or element.get("id")
                if urn:
                    return Published(id=str(urn), url=feed_url(parent))
        return None

    # --- after publishing -------------------------------------------------------------

    async def edit(self, account: Credentials, platform_post_id: str, post: Outgoing) -> Published:
        """PARTIAL_UPDATE of the commentary, the only part of a post LinkedIn lets change."""
        urn = post_urn(platform_post_id)
        await self.http.request(
            self,
            "POST",
            f"{REST}/posts/{encode(urn)}",
            headers=self._headers(account, **{"X-RestLi-Method": "PARTIAL_UPDATE"}),
            json={"patch": {"$set": {"commentary": self._commentary(post)}}},
        )
        return Published(id=urn, url=feed_url(urn))

    async def delete(self, account: Credentials, platform_post_id: str) -> None:
        """`DELETE /rest/posts/{urn}`; a post already gone counts as deleted. LinkedIn
        refuses apps deleting a member's own posts (seed 001): that is `unsupported`."""
        urn = post_urn(platform_post_id)
        try:
            await self.http.request(
                self,
                "DELETE",
                f"{REST}/posts/{encode(urn)}",
                headers=self._headers(account, **{"X-RestLi-Method": "DELETE"}),
            )
        except Permanent as error:
            if error.code == "not_found":
                return
            if not ORGANIZATION_URN.match(self._author(account)):
                raise Permanent(
                    "LinkedIn does not let apps delete personal-profile posts; delete it in "
                    f"LinkedIn ({error.message})",
                    code="unsupported",
                ) from error
            raise

    async def metrics(self, account: Credentials, platform_post_id: str) -> PostMetrics:
        """An organization's share statistics; for a member, the social metadata counts
        and (with `r_member_postAnalytics`) impressions (linkedin.md §5)."""
        urn = post_urn(platform_post_id)
        author = self._author(account)
        if ORGANIZATION_URN.match(author):
            return await self._organization_metrics(account, author, urn)
        body = await self.http.json(
            self, "GET", f"{REST}/socialMetadata/{encode(urn)}", headers=self._headers(account)
        )
        reactions = body.get("reactionSummaries") if isinstance(body, dict) else None
        likes = sum(
            int(r.get("count") or 0) for r in (reactions or {}).values() if isinstance(r, dict)
        )
        comments = (
            (body.get("commentSummary") or {}).get("count") if isinstance(body, dict) else None
        )
        return PostMetrics(
            collected_at=utcnow(),
            likes=likes,
            comments=int(comments or 0),
            impressions=await self._member_impressions(account, urn),
        )

    async def _member_impressions(self, account: Credentials, urn: str) -> int | None:
        kind = "share" if ":share:" in urn else "ugc"
        url = (
            f"{REST}/memberCreatorPostAnalytics?q=entity&entity=({kind}:{encode(urn)})"
            "&queryType=IMPRESSION&aggregation=TOTAL"
        )
        try:
            body = await self.http.json(self, "GET", url, headers=self._headers(account))
        except (AuthExpired, Permanent):
            return None  # the app lacks r_member_postAnalytics
        elements = body.get("elements") if isinstance(body, dict) else None
        if not elements or not isinstance(elements[0], dict):
            return 0
        return int(elements[0].get("count") or 0)

    async def _organization_metrics(
        self, account: Credentials, organization: str, urn: str
    ) -> PostMetrics:
        field = "shares" if ":share:" in urn else "ugcPosts"
        url = (
            f"{REST}/organizationalEntityShareStatistics?q=organizationalEntity"
            f"&organizationalEntity={encode(organization)}&{field}=List({encode(urn)})"
        )
        body = await self.http.json(self, "GET", url, headers=self._headers(account))
        elements = body.get("elements") if isinstance(body, dict) else None
        stats: Mapping[str, Any] = {}
        if elements and isinstance(elements[0], dict):
            stats = elements[0].get("totalShareStatistics") or {}
        # Posts without activity are left out of the answer: all zero.
        return PostMetrics(
            collected_at=utcnow(),
            likes=int(stats.get("likeCount") or 0),
            comments=int(stats.get("commentCount") or 0),
            shares=int(stats.get("shareCount") or 0),
            impressions=int(stats.get("impressionCount") or 0),
            reach=int(stats.get("uniqueImpressionsCount") or 0),
            clicks=int(stats.get("clickCount") or 0),
        )

    async def _posts_by(
        self, account: Credentials, author: str, start: int, count: int
    ) -> list[dict[str, Any]]:
        url = (
            f"{REST}/posts?q=author&author={encode(author)}&count={count}&start={start}"
            "&sortBy=LAST_MODIFIED"
        )
        body = await self.http.json(
            self, "GET", url, headers=self._headers(account, **{"X-RestLi-Method": "FINDER"})
        )
        elements = body.get("elements") if isinstance(body, dict) else None
        return [e for e in elements or [] if isinstance(e, dict)]

    async def list_posts(
        self, runtime: Runtime, session: AsyncSession, account: SocialAccount, params: PageParams
    ) -> Page[NativePost]:
        """An organization's posts, newest first; the cursor is the offset. A member's
        own posts need a restricted scope (linkedin.md §5): unsupported."""
        credentials = load_credentials(runtime, account)
        author = self._author(credentials)
        if not ORGANIZATION_URN.match(author):
            raise PlatformUnavailable(
                "LinkedIn does not let apps list a personal profile's posts.",
                details={"platform": "linkedin"},
            )
        cursor = params.cursor
        if cursor is not None and not (cursor.isdigit() and len(cursor) <= 6):
            raise BadRequest(
                "Invalid cursor.", details={"fields": [{"field": "cursor", "message": "invalid"}]}
            )
        start = int(cursor or 0)
        count = min(params.limit, MAX_PAGE)
        try:
            elements = await self._posts_by(credentials, author, start, count)
        except PlatformError as error:
            raise listing_error(error, "LinkedIn") from error
        ids = [str(e["id"]) for e in elements if e.get("id")]
        tracked = await tracked_posts(session, account.id, ids)
        posts = [
            NativePost(
                platform_post_id=str(e["id"]),
                caption=unescape(str(e.get("commentary") or "")),
                timestamp=_millis(e.get("publishedAt") or e.get("createdAt")),
                action="reshare" if e.get("reshareContext") else "publish",
                in_db=str(e["id"]) in tracked,
                db_post_id=tracked.get(str(e["id"])),
            )
            for e in elements
            if e.get("id")
        ]
        next_cursor = str(start + len(elements)) if len(elements) >= count else None
        return Page(items=posts, next_cursor=next_cursor)


def _millis(value: Any) -> datetime:
    if isinstance(value, int | float) and value > 0:
        return datetime.fromtimestamp(value / 1000, UTC)
    return utcnow()
