"""The Slack adapter against respx: messages, threads, the file upload flow with its
asynchronous sharing, recovery by history lookup, edits, deletes, connecting, token
rotation, and every error class from Slack's `ok: false` bodies and 429s."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any, cast

import httpx
import pytest
import respx

from polypost.core.runtime import Runtime
from polypost.core.timeutil import isoformat, utcnow
from polypost.platforms.base import (
    AuthExpired,
    Credentials,
    MediaInfo,
    MediaKind,
    Outgoing,
    Pending,
    Permanent,
    Platform,
    PlatformError,
    PostType,
    Published,
    RateLimited,
    Transient,
)
from polypost.platforms.connect import AppCredentials
from polypost.platforms.options import SlackOptions
from polypost.platforms.slack.adapter import SlackAdapter, comparable
from tests.platforms.helpers import StubRuntime, body, form

API = "https://slack.com/api"
TOKEN = "xoxb-1111-2222-abcdef"
CHANNEL = "C0123ABCD"
TEAM_URL = "https://acme.slack.com/"
UPLOAD = "https://files.slack.com/upload/v1/ABC123"
STORAGE = "https://storage.example.com"
ACCOUNT = Credentials(
    account_id="acc_sl",
    platform=Platform.SLACK,
    external_id=f"T0001:{CHANNEL}",
    access_token=TOKEN,
    handle="#launches",
    settings={
        "channelId": CHANNEL,
        "teamUrl": TEAM_URL,
        "botId": "B0001",
        "botUserId": "U0BOT",
    },
)


def outgoing(text: str = "Hello Slack", **kwargs: Any) -> Outgoing:
    return Outgoing(
        target_id="tgt_sl",
        key=kwargs.pop("key", "tgt_sl:main"),
        post_type=kwargs.pop("post_type", PostType.TEXT),
        text=text,
        **kwargs,
    )


def slack(**fields: Any) -> httpx.Response:
    return httpx.Response(200, json={"ok": True, **fields})


def failed(error: str, **fields: Any) -> httpx.Response:
    return httpx.Response(200, json={"ok": False, "error": error, **fields})


def media(media_id: str, kind: MediaKind = MediaKind.IMAGE, size: int = 5) -> MediaInfo:
    return MediaInfo(
        id=media_id,
        kind=kind,
        content_type="image/png" if kind is MediaKind.IMAGE else "application/pdf",
        size=size,
        url=f"{STORAGE}/{media_id}",
        filename=f"{media_id}.{'png' if kind is MediaKind.IMAGE else 'pdf'}",
    )


@pytest.fixture
async def adapter() -> AsyncIterator[SlackAdapter]:
    async with httpx.AsyncClient() as client:
        yield SlackAdapter(cast(Runtime, StubRuntime(http=client)))


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=True) as router:
        yield router


def permalink(api: respx.MockRouter, ts: str) -> respx.Route:
    return api.get(f"{API}/chat.getPermalink").mock(
        return_value=slack(
            channel=CHANNEL,
            permalink=f"https://acme.slack.com/archives/{CHANNEL}/p{ts.replace('.', '')}",
        )
    )


class TestPostMessage:
    async def test_text_is_posted_and_linked(
        self, adapter: SlackAdapter, api: respx.MockRouter
    ) -> None:
        route = api.post(f"{API}/chat.postMessage").mock(
            return_value=slack(channel=CHANNEL, ts="1503435956.000247", message={"text": "x"})
        )
        link = permalink(api, "1503435956.000247")

        published = await adapter.publish(ACCOUNT, outgoing())

        assert published == Published(
            id="1503435956.000247",
            url=f"https://acme.slack.com/archives/{CHANNEL}/p1503435956000247",
        )
        request = route.calls.last.request
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["content-type"] == "application/json; charset=utf-8"
        assert body(request) == {"channel": CHANNEL, "text": "Hello Slack"}
        assert dict(link.calls.last.request.url.params) == {
            "channel": CHANNEL,
            "message_ts": "1503435956.000247",
        }
        assert link.calls.last.request.headers["authorization"] == f"Bearer {TOKEN}"

    async def test_options_and_a_link(self, adapter: SlackAdapter, api: respx.MockRouter) -> None:
        route = api.post(f"{API}/chat.postMessage").mock(
            return_value=slack(channel=CHANNEL, ts="1.000001")
        )
        permalink(api, "1.000001")
        options = SlackOptions.model_validate(
            {
                "unfurlLinks": True,
                "unfurlMedia": False,
                "username": "Release bot",
                "iconEmoji": ":rocket:",
            }
        )

        await adapter.publish(
            ACCOUNT, outgoing("Shipped", options=options, link="https://acme.example/2.0")
        )

        assert body(route.calls.last.request) == {
            "channel": CHANNEL,
            "text": "Shipped\nhttps://acme.example/2.0",
            "unfurl_links": True,
            "unfurl_media": False,
            "username": "Release bot",
            "icon_emoji": ":rocket:",
        }

    async def test_thread_replies_hang_on_the_root(
        self, adapter: SlackAdapter, api: respx.MockRouter
    ) -> None:
        route = api.post(f"{API}/chat.postMessage").mock(
            return_value=slack(channel=CHANNEL, ts="3.000003")
        )
        permalink(api, "3.000003")

        await adapter.publish(
            ACCOUNT,
            outgoing(
                "3/",
                key="tgt_sl:segment:2",
                reply_to=Published(id="2.000002"),
                root=Published(id="1.000001"),
            ),
        )

        assert body(route.calls.last.request)["thread_ts"] == "1.000001"

    async def test_first_comment_is_a_thread_reply(
        self, adapter: SlackAdapter, api: respx.MockRouter
    ) -> None:
        route = api.post(f"{API}/chat.postMessage").mock(
            return_value=slack(channel=CHANNEL, ts="4.000004")
        )
        permalink(api, "4.000004")

        published = await adapter.comment(
            ACCOUNT, outgoing("Details", key="tgt_sl:comment", reply_to=Published(id="1.000001"))
        )

        assert published.id == "4.000004"
        assert body(route.calls.last.request) == {
            "channel": CHANNEL,
            "text": "Details",
            "thread_ts": "1.000001",
        }

    async def test_a_failing_permalink_is_built_from_the_workspace_url(
        self, adapter: SlackAdapter, api: respx.MockRouter
    ) -> None:
        api.post(f"{API}/chat.postMessage").mock(return_value=slack(channel=CHANNEL, ts="5.5"))
        api.get(f"{API}/chat.getPermalink").respond(429, headers={"Retry-After": "30"})

        published = await adapter.publish(ACCOUNT, outgoing())

        assert published == Published(
            id="5.5", url=f"https://acme.slack.com/archives/{CHANNEL}/p55"
        )

    async def test_an_answer_without_ts_may_have_been_posted(
        self, adapter: SlackAdapter, api: respx.MockRouter
    ) -> None:
        api.post(f"{API}/chat.postMessage").mock(return_value=slack(channel=CHANNEL))
        with pytest.raises(Transient) as caught:
            await adapter.publish(ACCOUNT, outgoing())
        assert caught.value.maybe_sent


class TestErrors:
    @pytest.mark.parametrize(
        ("error", "kind"),
        [
            ("invalid_auth", AuthExpired),
            ("not_authed", AuthExpired),
            ("token_revoked", AuthExpired),
            ("token_expired", AuthExpired),
            ("account_inactive", AuthExpired),
            ("missing_scope", AuthExpired),
            ("ratelimited", RateLimited),
            ("channel_not_found", Permanent),
            ("not_in_channel", Permanent),
            ("is_archived", Permanent),
            ("msg_too_long", Permanent),
            ("restricted_action", Permanent),
        ],
    )
    async def test_ok_false_errors(
        self,
        adapter: SlackAdapter,
        api: respx.MockRouter,
        error: str,
        kind: type[PlatformError],
    ) -> None:
        api.post(f"{API}/chat.postMessage").mock(return_value=failed(error))
        with pytest.raises(kind) as caught:
            await adapter.publish(ACCOUNT, outgoing())
        assert caught.value.code == error
        assert not caught.value.maybe_sent

    async def test_missing_scope_names_the_scope(
        self, adapter: SlackAdapter, api: respx.MockRouter
    ) -> None:
        api.post(f"{API}/chat.postMessage").mock(
            return_value=failed("missing_scope", needed="chat:write", provided="channels:read")
        )
        with pytest.raises(AuthExpired) as caught:
            await adapter.publish(ACCOUNT, outgoing())
        assert "chat:write" in caught.value.message

    async def test_slack_failing_while_posting_may_have_posted(
        self, adapter: SlackAdapter, api: respx.MockRouter
    ) -> None:
        api.post(f"{API}/chat.postMessage").mock(
            side_effect=[failed("internal_error"), httpx.Response(503, text="down")]
        )
        for _ in range(2):
            with pytest.raises(Transient) as caught:
                await adapter.publish(ACCOUNT, outgoing())
            assert caught.value.maybe_sent

    async def test_slack_failing_elsewhere_is_plainly_transient(
        self, adapter: SlackAdapter, api: respx.MockRouter
    ) -> None:
        api.post(f"{API}/chat.update").mock(return_value=failed("fatal_error"))
        with pytest.raises(Transient) as caught:
            await adapter.edit(ACCOUNT, "1.000001", outgoing("x"))
        assert not caught.value.maybe_sent

    async def test_http_429_uses_retry_after(
        self, adapter: SlackAdapter, api: respx.MockRouter
    ) -> None:
        api.post(f"{API}/chat.postMessage").respond(
            429, json={"ok": False, "error": "ratelimited"}, headers={"Retry-After": "30"}
        )
        with pytest.raises(RateLimited) as caught:
            await adapter.publish(ACCOUNT, outgoing())
        assert caught.value.retry_at is not None
        expected = utcnow() + timedelta(seconds=30)
        assert abs((caught.value.retry_at - expected).total_seconds()) < 5

    def test_classify_without_a_body(self, adapter: SlackAdapter) -> None:
        assert isinstance(adapter.classify(httpx.Response(502, text="<html>")), Transient)
        refused = adapter.classify(httpx.Response(400, text="nope"))
        assert isinstance(refused, Permanent)
        assert refused.code == "unknown_error"


class TestUpload:
    async def test_files_are_uploaded_and_shared_with_the_text(
        self, adapter: SlackAdapter, api: respx.MockRouter
    ) -> None:
        api.get(f"{STORAGE}/md_1").respond(200, content=b"PNG01")
        get_url = api.post(f"{API}/files.getUploadURLExternal").mock(
            return_value=slack(upload_url=UPLOAD, file_id="F0001")
        )
        upload = api.post(UPLOAD).respond(200, text="OK - 5")
        complete = api.post(f"{API}/files.completeUploadExternal").mock(
            return_value=slack(
                files=[
                    {
                        "id": "F0001",
                        "title": "md_1.png",
                        "shares": {"public": {CHANNEL: [{"ts": "7.000007"}]}},
                    }
                ]
            )
        )
        permalink(api, "7.000007")

        published = await adapter.publish(
            ACCOUNT,
            outgoing(
                "Screenshot",
                post_type=PostType.IMAGE,
                media=(media("md_1"),),
                alt_texts={"md_1": "The dashboard"},
                reply_to=Published(id="1.000001"),
                root=Published(id="1.000001"),
            ),
        )

        assert published.id == "7.000007"
        request = get_url.calls.last.request
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert form(request) == {
            "filename": "md_1.png",
            "length": "5",
            "alt_txt": "The dashboard",
        }
        sent = upload.calls.last.request
        assert sent.content == b"PNG01"
        assert sent.headers["content-length"] == "5"
        assert "authorization" not in sent.headers
        assert body(complete.calls.last.request) == {
            "files": [{"id": "F0001"}],
            "channel_id": CHANNEL,
            "initial_comment": "Screenshot",
            "thread_ts": "1.000001",
        }

    async def test_sharing_still_in_progress_hands_the_worker_back(
        self, adapter: SlackAdapter, api: respx.MockRouter
    ) -> None:
        api.get(f"{STORAGE}/md_1").respond(200, content=b"PNG01")
        api.get(f"{STORAGE}/md_2").respond(200, content=b"%PDF")
        api.post(f"{API}/files.getUploadURLExternal").mock(
            side_effect=[
                slack(upload_url=UPLOAD, file_id="F0001"),
                slack(upload_url=UPLOAD, file_id="F0002"),
            ]
        )
        api.post(UPLOAD).respond(200, text="OK")
        complete = api.post(f"{API}/files.completeUploadExternal").mock(
            return_value=slack(files=[{"id": "F0001"}, {"id": "F0002"}])
        )

        with pytest.raises(Pending) as caught:
            await adapter.publish(
                ACCOUNT,
                outgoing(
                    "",
                    post_type=PostType.CAROUSEL,
                    media=(media("md_1"), media("md_2", MediaKind.DOCUMENT, size=4)),
                ),
            )

        assert body(complete.calls.last.request) == {
            "files": [{"id": "F0001"}, {"id": "F0002"}],
            "channel_id": CHANNEL,
        }
        assert caught.value.stage == "sharing files"
        assert caught.value.retry_in == timedelta(seconds=3)
        assert caught.value.state["files"] == ["F0001", "F0002"]
        assert caught.value.state["channel"] == CHANNEL

    async def test_a_resumed_upload_reads_the_ts_from_files_info(
        self, adapter: SlackAdapter, api: respx.MockRouter
    ) -> None:
        info = api.get(f"{API}/files.info").mock(
            return_value=slack(
                file={"id": "F0001", "shares": {"private": {CHANNEL: [{"ts": "8.000008"}]}}}
            )
        )
        permalink(api, "8.000008")
        state = {"files": ["F0001"], "channel": CHANNEL, "since": isoformat(utcnow())}

        published = await adapter.publish(ACCOUNT, outgoing("x", resume=state))

        assert published.id == "8.000008"
        assert dict(info.calls.last.request.url.params) == {"file": "F0001"}

    async def test_not_shared_yet_waits_again_then_keeps_the_file(
        self, adapter: SlackAdapter, api: respx.MockRouter
    ) -> None:
        api.get(f"{API}/files.info").mock(
            return_value=slack(
                file={"id": "F0001", "permalink": "https://acme.slack.com/files/U0BOT/F0001/a"}
            )
        )
        recent = {"files": ["F0001"], "channel": CHANNEL, "since": isoformat(utcnow())}
        old = {**recent, "since": isoformat(utcnow() - timedelta(minutes=11))}

        with pytest.raises(Pending):
            await adapter.publish(ACCOUNT, outgoing("x", resume=recent))
        published = await adapter.publish(ACCOUNT, outgoing("x", resume=old))

        assert published == Published(
            id="file:F0001", url="https://acme.slack.com/files/U0BOT/F0001/a"
        )

    async def test_a_failing_look_at_the_files_waits_instead_of_starting_over(
        self, adapter: SlackAdapter, api: respx.MockRouter
    ) -> None:
        api.get(f"{API}/files.info").mock(
            side_effect=[
                failed("internal_error"),
                httpx.Response(429, headers={"Retry-After": "20"}),
                failed("internal_error"),
            ]
        )
        recent = {"files": ["F0001"], "channel": CHANNEL, "since": isoformat(utcnow())}
        old = {**recent, "since": isoformat(utcnow() - timedelta(minutes=11))}

        with pytest.raises(Pending) as transient:
            await adapter.publish(ACCOUNT, outgoing("x", resume=recent))
        with pytest.raises(Pending) as limited:
            await adapter.publish(ACCOUNT, outgoing("x", resume=recent))
        published = await adapter.publish(ACCOUNT, outgoing("x", resume=old))

        assert transient.value.retry_in == timedelta(seconds=3)
        assert limited.value.retry_in > timedelta(seconds=15)
        assert published == Published(id="file:F0001", url=None)

    async def test_a_refused_upload_is_retried_from_the_start(
        self, adapter: SlackAdapter, api: respx.MockRouter
    ) -> None:
        api.get(f"{STORAGE}/md_1").respond(200, content=b"PNG01")
        api.post(f"{API}/files.getUploadURLExternal").mock(
            return_value=slack(upload_url=UPLOAD, file_id="F0001")
        )
        api.post(UPLOAD).respond(500, text="nope")

        with pytest.raises(Transient) as caught:
            await adapter.publish(ACCOUNT, outgoing("x", media=(media("md_1"),)))
        assert not caught.value.maybe_sent

    async def test_upload_errors_are_permanent(
        self, adapter: SlackAdapter, api: respx.MockRouter
    ) -> None:
        api.post(f"{API}/files.getUploadURLExternal").mock(
            return_value=failed("file_upload_size_restricted")
        )
        with pytest.raises(Permanent) as caught:
            await adapter.publish(ACCOUNT, outgoing("x", media=(media("md_1"),)))
        assert caught.value.code == "file_upload_size_restricted"


class TestLookup:
    def history(self, api: respx.MockRouter, messages: list[dict[str, Any]]) -> respx.Route:
        return api.get(f"{API}/conversations.history").mock(
            return_value=slack(messages=messages, has_more=False)
        )

    async def test_finds_this_bots_message_with_the_same_text(
        self, adapter: SlackAdapter, api: respx.MockRouter
    ) -> None:
        route = self.history(
            api,
            [
                {"type": "message", "user": "U0HUMAN", "text": "Tom &amp; Jerry", "ts": "9.1"},
                {
                    "type": "message",
                    "bot_id": "B0001",
                    "text": "Tom &amp; Jerry <https://acme.example|site>",
                    "ts": "9.2",
                },
            ],
        )
        permalink(api, "9.2")

        found = await adapter.find_published(ACCOUNT, outgoing("Tom & Jerry site"))

        assert found is not None
        assert found.id == "9.2"
        assert dict(route.calls.last.request.url.params) == {"channel": CHANNEL, "limit": "100"}

    async def test_nothing_found_means_safe_to_send(
        self, adapter: SlackAdapter, api: respx.MockRouter
    ) -> None:
        self.history(api, [{"bot_id": "B0001", "text": "Something else", "ts": "9.3"}])
        assert await adapter.find_published(ACCOUNT, outgoing()) is None

    async def test_a_reply_is_looked_for_in_the_thread(
        self, adapter: SlackAdapter, api: respx.MockRouter
    ) -> None:
        route = api.get(f"{API}/conversations.replies").mock(
            return_value=slack(
                messages=[
                    {"bot_id": "B0001", "text": "2/", "ts": "1.000001", "thread_ts": "1.000001"},
                    {"bot_id": "B0001", "text": "2/", "ts": "1.000002", "thread_ts": "1.000001"},
                ]
            )
        )
        permalink(api, "1.000002")

        found = await adapter.find_published(
            ACCOUNT,
            outgoing("2/", reply_to=Published(id="1.000001"), root=Published(id="1.000001")),
        )

        assert found is not None
        assert found.id == "1.000002"
        assert dict(route.calls.last.request.url.params) == {
            "channel": CHANNEL,
            "limit": "200",
            "ts": "1.000001",
        }

    async def test_without_history_scope_lookup_is_unsupported(
        self, adapter: SlackAdapter, api: respx.MockRouter
    ) -> None:
        api.get(f"{API}/conversations.history").mock(
            return_value=failed("missing_scope", needed="channels:history")
        )
        with pytest.raises(Permanent) as caught:
            await adapter.find_published(ACCOUNT, outgoing())
        assert caught.value.code == "unsupported"

    async def test_a_text_less_message_cannot_be_told_apart(self, adapter: SlackAdapter) -> None:
        with pytest.raises(Permanent) as caught:
            await adapter.find_published(ACCOUNT, outgoing(""))
        assert caught.value.code == "unsupported"

    def test_comparable(self) -> None:
        assert comparable("a &lt;b&gt; <https://x.example>  c") == "a <b> https://x.example c"

    def test_recovery_is_a_lookup(self, adapter: SlackAdapter) -> None:
        assert adapter.recovery == "lookup"


class TestEditDelete:
    async def test_edit(self, adapter: SlackAdapter, api: respx.MockRouter) -> None:
        route = api.post(f"{API}/chat.update").mock(
            return_value=slack(channel=CHANNEL, ts="1.000001", text="Fixed")
        )
        permalink(api, "1.000001")

        published = await adapter.edit(ACCOUNT, "1.000001", outgoing("Fixed"))

        assert published.id == "1.000001"
        assert body(route.calls.last.request) == {
            "channel": CHANNEL,
            "ts": "1.000001",
            "text": "Fixed",
        }

    async def test_delete_and_already_gone(
        self, adapter: SlackAdapter, api: respx.MockRouter
    ) -> None:
        route = api.post(f"{API}/chat.delete").mock(
            side_effect=[slack(channel=CHANNEL, ts="1.000001"), failed("message_not_found")]
        )
        await adapter.delete(ACCOUNT, "1.000001")
        await adapter.delete(ACCOUNT, "1.000001")
        assert body(route.calls.last.request) == {"channel": CHANNEL, "ts": "1.000001"}

    async def test_a_kept_file_is_deleted_as_a_file(
        self, adapter: SlackAdapter, api: respx.MockRouter
    ) -> None:
        route = api.post(f"{API}/files.delete").mock(return_value=slack())
        await adapter.delete(ACCOUNT, "file:F0001")
        assert body(route.calls.last.request) == {"file": "F0001"}
        with pytest.raises(Permanent):
            await adapter.edit(ACCOUNT, "file:F0001", outgoing("x"))

    async def test_cant_delete_is_permanent(
        self, adapter: SlackAdapter, api: respx.MockRouter
    ) -> None:
        api.post(f"{API}/chat.delete").mock(return_value=failed("cant_delete_message"))
        with pytest.raises(Permanent) as caught:
            await adapter.delete(ACCOUNT, "1.000001")
        assert caught.value.code == "cant_delete_message"

    @pytest.mark.parametrize("bad", ["", "abc", "1.2.3", "../x", "file:../x"])
    async def test_a_foreign_id_is_refused_without_a_call(
        self, adapter: SlackAdapter, bad: str
    ) -> None:
        with pytest.raises(Permanent) as caught:
            await adapter.delete(ACCOUNT, bad)
        assert caught.value.code == "invalid_post_id"

    async def test_no_metrics(self, adapter: SlackAdapter) -> None:
        with pytest.raises(Permanent):
            await adapter.metrics(ACCOUNT, "1.000001")


class TestConnect:
    def auth(self, api: respx.MockRouter) -> respx.Route:
        return api.post(f"{API}/auth.test").mock(
            return_value=slack(
                url=TEAM_URL,
                team="Acme",
                user="polypost",
                team_id="T0001",
                user_id="U0BOT",
                bot_id="B0001",
            )
        )

    def info(self, api: respx.MockRouter, **channel: Any) -> respx.Route:
        return api.get(f"{API}/conversations.info").mock(
            return_value=slack(channel={"id": CHANNEL, "name": "launches", **channel})
        )

    async def test_a_member_bot_connects(
        self, adapter: SlackAdapter, api: respx.MockRouter
    ) -> None:
        auth = self.auth(api)
        info = self.info(api, is_member=True)

        connection = await adapter.connect_with_credentials({"botToken": TOKEN, "channel": CHANNEL})

        assert auth.calls.last.request.headers["authorization"] == f"Bearer {TOKEN}"
        assert dict(info.calls.last.request.url.params) == {"channel": CHANNEL}
        assert connection.identity.external_id == f"T0001:{CHANNEL}"
        assert connection.identity.handle == "#launches"
        assert connection.identity.display_name == "#launches (Acme)"
        assert connection.tokens is not None
        assert connection.tokens.access_token == TOKEN
        assert connection.settings == {
            "channelId": CHANNEL,
            "channelName": "launches",
            "teamId": "T0001",
            "teamName": "Acme",
            "teamUrl": TEAM_URL,
            "botUserId": "U0BOT",
            "botId": "B0001",
        }

    async def test_the_bot_joins_a_public_channel(
        self, adapter: SlackAdapter, api: respx.MockRouter
    ) -> None:
        self.auth(api)
        self.info(api, is_member=False, is_private=False)
        join = api.post(f"{API}/conversations.join").mock(return_value=slack(channel={}))

        await adapter.connect_with_credentials({"botToken": TOKEN, "channel": CHANNEL})

        assert body(join.calls.last.request) == {"channel": CHANNEL}

    async def test_a_join_refused_asks_for_an_invite(
        self, adapter: SlackAdapter, api: respx.MockRouter
    ) -> None:
        self.auth(api)
        self.info(api, is_member=False)
        api.post(f"{API}/conversations.join").mock(return_value=failed("missing_scope"))

        with pytest.raises(Permanent) as caught:
            await adapter.connect_with_credentials({"botToken": TOKEN, "channel": CHANNEL})
        assert caught.value.code == "not_in_channel"

    @pytest.mark.parametrize(
        ("channel", "code"),
        [
            ({"is_member": False, "is_private": True}, "not_in_channel"),
            ({"is_member": True, "is_archived": True}, "is_archived"),
        ],
    )
    async def test_unusable_channels_are_refused(
        self,
        adapter: SlackAdapter,
        api: respx.MockRouter,
        channel: dict[str, Any],
        code: str,
    ) -> None:
        self.auth(api)
        self.info(api, **channel)
        with pytest.raises(Permanent) as caught:
            await adapter.connect_with_credentials({"botToken": TOKEN, "channel": CHANNEL})
        assert caught.value.code == code

    async def test_a_bad_token_is_auth_expired(
        self, adapter: SlackAdapter, api: respx.MockRouter
    ) -> None:
        api.post(f"{API}/auth.test").mock(return_value=failed("invalid_auth"))
        with pytest.raises(AuthExpired):
            await adapter.connect_with_credentials({"botToken": TOKEN, "channel": CHANNEL})

    async def test_whoami_does_not_join(self, adapter: SlackAdapter, api: respx.MockRouter) -> None:
        self.auth(api)
        self.info(api, is_member=False)
        identity = await adapter.whoami(ACCOUNT)
        assert identity.external_id == f"T0001:{CHANNEL}"


class TestRefresh:
    ROTATING = Credentials(
        account_id="acc_sl",
        platform=Platform.SLACK,
        external_id=f"T0001:{CHANNEL}",
        access_token="xoxe.xoxb-old",
        refresh_token="xoxe-1-old",
        settings={"channelId": CHANNEL},
        app=AppCredentials(client_id="111.222", client_secret="shh"),
    )

    async def test_rotation_returns_both_new_tokens(
        self, adapter: SlackAdapter, api: respx.MockRouter
    ) -> None:
        route = api.post(f"{API}/oauth.v2.access").mock(
            return_value=slack(
                access_token="xoxe.xoxb-new",
                refresh_token="xoxe-1-new",
                expires_in=43200,
                token_type="bot",
            )
        )

        tokens = await adapter.refresh(self.ROTATING)

        assert (tokens.access_token, tokens.refresh_token) == ("xoxe.xoxb-new", "xoxe-1-new")
        assert tokens.expires_at is not None
        assert form(route.calls.last.request) == {
            "grant_type": "refresh_token",
            "refresh_token": "xoxe-1-old",
            "client_id": "111.222",
            "client_secret": "shh",
        }

    async def test_a_dead_refresh_token_is_auth_expired(
        self, adapter: SlackAdapter, api: respx.MockRouter
    ) -> None:
        api.post(f"{API}/oauth.v2.access").mock(return_value=failed("invalid_refresh_token"))
        with pytest.raises(AuthExpired):
            await adapter.refresh(self.ROTATING)

    async def test_without_rotation_there_is_nothing_to_refresh(
        self, adapter: SlackAdapter
    ) -> None:
        with pytest.raises(AuthExpired):
            await adapter.refresh(ACCOUNT)
