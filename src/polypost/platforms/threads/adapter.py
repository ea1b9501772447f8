"""Threads through the Threads API (graph.threads.net v1.0).

Publishing (threads/publishing.py) builds a container, waits for Meta to process it and
publishes it. Threads has no idempotency key, so an interrupted publish is settled by
lookup (`recovery = "lookup"`): the remembered container's status says whether it was
published (PUBLISHED) or not (FINISHED); the post itself is then found among the
account's recent posts (or replies) by its text, reply parent and media type. A post
with no text and no remembered container cannot be recognised and is reported as
unknown. Meta sometimes answers `threads_publish` with error 10 although the post went
out (threads-go `posts_publish_recovery.go`); that answer is checked the same way.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
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
from polypost.platforms.threads import errors, oauth, reading
from polypost.platforms.threads.publishing import (
    API,
    CONTAINER_WAIT_SECONDS,
    PENDING_DELAYS,
    ThreadsPublishing,
)


class ThreadsAdapter(ThreadsPublishing):
    platform: ClassVar[Platform] = Platform.THREADS
    capabilities: ClassVar[Capabilities] = capabilities_for("threads")
    recovery: ClassVar[str] = "lookup"
    dedup_window: ClassVar[timedelta | None] = None
    oauth: ClassVar[OAuthSpec] = oauth.OAUTH

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.http = PlatformHttp(runtime.http)
        self.memo = StepMemo(runtime, "threads")
        self.sleep = asyncio.sleep
        self.now = utcnow
        self.container_wait = CONTAINER_WAIT_SECONDS
        self.pending_delays = PENDING_DELAYS

    # --- other operations -------------------------------------------------------------

    async def delete(self, account: Credentials, platform_post_id: str) -> None:
        """`DELETE /{media-id}` (threads.md §5); a post already gone counts as deleted."""
        try:
            await self.http.request(
                self, "DELETE", f"{API}/{platform_post_id}", headers=self._auth(account)
            )
        except Permanent as exc:
            if exc.code != errors.MISSING_OBJECT:
                raise

    async def edit(self, account: Credentials, platform_post_id: str, post: Outgoing) -> Published:
        # threads.md §5 "Edit | not supported by the API".
        raise Permanent("Threads posts cannot be edited through the API", code="unsupported")

    async def metrics(self, account: Credentials, platform_post_id: str) -> PostMetrics:
        body = await self.http.json(
            self,
            "GET",
            f"{API}/{platform_post_id}/insights",
            params={"metric": reading.INSIGHTS},
            headers=self._auth(account),
        )
        values = reading.insight_values(body)
        shared = [values[n] for n in ("reposts", "quotes", "shares") if n in values]
        return PostMetrics(
            collected_at=utcnow(),
            likes=values.get("likes"),
            comments=values.get("replies"),
            shares=sum(shared) if shared else None,
            views=values.get("views"),
        )

    async def list_posts(
        self, runtime: Runtime, session: AsyncSession, account: SocialAccount, params: PageParams
    ) -> Page[NativePost]:
        """The account's own posts (`GET /{user-id}/threads`), newest first."""
        credentials = load_credentials(runtime, account)
        query: dict[str, Any] = {"fields": reading.LIST_FIELDS, "limit": params.limit}
        if params.cursor:
            query["after"] = params.cursor
        body = await self.http.json(
            self,
            "GET",
            f"{API}/{account.external_id}/threads",
            params=query,
            headers=self._auth(credentials),
        )
        items = [i for i in body.get("data") or [] if isinstance(i, dict) and i.get("id")]
        tracked = await tracked_posts(session, account.id, [str(i["id"]) for i in items])
        posts = [
            NativePost(
                platform_post_id=str(item["id"]),
                caption=item.get("text"),
                timestamp=reading.parse_time(item.get("timestamp")) or utcnow(),
                in_db=str(item["id"]) in tracked,
                db_post_id=tracked.get(str(item["id"])),
            )
            for item in items
        ]
        return Page(items=posts, next_cursor=reading.next_cursor(body))

    # --- accounts ---------------------------------------------------------------------

    async def whoami(self, account: Credentials) -> Identity:
        body = await self.http.json(
            self,
            "GET",
            f"{API}/me",
            params={"fields": "id,username,name,threads_profile_picture_url"},
            headers=self._auth(account),
        )
        if not isinstance(body, dict) or not body.get("id"):
            raise Transient("Threads answered /me without a user id")
        return Identity(
            external_id=str(body["id"]),
            handle=body.get("username"),
            display_name=body.get("name"),
            avatar_url=body.get("threads_profile_picture_url"),
        )

    async def exchange_code(
        self, spec_app: AppCredentials, code: str, redirect_uri: str, code_verifier: str | None
    ) -> TokenSet:
        """Code → short-lived token → long-lived (60-day) token."""
        return await oauth.exchange_code(self.http, self, spec_app, code, redirect_uri)

    async def refresh(self, account: Credentials, app: AppCredentials | None = None) -> TokenSet:
        """A new 60-day token for the current long-lived one (no refresh token exists;
        the stored one is kept). The app credentials are not needed.

        Raises:
            AuthExpired: the token is already expired or revoked.
        """
        if not account.access_token:
            raise AuthExpired("The Threads account has no access token", code="190")
        return await oauth.refresh(self.http, self, account.access_token)
