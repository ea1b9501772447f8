"""Discord: posting through a channel webhook (shared/platforms/discord.md).

An account is one webhook (`https://discord.com/api/webhooks/{id}/{token}`): its id is
the account's external id and its token, the secret, the stored access token. Messages
are sent with `?wait=true` so Discord answers with the message (id, channel) instead of
a bare 204. Files travel in the same request as multipart (`payload_json` + `files[n]`).

Execute Webhook takes no `nonce` (only a bot's Create Message does) and a webhook cannot
read its channel, so a send whose outcome is unknown cannot be settled: `recovery` is
"none" and the pipeline fails the target as `outcome_unknown` instead of posting twice.

A message sent into a thread (`threadId`, or a forum post created with `threadName`) is
addressed with that thread's id: its platform post id is `{thread id}:{message id}`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from contextlib import AsyncExitStack
from datetime import datetime, timedelta
from typing import IO, Any, ClassVar

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.accounts.schemas import NativePost
from polypost.core.http import PlatformHttp, json_object, retry_at_from_headers
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
    RateLimited,
    TokenSet,
    Transient,
)
from polypost.platforms.capabilities import capabilities_for
from polypost.platforms.connect import Connection, Identity
from polypost.platforms.download import filename_of, spool
from polypost.platforms.options import DiscordOptions
from polypost.platforms.registry import PlatformUnavailable

API = "https://discord.com/api/v10"
CDN = "https://cdn.discordapp.com"
# discord.md §1: webhook URLs come from discord.com, discordapp.com and the canary/ptb
# clients, with or without an API version; all name the same webhook.
WEBHOOK_URL = re.compile(
    r"^https://(?:(?:canary|ptb)\.)?discord(?:app)?\.com/api(?:/v\d{1,2})?/webhooks/"
    r"(?P<id>\d{15,22})/(?P<token>[A-Za-z0-9_-]{20,128})/?$"
)
SNOWFLAKE = re.compile(r"^\d{15,22}$")
# discord.md §3 "total request ≤25 MiB".
MAX_REQUEST_BYTES = 25 * 1024 * 1024
CONTENT_LIMIT = 2000
# discord.md §2 message flags.
SUPPRESS_EMBEDS = 1 << 2
SUPPRESS_NOTIFICATIONS = 1 << 12
# discord.md §6: the webhook is gone or its token refused, or the channel is gone or
# no longer allows it; the user must reconnect (or fix permissions).
AUTH_CODES = frozenset({10015, 50027, 50001, 50013, 10003})
UNKNOWN_MESSAGE = 10008
CHANNEL_WRITE_LIMIT = 20028
FILE_TOO_LARGE = frozenset({40005, 50045})
FilePart = tuple[str, IO[bytes], str]


def parse_webhook_url(url: str) -> tuple[str, str]:
    """(webhook id, token) of a Discord webhook URL.

    Raises:
        Permanent: code `invalid_webhook_url`, not a Discord webhook URL.
    """
    match = WEBHOOK_URL.match(url.strip().split("?", 1)[0])
    if match is None:
        raise Permanent(
            "Not a Discord webhook URL (https://discord.com/api/webhooks/{id}/{token})",
            code="invalid_webhook_url",
        )
    return match["id"], match["token"]


def split_post_id(platform_post_id: str) -> tuple[str | None, str]:
    """`"{message}"` or `"{thread}:{message}"` as (thread id, message id).

    Raises:
        Permanent: code `invalid_post_id`, not a Discord message id.
    """
    thread, _, message = platform_post_id.rpartition(":")
    if not SNOWFLAKE.match(message) or (thread and not SNOWFLAKE.match(thread)):
        raise Permanent(f"{platform_post_id!r} is not a Discord message id", code="invalid_post_id")
    return thread or None, message


def _error_detail(body: Mapping[str, Any]) -> str:
    """The message, and the first field error of a 50035 Invalid Form Body."""
    message = str(body.get("message") or "")
    errors = body.get("errors")
    stack: list[tuple[str, Any]] = [("", errors)] if isinstance(errors, dict) else []
    while stack:
        path, node = stack.pop(0)
        if not isinstance(node, dict):
            continue
        listed = node.get("_errors")
        if isinstance(listed, list) and listed and isinstance(listed[0], dict):
            return f"{message}: {path or 'body'}: {listed[0].get('message')}"
        stack.extend((f"{path}.{k}" if path else str(k), v) for k, v in node.items())
    return message


class DiscordAdapter:
    platform: ClassVar[Platform] = Platform.DISCORD
    capabilities: ClassVar[Capabilities] = capabilities_for("discord")
    recovery: ClassVar[str] = "none"
    dedup_window: ClassVar[timedelta | None] = None

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.http = PlatformHttp(runtime.http)

    # --- errors -----------------------------------------------------------------------

    def classify(self, response: httpx.Response) -> PlatformError:
        """discord.md §6: `{"code", "message", "errors"?}` plus the HTTP status."""
        body = json_object(response)
        status = response.status_code
        raw_code = body.get("code")
        code = raw_code if isinstance(raw_code, int) else None
        detail = _error_detail(body) or f"HTTP {status}"
        name = str(code) if code is not None else str(status)
        if status == 429 or code == CHANNEL_WRITE_LIMIT:
            return RateLimited(
                f"Discord rate limit: {detail}", code=name, retry_at=self._retry_at(response, body)
            )
        if code in AUTH_CODES or status == 401:
            return AuthExpired(f"Discord refused the webhook: {detail}", code=name)
        if code == UNKNOWN_MESSAGE:
            return Permanent(f"Discord: {detail}", code="not_found")
        if status >= 500:
            return Transient(f"Discord error {status}: {detail}", code=str(status))
        if status == 413 or code in FILE_TOO_LARGE:
            return Permanent(f"Discord: {detail}", code="payload_too_large")
        return Permanent(f"Discord: {detail}", code=name)

    @staticmethod
    def _retry_at(response: httpx.Response, body: Mapping[str, Any]) -> datetime | None:
        """discord.md §4: `retry_after` (seconds, fractional) in the body, else
        `X-RateLimit-Reset-After`, else `Retry-After`."""
        for value in (body.get("retry_after"), response.headers.get("x-ratelimit-reset-after")):
            try:
                seconds = float(value) if value is not None else None
            except (TypeError, ValueError):
                seconds = None
            if seconds is not None and seconds >= 0:
                return utcnow() + timedelta(seconds=seconds)
        return retry_at_from_headers(response.headers)

    # --- connecting -------------------------------------------------------------------

    @staticmethod
    def _webhook(account: Credentials) -> str:
        if not account.access_token:
            raise AuthExpired("The Discord account has no webhook token", code="no_token")
        return f"{API}/webhooks/{account.external_id}/{account.access_token}"

    async def _get_webhook(self, webhook_id: str, token: str) -> dict[str, Any]:
        body = await self.http.json(self, "GET", f"{API}/webhooks/{webhook_id}/{token}")
        if not isinstance(body, dict) or str(body.get("id")) != webhook_id:
            raise Transient("Discord answered without the webhook")
        return body

    @staticmethod
    def _identity(webhook: Mapping[str, Any]) -> Identity:
        avatar = webhook.get("avatar")
        return Identity(
            external_id=str(webhook["id"]),
            handle=str(webhook.get("name") or webhook["id"]),
            display_name=webhook.get("name") or None,
            avatar_url=f"{CDN}/avatars/{webhook['id']}/{avatar}.png" if avatar else None,
        )

    async def whoami(self, account: Credentials) -> Identity:
        return self._identity(
            await self._get_webhook(account.external_id, account.access_token or "")
        )

    async def connect_with_credentials(self, body: Mapping[str, Any]) -> Connection:
        """`GET` the webhook: 200 proves it exists and the token is right (discord.md §1)."""
        webhook_id, token = parse_webhook_url(str(body["webhookUrl"]))
        webhook = await self._get_webhook(webhook_id, token)
        settings = {
            "webhookId": webhook_id,
            "channelId": str(webhook.get("channel_id") or ""),
            "guildId": str(webhook.get("guild_id") or ""),
            "name": webhook.get("name"),
        }
        return Connection(
            identity=self._identity(webhook),
            tokens=TokenSet(access_token=token),
            settings={k: v for k, v in settings.items() if v},
        )

    async def refresh(self, account: Credentials) -> TokenSet:
        # discord.md §1: webhooks never expire; a refused one was deleted or reset.
        raise AuthExpired("Discord webhooks cannot be refreshed; connect the new webhook URL")

    # --- publishing -------------------------------------------------------------------

    @staticmethod
    def _options(post: Outgoing) -> DiscordOptions:
        options = post.options
        return options if isinstance(options, DiscordOptions) else DiscordOptions()

    def _payload(self, post: Outgoing) -> dict[str, Any]:
        """The Execute Webhook JSON (discord.md §2)."""
        options = self._options(post)
        payload: dict[str, Any] = {}
        content = post.text
        embeds: list[dict[str, Any]] = []
        if post.poll is not None:
            hours = -(-(post.poll.duration_minutes or 24 * 60) // 60)
            payload["poll"] = {
                "question": {"text": post.text},
                "answers": [{"poll_media": {"text": option}} for option in post.poll.options],
                "duration": hours,
                "allow_multiselect": False,
            }
            content = ""
        if post.article is not None and (post.article.title or post.article.description):
            embed: dict[str, Any] = {"url": post.article.url}
            if post.article.title:
                embed["title"] = post.article.title[:256]
            if post.article.description:
                embed["description"] = post.article.description[:4096]
            embeds.append(embed)
        else:
            # A bare link unfurls by itself when it is in the content.
            link = post.article.url if post.article is not None else post.link
            if link and link not in content:
                joined = f"{content}\n{link}" if content else link
                if len(joined) <= CONTENT_LIMIT:
                    content = joined
                else:
                    embeds.append({"url": link, "title": link[:256]})
        if content:
            payload["content"] = content
        if embeds:
            payload["embeds"] = embeds
        if options.username:
            payload["username"] = options.username
        if options.avatar_url:
            payload["avatar_url"] = options.avatar_url
        if options.thread_name:
            payload["thread_name"] = options.thread_name
        flags = (SUPPRESS_EMBEDS if options.suppress_embeds else 0) | (
            SUPPRESS_NOTIFICATIONS if options.silent else 0
        )
        if flags:
            payload["flags"] = flags
        return payload

    def _published(self, account: Credentials, message: Any) -> Published:
        if not isinstance(message, dict) or not message.get("id"):
            raise Transient("Discord answered without the message", maybe_sent=True)
        message_id = str(message["id"])
        channel = str(message.get("channel_id") or account.settings.get("channelId") or "")
        home = str(account.settings.get("channelId") or channel)
        platform_post_id = message_id if channel == home else f"{channel}:{message_id}"
        guild = str(message.get("guild_id") or account.settings.get("guildId") or "")
        url = (
            f"https://discord.com/channels/{guild}/{channel}/{message_id}"
            if guild and channel
            else None
        )
        return Published(id=platform_post_id, url=url)

    async def publish(self, account: Credentials, post: Outgoing) -> Published:
        """Execute the webhook with `wait=true`: text, embeds, a poll and/or files."""
        payload = self._payload(post)
        params = {"wait": "true"}
        thread_id = self._options(post).thread_id
        if thread_id:
            params["thread_id"] = thread_id
        url = self._webhook(account)
        if not post.media:
            message = await self.http.json(self, "POST", url, params=params, json=payload)
            return self._published(account, message)
        total = sum(m.size or 0 for m in post.media)
        if total > MAX_REQUEST_BYTES:
            raise Permanent(
                f"Discord takes at most {MAX_REQUEST_BYTES // (1024 * 1024)} MiB of files per "
                f"message; these are {total} bytes",
                code="payload_too_large",
            )
        payload["attachments"] = [
            {"id": index, "filename": filename_of(item)}
            | ({"description": post.alt_texts[item.id]} if item.id in post.alt_texts else {})
            for index, item in enumerate(post.media)
        ]
        async with AsyncExitStack() as stack:
            files: dict[str, Any] = {
                "payload_json": (None, json.dumps(payload), "application/json"),
            }
            for index, item in enumerate(post.media):
                source = await stack.enter_async_context(spool(self.runtime.http, item))
                files[f"files[{index}]"] = (filename_of(item), source, item.content_type)
            message = await self.http.json(self, "POST", url, params=params, files=files)
        return self._published(account, message)

    async def comment(self, account: Credentials, post: Outgoing) -> Published:
        raise Permanent("A Discord webhook cannot reply to its messages", code="unsupported")

    async def find_published(self, account: Credentials, post: Outgoing) -> Published | None:
        raise Permanent(
            "A Discord webhook can neither deduplicate nor read its channel", code="unsupported"
        )

    # --- after publishing -------------------------------------------------------------

    def _message_url(
        self, account: Credentials, platform_post_id: str
    ) -> tuple[str, dict[str, str]]:
        thread, message = split_post_id(platform_post_id)
        return f"{self._webhook(account)}/messages/{message}", (
            {"thread_id": thread} if thread else {}
        )

    async def edit(self, account: Credentials, platform_post_id: str, post: Outgoing) -> Published:
        """`PATCH …/messages/{id}` with the new content; attachments stay (discord.md §5)."""
        url, params = self._message_url(account, platform_post_id)
        message = await self.http.json(
            self, "PATCH", url, params=params, json={"content": post.text}
        )
        published = self._published(account, message)
        return Published(id=platform_post_id, url=published.url)

    async def delete(self, account: Credentials, platform_post_id: str) -> None:
        """`DELETE …/messages/{id}` → 204; a message already gone counts as deleted."""
        url, params = self._message_url(account, platform_post_id)
        try:
            await self.http.request(self, "DELETE", url, params=params)
        except Permanent as error:
            if error.code != "not_found":
                raise

    async def metrics(self, account: Credentials, platform_post_id: str) -> PostMetrics:
        raise Permanent("Discord reports no views or engagement for messages", code="unsupported")

    async def list_posts(
        self, runtime: Runtime, session: AsyncSession, account: SocialAccount, params: PageParams
    ) -> Page[NativePost]:
        raise PlatformUnavailable(
            "A Discord webhook cannot list its channel's messages.",
            details={"platform": "discord"},
        )
