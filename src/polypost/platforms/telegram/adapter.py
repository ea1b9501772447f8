"""Telegram: the Bot API, posting as a bot into one chat (shared/platforms/telegram.md).

An account is a bot token plus the chat it posts to (a channel, group or private chat),
verified at connect with `getMe`, `getChat` and `getChatMember`. Every method is a POST to
`https://api.telegram.org/bot{token}/{method}`; the token is in the path, so request URLs
never appear in errors or logs.

Files are uploaded as multipart (Telegram's URL fetching caps photos at 5 MB and needs a
public URL), one album per `sendMediaGroup`. A message id is the platform post id; an
album's is its message ids joined by commas, so editing and deleting reach every item.

Telegram has no idempotency key and a bot cannot read a chat's history, so an attempt
whose outcome is unknown cannot be settled: `recovery` is "none" and the pipeline fails
the target as `outcome_unknown` rather than risk a second message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import IO, Any, ClassVar

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.accounts.schemas import NativePost
from polypost.core.http import PlatformHttp, json_object
from polypost.core.pagination import Page, PageParams
from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.models import SocialAccount
from polypost.platforms.base import (
    AuthExpired,
    Capabilities,
    Credentials,
    MediaInfo,
    MediaKind,
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
from polypost.platforms.options import TelegramOptions
from polypost.platforms.registry import PlatformUnavailable

API = "https://api.telegram.org"
# telegram.md §3: "large videos can take a while — use generous timeouts, e.g. 120 s".
UPLOAD_TIMEOUT = httpx.Timeout(120.0, connect=10.0)
# A field of a multipart upload: (file name, file object, content type).
FilePart = tuple[str, IO[bytes], str]
# telegram.md §6: 400 descriptions that mean the bot lost the chat (reconnect needed).
LOST_CHAT_400 = ("chat not found", "need administrator rights", "not enough rights")
SEND_METHODS = {
    MediaKind.IMAGE: ("sendPhoto", "photo"),
    MediaKind.GIF: ("sendAnimation", "animation"),
    MediaKind.VIDEO: ("sendVideo", "video"),
    MediaKind.DOCUMENT: ("sendDocument", "document"),
}
ALBUM_TYPES = {MediaKind.IMAGE: "photo", MediaKind.VIDEO: "video", MediaKind.DOCUMENT: "document"}
POSTING_STATUSES = frozenset({"creator", "administrator", "member"})


class ChatMigrated(Permanent):
    """A group became a supergroup with a new id (telegram.md §6 "special"): the call is
    repeated once against `new_chat_id`."""

    def __init__(self, message: str, new_chat_id: int) -> None:
        super().__init__(message, code="chat_migrated")
        self.new_chat_id = new_chat_id


def chat_ref(value: object) -> int | str:
    """A chat id as Telegram takes it: a number (`-100…`) or `@username`."""
    text = str(value).strip()
    return int(text) if text.lstrip("-").isdigit() else text


def message_ids(platform_post_id: str) -> list[int]:
    """`"42"` or an album's `"42,43,44"` as message ids.

    Raises:
        Permanent: code `invalid_post_id`, not Telegram message ids.
    """
    parts = platform_post_id.split(",")
    if not platform_post_id or len(parts) > 10 or not all(p.isdigit() for p in parts):
        raise Permanent(
            f"{platform_post_id!r} is not a Telegram message id", code="invalid_post_id"
        )
    return [int(p) for p in parts]


def permalink(chat: Mapping[str, Any], message_id: int) -> str | None:
    """telegram.md §2: public chats `t.me/{username}/{id}`, private supergroups and
    channels `t.me/c/{id without -100}/{id}`; basic groups and private chats have none."""
    username = chat.get("username")
    if username:
        return f"https://t.me/{username}/{message_id}"
    chat_id = str(chat.get("id") or "")
    if chat_id.startswith("-100") and chat_id[4:].isdigit():
        return f"https://t.me/c/{chat_id[4:]}/{message_id}"
    return None


def _may_post(chat_type: object, member: object) -> bool:
    """telegram.md §1: in a channel the bot must be an administrator with
    `can_post_messages`; in a group any member may post."""
    if not isinstance(member, dict):
        return False
    status = member.get("status")
    if chat_type == "channel":
        return status == "creator" or (
            status == "administrator" and member.get("can_post_messages") is not False
        )
    if status == "restricted":
        return member.get("can_send_messages") is True
    return status in POSTING_STATUSES


def _form_value(value: Any) -> str:
    """A multipart field: strings as they are, everything else as JSON (Telegram reads
    `true`, numbers and serialized objects such as `reply_parameters`)."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


class TelegramAdapter:
    platform: ClassVar[Platform] = Platform.TELEGRAM
    capabilities: ClassVar[Capabilities] = capabilities_for("telegram")
    recovery: ClassVar[str] = "none"
    dedup_window: ClassVar[timedelta | None] = None

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.http = PlatformHttp(runtime.http)

    # --- errors -----------------------------------------------------------------------

    def classify(self, response: httpx.Response) -> PlatformError:
        """telegram.md §6: `error_code` plus the `description` text, and `parameters`."""
        body = json_object(response)
        status = body.get("error_code")
        code = status if isinstance(status, int) else response.status_code
        description = str(body.get("description") or f"HTTP {response.status_code}")
        lowered = description.lower()
        parameters = body.get("parameters")
        if not isinstance(parameters, dict):
            parameters = {}
        migrated = parameters.get("migrate_to_chat_id")
        if isinstance(migrated, int):
            return ChatMigrated(f"Telegram: {description}", migrated)
        retry_after = parameters.get("retry_after")
        if code == 429 or isinstance(retry_after, int):
            retry_at = (
                utcnow() + timedelta(seconds=retry_after) if isinstance(retry_after, int) else None
            )
            return RateLimited(
                f"Telegram flood limit: {description}", code="429", retry_at=retry_at
            )
        if code in (401, 404):
            return AuthExpired(f"Telegram refused the bot token: {description}", code=str(code))
        if code == 403 or (code == 400 and any(m in lowered for m in LOST_CHAT_400)):
            return AuthExpired(f"The bot cannot post in the chat: {description}", code=str(code))
        if code >= 500:
            return Transient(f"Telegram error {code}: {description}", code=str(code))
        if code == 413:
            return Permanent(f"Telegram: {description}", code="payload_too_large")
        if "message is not modified" in lowered:
            return Permanent(description, code="not_modified")
        if "no text in the message to edit" in lowered:
            return Permanent(description, code="no_text")
        if "message to delete not found" in lowered or "message to edit not found" in lowered:
            return Permanent(description, code="not_found")
        if "message can't be deleted" in lowered:
            return Permanent(description, code="cannot_delete")
        return Permanent(f"Telegram: {description}", code=str(code))

    # --- calls ------------------------------------------------------------------------

    @staticmethod
    def _url(token: str | None, method: str) -> str:
        if not token:
            raise AuthExpired("The Telegram account has no bot token", code="no_token")
        return f"{API}/bot{token}/{method}"

    async def _request(
        self,
        token: str | None,
        method: str,
        payload: Mapping[str, Any],
        files: Mapping[str, FilePart] | None,
    ) -> Any:
        url = self._url(token, method)
        if files:
            for _, source, _ in files.values():
                source.seek(0)
            response = await self.http.request(
                self,
                "POST",
                url,
                data={k: _form_value(v) for k, v in payload.items()},
                files=dict(files),
                timeout=UPLOAD_TIMEOUT,
            )
        else:
            response = await self.http.request(self, "POST", url, json=dict(payload))
        body = json_object(response)
        if body.get("ok") is False:
            raise self.classify(response)
        if body.get("ok") is not True or "result" not in body:
            raise Transient(
                f"Telegram answered {method} without a result", maybe_sent=method.startswith("send")
            )
        return body["result"]

    async def _call(
        self,
        token: str | None,
        method: str,
        payload: Mapping[str, Any],
        files: Mapping[str, FilePart] | None = None,
    ) -> Any:
        """One method call; a chat migrated to a supergroup is called again at its new id
        (the refusal means nothing was sent)."""
        try:
            return await self._request(token, method, payload, files)
        except ChatMigrated as migrated:
            if "chat_id" not in payload:
                raise
            moved = {**payload, "chat_id": migrated.new_chat_id}
            return await self._request(token, method, moved, files)

    @staticmethod
    def _chat(account: Credentials) -> int | str:
        return chat_ref(account.settings.get("chatId") or account.external_id)

    # --- connecting -------------------------------------------------------------------

    async def _identify(self, token: str, chat: int | str) -> tuple[Identity, dict[str, Any]]:
        bot = await self._call(token, "getMe", {})
        if not isinstance(bot, dict) or not bot.get("id"):
            raise Transient("Telegram answered getMe without the bot's id")
        found = await self._call(token, "getChat", {"chat_id": chat})
        if not isinstance(found, dict) or found.get("id") is None:
            raise Transient("Telegram answered getChat without the chat's id")
        username = found.get("username")
        title = found.get("title") or " ".join(
            str(found[k]) for k in ("first_name", "last_name") if found.get(k)
        )
        identity = Identity(
            external_id=str(found["id"]),
            handle=f"@{username}" if username else (title or str(found["id"])),
            display_name=title or None,
        )
        settings = {
            "chatId": str(found["id"]),
            "chatType": found.get("type"),
            "chatTitle": title or None,
            "chatUsername": username,
            "botId": str(bot["id"]),
            "botUsername": bot.get("username"),
        }
        return identity, settings

    async def whoami(self, account: Credentials) -> Identity:
        identity, _ = await self._identify(account.access_token or "", self._chat(account))
        return identity

    async def connect_with_credentials(self, body: Mapping[str, Any]) -> Connection:
        """`getMe` proves the token, `getChat` resolves the chat to its numeric id, and
        `getChatMember` checks the bot may post there (telegram.md §1)."""
        token = str(body["botToken"])
        identity, settings = await self._identify(token, chat_ref(body["chatId"]))
        if settings["chatType"] != "private":
            member = await self._call(
                token,
                "getChatMember",
                {"chat_id": chat_ref(settings["chatId"]), "user_id": int(settings["botId"])},
            )
            if not _may_post(settings["chatType"], member):
                raise Permanent(
                    "The bot cannot post in this chat: add it as an administrator with "
                    "'Post messages' (channels) or as a member (groups).",
                    code="not_admin",
                )
        return Connection(
            identity=identity,
            tokens=TokenSet(access_token=token),
            settings={k: v for k, v in settings.items() if v is not None},
        )

    async def refresh(self, account: Credentials) -> TokenSet:
        # telegram.md §1: bot tokens never expire; a refused one was revoked in @BotFather.
        raise AuthExpired("Telegram bot tokens cannot be refreshed; reconnect with a new token")

    # --- publishing -------------------------------------------------------------------

    @staticmethod
    def _options(post: Outgoing) -> TelegramOptions:
        options = post.options
        return options if isinstance(options, TelegramOptions) else TelegramOptions()

    def _base(self, account: Credentials, post: Outgoing) -> dict[str, Any]:
        """What every send takes: the chat, the options, and the message replied to."""
        options = self._options(post)
        payload: dict[str, Any] = {"chat_id": self._chat(account)}
        if options.message_thread_id is not None:
            payload["message_thread_id"] = options.message_thread_id
        if options.disable_notification is not None:
            payload["disable_notification"] = options.disable_notification
        if options.protect_content is not None:
            payload["protect_content"] = options.protect_content
        if post.reply_to is not None:
            # An album's first message stands for it (telegram.md §2 "Thread / reply chain").
            payload["reply_parameters"] = {
                "message_id": message_ids(post.reply_to.id)[0],
                "allow_sending_without_reply": True,
            }
        return payload

    def _published(self, account: Credentials, result: Any) -> Published:
        messages = result if isinstance(result, list) else [result]
        ids: list[int] = [
            m["message_id"]
            for m in messages
            if isinstance(m, dict) and isinstance(m.get("message_id"), int)
        ]
        if not ids or len(ids) != len(messages):
            raise Transient("Telegram answered without a message id", maybe_sent=True)
        chat = messages[0].get("chat") or {"id": account.settings.get("chatId")}
        if not chat.get("username") and account.settings.get("chatUsername"):
            chat = {**chat, "username": account.settings["chatUsername"]}
        return Published(id=",".join(str(i) for i in ids), url=permalink(chat, ids[0]))

    async def publish(self, account: Credentials, post: Outgoing) -> Published:
        """One message: text, a poll, a single file, or an album of 2-10; a thread
        segment or first comment replies to `post.reply_to`."""
        payload = self._base(account, post)
        options = self._options(post)
        if post.poll is not None:
            payload["question"] = post.text
            payload["options"] = [{"text": option} for option in post.poll.options]
            if post.poll.duration_minutes:
                payload["open_period"] = post.poll.duration_minutes * 60
            result = await self._call(account.access_token, "sendPoll", payload)
        elif not post.media:
            payload["text"] = post.text
            if options.parse_mode:
                payload["parse_mode"] = options.parse_mode
            preview: dict[str, Any] = {}
            if options.disable_web_page_preview:
                preview["is_disabled"] = True
            elif post.link:
                preview["url"] = post.link
            if preview:
                payload["link_preview_options"] = preview
            result = await self._call(account.access_token, "sendMessage", payload)
        elif len(post.media) == 1:
            result = await self._send_file(account, post, payload, post.media[0])
        else:
            result = await self._send_album(account, post, payload, post.media)
        return self._published(account, result)

    def _caption(self, post: Outgoing, payload: dict[str, Any]) -> None:
        if post.text:
            payload["caption"] = post.text
            parse_mode = self._options(post).parse_mode
            if parse_mode:
                payload["parse_mode"] = parse_mode

    async def _send_file(
        self, account: Credentials, post: Outgoing, payload: dict[str, Any], media: MediaInfo
    ) -> Any:
        method, field = SEND_METHODS[media.kind]
        self._caption(post, payload)
        if media.kind is MediaKind.VIDEO:
            payload["supports_streaming"] = True
            if media.duration_ms:
                payload["duration"] = max(1, round(media.duration_ms / 1000))
            if media.width and media.height:
                payload["width"], payload["height"] = media.width, media.height
        async with spool(self.runtime.http, media) as source:
            files = {field: (filename_of(media), source, media.content_type)}
            return await self._call(account.access_token, method, payload, files)

    async def _send_album(
        self,
        account: Credentials,
        post: Outgoing,
        payload: dict[str, Any],
        media: Sequence[MediaInfo],
    ) -> Any:
        """telegram.md §2: `sendMediaGroup`, files attached as `attach://fileN`, the
        caption on the first item only (clients show it as the album's caption)."""
        items: list[dict[str, Any]] = []
        for index, item in enumerate(media):
            kind = ALBUM_TYPES.get(item.kind)
            if kind is None:
                raise Permanent(
                    "Telegram sends an animation (GIF) on its own, not in an album",
                    code="media_invalid",
                )
            entry: dict[str, Any] = {"type": kind, "media": f"attach://file{index}"}
            if index == 0:
                self._caption(post, entry)
            if item.kind is MediaKind.VIDEO:
                entry["supports_streaming"] = True
            items.append(entry)
        payload["media"] = items
        async with AsyncExitStack() as stack:
            files: dict[str, FilePart] = {}
            for index, item in enumerate(media):
                source = await stack.enter_async_context(spool(self.runtime.http, item))
                files[f"file{index}"] = (filename_of(item), source, item.content_type)
            return await self._call(account.access_token, "sendMediaGroup", payload, files)

    async def comment(self, account: Credentials, post: Outgoing) -> Published:
        """The first comment: a text message replying to the post."""
        if post.reply_to is None:
            raise Permanent("A first comment needs the message it replies to", code="not_found")
        return await self.publish(account, post)

    async def find_published(self, account: Credentials, post: Outgoing) -> Published | None:
        raise Permanent(
            "Telegram bots can neither deduplicate nor read the chat's history",
            code="unsupported",
        )

    # --- after publishing -------------------------------------------------------------

    def _link(self, account: Credentials, message_id: int) -> str | None:
        chat = {
            "id": account.settings.get("chatId") or account.external_id,
            "username": account.settings.get("chatUsername"),
        }
        return permalink(chat, message_id)

    async def edit(self, account: Credentials, platform_post_id: str, post: Outgoing) -> Published:
        """`editMessageText`, or `editMessageCaption` for a media message (an album's
        caption is on its first item). An unchanged text is not an error."""
        first = message_ids(platform_post_id)[0]
        payload: dict[str, Any] = {"chat_id": self._chat(account), "message_id": first}
        parse_mode = self._options(post).parse_mode
        if parse_mode:
            payload["parse_mode"] = parse_mode
        try:
            try:
                await self._call(
                    account.access_token, "editMessageText", {**payload, "text": post.text}
                )
            except Permanent as error:
                if error.code != "no_text":
                    raise
                await self._call(
                    account.access_token, "editMessageCaption", {**payload, "caption": post.text}
                )
        except Permanent as error:
            if error.code != "not_modified":
                raise
        return Published(id=platform_post_id, url=self._link(account, first))

    async def delete(self, account: Credentials, platform_post_id: str) -> None:
        """`deleteMessage` (`deleteMessages` for an album). Bots may delete only messages
        younger than 48 hours (telegram.md §5); a message already gone counts as deleted."""
        ids = message_ids(platform_post_id)
        chat = self._chat(account)
        try:
            if len(ids) == 1:
                await self._call(
                    account.access_token, "deleteMessage", {"chat_id": chat, "message_id": ids[0]}
                )
            else:
                await self._call(
                    account.access_token, "deleteMessages", {"chat_id": chat, "message_ids": ids}
                )
        except Permanent as error:
            if error.code == "not_found":
                return
            if error.code == "cannot_delete":
                raise Permanent(
                    "Telegram lets bots delete only messages younger than 48 hours; delete "
                    "it in the Telegram app.",
                    code="unsupported",
                ) from error
            raise

    async def metrics(self, account: Credentials, platform_post_id: str) -> PostMetrics:
        raise Permanent("The Bot API reports no per-message metrics", code="unsupported")

    async def list_posts(
        self, runtime: Runtime, session: AsyncSession, account: SocialAccount, params: PageParams
    ) -> Page[NativePost]:
        raise PlatformUnavailable(
            "Telegram bots cannot list a chat's messages.", details={"platform": "telegram"}
        )
