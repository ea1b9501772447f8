"""The Telegram adapter against respx: every send method, replies, edits, deletes, the
connect checks and every error class from the Bot API's error bodies."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any, cast

import httpx
import pytest
import respx

from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.platforms.base import (
    AuthExpired,
    Credentials,
    MediaInfo,
    MediaKind,
    Outgoing,
    Permanent,
    Platform,
    PlatformError,
    Poll,
    PostType,
    Published,
    RateLimited,
    Transient,
)
from polypost.platforms.options import TelegramOptions
from polypost.platforms.telegram.adapter import ChatMigrated, TelegramAdapter
from tests.platforms.helpers import StubRuntime, body, multipart

TOKEN = "123456:" + "A" * 35
BOT = f"https://api.telegram.org/bot{TOKEN}"
CHAT = -1001234567890
STORAGE = "https://storage.example.com"
ACCOUNT = Credentials(
    account_id="acc_tg",
    platform=Platform.TELEGRAM,
    external_id=str(CHAT),
    access_token=TOKEN,
    handle="@acme_news",
    settings={"chatId": str(CHAT), "chatType": "channel", "chatUsername": "acme_news"},
)
PRIVATE = Credentials(
    account_id="acc_tg2",
    platform=Platform.TELEGRAM,
    external_id=str(CHAT),
    access_token=TOKEN,
    settings={"chatId": str(CHAT), "chatType": "supergroup"},
)


def outgoing(text: str = "Hello Telegram", **kwargs: Any) -> Outgoing:
    return Outgoing(
        target_id="tgt_tg",
        key=kwargs.pop("key", "tgt_tg:main"),
        post_type=kwargs.pop("post_type", PostType.TEXT),
        text=text,
        **kwargs,
    )


def media(media_id: str, kind: MediaKind = MediaKind.IMAGE, **extra: Any) -> MediaInfo:
    content_type = {
        MediaKind.IMAGE: "image/jpeg",
        MediaKind.GIF: "image/gif",
        MediaKind.VIDEO: "video/mp4",
        MediaKind.DOCUMENT: "application/pdf",
    }[kind]
    return MediaInfo(
        id=media_id,
        kind=kind,
        content_type=content_type,
        size=4,
        url=f"{STORAGE}/{media_id}?sig=1",
        **extra,
    )


def telegram_options(**fields: Any) -> TelegramOptions:
    """Options as a post body gives them (camelCase)."""
    return TelegramOptions.model_validate(fields)


def message(message_id: int, chat: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "chat": chat or {"id": CHAT, "type": "channel", "title": "Acme", "username": "acme_news"},
        "date": 1760000000,
    }


def ok(result: Any) -> httpx.Response:
    return httpx.Response(200, json={"ok": True, "result": result})


def error(code: int, description: str, **parameters: Any) -> httpx.Response:
    payload: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        payload["parameters"] = parameters
    return httpx.Response(code, json=payload)


@pytest.fixture
async def adapter() -> AsyncIterator[TelegramAdapter]:
    async with httpx.AsyncClient() as client:
        yield TelegramAdapter(cast(Runtime, StubRuntime(http=client)))


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=True) as router:
        yield router


def storage(api: respx.MockRouter, media_id: str, content: bytes = b"DATA") -> respx.Route:
    return api.get(f"{STORAGE}/{media_id}?sig=1").respond(200, content=content)


class TestSendMessage:
    async def test_text_with_options_and_link_preview(
        self, adapter: TelegramAdapter, api: respx.MockRouter
    ) -> None:
        route = api.post(f"{BOT}/sendMessage").mock(return_value=ok(message(42)))
        options = telegram_options(
            parseMode="HTML", disableNotification=True, protectContent=True, messageThreadId=7
        )

        published = await adapter.publish(
            ACCOUNT, outgoing("<b>Hi</b>", options=options, link="https://acme.example/launch")
        )

        assert published == Published(id="42", url="https://t.me/acme_news/42")
        request = route.calls.last.request
        assert request.headers["content-type"] == "application/json"
        assert body(request) == {
            "chat_id": CHAT,
            "message_thread_id": 7,
            "disable_notification": True,
            "protect_content": True,
            "text": "<b>Hi</b>",
            "parse_mode": "HTML",
            "link_preview_options": {"url": "https://acme.example/launch"},
        }

    async def test_disabled_preview_and_private_supergroup_link(
        self, adapter: TelegramAdapter, api: respx.MockRouter
    ) -> None:
        route = api.post(f"{BOT}/sendMessage").mock(
            return_value=ok(message(9, {"id": CHAT, "type": "supergroup", "title": "Team"}))
        )

        published = await adapter.publish(
            PRIVATE, outgoing("Plain", options=telegram_options(disableWebPagePreview=True))
        )

        assert published == Published(id="9", url="https://t.me/c/1234567890/9")
        assert body(route.calls.last.request) == {
            "chat_id": CHAT,
            "text": "Plain",
            "link_preview_options": {"is_disabled": True},
        }

    async def test_a_basic_group_message_has_no_link(
        self, adapter: TelegramAdapter, api: respx.MockRouter
    ) -> None:
        api.post(f"{BOT}/sendMessage").mock(
            return_value=ok(message(3, {"id": -4000, "type": "group", "title": "Family"}))
        )
        account = Credentials(
            account_id="acc_g",
            platform=Platform.TELEGRAM,
            external_id="-4000",
            access_token=TOKEN,
            settings={"chatId": "-4000"},
        )

        assert await adapter.publish(account, outgoing()) == Published(id="3", url=None)

    async def test_a_thread_segment_replies_to_the_previous_albums_first_message(
        self, adapter: TelegramAdapter, api: respx.MockRouter
    ) -> None:
        route = api.post(f"{BOT}/sendMessage").mock(return_value=ok(message(50)))

        await adapter.publish(
            ACCOUNT,
            outgoing(
                "2/",
                key="tgt_tg:segment:1",
                reply_to=Published(id="47,48"),
                root=Published(id="47,48"),
            ),
        )

        assert body(route.calls.last.request) == {
            "chat_id": CHAT,
            "reply_parameters": {"message_id": 47, "allow_sending_without_reply": True},
            "text": "2/",
        }

    async def test_first_comment_replies_to_the_post(
        self, adapter: TelegramAdapter, api: respx.MockRouter
    ) -> None:
        route = api.post(f"{BOT}/sendMessage").mock(return_value=ok(message(43)))

        published = await adapter.comment(
            ACCOUNT, outgoing("Sources", key="tgt_tg:comment", reply_to=Published(id="42"))
        )

        assert published.id == "43"
        assert body(route.calls.last.request)["reply_parameters"] == {
            "message_id": 42,
            "allow_sending_without_reply": True,
        }

    async def test_a_comment_without_a_post_is_refused(self, adapter: TelegramAdapter) -> None:
        with pytest.raises(Permanent):
            await adapter.comment(ACCOUNT, outgoing("x"))

    async def test_a_migrated_group_is_called_again_at_its_new_id(
        self, adapter: TelegramAdapter, api: respx.MockRouter
    ) -> None:
        route = api.post(f"{BOT}/sendMessage").mock(
            side_effect=[
                error(
                    400,
                    "Bad Request: group chat was upgraded to a supergroup chat",
                    migrate_to_chat_id=-1009999,
                ),
                ok(message(5, {"id": -1009999, "type": "supergroup"})),
            ]
        )

        published = await adapter.publish(ACCOUNT, outgoing())

        assert [body(call.request)["chat_id"] for call in route.calls] == [CHAT, -1009999]
        assert published == Published(id="5", url="https://t.me/acme_news/5")

    async def test_a_poll_uses_the_text_as_question(
        self, adapter: TelegramAdapter, api: respx.MockRouter
    ) -> None:
        route = api.post(f"{BOT}/sendPoll").mock(return_value=ok(message(60)))

        await adapter.publish(
            ACCOUNT,
            outgoing(
                "Lunch?",
                post_type=PostType.POLL,
                poll=Poll(options=("Pizza", "Salad"), duration_minutes=60),
            ),
        )

        assert body(route.calls.last.request) == {
            "chat_id": CHAT,
            "question": "Lunch?",
            "options": [{"text": "Pizza"}, {"text": "Salad"}],
            "open_period": 3600,
        }

    async def test_an_answer_without_a_message_id_may_have_been_sent(
        self, adapter: TelegramAdapter, api: respx.MockRouter
    ) -> None:
        api.post(f"{BOT}/sendMessage").mock(return_value=ok({"chat": {"id": CHAT}}))

        with pytest.raises(Transient) as caught:
            await adapter.publish(ACCOUNT, outgoing())
        assert caught.value.maybe_sent

    async def test_a_timeout_after_sending_is_maybe_sent(
        self, adapter: TelegramAdapter, api: respx.MockRouter
    ) -> None:
        api.post(f"{BOT}/sendMessage").mock(side_effect=httpx.ReadTimeout("slow"))

        with pytest.raises(Transient) as caught:
            await adapter.publish(ACCOUNT, outgoing())
        assert caught.value.maybe_sent
        assert TOKEN not in caught.value.message


class TestSendFiles:
    async def test_photo_with_caption_is_uploaded_as_multipart(
        self, adapter: TelegramAdapter, api: respx.MockRouter
    ) -> None:
        storage(api, "md_1", b"JPEGBYTES")
        route = api.post(f"{BOT}/sendPhoto").mock(return_value=ok(message(70)))

        published = await adapter.publish(
            ACCOUNT,
            outgoing(
                "Look",
                post_type=PostType.IMAGE,
                media=(media("md_1", filename="sunset.jpg"),),
                options=telegram_options(parseMode="MarkdownV2"),
                reply_to=Published(id="69"),
            ),
        )

        assert published.id == "70"
        parts = multipart(route.calls.last.request)
        assert set(parts) == {"chat_id", "reply_parameters", "caption", "parse_mode", "photo"}
        assert parts["chat_id"][0] == str(CHAT).encode()
        assert parts["caption"][0] == b"Look"
        assert parts["parse_mode"][0] == b"MarkdownV2"
        assert json.loads(parts["reply_parameters"][0]) == {
            "message_id": 69,
            "allow_sending_without_reply": True,
        }
        content, headers = parts["photo"]
        assert content == b"JPEGBYTES"
        assert headers.get_filename() == "sunset.jpg"
        assert headers.get_content_type() == "image/jpeg"

    async def test_video_carries_its_measured_facts(
        self, adapter: TelegramAdapter, api: respx.MockRouter
    ) -> None:
        storage(api, "md_v")
        route = api.post(f"{BOT}/sendVideo").mock(return_value=ok(message(71)))

        await adapter.publish(
            ACCOUNT,
            outgoing(
                "",
                post_type=PostType.VIDEO,
                media=(media("md_v", MediaKind.VIDEO, duration_ms=12400, width=1280, height=720),),
            ),
        )

        parts = multipart(route.calls.last.request)
        assert {k: v[0] for k, v in parts.items() if k != "video"} == {
            "chat_id": str(CHAT).encode(),
            "supports_streaming": b"true",
            "duration": b"12",
            "width": b"1280",
            "height": b"720",
        }
        assert parts["video"][1].get_filename() == "md_v.mp4"

    @pytest.mark.parametrize(
        ("kind", "method", "field"),
        [
            (MediaKind.GIF, "sendAnimation", "animation"),
            (MediaKind.DOCUMENT, "sendDocument", "document"),
        ],
    )
    async def test_gif_and_document_use_their_own_methods(
        self,
        adapter: TelegramAdapter,
        api: respx.MockRouter,
        kind: MediaKind,
        method: str,
        field: str,
    ) -> None:
        storage(api, "md_f")
        route = api.post(f"{BOT}/{method}").mock(return_value=ok(message(72)))

        await adapter.publish(ACCOUNT, outgoing("Caption", media=(media("md_f", kind),)))

        parts = multipart(route.calls.last.request)
        assert parts[field][0] == b"DATA"
        assert parts["caption"][0] == b"Caption"

    async def test_album_attaches_files_and_captions_the_first_item(
        self, adapter: TelegramAdapter, api: respx.MockRouter
    ) -> None:
        storage(api, "md_1", b"ONE")
        storage(api, "md_2", b"TWO")
        route = api.post(f"{BOT}/sendMediaGroup").mock(return_value=ok([message(80), message(81)]))

        published = await adapter.publish(
            ACCOUNT,
            outgoing(
                "Album",
                post_type=PostType.CAROUSEL,
                media=(media("md_1"), media("md_2", MediaKind.VIDEO)),
                options=telegram_options(parseMode="HTML"),
            ),
        )

        assert published == Published(id="80,81", url="https://t.me/acme_news/80")
        parts = multipart(route.calls.last.request)
        assert set(parts) == {"chat_id", "media", "file0", "file1"}
        assert json.loads(parts["media"][0]) == [
            {"type": "photo", "media": "attach://file0", "caption": "Album", "parse_mode": "HTML"},
            {"type": "video", "media": "attach://file1", "supports_streaming": True},
        ]
        assert (parts["file0"][0], parts["file1"][0]) == (b"ONE", b"TWO")

    async def test_a_gif_in_an_album_is_refused_before_any_upload(
        self, adapter: TelegramAdapter
    ) -> None:
        with pytest.raises(Permanent) as caught:
            await adapter.publish(
                ACCOUNT, outgoing("x", media=(media("md_1"), media("md_g", MediaKind.GIF)))
            )
        assert caught.value.code == "media_invalid"

    async def test_a_migrated_chat_resends_the_files(
        self, adapter: TelegramAdapter, api: respx.MockRouter
    ) -> None:
        storage(api, "md_1", b"JPEG")
        route = api.post(f"{BOT}/sendPhoto").mock(
            side_effect=[
                error(400, "Bad Request: group chat was upgraded", migrate_to_chat_id=-100777),
                ok(message(1)),
            ]
        )

        await adapter.publish(ACCOUNT, outgoing("x", media=(media("md_1"),)))

        second = multipart(route.calls[1].request)
        assert second["chat_id"][0] == b"-100777"
        assert second["photo"][0] == b"JPEG"

    async def test_missing_media_is_permanent_and_our_storage_failing_transient(
        self, adapter: TelegramAdapter, api: respx.MockRouter
    ) -> None:
        api.get(f"{STORAGE}/md_gone?sig=1").respond(404)
        api.get(f"{STORAGE}/md_down?sig=1").respond(503)

        with pytest.raises(Permanent) as gone:
            await adapter.publish(ACCOUNT, outgoing("x", media=(media("md_gone"),)))
        with pytest.raises(Transient) as down:
            await adapter.publish(ACCOUNT, outgoing("x", media=(media("md_down"),)))
        assert gone.value.code == "media_unavailable"
        assert not down.value.maybe_sent


class TestClassify:
    @pytest.mark.parametrize(
        ("response", "kind", "code"),
        [
            (error(401, "Unauthorized"), AuthExpired, "401"),
            (error(404, "Not Found"), AuthExpired, "404"),
            (error(403, "Forbidden: bot was kicked from the channel chat"), AuthExpired, "403"),
            (error(403, "Forbidden: bot was blocked by the user"), AuthExpired, "403"),
            (error(400, "Bad Request: chat not found"), AuthExpired, "400"),
            (
                error(400, "Bad Request: need administrator rights in the channel chat"),
                AuthExpired,
                "400",
            ),
            (error(400, "Bad Request: message is too long"), Permanent, "400"),
            (error(400, "Bad Request: can't parse entities: bad tag"), Permanent, "400"),
            (error(413, "Request Entity Too Large"), Permanent, "payload_too_large"),
            (error(502, "Bad Gateway"), Transient, "502"),
            (httpx.Response(500, text="<html>oops</html>"), Transient, "500"),
            (error(429, "Too Many Requests"), RateLimited, "429"),
        ],
    )
    def test_error_bodies(
        self,
        adapter: TelegramAdapter,
        response: httpx.Response,
        kind: type[PlatformError],
        code: str,
    ) -> None:
        classified = adapter.classify(response)
        assert type(classified) is kind
        assert classified.code == code

    def test_retry_after_sets_when_to_retry(self, adapter: TelegramAdapter) -> None:
        classified = adapter.classify(
            error(429, "Too Many Requests: retry after 35", retry_after=35)
        )
        assert isinstance(classified, RateLimited)
        assert classified.retry_at is not None
        expected = utcnow() + timedelta(seconds=35)
        assert abs((classified.retry_at - expected).total_seconds()) < 5

    def test_migration_names_the_new_chat(self, adapter: TelegramAdapter) -> None:
        classified = adapter.classify(
            error(400, "Bad Request: group chat was upgraded", migrate_to_chat_id=-1001)
        )
        assert isinstance(classified, ChatMigrated)
        assert classified.new_chat_id == -1001

    async def test_ok_false_in_a_200_is_classified(
        self, adapter: TelegramAdapter, api: respx.MockRouter
    ) -> None:
        api.post(f"{BOT}/sendMessage").respond(
            200, json={"ok": False, "error_code": 403, "description": "Forbidden: bot was kicked"}
        )
        with pytest.raises(AuthExpired):
            await adapter.publish(ACCOUNT, outgoing())


class TestEditAndDelete:
    async def test_edit_text(self, adapter: TelegramAdapter, api: respx.MockRouter) -> None:
        route = api.post(f"{BOT}/editMessageText").mock(return_value=ok(message(42)))

        published = await adapter.edit(
            ACCOUNT, "42", outgoing("Fixed", options=telegram_options(parseMode="HTML"))
        )

        assert published == Published(id="42", url="https://t.me/acme_news/42")
        assert body(route.calls.last.request) == {
            "chat_id": CHAT,
            "message_id": 42,
            "parse_mode": "HTML",
            "text": "Fixed",
        }

    async def test_a_media_message_gets_its_caption_edited(
        self, adapter: TelegramAdapter, api: respx.MockRouter
    ) -> None:
        api.post(f"{BOT}/editMessageText").mock(
            return_value=error(400, "Bad Request: there is no text in the message to edit")
        )
        caption = api.post(f"{BOT}/editMessageCaption").mock(return_value=ok(message(80)))

        published = await adapter.edit(ACCOUNT, "80,81", outgoing("New caption"))

        assert published.id == "80,81"
        assert body(caption.calls.last.request) == {
            "chat_id": CHAT,
            "message_id": 80,
            "caption": "New caption",
        }

    async def test_an_unchanged_text_is_not_an_error(
        self, adapter: TelegramAdapter, api: respx.MockRouter
    ) -> None:
        api.post(f"{BOT}/editMessageText").mock(
            return_value=error(400, "Bad Request: message is not modified: specified new message")
        )
        published = await adapter.edit(PRIVATE, "42", outgoing("Same"))
        assert published == Published(id="42", url="https://t.me/c/1234567890/42")

    async def test_other_edit_errors_surface(
        self, adapter: TelegramAdapter, api: respx.MockRouter
    ) -> None:
        api.post(f"{BOT}/editMessageText").mock(
            return_value=error(400, "Bad Request: message can't be edited")
        )
        with pytest.raises(Permanent):
            await adapter.edit(ACCOUNT, "42", outgoing("x"))

    async def test_delete_one_message(
        self, adapter: TelegramAdapter, api: respx.MockRouter
    ) -> None:
        route = api.post(f"{BOT}/deleteMessage").mock(return_value=ok(True))
        await adapter.delete(ACCOUNT, "42")
        assert body(route.calls.last.request) == {"chat_id": CHAT, "message_id": 42}

    async def test_delete_an_album(self, adapter: TelegramAdapter, api: respx.MockRouter) -> None:
        route = api.post(f"{BOT}/deleteMessages").mock(return_value=ok(True))
        await adapter.delete(ACCOUNT, "80,81,82")
        assert body(route.calls.last.request) == {"chat_id": CHAT, "message_ids": [80, 81, 82]}

    async def test_a_message_already_gone_counts_as_deleted(
        self, adapter: TelegramAdapter, api: respx.MockRouter
    ) -> None:
        api.post(f"{BOT}/deleteMessage").mock(
            return_value=error(400, "Bad Request: message to delete not found")
        )
        await adapter.delete(ACCOUNT, "42")

    async def test_after_48_hours_delete_is_unsupported(
        self, adapter: TelegramAdapter, api: respx.MockRouter
    ) -> None:
        api.post(f"{BOT}/deleteMessage").mock(
            return_value=error(400, "Bad Request: message can't be deleted")
        )
        with pytest.raises(Permanent) as caught:
            await adapter.delete(ACCOUNT, "42")
        assert caught.value.code == "unsupported"

    @pytest.mark.parametrize("bad", ["", "abc", "1,x", "1/2", ",".join(["1"] * 11)])
    async def test_a_foreign_id_is_refused_without_a_call(
        self, adapter: TelegramAdapter, bad: str
    ) -> None:
        with pytest.raises(Permanent) as caught:
            await adapter.delete(ACCOUNT, bad)
        assert caught.value.code == "invalid_post_id"


class TestConnect:
    def routes(
        self, api: respx.MockRouter, member: dict[str, Any], chat_type: str = "channel"
    ) -> dict[str, respx.Route]:
        return {
            "me": api.post(f"{BOT}/getMe").mock(
                return_value=ok(
                    {"id": 777, "is_bot": True, "first_name": "Acme", "username": "acme_bot"}
                )
            ),
            "chat": api.post(f"{BOT}/getChat").mock(
                return_value=ok(
                    {"id": CHAT, "type": chat_type, "title": "Acme News", "username": "acme_news"}
                )
            ),
            "member": api.post(f"{BOT}/getChatMember").mock(return_value=ok(member)),
        }

    async def test_a_channel_admin_bot_connects(
        self, adapter: TelegramAdapter, api: respx.MockRouter
    ) -> None:
        routes = self.routes(api, {"status": "administrator", "can_post_messages": True})

        connection = await adapter.connect_with_credentials(
            {"botToken": TOKEN, "chatId": "@acme_news"}
        )

        assert connection.identity.external_id == str(CHAT)
        assert connection.identity.handle == "@acme_news"
        assert connection.identity.display_name == "Acme News"
        assert connection.tokens is not None
        assert connection.tokens.access_token == TOKEN
        assert connection.settings == {
            "chatId": str(CHAT),
            "chatType": "channel",
            "chatTitle": "Acme News",
            "chatUsername": "acme_news",
            "botId": "777",
            "botUsername": "acme_bot",
        }
        assert body(routes["chat"].calls.last.request) == {"chat_id": "@acme_news"}
        assert body(routes["member"].calls.last.request) == {"chat_id": CHAT, "user_id": 777}

    @pytest.mark.parametrize(
        "member",
        [
            {"status": "member"},
            {"status": "administrator", "can_post_messages": False},
            {"status": "left"},
        ],
    )
    async def test_a_bot_that_cannot_post_in_the_channel_is_refused(
        self, adapter: TelegramAdapter, api: respx.MockRouter, member: dict[str, Any]
    ) -> None:
        self.routes(api, member)
        with pytest.raises(Permanent) as caught:
            await adapter.connect_with_credentials({"botToken": TOKEN, "chatId": str(CHAT)})
        assert caught.value.code == "not_admin"

    async def test_a_group_member_bot_connects(
        self, adapter: TelegramAdapter, api: respx.MockRouter
    ) -> None:
        self.routes(api, {"status": "member"}, chat_type="supergroup")
        connection = await adapter.connect_with_credentials(
            {"botToken": TOKEN, "chatId": str(CHAT)}
        )
        assert connection.settings["chatType"] == "supergroup"

    async def test_a_revoked_token_is_auth_expired(
        self, adapter: TelegramAdapter, api: respx.MockRouter
    ) -> None:
        api.post(f"{BOT}/getMe").mock(return_value=error(401, "Unauthorized"))
        with pytest.raises(AuthExpired):
            await adapter.connect_with_credentials({"botToken": TOKEN, "chatId": "@acme_news"})

    async def test_whoami(self, adapter: TelegramAdapter, api: respx.MockRouter) -> None:
        api.post(f"{BOT}/getMe").mock(return_value=ok({"id": 777, "username": "acme_bot"}))
        api.post(f"{BOT}/getChat").mock(
            return_value=ok({"id": CHAT, "type": "supergroup", "title": "Team"})
        )
        identity = await adapter.whoami(PRIVATE)
        assert (identity.external_id, identity.handle) == (str(CHAT), "Team")


class TestUnsupported:
    def test_recovery_is_honest(self, adapter: TelegramAdapter) -> None:
        assert adapter.recovery == "none"
        assert adapter.dedup_window is None

    async def test_lookup_metrics_and_refresh(self, adapter: TelegramAdapter) -> None:
        with pytest.raises(Permanent) as lookup:
            await adapter.find_published(ACCOUNT, outgoing())
        with pytest.raises(Permanent) as metrics:
            await adapter.metrics(ACCOUNT, "42")
        with pytest.raises(AuthExpired):
            await adapter.refresh(ACCOUNT)
        assert lookup.value.code == metrics.value.code == "unsupported"
