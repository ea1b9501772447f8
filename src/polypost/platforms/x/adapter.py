"""X (Twitter) through API v2: posts, threads, polls, media, delete, metrics, timeline.

`POST /2/tweets` has no idempotency key (x.md §2), so an interrupted publish is settled
by looking it up (`recovery = "lookup"`): `find_published` reads the account's own
timeline of the last day and adopts the one post whose text (X rewrites links to t.co
and escapes `&<>`, so both sides are compared without links), reply parent and media
match. A post with nothing to recognise it by, or two candidates, is reported as
unknown rather than guessed. If a lookup misses a post that did go out, resending it is
refused by X's own duplicate-content check (403, `duplicate_content`), not posted twice.
"""

from __future__ import annotations

import asyncio
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
from polypost.platforms.memo import StepMemo
from polypost.platforms.native import tracked_posts
from polypost.platforms.options import XOptions
from polypost.platforms.x import errors, oauth, timeline
from polypost.platforms.x.media import MediaUploader

API = "https://api.x.com"
WEB = "https://x.com"
# x.md §2: a poll needs a duration (5-10080 minutes); one day when the post gives none.
DEFAULT_POLL_MINUTES = 1440
# An interrupted publish is recovered within hours; older posts are not candidates.
LOOKUP_WINDOW = timedelta(hours=24)
LOOKUP_PAGE = 100  # x.md §5 timeline max_results 5-100


class XAdapter:
    platform: ClassVar[Platform] = Platform.X
    capabilities: ClassVar[Capabilities] = capabilities_for("x")
    recovery: ClassVar[str] = "lookup"
    dedup_window: ClassVar[timedelta | None] = None
    oauth: ClassVar[OAuthSpec] = oauth.OAUTH

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.http = PlatformHttp(runtime.http)
        self.sleep = asyncio.sleep
        self.now = utcnow
        self.memo = StepMemo(runtime, "x")

    @property
    def uploader(self) -> MediaUploader:
        return MediaUploader(
            self, self.http, self.runtime.http, self.memo, sleep=self.sleep, now=self.now
        )

    # --- errors -----------------------------------------------------------------------

    def classify(self, response: httpx.Response) -> PlatformError:
        """X's v2 problem bodies and v1.1-style `errors[].code` (x.md §6)."""
        return errors.classify(response)

    # --- publishing -------------------------------------------------------------------

    def _auth(self, account: Credentials) -> dict[str, str]:
        if not account.access_token:
            raise AuthExpired("The X account has no access token", code="unauthorized")
        return {"Authorization": f"Bearer {account.access_token}"}

    def _published(self, account: Credentials, tweet_id: str) -> Published:
        handle = (account.handle or "").lstrip("@")
        path = f"{handle}/status/{tweet_id}" if handle else f"i/status/{tweet_id}"
        return Published(id=tweet_id, url=f"{WEB}/{path}")

    async def _media_ids(self, account: Credentials, post: Outgoing) -> list[str]:
        """Upload the post's files. Nothing is published yet, so a timeout here is a
        plain transient failure, never an unknown outcome."""
        try:
            return await self.uploader.media_ids(account, post.media, post.alt_texts, post.resume)
        except Transient as exc:
            if not exc.maybe_sent:
                raise
            raise Transient(exc.message, code=exc.code) from exc

    def _tweet_body(self, post: Outgoing, media_ids: list[str]) -> dict[str, Any]:
        body: dict[str, Any] = {}
        # x.md §2 "Link card: put the URL in text; X unfurls it".
        link = post.link or (post.article.url if post.article else None)
        text = timeline.with_link(post.text, link)
        if text:
            body["text"] = text
        options = post.options if isinstance(post.options, XOptions) else None
        if media_ids:
            body["media"] = {"media_ids": media_ids}
            if options and options.tagged_user_ids:
                body["media"]["tagged_user_ids"] = list(options.tagged_user_ids)
        if post.poll is not None:
            body["poll"] = {
                "options": list(post.poll.options),
                "duration_minutes": post.poll.duration_minutes or DEFAULT_POLL_MINUTES,
            }
        if post.reply_to is not None:
            body["reply"] = {"in_reply_to_tweet_id": post.reply_to.id}
        if options is not None:
            # Who may reply, the quote and the community describe the thread's first post.
            if post.reply_to is None:
                if options.reply_settings:
                    body["reply_settings"] = options.reply_settings
                if options.quote_tweet_id:
                    body["quote_tweet_id"] = options.quote_tweet_id
                if options.community_id:
                    body["community_id"] = options.community_id
            if options.made_with_ai is not None:
                body["made_with_ai"] = options.made_with_ai
            if options.paid_partnership is not None:
                body["paid_partnership"] = options.paid_partnership
        return body

    async def _create(self, account: Credentials, body: dict[str, Any]) -> Published:
        response = await self.http.json(
            self, "POST", f"{API}/2/tweets", json=body, headers=self._auth(account)
        )
        data = response.get("data") if isinstance(response, dict) else None
        if not isinstance(data, dict) or not data.get("id"):
            problems = response.get("errors") if isinstance(response, dict) else None
            if problems:
                raise Permanent(errors.problem_message(response, 200), code="invalid_request")
            # A 2xx without an id: the post may exist; let recovery look for it.
            raise Transient("X accepted the post without returning its id", maybe_sent=True)
        return self._published(account, str(data["id"]))

    async def publish(self, account: Credentials, post: Outgoing) -> Published:
        """One post, or one reply of a thread (`reply.in_reply_to_tweet_id` is the
        previous segment, x.md §2)."""
        self._auth(account)
        media_ids = await self._media_ids(account, post) if post.media else []
        return await self._create(account, self._tweet_body(post, media_ids))

    async def comment(self, account: Credentials, post: Outgoing) -> Published:
        """The first comment is a self-reply under the post."""
        if post.reply_to is None:
            raise Permanent("A first comment needs the post it replies to", code="invalid_request")
        return await self._create(
            account, {"text": post.text, "reply": {"in_reply_to_tweet_id": post.reply_to.id}}
        )

    # --- recovery ---------------------------------------------------------------------

    async def find_published(self, account: Credentials, post: Outgoing) -> Published | None:
        wanted = timeline.comparable(post.text)
        media_ids: set[str] = set()
        for item in post.media:
            remembered = await self.uploader.remembered(account, item)
            if remembered is not None:
                media_ids.add(remembered)
        if not wanted and (not post.media or len(media_ids) < len(post.media)):
            raise Permanent(
                "This X post has no text to recognise it by on the timeline", code="unsupported"
            )
        since = (self.now() - LOOKUP_WINDOW).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = await self.http.json(
            self,
            "GET",
            f"{API}/2/users/{account.external_id}/tweets",
            params={
                "max_results": LOOKUP_PAGE,
                "start_time": since,
                "tweet.fields": timeline.TWEET_FIELDS,
            },
            headers=self._auth(account),
        )
        parent = post.reply_to.id if post.reply_to is not None else None
        matches = [
            tweet
            for tweet in body.get("data") or []
            if isinstance(tweet, dict) and timeline.matches(tweet, wanted, parent, post, media_ids)
        ]
        if len(matches) > 1:
            raise Permanent(
                f"{len(matches)} recent X posts match this post; cannot tell which one it is",
                code="ambiguous",
            )
        return self._published(account, str(matches[0]["id"])) if matches else None

    # --- other operations -------------------------------------------------------------

    async def delete(self, account: Credentials, platform_post_id: str) -> None:
        """`DELETE /2/tweets/:id`; an already deleted post (404) counts as deleted."""
        await self.http.request(
            self,
            "DELETE",
            f"{API}/2/tweets/{platform_post_id}",
            headers=self._auth(account),
            ok_statuses=frozenset({404}),
        )

    async def edit(self, account: Credentials, platform_post_id: str, post: Outgoing) -> Published:
        # x.md §5: editing needs X Premium and a 30-60 minute window; not offered.
        raise Permanent("X posts cannot be edited through Polypost", code="unsupported")

    async def metrics(self, account: Credentials, platform_post_id: str) -> PostMetrics:
        body = await self.http.json(
            self,
            "GET",
            f"{API}/2/tweets/{platform_post_id}",
            params={"tweet.fields": "public_metrics"},
            headers=self._auth(account),
        )
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            # X answers 200 with only `errors` for a deleted or hidden post.
            raise Permanent(errors.problem_message(body, 200), code="not_found")
        counts = data.get("public_metrics") or {}

        def count(*names: str) -> int | None:
            for name in names:
                if isinstance(counts.get(name), int):
                    return int(counts[name])
            return None

        reposts = count("retweet_count", "repost_count")
        quotes = count("quote_count")
        shares = None if reposts is None and quotes is None else (reposts or 0) + (quotes or 0)
        return PostMetrics(
            collected_at=utcnow(),
            likes=count("like_count"),
            comments=count("reply_count"),
            shares=shares,
            impressions=count("impression_count"),
        )

    async def list_posts(
        self, runtime: Runtime, session: AsyncSession, account: SocialAccount, params: PageParams
    ) -> Page[NativePost]:
        """The account's timeline (`GET /2/users/:id/tweets`), newest first.

        X pages hold 5-100 posts; a smaller page is cut from a larger one and the cursor
        remembers how many of that X page were already returned."""
        credentials = load_credentials(runtime, account)
        token, skip = timeline.parse_cursor(params.cursor)
        query: dict[str, Any] = {
            "max_results": min(100, max(5, skip + params.limit)),
            "tweet.fields": "created_at,text,note_tweet",
        }
        if token:
            query["pagination_token"] = token
        body = await self.http.json(
            self,
            "GET",
            f"{API}/2/users/{account.external_id}/tweets",
            params=query,
            headers=self._auth(credentials),
        )
        tweets = [t for t in body.get("data") or [] if isinstance(t, dict) and t.get("id")]
        page = tweets[skip : skip + params.limit]
        next_token = (body.get("meta") or {}).get("next_token")
        if skip + params.limit < len(tweets):
            next_cursor: str | None = f"{token}.{skip + params.limit}"
        elif next_token:
            next_cursor = f"{next_token}.0"
        else:
            next_cursor = None
        tracked = await tracked_posts(session, account.id, [str(t["id"]) for t in page])
        posts = []
        for tweet in page:
            tweet_id = str(tweet["id"])
            posts.append(
                NativePost(
                    platform_post_id=tweet_id,
                    caption=timeline.text_of(tweet),
                    timestamp=timeline.parse_time(tweet.get("created_at")),
                    in_db=tweet_id in tracked,
                    db_post_id=tracked.get(tweet_id),
                )
            )
        return Page(items=posts, next_cursor=next_cursor)

    # --- accounts ---------------------------------------------------------------------

    async def whoami(self, account: Credentials) -> Identity:
        body = await self.http.json(
            self,
            "GET",
            f"{API}/2/users/me",
            params={"user.fields": "id,name,username,profile_image_url"},
            headers=self._auth(account),
        )
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or not data.get("id"):
            raise Transient("X answered /2/users/me without a user")
        return Identity(
            external_id=str(data["id"]),
            handle=data.get("username"),
            display_name=data.get("name"),
            avatar_url=data.get("profile_image_url"),
        )

    async def exchange_code(
        self, spec_app: AppCredentials, code: str, redirect_uri: str, code_verifier: str | None
    ) -> TokenSet:
        """Code → tokens with X's client authentication (Basic for confidential apps)."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if code_verifier:
            form["code_verifier"] = code_verifier
        return await oauth.request_tokens(self.http, spec_app, form, refreshing=False)

    async def refresh(self, account: Credentials, app: AppCredentials | None = None) -> TokenSet:
        """Rotate the token pair (`grant_type=refresh_token`) with the developer app's
        credentials (`app`, else the ones the account carries).

        Raises:
            AuthExpired: no refresh token, or X refused it (used already or revoked).
        """
        if not account.refresh_token:
            raise AuthExpired("The X account has no refresh token", code="no_refresh_token")
        app = app or account.app
        if app is None:
            raise Permanent(
                "Refreshing an X token needs the developer app's client id",
                code="credentials_missing",
            )
        form = {"grant_type": "refresh_token", "refresh_token": account.refresh_token}
        return await oauth.request_tokens(self.http, app, form, refreshing=True)
