"""The Discord webhook adapter against respx: messages, embeds, polls, files, threads,
edits, deletes, connecting, and every error class from Discord's error bodies."""

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
    Article,
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
from polypost.platforms.discord.adapter import DiscordAdapter, parse_webhook_url
from polypost.platforms.options import DiscordOptions
from tests.platforms.helpers import StubRuntime, body, multipart

WEBHOOK_ID = "112233445566778899"
TOKEN = "tok_" + "x" * 60
GUILD = "900000000000000001"
CHANNEL = "800000000000000002"
THREAD = "700000000000000003"
HOOK = f"https://discord.com/api/v10/webhooks/{WEBHOOK_ID}/{TOKEN}"
STORAGE = "https://storage.example.com"
ACCOUNT = Credentials(
    account_id="acc_dc",
    platform=Platform.DISCORD,
    external_id=WEBHOOK_ID,
    access_token=TOKEN,
    handle="Announcements",
    settings={"webhookId": WEBHOOK_ID, "channelId": CHANNEL, "guildId": GUILD},
)


def outgoing(text: str = "Hello Discord", **kwargs: Any) -> Outgoing:
    return Outgoing(
        target_id="tgt_dc",
        key=kwargs.pop("key", "tgt_dc:main"),
        post_type=kwargs.pop("post_type", PostType.TEXT),
        text=text,
        **kwargs,
    )


def options(**fields: Any) -> DiscordOptions:
    return DiscordOptions.model_validate(fields)


def media(media_id: str, kind: MediaKind = MediaKind.IMAGE, size: int = 4) -> MediaInfo:
    content_type = "video/mp4" if kind is MediaKind.VIDEO else "image/png"
    return MediaInfo(
        id=media_id, kind=kind, content_type=content_type, size=size, url=f"{STORAGE}/{media_id}"
    )


def message(message_id: str = "1000000000000000001", channel: str = CHANNEL) -> dict[str, Any]:
    return {"id": message_id, "channel_id": channel, "webhook_id": WEBHOOK_ID, "content": "x"}


def discord_error(status: int, code: int, message: str, **extra: Any) -> httpx.Response:
    return httpx.Response(status, json={"code": code, "message": message, **extra})


@pytest.fixture
async def adapter() -> AsyncIterator[DiscordAdapter]:
    async with httpx.AsyncClient() as client:
        yield DiscordAdapter(cast(Runtime, StubRuntime(http=client)))


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=True) as router:
        yield router


class TestExecuteWebhook:
    async def test_text_waits_for_the_message(
        self, adapter: DiscordAdapter, api: respx.MockRouter
    ) -> None:
        route = api.post(HOOK).mock(return_value=httpx.Response(200, json=message()))

        published = await adapter.publish(ACCOUNT, outgoing())

        assert published == Published(
            id="1000000000000000001",
            url=f"https://discord.com/channels/{GUILD}/{CHANNEL}/1000000000000000001",
        )
        request = route.calls.last.request
        assert dict(request.url.params) == {"wait": "true"}
        assert "authorization" not in request.headers
        assert body(request) == {"content": "Hello Discord"}

    async def test_options_become_fields_flags_and_a_thread(
        self, adapter: DiscordAdapter, api: respx.MockRouter
    ) -> None:
        route = api.post(HOOK).mock(
            return_value=httpx.Response(200, json=message("1000000000000000009", THREAD))
        )

        published = await adapter.publish(
            ACCOUNT,
            outgoing(
                "In the thread",
                options=options(
                    username="Release bot",
                    avatarUrl="https://acme.example/bot.png",
                    threadId=THREAD,
                    suppressEmbeds=True,
                    silent=True,
                ),
            ),
        )

        assert published == Published(
            id=f"{THREAD}:1000000000000000009",
            url=f"https://discord.com/channels/{GUILD}/{THREAD}/1000000000000000009",
        )
        request = route.calls.last.request
        assert dict(request.url.params) == {"wait": "true", "thread_id": THREAD}
        assert body(request) == {
            "content": "In the thread",
            "username": "Release bot",
            "avatar_url": "https://acme.example/bot.png",
            "flags": 4 | 4096,
        }

    async def test_a_forum_post_names_its_thread(
        self, adapter: DiscordAdapter, api: respx.MockRouter
    ) -> None:
        route = api.post(HOOK).mock(
            return_value=httpx.Response(200, json=message("1000000000000000010", THREAD))
        )

        published = await adapter.publish(
            ACCOUNT, outgoing("Topic body", options=options(threadName="Release 2.0"))
        )

        assert published.id == f"{THREAD}:1000000000000000010"
        assert body(route.calls.last.request) == {
            "content": "Topic body",
            "thread_name": "Release 2.0",
        }

    async def test_an_article_is_an_embed(
        self, adapter: DiscordAdapter, api: respx.MockRouter
    ) -> None:
        route = api.post(HOOK).mock(return_value=httpx.Response(200, json=message()))

        await adapter.publish(
            ACCOUNT,
            outgoing(
                "New post",
                post_type=PostType.ARTICLE,
                article=Article("https://blog.example/p", "The title", "The summary"),
            ),
        )

        assert body(route.calls.last.request) == {
            "content": "New post",
            "embeds": [
                {
                    "url": "https://blog.example/p",
                    "title": "The title",
                    "description": "The summary",
                }
            ],
        }

    async def test_a_bare_link_is_added_to_the_content_to_unfurl(
        self, adapter: DiscordAdapter, api: respx.MockRouter
    ) -> None:
        route = api.post(HOOK).mock(return_value=httpx.Response(200, json=message()))

        await adapter.publish(ACCOUNT, outgoing("Read this", link="https://blog.example/p"))
        await adapter.publish(ACCOUNT, outgoing("x" * 1990, link="https://blog.example/p"))

        first, second = (body(call.request) for call in route.calls)
        assert first == {"content": "Read this\nhttps://blog.example/p"}
        assert second == {
            "content": "x" * 1990,
            "embeds": [{"url": "https://blog.example/p", "title": "https://blog.example/p"}],
        }

    async def test_a_poll_takes_the_text_as_question_and_hours(
        self, adapter: DiscordAdapter, api: respx.MockRouter
    ) -> None:
        route = api.post(HOOK).mock(return_value=httpx.Response(200, json=message()))

        await adapter.publish(
            ACCOUNT,
            outgoing(
                "Which day?",
                post_type=PostType.POLL,
                poll=Poll(options=("Mon", "Tue"), duration_minutes=90),
            ),
        )

        assert body(route.calls.last.request) == {
            "poll": {
                "question": {"text": "Which day?"},
                "answers": [{"poll_media": {"text": "Mon"}}, {"poll_media": {"text": "Tue"}}],
                "duration": 2,
                "allow_multiselect": False,
            }
        }

    async def test_files_go_as_multipart_with_payload_json(
        self, adapter: DiscordAdapter, api: respx.MockRouter
    ) -> None:
        api.get(f"{STORAGE}/md_1").respond(200, content=b"PNG1")
        api.get(f"{STORAGE}/md_2").respond(200, content=b"MP4")
        route = api.post(HOOK).mock(return_value=httpx.Response(200, json=message()))

        await adapter.publish(
            ACCOUNT,
            outgoing(
                "Gallery",
                post_type=PostType.CAROUSEL,
                media=(media("md_1"), media("md_2", MediaKind.VIDEO)),
                alt_texts={"md_1": "A cat"},
            ),
        )

        request = route.calls.last.request
        assert dict(request.url.params) == {"wait": "true"}
        parts = multipart(request)
        assert set(parts) == {"payload_json", "files[0]", "files[1]"}
        payload, payload_headers = parts["payload_json"]
        assert payload_headers.get_content_type() == "application/json"
        assert json.loads(payload) == {
            "content": "Gallery",
            "attachments": [
                {"id": 0, "filename": "md_1.png", "description": "A cat"},
                {"id": 1, "filename": "md_2.mp4"},
            ],
        }
        assert parts["files[0]"][0] == b"PNG1"
        assert parts["files[0]"][1].get_filename() == "md_1.png"
        assert parts["files[1]"][1].get_content_type() == "video/mp4"

    async def test_files_over_the_request_limit_are_refused_before_upload(
        self, adapter: DiscordAdapter
    ) -> None:
        big = tuple(media(f"md_{i}", size=9 * 1024 * 1024) for i in range(3))
        with pytest.raises(Permanent) as caught:
            await adapter.publish(ACCOUNT, outgoing("x", media=big))
        assert caught.value.code == "payload_too_large"

    async def test_an_answer_without_a_message_may_have_been_sent(
        self, adapter: DiscordAdapter, api: respx.MockRouter
    ) -> None:
        api.post(HOOK).respond(204)
        with pytest.raises(Transient) as caught:
            await adapter.publish(ACCOUNT, outgoing())
        assert caught.value.maybe_sent

    async def test_a_timeout_is_maybe_sent_and_never_reveals_the_token(
        self, adapter: DiscordAdapter, api: respx.MockRouter
    ) -> None:
        api.post(HOOK).mock(side_effect=httpx.ReadTimeout("slow"))
        with pytest.raises(Transient) as caught:
            await adapter.publish(ACCOUNT, outgoing())
        assert caught.value.maybe_sent
        assert TOKEN not in str(caught.value)

    async def test_no_replies_and_honest_recovery(self, adapter: DiscordAdapter) -> None:
        assert adapter.recovery == "none"
        with pytest.raises(Permanent) as comment:
            await adapter.comment(ACCOUNT, outgoing(reply_to=Published(id="1")))
        with pytest.raises(Permanent) as lookup:
            await adapter.find_published(ACCOUNT, outgoing())
        assert comment.value.code == lookup.value.code == "unsupported"


class TestMessages:
    async def test_edit_patches_the_content(
        self, adapter: DiscordAdapter, api: respx.MockRouter
    ) -> None:
        route = api.patch(f"{HOOK}/messages/1000000000000000001").mock(
            return_value=httpx.Response(200, json=message())
        )

        published = await adapter.edit(ACCOUNT, "1000000000000000001", outgoing("Fixed"))

        assert published.id == "1000000000000000001"
        assert body(route.calls.last.request) == {"content": "Fixed"}
        assert dict(route.calls.last.request.url.params) == {}

    async def test_edit_and_delete_in_a_thread(
        self, adapter: DiscordAdapter, api: respx.MockRouter
    ) -> None:
        patch = api.patch(f"{HOOK}/messages/1000000000000000009").mock(
            return_value=httpx.Response(200, json=message("1000000000000000009", THREAD))
        )
        delete = api.delete(f"{HOOK}/messages/1000000000000000009").respond(204)
        post_id = f"{THREAD}:1000000000000000009"

        published = await adapter.edit(ACCOUNT, post_id, outgoing("Fixed"))
        await adapter.delete(ACCOUNT, post_id)

        assert published.id == post_id
        assert dict(patch.calls.last.request.url.params) == {"thread_id": THREAD}
        assert dict(delete.calls.last.request.url.params) == {"thread_id": THREAD}

    async def test_a_message_already_gone_counts_as_deleted(
        self, adapter: DiscordAdapter, api: respx.MockRouter
    ) -> None:
        api.delete(f"{HOOK}/messages/1000000000000000001").mock(
            return_value=discord_error(404, 10008, "Unknown Message")
        )
        await adapter.delete(ACCOUNT, "1000000000000000001")

    @pytest.mark.parametrize("bad", ["", "abc", "1/2", "12:1000000000000000001", "../x"])
    async def test_a_foreign_id_is_refused_without_a_call(
        self, adapter: DiscordAdapter, bad: str
    ) -> None:
        with pytest.raises(Permanent) as caught:
            await adapter.delete(ACCOUNT, bad)
        assert caught.value.code == "invalid_post_id"

    async def test_no_metrics_listing_or_refresh(self, adapter: DiscordAdapter) -> None:
        with pytest.raises(Permanent):
            await adapter.metrics(ACCOUNT, "1000000000000000001")
        with pytest.raises(AuthExpired):
            await adapter.refresh(ACCOUNT)


class TestConnect:
    @pytest.mark.parametrize(
        "url",
        [
            f"https://discord.com/api/webhooks/{WEBHOOK_ID}/{TOKEN}",
            f"https://discordapp.com/api/webhooks/{WEBHOOK_ID}/{TOKEN}/",
            f"https://canary.discord.com/api/v10/webhooks/{WEBHOOK_ID}/{TOKEN}?wait=true",
            f"https://ptb.discord.com/api/v9/webhooks/{WEBHOOK_ID}/{TOKEN}",
        ],
    )
    def test_webhook_url_forms(self, url: str) -> None:
        assert parse_webhook_url(url) == (WEBHOOK_ID, TOKEN)

    @pytest.mark.parametrize(
        "url",
        [
            f"http://discord.com/api/webhooks/{WEBHOOK_ID}/{TOKEN}",
            f"https://evil.example/api/webhooks/{WEBHOOK_ID}/{TOKEN}",
            f"https://discord.com.evil.example/api/webhooks/{WEBHOOK_ID}/{TOKEN}",
            f"https://discord.com/api/webhooks/{WEBHOOK_ID}",
            "https://discord.com/api/webhooks/abc/def",
        ],
    )
    def test_other_urls_are_refused(self, url: str) -> None:
        with pytest.raises(Permanent) as caught:
            parse_webhook_url(url)
        assert caught.value.code == "invalid_webhook_url"

    async def test_connect_gets_the_webhook(
        self, adapter: DiscordAdapter, api: respx.MockRouter
    ) -> None:
        route = api.get(HOOK).respond(
            200,
            json={
                "id": WEBHOOK_ID,
                "type": 1,
                "guild_id": GUILD,
                "channel_id": CHANNEL,
                "name": "Announcements",
                "avatar": "abc123",
                "application_id": None,
                "token": TOKEN,
            },
        )

        connection = await adapter.connect_with_credentials(
            {"webhookUrl": f"https://discordapp.com/api/webhooks/{WEBHOOK_ID}/{TOKEN}"}
        )

        assert route.called
        assert connection.identity.external_id == WEBHOOK_ID
        assert connection.identity.handle == "Announcements"
        assert connection.identity.avatar_url == (
            f"https://cdn.discordapp.com/avatars/{WEBHOOK_ID}/abc123.png"
        )
        assert connection.tokens is not None
        assert connection.tokens.access_token == TOKEN
        assert connection.settings == {
            "webhookId": WEBHOOK_ID,
            "channelId": CHANNEL,
            "guildId": GUILD,
            "name": "Announcements",
        }

    async def test_a_deleted_webhook_is_auth_expired(
        self, adapter: DiscordAdapter, api: respx.MockRouter
    ) -> None:
        api.get(HOOK).mock(return_value=discord_error(404, 10015, "Unknown Webhook"))
        with pytest.raises(AuthExpired) as caught:
            await adapter.whoami(ACCOUNT)
        assert caught.value.code == "10015"


class TestClassify:
    @pytest.mark.parametrize(
        ("response", "kind", "code"),
        [
            (discord_error(404, 10015, "Unknown Webhook"), AuthExpired, "10015"),
            (discord_error(401, 50027, "Invalid Webhook Token"), AuthExpired, "50027"),
            (discord_error(403, 50013, "Missing Permissions"), AuthExpired, "50013"),
            (discord_error(403, 50001, "Missing Access"), AuthExpired, "50001"),
            (discord_error(404, 10003, "Unknown Channel"), AuthExpired, "10003"),
            (discord_error(404, 10008, "Unknown Message"), Permanent, "not_found"),
            (discord_error(400, 50006, "Cannot send an empty message"), Permanent, "50006"),
            (
                discord_error(
                    400,
                    220001,
                    "Webhooks posted to forum channels must have a thread_name or thread_id",
                ),
                Permanent,
                "220001",
            ),
            (discord_error(413, 40005, "Request entity too large"), Permanent, "payload_too_large"),
            (httpx.Response(413, text="too big"), Permanent, "payload_too_large"),
            (httpx.Response(502, text="<html>Bad Gateway</html>"), Transient, "502"),
            (
                discord_error(429, 20028, "This channel has hit the write rate limit"),
                RateLimited,
                "20028",
            ),
        ],
    )
    def test_error_bodies(
        self,
        adapter: DiscordAdapter,
        response: httpx.Response,
        kind: type[PlatformError],
        code: str,
    ) -> None:
        classified = adapter.classify(response)
        assert type(classified) is kind
        assert classified.code == code

    def test_invalid_form_body_names_the_field(self, adapter: DiscordAdapter) -> None:
        classified = adapter.classify(
            discord_error(
                400,
                50035,
                "Invalid Form Body",
                errors={
                    "content": {
                        "_errors": [
                            {
                                "code": "BASE_TYPE_MAX_LENGTH",
                                "message": "Must be 2000 or fewer in length.",
                            }
                        ]
                    }
                },
            )
        )
        assert isinstance(classified, Permanent)
        assert classified.message == (
            "Discord: Invalid Form Body: content: Must be 2000 or fewer in length."
        )

    def test_rate_limit_uses_retry_after_from_the_body(self, adapter: DiscordAdapter) -> None:
        classified = adapter.classify(
            httpx.Response(
                429,
                json={
                    "message": "You are being rate limited.",
                    "retry_after": 64.57,
                    "global": False,
                },
                headers={"Retry-After": "65", "X-RateLimit-Reset-After": "64.57"},
            )
        )
        assert isinstance(classified, RateLimited)
        assert classified.retry_at is not None
        expected = utcnow() + timedelta(seconds=64.57)
        assert abs((classified.retry_at - expected).total_seconds()) < 2

    def test_rate_limit_falls_back_to_the_headers(self, adapter: DiscordAdapter) -> None:
        classified = adapter.classify(
            httpx.Response(429, text="", headers={"X-RateLimit-Reset-After": "3.5"})
        )
        assert classified.retry_at is not None
        expected = utcnow() + timedelta(seconds=3.5)
        assert abs((classified.retry_at - expected).total_seconds()) < 2
        from_retry_after = adapter.classify(httpx.Response(429, headers={"Retry-After": "7"}))
        assert from_retry_after.retry_at is not None
