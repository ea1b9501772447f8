"""The Mastodon adapter against respx: the exact REST calls for every operation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from typing import Any

import httpx
import pytest
import respx

from polypost.core.errors import BadRequest
from polypost.platforms.base import (
    AuthExpired,
    Credentials,
    MediaInfo,
    MediaKind,
    Outgoing,
    Permanent,
    Poll,
    PostType,
    Published,
    RateLimited,
    Transient,
)
from polypost.platforms.connect import AppCredentials
from polypost.platforms.mastodon.adapter import MastodonAdapter
from polypost.platforms.options import MastodonOptions
from tests.platforms.bluesky.conftest import Sleeps
from tests.platforms.mastodon.conftest import ACCOUNT_ID, INSTANCE

API = f"{INSTANCE}/api"


def outgoing(text: str = "Hello fediverse", **kwargs: Any) -> Outgoing:
    kwargs.setdefault("key", "tgt_1:main")
    kwargs.setdefault("post_type", PostType.TEXT)
    return Outgoing(target_id="tgt_1", text=text, **kwargs)


def status(status_id: str = "1131", **fields: Any) -> dict[str, Any]:
    return {
        "id": status_id,
        "uri": f"{INSTANCE}/users/alice/statuses/{status_id}",
        "url": f"{INSTANCE}/@alice/{status_id}",
        "content": "<p>Hello fediverse</p>",
        "in_reply_to_id": None,
        "media_attachments": [],
        "poll": None,
        "replies_count": 0,
        "reblogs_count": 0,
        "favourites_count": 0,
        **fields,
    }


def sent(route: respx.Route, index: int = -1) -> Any:
    return json.loads(route.calls[index].request.content)


def multipart(request: httpx.Request) -> dict[str, tuple[bytes, Message]]:
    """A multipart/form-data body as {field name: (bytes, part headers)}."""
    content_type = request.headers["content-type"]
    assert content_type.startswith("multipart/form-data; boundary="), content_type
    parsed = message_from_bytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + request.content
    )
    parts: dict[str, tuple[bytes, Message]] = {}
    for part in parsed.get_payload():
        assert isinstance(part, Message)
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        assert isinstance(name, str)
        assert isinstance(payload, bytes)
        parts[name] = (payload, part)
    return parts


def error(status_code: int, message: str, **headers: str) -> httpx.Response:
    return httpx.Response(status_code, json={"error": message}, headers=headers)


# --- errors -----------------------------------------------------------------------------


class TestClassify:
    @pytest.mark.parametrize(
        ("status_code", "message", "kind", "code"),
        [
            (401, "The access token is invalid", AuthExpired, "401"),
            (401, "The access token was revoked", AuthExpired, "401"),
            (403, "Your login is currently disabled", AuthExpired, "403"),
            (403, "Your login is missing a confirmed e-mail address", AuthExpired, "403"),
            (403, "This action is outside the authorized scopes", AuthExpired, "403"),
            (403, "This action is not allowed", Permanent, "403"),
            (
                422,
                "Cannot attach files that have not finished processing. Try again in a moment!",
                Transient,
                "media_processing",
            ),
            (422, "Validation failed: Text character limit of 500 exceeded", Permanent, "422"),
            (422, "Validation failed: Text can't be blank", Permanent, "422"),
            (404, "Record not found", Permanent, "not_found"),
            (413, "Request Entity Too Large", Permanent, "413"),
            (500, "Error processing thumbnail for uploaded media", Transient, "500"),
            (503, "Service Unavailable", Transient, "503"),
        ],
    )
    def test_documented_errors(
        self,
        adapter: MastodonAdapter,
        status_code: int,
        message: str,
        kind: type[Exception],
        code: str,
    ) -> None:
        classified = adapter.classify(error(status_code, message))
        assert type(classified) is kind
        assert classified.code == code
        assert message in classified.message

    def test_rate_limit_reset_is_an_iso_time(self, adapter: MastodonAdapter) -> None:
        classified = adapter.classify(
            error(
                429,
                "Too many requests",
                **{
                    "X-RateLimit-Limit": "300",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": "2026-01-01T12:05:00.000000Z",
                },
            )
        )
        assert isinstance(classified, RateLimited)
        assert classified.retry_at == datetime(2026, 1, 1, 12, 5, tzinfo=UTC)

    def test_a_proxy_429_with_retry_after(self, adapter: MastodonAdapter) -> None:
        classified = adapter.classify(
            httpx.Response(429, text="slow down", headers={"Retry-After": "30"})
        )
        assert isinstance(classified, RateLimited)
        assert classified.retry_at is not None
        assert classified.retry_at - datetime.now(UTC) <= timedelta(seconds=30)

    def test_oauth_errors_carry_their_description(self, adapter: MastodonAdapter) -> None:
        classified = adapter.classify(
            httpx.Response(
                400, json={"error": "invalid_grant", "error_description": "The code is invalid"}
            )
        )
        assert isinstance(classified, Permanent)
        assert classified.message == "invalid_grant: The code is invalid"


# --- publishing ---------------------------------------------------------------------------


class TestPublish:
    @respx.mock
    async def test_a_status_with_the_idempotency_key_and_options(
        self, adapter: MastodonAdapter, account: Credentials
    ) -> None:
        route = respx.post(f"{API}/v1/statuses").respond(200, json=status())
        post = outgoing(
            options=MastodonOptions.model_validate(
                {"visibility": "unlisted", "spoilerText": "Spoilers", "language": "en"}
            ),
        )

        published = await adapter.publish(account, post)

        request = route.calls.last.request
        assert request.headers["authorization"] == "Bearer user-token"
        assert request.headers["idempotency-key"] == "tgt_1:main"
        assert sent(route) == {
            "status": "Hello fediverse",
            "visibility": "unlisted",
            "spoiler_text": "Spoilers",
            "sensitive": True,
            "language": "en",
        }
        assert published == Published(id="1131", url=f"{INSTANCE}/@alice/1131")

    @respx.mock
    async def test_a_retry_sends_the_same_key_and_gets_the_same_status(
        self, adapter: MastodonAdapter, account: Credentials
    ) -> None:
        route = respx.post(f"{API}/v1/statuses")
        route.side_effect = [httpx.ReadTimeout("lost"), httpx.Response(200, json=status())]

        with pytest.raises(Transient) as caught:
            await adapter.publish(account, outgoing())
        assert caught.value.maybe_sent
        published = await adapter.publish(account, outgoing())

        assert [c.request.headers["idempotency-key"] for c in route.calls] == ["tgt_1:main"] * 2
        assert published.id == "1131"
        assert adapter.recovery == "idempotency_key"
        assert adapter.dedup_window == timedelta(hours=1)

    @respx.mock
    async def test_a_poll(self, adapter: MastodonAdapter, account: Credentials) -> None:
        route = respx.post(f"{API}/v1/statuses").respond(200, json=status())

        await adapter.publish(
            account,
            outgoing(
                "Tabs or spaces?",
                post_type=PostType.POLL,
                poll=Poll(options=("Tabs", "Spaces"), duration_minutes=60),
            ),
        )

        assert sent(route) == {
            "status": "Tabs or spaces?",
            "poll": {"options": ["Tabs", "Spaces"], "expires_in": 3600},
        }

    @respx.mock
    async def test_thread_segments_and_the_first_comment_reply_in_chain(
        self, adapter: MastodonAdapter, account: Credentials
    ) -> None:
        route = respx.post(f"{API}/v1/statuses").respond(200, json=status("1132"))
        root = Published(id="1131", url=f"{INSTANCE}/@alice/1131")

        await adapter.publish(
            account, outgoing("2/", key="tgt_1:segment:1", reply_to=root, root=root)
        )
        await adapter.comment(
            account, outgoing("First!", key="tgt_1:comment", reply_to=root, root=root)
        )

        assert [sent(route, i) for i in range(2)] == [
            {"status": "2/", "in_reply_to_id": "1131"},
            {"status": "First!", "in_reply_to_id": "1131"},
        ]
        assert [c.request.headers["idempotency-key"] for c in route.calls] == [
            "tgt_1:segment:1",
            "tgt_1:comment",
        ]

    @respx.mock
    async def test_an_expired_token(self, adapter: MastodonAdapter, account: Credentials) -> None:
        respx.post(f"{API}/v1/statuses").respond(401, json={"error": "The access token is invalid"})
        with pytest.raises(AuthExpired):
            await adapter.publish(account, outgoing())

    @respx.mock
    async def test_a_refused_status_keeps_the_instances_reason(
        self, adapter: MastodonAdapter, account: Credentials
    ) -> None:
        respx.post(f"{API}/v1/statuses").respond(
            422, json={"error": "Validation failed: Text character limit of 500 exceeded"}
        )
        with pytest.raises(Permanent) as caught:
            await adapter.publish(account, outgoing())
        assert caught.value.message == "Validation failed: Text character limit of 500 exceeded"


IMAGE = MediaInfo(
    id="md_1",
    kind=MediaKind.IMAGE,
    content_type="image/jpeg",
    size=3,
    url="https://files.example.net/cat.jpg",
    filename="cat.jpg",
)
VIDEO = MediaInfo(
    id="md_2",
    kind=MediaKind.VIDEO,
    content_type="video/mp4",
    size=6,
    url="https://files.example.net/clip.mp4",
    filename="clip.mp4",
)


class TestMedia:
    @respx.mock
    async def test_an_image_processed_at_once(
        self, adapter: MastodonAdapter, account: Credentials
    ) -> None:
        respx.get("https://files.example.net/cat.jpg").respond(200, content=b"JPG")
        upload = respx.post(f"{API}/v2/media").respond(
            200, json={"id": "22", "type": "image", "url": f"{INSTANCE}/media/22.jpg"}
        )
        route = respx.post(f"{API}/v1/statuses").respond(200, json=status())

        await adapter.publish(
            account,
            outgoing("Cat", post_type=PostType.IMAGE, media=(IMAGE,), alt_texts={"md_1": "A cat"}),
        )

        request = upload.calls.last.request
        assert request.headers["authorization"] == "Bearer user-token"
        parts = multipart(request)
        assert parts["file"][0] == b"JPG"
        assert parts["file"][1].get_filename() == "cat.jpg"
        assert parts["file"][1].get_content_type() == "image/jpeg"
        assert parts["description"][0] == b"A cat"
        assert sent(route) == {"status": "Cat", "media_ids": ["22"]}

    @respx.mock
    async def test_a_video_is_polled_until_processed(
        self, adapter: MastodonAdapter, account: Credentials, sleeps: Sleeps
    ) -> None:
        respx.get("https://files.example.net/clip.mp4").respond(200, content=b"MP4MP4")
        respx.post(f"{API}/v2/media").respond(202, json={"id": "23", "type": "video", "url": None})
        poll = respx.get(f"{API}/v1/media/23")
        poll.side_effect = [
            httpx.Response(206, json={"id": "23", "url": None}),
            httpx.Response(200, json={"id": "23", "url": f"{INSTANCE}/media/23.mp4"}),
        ]
        route = respx.post(f"{API}/v1/statuses").respond(200, json=status())

        await adapter.publish(account, outgoing("Clip", post_type=PostType.VIDEO, media=(VIDEO,)))

        assert poll.call_count == 2
        assert poll.calls.last.request.headers["authorization"] == "Bearer user-token"
        assert len(sleeps) == 1
        assert sent(route)["media_ids"] == ["23"]

    @respx.mock
    async def test_processing_longer_than_an_attempt_resumes_with_the_same_upload(
        self, adapter: MastodonAdapter, account: Credentials
    ) -> None:
        adapter.uploader.processing_wait = 0
        respx.get("https://files.example.net/clip.mp4").respond(200, content=b"MP4MP4")
        upload = respx.post(f"{API}/v2/media").respond(202, json={"id": "23", "url": None})
        poll = respx.get(f"{API}/v1/media/23").respond(206, json={"id": "23", "url": None})
        create = respx.post(f"{API}/v1/statuses").respond(200, json=status())

        with pytest.raises(Transient) as caught:
            await adapter.publish(account, outgoing(post_type=PostType.VIDEO, media=(VIDEO,)))
        assert caught.value.code == "media_processing"
        assert not caught.value.maybe_sent
        assert not create.called

        poll.respond(200, json={"id": "23", "url": f"{INSTANCE}/media/23.mp4"})
        await adapter.publish(account, outgoing(post_type=PostType.VIDEO, media=(VIDEO,)))

        assert upload.call_count == 1
        assert sent(create)["media_ids"] == ["23"]

    @respx.mock
    async def test_failed_processing_is_permanent(
        self, adapter: MastodonAdapter, account: Credentials
    ) -> None:
        respx.get("https://files.example.net/clip.mp4").respond(200, content=b"MP4MP4")
        respx.post(f"{API}/v2/media").respond(202, json={"id": "23", "url": None})
        respx.get(f"{API}/v1/media/23").respond(422, json={"error": "Processing failed"})

        with pytest.raises(Permanent):
            await adapter.publish(account, outgoing(post_type=PostType.VIDEO, media=(VIDEO,)))

    @respx.mock
    async def test_a_purged_remembered_upload_is_uploaded_again_on_retry(
        self, adapter: MastodonAdapter, account: Credentials
    ) -> None:
        respx.get("https://files.example.net/cat.jpg").respond(200, content=b"JPG")
        upload = respx.post(f"{API}/v2/media")
        upload.side_effect = [
            httpx.Response(200, json={"id": "22", "url": f"{INSTANCE}/m/22.jpg"}),
            httpx.Response(200, json={"id": "24", "url": f"{INSTANCE}/m/24.jpg"}),
        ]
        create = respx.post(f"{API}/v1/statuses")
        create.side_effect = [
            httpx.Response(503, json={"error": "Service Unavailable"}),
            error(422, "Validation failed: Media attachments could not be found"),
            httpx.Response(200, json=status()),
        ]
        post = outgoing(post_type=PostType.IMAGE, media=(IMAGE,))

        with pytest.raises(Transient):
            await adapter.publish(account, post)
        with pytest.raises(Transient) as caught:
            await adapter.publish(account, post)
        assert caught.value.code == "media_expired"
        await adapter.publish(account, post)

        assert [sent(create, i)["media_ids"] for i in range(3)] == [["22"], ["22"], ["24"]]

    @respx.mock
    async def test_media_gone_from_storage(
        self, adapter: MastodonAdapter, account: Credentials
    ) -> None:
        respx.get("https://files.example.net/cat.jpg").respond(404)
        with pytest.raises(Permanent) as caught:
            await adapter.publish(account, outgoing(post_type=PostType.IMAGE, media=(IMAGE,)))
        assert caught.value.code == "media_unavailable"


class TestFindPublished:
    @respx.mock
    async def test_finds_the_status_with_the_same_text_and_parent(
        self, adapter: MastodonAdapter, account: Credentials
    ) -> None:
        text = "Read https://example.com/a/very/long/path & ask @bob@other.example\nThanks"
        content = (
            '<p>Read <a href="https://example.com/a/very/long/path" rel="nofollow noopener" '
            'target="_blank"><span class="invisible">https://</span>'
            '<span class="ellipsis">example.com/a/very/lon</span>'
            '<span class="invisible">g/path</span></a> &amp; ask <span class="h-card">'
            '<a href="https://other.example/@bob" class="u-url mention">@<span>bob</span></a>'
            "</span><br />Thanks</p>"
        )
        listing = respx.get(f"{API}/v1/accounts/{ACCOUNT_ID}/statuses").respond(
            200,
            json=[
                status("3", content=content, in_reply_to_id="1"),
                status("2", content="<p>Something else</p>"),
                status("1", content=content),
            ],
        )

        found = await adapter.find_published(account, outgoing(text))

        assert dict(listing.calls.last.request.url.params) == {
            "limit": "40",
            "exclude_reblogs": "true",
        }
        assert found == Published(id="1", url=f"{INSTANCE}/@alice/1")

    async def test_a_status_without_text_cannot_be_recognised(
        self, adapter: MastodonAdapter, account: Credentials
    ) -> None:
        with respx.mock(assert_all_mocked=True), pytest.raises(Permanent) as caught:
            await adapter.find_published(account, outgoing("", media=(IMAGE,)))
        assert caught.value.code == "unsupported"

    @respx.mock
    async def test_nothing_matching_is_none(
        self, adapter: MastodonAdapter, account: Credentials
    ) -> None:
        respx.get(f"{API}/v1/accounts/{ACCOUNT_ID}/statuses").respond(200, json=[status("2")])
        assert await adapter.find_published(account, outgoing("Not posted")) is None


# --- after publishing -----------------------------------------------------------------------


class TestDeleteEditMetrics:
    @respx.mock
    async def test_delete(self, adapter: MastodonAdapter, account: Credentials) -> None:
        route = respx.delete(f"{API}/v1/statuses/1131").respond(200, json=status())
        await adapter.delete(account, "1131")
        assert route.calls.last.request.headers["authorization"] == "Bearer user-token"

    @respx.mock
    async def test_deleting_a_deleted_status_succeeds(
        self, adapter: MastodonAdapter, account: Credentials
    ) -> None:
        respx.delete(f"{API}/v1/statuses/1131").respond(404, json={"error": "Record not found"})
        await adapter.delete(account, "1131")

    async def test_an_id_with_a_path_is_refused(
        self, adapter: MastodonAdapter, account: Credentials
    ) -> None:
        with respx.mock(assert_all_mocked=True), pytest.raises(Permanent) as caught:
            await adapter.delete(account, "../accounts/1")
        assert caught.value.code == "invalid_post_id"

    @respx.mock
    async def test_edit_keeps_what_it_does_not_change(
        self, adapter: MastodonAdapter, account: Credentials
    ) -> None:
        expires = (datetime.now(UTC) + timedelta(hours=2)).isoformat().replace("+00:00", "Z")
        current = status(
            media_attachments=[{"id": "22", "type": "image"}],
            spoiler_text="CW",
            sensitive=True,
            language="de",
            poll={
                "id": "9",
                "expires_at": expires,
                "multiple": False,
                "options": [{"title": "Yes", "votes_count": 3}, {"title": "No", "votes_count": 1}],
            },
        )
        respx.get(f"{API}/v1/statuses/1131").respond(200, json=current)
        route = respx.put(f"{API}/v1/statuses/1131").respond(
            200, json=status(edited_at="2026-01-01T00:00:00Z")
        )

        published = await adapter.edit(
            account, "1131", outgoing("Fixed typo", options=MastodonOptions(language="en"))
        )

        body = sent(route)
        assert route.calls.last.request.headers["authorization"] == "Bearer user-token"
        poll = body.pop("poll")
        assert body == {
            "status": "Fixed typo",
            "media_ids": ["22"],
            "spoiler_text": "CW",
            "sensitive": True,
            "language": "en",
        }
        assert poll["options"] == ["Yes", "No"]
        assert poll["multiple"] is False
        assert 7000 < poll["expires_in"] <= 7200
        assert published.id == "1131"

    @respx.mock
    async def test_metrics(self, adapter: MastodonAdapter, account: Credentials) -> None:
        respx.get(f"{API}/v1/statuses/1131").respond(
            200, json=status(favourites_count=7, reblogs_count=2, replies_count=3, quotes_count=1)
        )
        metrics = await adapter.metrics(account, "1131")
        assert (metrics.likes, metrics.comments, metrics.shares) == (7, 3, 3)
        assert metrics.impressions is None

    async def test_refresh_is_impossible(
        self, adapter: MastodonAdapter, account: Credentials
    ) -> None:
        with pytest.raises(AuthExpired):
            await adapter.refresh(account)


# --- connecting ---------------------------------------------------------------------------

VERIFIED = {
    "id": ACCOUNT_ID,
    "username": "alice",
    "acct": "alice",
    "display_name": "Alice",
    "avatar": f"{INSTANCE}/avatars/alice.png",
    "url": f"{INSTANCE}/@alice",
}


class TestConnect:
    @respx.mock
    async def test_an_access_token_is_verified_on_its_instance(
        self, adapter: MastodonAdapter
    ) -> None:
        verify = respx.get(f"{API}/v1/accounts/verify_credentials").respond(200, json=VERIFIED)

        connection = await adapter.connect_with_credentials(
            {
                "platform": "mastodon",
                "instance": "Social.Example.org",
                "accessToken": "token-123456",
            }
        )

        assert verify.calls.last.request.headers["authorization"] == "Bearer token-123456"
        assert connection.identity.external_id == f"{ACCOUNT_ID}@social.example.org"
        assert connection.identity.handle == "alice@social.example.org"
        assert connection.identity.display_name == "Alice"
        assert connection.base_url == INSTANCE
        assert connection.tokens is not None
        assert connection.tokens.access_token == "token-123456"
        assert dict(connection.settings) == {"baseUrl": INSTANCE, "accountId": ACCOUNT_ID}

    @respx.mock
    async def test_a_revoked_token_is_auth_expired(self, adapter: MastodonAdapter) -> None:
        respx.get(f"{API}/v1/accounts/verify_credentials").respond(
            401, json={"error": "The access token was revoked"}
        )
        with pytest.raises(AuthExpired):
            await adapter.connect_with_credentials(
                {"instance": INSTANCE, "accessToken": "token-123456"}
            )

    async def test_an_instance_on_a_private_address_is_refused(
        self, adapter: MastodonAdapter, dns: dict[str, str]
    ) -> None:
        dns["mastodon.internal"] = "127.0.0.1"
        with respx.mock(assert_all_mocked=True), pytest.raises(BadRequest) as caught:
            await adapter.connect_with_credentials(
                {"instance": "mastodon.internal", "accessToken": "token-123456"}
            )
        assert caught.value.details is not None
        assert caught.value.details["fields"][0]["field"] == "instance"

    @pytest.mark.parametrize(
        "body",
        [
            {"instance": INSTANCE},
            {"instance": "", "accessToken": "token-123456"},
            {"instance": "ftp://social.example.org", "accessToken": "token-123456"},
            {"instance": "https://user:pw@social.example.org", "accessToken": "token-123456"},
            {"instance": INSTANCE, "accessToken": "token-123456", "scope": "admin"},
        ],
    )
    async def test_malformed_bodies_are_refused(
        self, adapter: MastodonAdapter, body: dict[str, Any]
    ) -> None:
        with pytest.raises(BadRequest):
            await adapter.connect_with_credentials(body)

    @respx.mock
    async def test_whoami(self, adapter: MastodonAdapter, account: Credentials) -> None:
        respx.get(f"{API}/v1/accounts/verify_credentials").respond(
            200, json=dict(VERIFIED, acct="alice@social.example.org")
        )
        identity = await adapter.whoami(account)
        assert identity.handle == "alice@social.example.org"
        assert identity.avatar_url == f"{INSTANCE}/avatars/alice.png"


class TestOAuth:
    @respx.mock
    async def test_an_app_is_registered_once_per_instance_and_redirect(
        self, adapter: MastodonAdapter
    ) -> None:
        apps = respx.post(f"{API}/v1/apps").respond(
            200,
            json={
                "id": "1",
                "name": "Polypost",
                "client_id": "cid",
                "client_secret": "csecret",
                "redirect_uris": ["https://app.example.com/cb"],
                "scopes": ["read:accounts"],
            },
        )

        app = await adapter.register_app("social.example.org", "https://app.example.com/cb")
        again = await adapter.register_app(INSTANCE, "https://app.example.com/cb")

        assert apps.call_count == 1
        assert again == app
        assert sent(apps) == {
            "client_name": "Polypost",
            "redirect_uris": ["https://app.example.com/cb"],
            "scopes": "read:accounts read:statuses write:statuses write:media",
            "website": "https://github.com/polypost",
        }
        assert (app.client_id, app.client_secret) == ("cid", "csecret")
        assert dict(app.extra) == {"instance": INSTANCE}
        spec = adapter.oauth.resolve(app.extra["instance"])
        assert spec.authorize_url == f"{INSTANCE}/oauth/authorize"
        assert spec.token_url == f"{INSTANCE}/oauth/token"
        assert spec.revoke_url == f"{INSTANCE}/oauth/revoke"
        assert spec.pkce
        assert spec.scopes == (
            "read:accounts",
            "read:statuses",
            "write:statuses",
            "write:media",
        )
        assert adapter.oauth.needs_app_credentials is False

    @respx.mock
    async def test_a_redirect_uri_the_instance_refuses(self, adapter: MastodonAdapter) -> None:
        respx.post(f"{API}/v1/apps").respond(
            422, json={"error": "Validation failed: Redirect URI must be an absolute URI."}
        )
        with pytest.raises(Permanent):
            await adapter.register_app(INSTANCE, "not-a-uri")

    async def test_registering_on_a_private_instance_is_refused(
        self, adapter: MastodonAdapter, dns: dict[str, str]
    ) -> None:
        dns["mastodon.internal"] = "192.168.1.10"
        with respx.mock(assert_all_mocked=True), pytest.raises(BadRequest):
            await adapter.register_app("mastodon.internal", "https://app.example.com/cb")

    @respx.mock
    async def test_the_code_is_exchanged_on_the_instance(self, adapter: MastodonAdapter) -> None:
        token = respx.post(f"{INSTANCE}/oauth/token").respond(
            200,
            json={
                "access_token": "tok",
                "token_type": "Bearer",
                "scope": "read:accounts write:statuses",
                "created_at": 1573979017,
            },
        )
        app = AppCredentials(client_id="cid", client_secret="csecret", extra={"instance": INSTANCE})

        tokens = await adapter.exchange_code(
            app, "the-code", "https://app.example.com/cb", "verifier"
        )

        from urllib.parse import parse_qs

        form = {k: v[0] for k, v in parse_qs(token.calls.last.request.content.decode()).items()}
        assert form == {
            "grant_type": "authorization_code",
            "code": "the-code",
            "client_id": "cid",
            "client_secret": "csecret",
            "redirect_uri": "https://app.example.com/cb",
            "scope": "read:accounts read:statuses write:statuses write:media",
            "code_verifier": "verifier",
        }
        assert tokens.access_token == "tok"
        assert tokens.refresh_token is None
        assert tokens.expires_at is None
        assert tokens.scopes == ("read:accounts", "write:statuses")

    @respx.mock
    async def test_a_bad_code(self, adapter: MastodonAdapter) -> None:
        respx.post(f"{INSTANCE}/oauth/token").respond(
            400,
            json={
                "error": "invalid_grant",
                "error_description": "The provided authorization grant is invalid",
            },
        )
        app = AppCredentials(client_id="cid", client_secret="csecret", extra={"instance": INSTANCE})
        with pytest.raises(Permanent) as caught:
            await adapter.exchange_code(app, "bad", "https://app.example.com/cb", None)
        assert "invalid_grant" in caught.value.message
