"""Slack: a bot token posting into one channel through the Web API
(shared/platforms/slack.md).

An account is a bot token plus a channel, verified at connect with `auth.test` and
`conversations.info` (joining a public channel the bot is not in yet). A message's
platform post id is its `ts`, kept as a string. Thread replies always name the root
message's `ts` (`Outgoing.root`), never a reply's.

Slack answers most failures with HTTP 200 and `{"ok": false, "error": "…"}`: every call
checks `ok` and classifies the `error` code; HTTP 429 carries `Retry-After`.

Files go through the external upload flow (`files.getUploadURLExternal`, the bytes to the
upload URL, `files.completeUploadExternal` with the text as `initial_comment`). Slack
shares the files asynchronously and does not return the message `ts`: the adapter hands
the worker back (`Pending`) and reads it from `files.info` later.

No idempotency key exists, but a bot can read its channel: an interrupted send is
settled by looking for a message of this bot with the same text in the channel or thread
(`recovery` "lookup", which needs the `channels:history`/`groups:history` scope; without
it the target fails as `outcome_unknown` rather than risk a duplicate).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.accounts.schemas import NativePost
from polypost.core.errors import BadRequest
from polypost.core.http import PlatformHttp, retry_at_from_headers
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
from polypost.platforms.connect import Connection, Identity, parse_token_response
from polypost.platforms.credentials import load_credentials
from polypost.platforms.download import filename_of, read_chunks
from polypost.platforms.native import listing_error, tracked_posts
from polypost.platforms.options import SlackOptions

API = "https://slack.com/api"
JSON = {"Content-Type": "application/json; charset=utf-8"}
# slack.md §6.
AUTH_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "org_login_required",
        "team_added_to_org",
        "missing_scope",
        "no_permission",
        "ekm_access_denied",
    }
)
RATE_ERRORS = frozenset({"ratelimited", "rate_limited"})
TRANSIENT_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
# The calls that post: a failure of Slack's own after the request arrived may have posted.
POSTING_METHODS = frozenset({"chat.postMessage", "files.completeUploadExternal"})
# Sharing uploaded files is asynchronous (malware scan); how often to look and how long
# to wait before settling for the file id (slack.md §7 "Store the file id as a fallback").
SHARE_POLL = timedelta(seconds=3)
SHARE_DEADLINE = timedelta(minutes=10)
UPLOAD_TIMEOUT = httpx.Timeout(300.0, connect=10.0)
HISTORY_LIMIT = 100
REPLIES_LIMIT = 200
MAX_PAGE = 100
FILE_PREFIX = "file:"
TS = re.compile(r"^\d{1,12}\.\d{1,9}$")
CURSOR = re.compile(r"^[A-Za-z0-9+/=_-]{1,256}$")
# `<https://url|label>` and `<https://url>` as Slack stores links in `text`.
SLACK_LINK = re.compile(r"<((?:https?|mailto):[^|>\s]+)(?:\|([^>]*))?>")


def comparable(text: str) -> str:
    """Message text as a person reads it, for matching what was sent with what Slack
    stored: entities unescaped, links reduced to their label (or URL)."""
    unlinked = SLACK_LINK.sub(lambda m: m.group(2) or m.group(1), text)
    return " ".join(html.unescape(unlinked).split())


def _ts(value: str) -> str:
    if not TS.match(value):
        raise Permanent(f"{value!r} is not a Slack message timestamp", code="invalid_post_id")
    return value


class UploadTarget:
    """The upload URL answers `200 OK - <length>`; anything else means the upload must be
    repeated from the start (slack.md §6 "upload URL POST non-200")."""

    def classify(self, response: httpx.Response) -> PlatformError:
        return Transient(f"Slack refused the file bytes (HTTP {response.status_code})")


class SlackAdapter:
    platform: ClassVar[Platform] = Platform.SLACK
    capabilities: ClassVar[Capabilities] = capabilities_for("slack")
    recovery: ClassVar[str] = "lookup"
    dedup_window: ClassVar[timedelta | None] = None

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.http = PlatformHttp(runtime.http)

    # --- errors -----------------------------------------------------------------------

    def classify(self, response: httpx.Response) -> PlatformError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        if response.status_code == 429:
            return RateLimited(
                "Slack rate limit",
                code="ratelimited",
                retry_at=retry_at_from_headers(response.headers),
            )
        if response.status_code >= 500:
            return Transient(f"Slack error {response.status_code}", code=str(response.status_code))
        return self.error(body, response.headers)

    def error(self, body: Mapping[str, Any], headers: httpx.Headers | None = None) -> PlatformError:
        """An `ok: false` body by its `error` code (slack.md §6)."""
        code = str(body.get("error") or "unknown_error")
        if code in AUTH_ERRORS:
            needed = f" (needs {body['needed']})" if body.get("needed") else ""
            return AuthExpired(f"Slack refused the token: {code}{needed}", code=code)
        if code in RATE_ERRORS:
            retry_at = retry_at_from_headers(headers) if headers is not None else None
            return RateLimited("Slack rate limit", code=code, retry_at=retry_at)
        if code in TRANSIENT_ERRORS:
            return Transient(f"Slack error: {code}", code=code)
        messages = (body.get("response_metadata") or {}).get("messages") or []
        detail = f": {messages[0]}" if messages and isinstance(messages[0], str) else ""
        return Permanent(f"Slack refused the request: {code}{detail}", code=code)

    # --- calls ------------------------------------------------------------------------

    @staticmethod
    def _auth(token: str | None) -> dict[str, str]:
        if not token:
            raise AuthExpired("The Slack account has no bot token", code="no_token")
        return {"Authorization": f"Bearer {token}"}

    async def _call(
        self,
        token: str | None,
        method: str,
        *,
        json: Mapping[str, Any] | None = None,
        data: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """One Web API method; GET when it has only query parameters."""
        headers = self._auth(token)
        kwargs: dict[str, Any] = {}
        if json is not None:
            kwargs["json"] = dict(json)
            headers.update(JSON)
        if data is not None:
            kwargs["data"] = dict(data)
        if params is not None:
            kwargs["params"] = dict(params)
        verb = "GET" if json is None and data is None else "POST"
        try:
            response = await self.http.request(
                self, verb, f"{API}/{method}", headers=headers, **kwargs
            )
            try:
                body = response.json()
            except ValueError:
                raise Transient(f"Slack answered {method} with something other than JSON") from None
            if not isinstance(body, dict):
                raise Transient(f"Slack answered {method} with something other than an object")
            if body.get("ok") is not True:
                raise self.error(body, response.headers)
        except Transient as error:
            if method in POSTING_METHODS and not error.maybe_sent:
                # Slack failed after the request arrived: the message may exist.
                raise Transient(error.message, code=error.code, maybe_sent=True) from error
            raise
        return body

    @staticmethod
    def _channel(account: Credentials) -> str:
        channel = account.settings.get("channelId") or account.external_id.rpartition(":")[2]
        return str(channel)

    # --- connecting -------------------------------------------------------------------

    async def _identify(
        self, token: str, channel_id: str, *, join: bool
    ) -> tuple[Identity, dict[str, Any]]:
        auth = await self._call(token, "auth.test", data={})
        info = await self._call(token, "conversations.info", params={"channel": channel_id})
        channel = info.get("channel")
        if not isinstance(channel, dict) or not channel.get("id"):
            raise Transient("Slack answered conversations.info without the channel")
        name = str(channel.get("name") or channel["id"])
        if channel.get("is_archived"):
            raise Permanent(f"#{name} is archived", code="is_archived")
        if join and not channel.get("is_member"):
            if channel.get("is_private"):
                raise Permanent(
                    f"The bot is not in the private channel #{name}; invite it with "
                    "/invite, then connect again.",
                    code="not_in_channel",
                )
            try:
                await self._call(token, "conversations.join", json={"channel": channel["id"]})
            except PlatformError as error:
                if error.kind in ("transient", "rate_limited"):
                    raise
                raise Permanent(
                    f"The bot could not join #{name} ({error.code}); invite it with /invite "
                    "or grant the channels:join scope.",
                    code="not_in_channel",
                ) from error
        team = str(auth.get("team") or "")
        identity = Identity(
            external_id=f"{auth.get('team_id')}:{channel['id']}",
            handle=f"#{name}",
            display_name=f"#{name} ({team})" if team else f"#{name}",
        )
        settings = {
            "channelId": str(channel["id"]),
            "channelName": name,
            "teamId": auth.get("team_id"),
            "teamName": team or None,
            "teamUrl": auth.get("url"),
            "botUserId": auth.get("user_id"),
            "botId": auth.get("bot_id"),
        }
        return identity, {k: v for k, v in settings.items() if v}

    async def whoami(self, account: Credentials) -> Identity:
        identity, _ = await self._identify(
            account.access_token or "", self._channel(account), join=False
        )
        return identity

    async def connect_with_credentials(self, body: Mapping[str, Any]) -> Connection:
        """`auth.test` proves the token; `conversations.info` finds the channel, which the
        bot joins when it is public and the bot is not in it yet (slack.md §1)."""
        token = str(body["botToken"])
        identity, settings = await self._identify(token, str(body["channel"]), join=True)
        return Connection(identity=identity, tokens=TokenSet(access_token=token), settings=settings)

    async def refresh(self, account: Credentials) -> TokenSet:
        """Token rotation (slack.md §1): `oauth.v2.access` with the refresh token returns a
        new access token and a new refresh token; without rotation tokens never expire."""
        if not account.refresh_token:
            raise AuthExpired("The Slack token was revoked; reconnect the account")
        if account.app is None:
            raise Permanent("No Slack developer app is configured", code="credentials_missing")
        form = {
            "grant_type": "refresh_token",
            "refresh_token": account.refresh_token,
            "client_id": account.app.client_id,
            "client_secret": account.app.client_secret or "",
        }
        response = await self.http.request(self, "POST", f"{API}/oauth.v2.access", data=form)
        body = response.json() if response.content else {}
        if not isinstance(body, dict) or body.get("ok") is not True:
            error = self.error(body if isinstance(body, dict) else {})
            if error.kind == "permanent":
                raise AuthExpired(f"Slack refused the refresh token: {error.code}", code=error.code)
            raise error
        return parse_token_response(body, "slack")

    # --- publishing -------------------------------------------------------------------

    @staticmethod
    def _options(post: Outgoing) -> SlackOptions:
        options = post.options
        return options if isinstance(options, SlackOptions) else SlackOptions()

    @staticmethod
    def _text(post: Outgoing) -> str:
        # A link unfurls when it is in the text (slack.md §2 "Link card").
        if post.link and post.link not in post.text:
            return f"{post.text}\n{post.link}" if post.text else post.link
        return post.text

    @staticmethod
    def _thread_ts(post: Outgoing) -> str | None:
        """The root message's ts: Slack threads hang every reply on the root."""
        parent = post.root or post.reply_to
        if parent is None:
            return None
        if parent.id.startswith(FILE_PREFIX):
            raise Permanent(
                "The thread's first message has no Slack timestamp (its files were still "
                "being shared); replies cannot be attached to it",
                code="thread_unavailable",
            )
        return _ts(parent.id)

    async def _permalink(self, account: Credentials, channel: str, ts: str) -> str | None:
        """`chat.getPermalink`, else the link built from the workspace URL. The message
        exists already: nothing here may fail the publish."""
        try:
            body = await self._call(
                account.access_token,
                "chat.getPermalink",
                params={"channel": channel, "message_ts": ts},
            )
        except PlatformError:
            team_url = account.settings.get("teamUrl")
            if not team_url:
                return None
            return f"{str(team_url).rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"
        link = body.get("permalink")
        return str(link) if link else None

    async def publish(self, account: Credentials, post: Outgoing) -> Published:
        """`chat.postMessage`, or the file upload flow when the post has media; a thread
        segment or first comment goes into the root message's thread."""
        if post.resume is not None:
            return await self._shared(account, post.resume)
        channel = self._channel(account)
        thread_ts = self._thread_ts(post)
        if post.media:
            return await self._upload(account, post, channel, thread_ts)
        options = self._options(post)
        payload: dict[str, Any] = {"channel": channel, "text": self._text(post)}
        if thread_ts:
            payload["thread_ts"] = thread_ts
        for name in ("unfurl_links", "unfurl_media", "username", "icon_url", "icon_emoji"):
            value = getattr(options, name)
            if value is not None:
                payload[name] = value
        body = await self._call(account.access_token, "chat.postMessage", json=payload)
        ts = body.get("ts")
        if not isinstance(ts, str) or not ts:
            raise Transient("Slack answered chat.postMessage without a ts", maybe_sent=True)
        posted_in = str(body.get("channel") or channel)
        return Published(id=ts, url=await self._permalink(account, posted_in, ts))

    async def comment(self, account: Credentials, post: Outgoing) -> Published:
        """The first comment: a reply in the post's thread."""
        if post.reply_to is None:
            raise Permanent("A first comment needs the message it replies to", code="not_found")
        return await self.publish(account, post)

    async def _upload_one(self, account: Credentials, post: Outgoing, media: MediaInfo) -> str:
        """Steps 1-2 of slack.md §3 for one file; its file id."""
        if not media.size:
            raise Permanent(f"Media {media.id} has no measured size", code="media_invalid")
        form = {"filename": filename_of(media), "length": str(media.size)}
        alt = post.alt_texts.get(media.id)
        if alt and media.kind in (MediaKind.IMAGE, MediaKind.GIF):
            form["alt_txt"] = alt[:1000]
        target = await self._call(account.access_token, "files.getUploadURLExternal", data=form)
        upload_url, file_id = target.get("upload_url"), target.get("file_id")
        if not isinstance(upload_url, str) or not isinstance(file_id, str):
            raise Transient("Slack answered getUploadURLExternal without an upload URL")
        try:
            await self.http.request(
                UploadTarget(),
                "POST",
                upload_url,
                content=read_chunks(self.runtime.http, media),
                headers={"Content-Length": str(media.size), "Content-Type": media.content_type},
                timeout=UPLOAD_TIMEOUT,
            )
        except Transient as error:
            # Bytes to an upload URL post nothing: a lost answer only costs a new upload.
            raise Transient(error.message, code=error.code) from error
        return file_id

    async def _upload(
        self, account: Credentials, post: Outgoing, channel: str, thread_ts: str | None
    ) -> Published:
        file_ids = [await self._upload_one(account, post, media) for media in post.media]
        files = [{"id": file_id} for file_id in file_ids]
        form: dict[str, Any] = {"files": files, "channel_id": channel}
        text = self._text(post)
        if text:
            form["initial_comment"] = text
        if thread_ts:
            form["thread_ts"] = thread_ts
        body = await self._call(account.access_token, "files.completeUploadExternal", json=form)
        state = {"files": file_ids, "channel": channel, "since": isoformat(utcnow())}
        shared = body.get("files")
        first = shared[0] if isinstance(shared, list) and shared else {}
        ts = _share_ts(first, channel)
        if ts is None:
            raise Pending("sharing files", state, SHARE_POLL)
        return Published(id=ts, url=await self._permalink(account, channel, ts))

    async def _shared(self, account: Credentials, state: Mapping[str, Any]) -> Published:
        """A resumed upload: the message `ts` once Slack has shared the files."""
        file_id = str(state["files"][0])
        channel = str(state["channel"])
        waited = utcnow() - datetime.fromisoformat(str(state["since"]))
        try:
            info = await self._call(account.access_token, "files.info", params={"file": file_id})
        except (Transient, RateLimited) as error:
            # The files are posted already: a failed look must not start the post over.
            if waited < SHARE_DEADLINE:
                retry_in = SHARE_POLL
                if error.retry_at is not None:
                    retry_in = max(SHARE_POLL, error.retry_at - utcnow())
                raise Pending("sharing files", state, retry_in) from error
            info = {}
        found = info.get("file")
        file: dict[str, Any] = found if isinstance(found, dict) else {}
        ts = _share_ts(file, channel)
        if ts is not None:
            return Published(id=ts, url=await self._permalink(account, channel, ts))
        if waited < SHARE_DEADLINE:
            raise Pending("sharing files", state, SHARE_POLL)
        # Shared without a message we can see: keep the file as the post.
        return Published(id=f"{FILE_PREFIX}{file_id}", url=file.get("permalink"))

    # --- recovery and listing ---------------------------------------------------------

    def _is_ours(self, account: Credentials, message: Mapping[str, Any]) -> bool:
        bot_id, bot_user = account.settings.get("botId"), account.settings.get("botUserId")
        return bool(
            (bot_id and message.get("bot_id") == bot_id)
            or (bot_user and message.get("user") == bot_user)
        )

    async def _messages(
        self, account: Credentials, thread_ts: str | None, limit: int, cursor: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        params = {"channel": self._channel(account), "limit": str(limit)}
        if thread_ts:
            params["ts"] = thread_ts
        if cursor:
            params["cursor"] = cursor
        method = "conversations.replies" if thread_ts else "conversations.history"
        body = await self._call(account.access_token, method, params=params)
        messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        next_cursor = (body.get("response_metadata") or {}).get("next_cursor") or None
        return messages, next_cursor

    async def find_published(self, account: Credentials, post: Outgoing) -> Published | None:
        """This bot's message with the same text in the channel (or the root's thread)."""
        wanted = comparable(self._text(post))
        if not wanted:
            # Every text-less upload looks alike: better a person checks than a guess.
            raise Permanent("A message without text cannot be told apart", code="unsupported")
        thread_ts = self._thread_ts(post)
        try:
            messages, _ = await self._messages(
                account, thread_ts, REPLIES_LIMIT if thread_ts else HISTORY_LIMIT
            )
        except AuthExpired as error:
            # Reading history needs channels:history; a token without it has not expired.
            raise Permanent(
                f"Slack history is not readable with this token ({error.code})",
                code="unsupported",
            ) from error
        for message in messages:
            ts = message.get("ts")
            if not isinstance(ts, str) or ts == thread_ts or not self._is_ours(account, message):
                continue
            if comparable(str(message.get("text") or "")) == wanted:
                channel = self._channel(account)
                return Published(id=ts, url=await self._permalink(account, channel, ts))
        return None

    async def list_posts(
        self, runtime: Runtime, session: AsyncSession, account: SocialAccount, params: PageParams
    ) -> Page[NativePost]:
        """The bot's messages in the channel, newest first; the cursor is Slack's."""
        credentials = load_credentials(runtime, account)
        cursor = params.cursor
        if cursor is not None and not CURSOR.match(cursor):
            raise BadRequest(
                "Invalid cursor.", details={"fields": [{"field": "cursor", "message": "invalid"}]}
            )
        try:
            messages, next_cursor = await self._messages(
                credentials, None, min(params.limit, MAX_PAGE), cursor
            )
        except PlatformError as error:
            raise listing_error(error, "Slack") from error
        ours = [m for m in messages if self._is_ours(credentials, m) and m.get("ts")]
        tracked = await tracked_posts(session, account.id, [str(m["ts"]) for m in ours])
        posts = [
            NativePost(
                platform_post_id=str(m["ts"]),
                caption=comparable(str(m.get("text") or "")),
                timestamp=_ts_time(str(m["ts"])),
                action="reply" if m.get("thread_ts") not in (None, m["ts"]) else "publish",
                in_db=str(m["ts"]) in tracked,
                db_post_id=tracked.get(str(m["ts"])),
            )
            for m in ours
        ]
        return Page(items=posts, next_cursor=next_cursor)

    # --- after publishing -------------------------------------------------------------

    async def edit(self, account: Credentials, platform_post_id: str, post: Outgoing) -> Published:
        """`chat.update` (the bot's own messages only)."""
        if platform_post_id.startswith(FILE_PREFIX):
            raise Permanent(
                "A shared file without its message cannot be edited", code="unsupported"
            )
        channel = self._channel(account)
        ts = _ts(platform_post_id)
        await self._call(
            account.access_token,
            "chat.update",
            json={"channel": channel, "ts": ts, "text": self._text(post)},
        )
        return Published(id=ts, url=await self._permalink(account, channel, ts))

    async def delete(self, account: Credentials, platform_post_id: str) -> None:
        """`chat.delete`, or `files.delete` for a file kept as the post; already gone
        counts as deleted."""
        try:
            if platform_post_id.startswith(FILE_PREFIX):
                file_id = platform_post_id.removeprefix(FILE_PREFIX)
                if not re.fullmatch(r"F[A-Z0-9]{1,30}", file_id):
                    raise Permanent(f"{file_id!r} is not a Slack file id", code="invalid_post_id")
                await self._call(account.access_token, "files.delete", json={"file": file_id})
                return
            await self._call(
                account.access_token,
                "chat.delete",
                json={"channel": self._channel(account), "ts": _ts(platform_post_id)},
            )
        except Permanent as error:
            if error.code not in ("message_not_found", "file_not_found", "file_deleted"):
                raise

    async def metrics(self, account: Credentials, platform_post_id: str) -> PostMetrics:
        raise Permanent("Slack reports no views for messages", code="unsupported")


def _share_ts(file: Mapping[str, Any], channel: str) -> str | None:
    """The message `ts` of a file's share in `channel` (`shares.public|private`)."""
    shares = file.get("shares")
    if not isinstance(shares, dict):
        return None
    for visibility in ("public", "private"):
        entries = (shares.get(visibility) or {}).get(channel)
        if isinstance(entries, list) and entries and isinstance(entries[0], dict):
            ts = entries[0].get("ts")
            if isinstance(ts, str) and ts:
                return ts
    return None


def _ts_time(ts: str) -> datetime:
    try:
        return datetime.fromtimestamp(float(ts), UTC)
    except (ValueError, OverflowError):
        return utcnow()
