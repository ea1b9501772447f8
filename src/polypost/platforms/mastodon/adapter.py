"""Mastodon: the REST API of any instance (shared/platforms/mastodon.md).

Every call goes to `Credentials.base_url`, the instance. Statuses are created with an
`Idempotency-Key` (the step's key): within an hour the instance answers a repeated
request with the status it already created instead of a second one, which is what makes
a retry after a lost response safe. Past that hour, `find_published` looks through the
account's recent statuses for the same text.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.accounts.schemas import NativePost
from polypost.core.errors import BadRequest
from polypost.core.http import PlatformHttp, retry_at_from_headers
from polypost.core.pagination import Page, PageParams
from polypost.core.runtime import Runtime
from polypost.core.timeutil import parse_iso, utcnow
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
from polypost.platforms.connect import AppCredentials, Connection, Identity, OAuthSpec
from polypost.platforms.credentials import load_credentials
from polypost.platforms.mastodon import oauth
from polypost.platforms.mastodon.instance import (
    checked_instance,
    host_of,
    parse_connect,
)
from polypost.platforms.mastodon.media import MediaUploader
from polypost.platforms.mastodon.text import comparable, html_to_text
from polypost.platforms.native import listing_error, tracked_posts

# mastodon.md §2: "same key within 1 hour returns the already-created status".
IDEMPOTENCY_WINDOW = timedelta(hours=1)
# GET /api/v1/accounts/:id/statuses: `limit` at most 40.
MAX_PAGE = 40
# mastodon.md §6: 403 bodies that mean the login itself is unusable (user action needed).
AUTH_403_MARKERS = (
    "login is currently disabled",
    "confirmed e-mail",
    "pending approval",
    "outside the authorized scopes",
    "account is suspended",
)
PROCESSING_422 = "not finished processing"
# Mastodon polls need a duration; one day when the post gives none (seed default).
DEFAULT_POLL_SECONDS = 24 * 3600
_CURSOR_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _error_text(response: httpx.Response) -> str:
    """`{"error": "...", "error_description"?: "..."}` as one message."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or f"HTTP {response.status_code}"
    if not isinstance(body, dict):
        return f"HTTP {response.status_code}"
    message = str(body.get("error") or f"HTTP {response.status_code}")
    if body.get("error_description"):
        message = f"{message}: {body['error_description']}"
    return message


def reset_at(headers: httpx.Headers) -> datetime | None:
    """`X-RateLimit-Reset` is an ISO-8601 time on Mastodon (mastodon.md §4), unlike the
    epoch seconds elsewhere; `Retry-After` when a proxy sends one."""
    value = headers.get("x-ratelimit-reset")
    if value:
        try:
            return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            pass
    return retry_at_from_headers(headers)


def _object(body: Any) -> dict[str, Any]:
    """A JSON object answer; anything else means the instance misbehaved."""
    if not isinstance(body, dict):
        raise Transient("The instance answered with something other than a JSON object")
    return body


class MastodonAdapter:
    platform: ClassVar[Platform] = Platform.MASTODON
    capabilities: ClassVar[Capabilities] = capabilities_for("mastodon")
    recovery: ClassVar[str] = "idempotency_key"
    dedup_window: ClassVar[timedelta] = IDEMPOTENCY_WINDOW
    oauth: ClassVar[OAuthSpec] = oauth.OAUTH

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.http = PlatformHttp(runtime.http)
        self.uploader = MediaUploader(runtime, self, self.http)
        self._apps: dict[str, AppCredentials] = {}

    # --- errors -----------------------------------------------------------------------

    def classify(self, response: httpx.Response) -> PlatformError:
        status = response.status_code
        message = _error_text(response)
        if status == 401:
            return AuthExpired(f"The instance refused the token: {message}", code="401")
        if status == 403 and any(m in message.lower() for m in AUTH_403_MARKERS):
            return AuthExpired(f"The instance refused the account: {message}", code="403")
        if status == 429:
            return RateLimited(
                f"Mastodon rate limit: {message}", code="429", retry_at=reset_at(response.headers)
            )
        if status == 422 and PROCESSING_422 in message:
            return Transient(f"Media still processing: {message}", code="media_processing")
        if status >= 500:
            return Transient(f"Instance error {status}: {message}", code=str(status))
        if status == 404:
            return Permanent(f"Not found on the instance: {message}", code="not_found")
        return Permanent(message, code=str(status))

    # --- connecting -------------------------------------------------------------------

    @staticmethod
    def _auth(account: Credentials) -> dict[str, str]:
        return {"Authorization": f"Bearer {account.access_token}"}

    async def register_app(self, instance: str, redirect_uri: str) -> AppCredentials:
        """The instance's OAuth app for `redirect_uri` (registered on first use);
        `extra["instance"]` is the base URL to store as the account's `baseUrl`."""
        base = await checked_instance(instance, self.runtime.settings.outbound_allow)
        return await oauth.register_app(self.http, self, self._apps, base, redirect_uri)

    async def exchange_code(
        self, spec_app: AppCredentials, code: str, redirect_uri: str, code_verifier: str | None
    ) -> TokenSet:
        return await oauth.exchange_code(
            self.http, self, spec_app, code, redirect_uri, code_verifier
        )

    async def _verify(self, account: Credentials) -> dict[str, Any]:
        body = await self.http.json(
            self,
            "GET",
            account.url("/api/v1/accounts/verify_credentials"),
            headers=self._auth(account),
        )
        if not isinstance(body, dict) or not body.get("id"):
            raise Transient("The instance answered verify_credentials without an account id")
        return body

    @staticmethod
    def _identity(base_url: str, body: Mapping[str, Any]) -> Identity:
        # Account ids are only unique within one instance: the host makes them global.
        host = host_of(base_url)
        acct = str(body.get("acct") or body.get("username") or "")
        return Identity(
            external_id=f"{body['id']}@{host}",
            handle=acct if "@" in acct else f"{acct}@{host}",
            display_name=body.get("display_name") or None,
            avatar_url=body.get("avatar") or None,
        )

    async def whoami(self, account: Credentials) -> Identity:
        return self._identity(account.base_url or "", await self._verify(account))

    async def connect_with_credentials(self, body: Mapping[str, Any]) -> Connection:
        """Verify an access token on its instance (`verify_credentials`)."""
        data = parse_connect(body)
        base = await checked_instance(data.instance, self.runtime.settings.outbound_allow)
        probe = Credentials(
            account_id="",
            platform=Platform.MASTODON,
            external_id="",
            access_token=data.access_token,
            base_url=base,
        )
        account = await self._verify(probe)
        return Connection(
            identity=self._identity(base, account),
            tokens=TokenSet(access_token=data.access_token),
            base_url=base,
            settings={"baseUrl": base, "accountId": str(account["id"])},
        )

    async def refresh(self, account: Credentials) -> TokenSet:
        # mastodon.md §1: tokens have no expiry and no refresh token; a refused token
        # means the user revoked it.
        raise AuthExpired("Mastodon tokens cannot be refreshed; reconnect the account")

    # --- publishing -------------------------------------------------------------------

    async def _status_body(self, account: Credentials, post: Outgoing) -> dict[str, Any]:
        body: dict[str, Any] = {"status": post.text}
        if post.media:
            body["media_ids"] = await self.uploader.media_ids(
                account, post.media, dict(post.alt_texts)
            )
        if post.poll is not None:
            minutes = post.poll.duration_minutes
            body["poll"] = {
                "options": list(post.poll.options),
                "expires_in": minutes * 60 if minutes else DEFAULT_POLL_SECONDS,
            }
        if post.reply_to is not None:
            body["in_reply_to_id"] = post.reply_to.id
        options = post.options
        for name in ("visibility", "spoiler_text", "sensitive", "language"):
            value = getattr(options, name, None)
            if value is not None:
                body[name] = value
        if body.get("spoiler_text") and "sensitive" not in body:
            body["sensitive"] = True  # a content warning hides the media too
        return body

    @staticmethod
    def _published(status: Any) -> Published:
        if not isinstance(status, Mapping) or not status.get("id"):
            raise Transient("The instance answered without a status id", maybe_sent=True)
        return Published(id=str(status["id"]), url=status.get("url") or status.get("uri"))

    async def _create(self, account: Credentials, post: Outgoing) -> Published:
        body = await self._status_body(account, post)
        try:
            status = await self.http.json(
                self,
                "POST",
                account.url("/api/v1/statuses"),
                headers={**self._auth(account), "Idempotency-Key": post.key},
                json=body,
            )
        except Permanent as error:
            if post.media and "could not be found" in error.message.lower():
                # A remembered media id the instance has since purged: upload again.
                await self.uploader.forget(account, post.media)
                raise Transient(error.message, code="media_expired") from error
            raise
        return self._published(status)

    async def publish(self, account: Credentials, post: Outgoing) -> Published:
        """Create the status; a thread segment replies to `post.reply_to`."""
        return await self._create(account, post)

    async def comment(self, account: Credentials, post: Outgoing) -> Published:
        """The first comment: a reply to the main status."""
        if post.reply_to is None:
            raise Permanent("A first comment needs the status it replies to", code="not_found")
        return await self._create(account, post)

    def _account_id(self, account: Credentials) -> str:
        stored = account.settings.get("accountId")
        return str(stored) if stored else account.external_id.split("@", 1)[0]

    async def _statuses(
        self, account: Credentials, limit: int, max_id: str | None = None
    ) -> list[dict[str, Any]]:
        params = {"limit": str(min(limit, MAX_PAGE)), "exclude_reblogs": "true"}
        if max_id:
            params["max_id"] = max_id
        body = await self.http.json(
            self,
            "GET",
            account.url(f"/api/v1/accounts/{self._account_id(account)}/statuses"),
            headers=self._auth(account),
            params=params,
        )
        return [s for s in body if isinstance(s, dict)] if isinstance(body, list) else []

    async def find_published(self, account: Credentials, post: Outgoing) -> Published | None:
        """A recent status with this step's text (and parent), for an attempt older
        than the idempotency window."""
        wanted = comparable(post.text)
        if not wanted:
            # Every text-less status looks alike: better a person checks than a guess.
            raise Permanent("A status without text cannot be told apart", code="unsupported")
        parent = post.reply_to.id if post.reply_to else None
        for status in await self._statuses(account, MAX_PAGE):
            if status.get("in_reply_to_id") != parent:
                continue
            if html_to_text(str(status.get("content") or "")) == wanted:
                return self._published(status)
        return None

    # --- after publishing -------------------------------------------------------------

    async def delete(self, account: Credentials, platform_post_id: str) -> None:
        """`DELETE /api/v1/statuses/:id`; a status that is already gone counts as deleted."""
        try:
            await self.http.request(
                self,
                "DELETE",
                account.url(f"/api/v1/statuses/{_status_id(platform_post_id)}"),
                headers=self._auth(account),
            )
        except Permanent as error:
            if error.code != "not_found":
                raise

    async def edit(self, account: Credentials, platform_post_id: str, post: Outgoing) -> Published:
        """`PUT /api/v1/statuses/:id` (Mastodon 3.5+). The edit replaces every field, so
        what the edit does not change (attachments, content warning, language, poll) is
        sent back as the status has it."""
        status_id = _status_id(platform_post_id)
        current = _object(
            await self.http.json(
                self,
                "GET",
                account.url(f"/api/v1/statuses/{status_id}"),
                headers=self._auth(account),
            )
        )
        body: dict[str, Any] = {"status": post.text}
        if post.media:
            body["media_ids"] = await self.uploader.media_ids(
                account, post.media, dict(post.alt_texts)
            )
        else:
            attachments = current.get("media_attachments") or []
            body["media_ids"] = [str(a["id"]) for a in attachments if a.get("id")]
        options = post.options
        for name in ("spoiler_text", "sensitive", "language"):
            value = getattr(options, name, None)
            body[name] = value if value is not None else current.get(name)
        if post.poll is not None:
            minutes = post.poll.duration_minutes
            body["poll"] = {
                "options": list(post.poll.options),
                "expires_in": minutes * 60 if minutes else DEFAULT_POLL_SECONDS,
            }
        elif isinstance(current.get("poll"), dict):
            body["poll"] = _same_poll(current["poll"])
        body = {k: v for k, v in body.items() if v is not None}
        status = await self.http.json(
            self,
            "PUT",
            account.url(f"/api/v1/statuses/{status_id}"),
            headers=self._auth(account),
            json=body,
        )
        return self._published(status)

    async def metrics(self, account: Credentials, platform_post_id: str) -> PostMetrics:
        """Favourites, replies and boosts (+ quotes on 4.5+); no views on Mastodon."""
        status = _object(
            await self.http.json(
                self,
                "GET",
                account.url(f"/api/v1/statuses/{_status_id(platform_post_id)}"),
                headers=self._auth(account),
            )
        )
        return PostMetrics(
            collected_at=utcnow(),
            likes=int(status.get("favourites_count") or 0),
            comments=int(status.get("replies_count") or 0),
            shares=int(status.get("reblogs_count") or 0) + int(status.get("quotes_count") or 0),
        )

    async def list_posts(
        self, runtime: Runtime, session: AsyncSession, account: SocialAccount, params: PageParams
    ) -> Page[NativePost]:
        """The account's statuses (boosts left out), newest first; the cursor is the
        last status id (`max_id`)."""
        credentials = load_credentials(runtime, account)
        cursor = params.cursor
        if cursor is not None and (len(cursor) > 64 or not set(cursor) <= _CURSOR_CHARS):
            raise BadRequest(
                "Invalid cursor.", details={"fields": [{"field": "cursor", "message": "invalid"}]}
            )
        limit = min(params.limit, MAX_PAGE)
        try:
            statuses = await self._statuses(credentials, limit, cursor)
        except PlatformError as error:
            raise listing_error(error, "The instance") from error
        ids = [str(s["id"]) for s in statuses if s.get("id")]
        tracked = await tracked_posts(session, account.id, ids)
        posts = [
            NativePost(
                platform_post_id=str(status["id"]),
                caption=html_to_text(str(status.get("content") or "")),
                timestamp=parse_iso(status.get("created_at")) or utcnow(),
                action="reply" if status.get("in_reply_to_id") else "publish",
                in_db=str(status["id"]) in tracked,
                db_post_id=tracked.get(str(status["id"])),
            )
            for status in statuses
            if status.get("id")
        ]
        next_cursor = ids[-1] if len(statuses) >= limit and ids else None
        return Page(items=posts, next_cursor=next_cursor)


def _status_id(platform_post_id: str) -> str:
    """Status ids are opaque strings (snowflakes on Mastodon, ULIDs on GoToSocial), but
    never contain a path separator."""
    if not platform_post_id or not set(platform_post_id) <= _CURSOR_CHARS:
        raise Permanent(f"{platform_post_id!r} is not a status id", code="invalid_post_id")
    return platform_post_id


def _same_poll(poll: Mapping[str, Any]) -> dict[str, Any]:
    """The status's poll as an edit must resend it to keep it: identical options keep
    the votes; `expires_in` keeps the end time."""
    options = [str(o.get("title")) for o in poll.get("options") or [] if isinstance(o, dict)]
    expires = parse_iso(poll.get("expires_at"))
    remaining = int((expires - utcnow()).total_seconds()) if expires else DEFAULT_POLL_SECONDS
    return {
        "options": options,
        "expires_in": max(300, remaining),  # mastodon.md §4 min_expiration 300 s
        "multiple": bool(poll.get("multiple")),
    }
