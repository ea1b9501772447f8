"""The X adapter against respx: the exact requests it sends and how it reads X's answers."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx

from polypost.core.timeutil import utcnow
from polypost.platforms.base import (
    AuthExpired,
    Credentials,
    MediaInfo,
    MediaKind,
    Outgoing,
    Pending,
    Permanent,
    Platform,
    Poll,
    PostType,
    Published,
    RateLimited,
    Transient,
)
from polypost.platforms.connect import AppCredentials
from polypost.platforms.options import XOptions
from polypost.platforms.x import media as x_media
from polypost.platforms.x.adapter import XAdapter
from polypost.platforms.x.timeline import comparable
from tests.platforms.helpers import Sleeps, StubRuntime, body, form, multipart

API = "https://api.x.com"
TWEETS = f"{API}/2/tweets"
STORAGE = "https://storage.example.com"
ACCOUNT = Credentials(
    account_id="acc_1",
    platform=Platform.X,
    external_id="2244994945",
    access_token="user-token",
    refresh_token="refresh-1",
    handle="polypost",
)
AUTH = "Bearer user-token"


def created(tweet_id: str, text: str = "") -> httpx.Response:
    # OpenAPI CreatePostsResponse (x.md §2).
    return httpx.Response(
        201, json={"data": {"id": tweet_id, "text": text, "edit_history_tweet_ids": [tweet_id]}}
    )


def outgoing(text: str = "Hello world", **kwargs: object) -> Outgoing:
    return Outgoing(
        target_id="tgt_1",
        key=kwargs.pop("key", "tgt_1:main"),  # type: ignore[arg-type]
        post_type=kwargs.pop("post_type", PostType.TEXT),  # type: ignore[arg-type]
        text=text,
        **kwargs,  # type: ignore[arg-type]
    )


def image(media_id: str, size: int = 3) -> MediaInfo:
    return MediaInfo(
        id=media_id,
        kind=MediaKind.IMAGE,
        content_type="image/png",
        size=size,
        url=f"{STORAGE}/{media_id}?sig=1",
        filename=f"{media_id}.png",
    )


def video(media_id: str = "md_v", size: int = 10, kind: MediaKind = MediaKind.VIDEO) -> MediaInfo:
    return MediaInfo(
        id=media_id,
        kind=kind,
        content_type="video/mp4" if kind is MediaKind.VIDEO else "image/gif",
        size=size,
        url=f"{STORAGE}/{media_id}?sig=1",
        duration_ms=15_000,
    )


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def adapter(client: httpx.AsyncClient, sleeps: Sleeps) -> XAdapter:
    adapter = XAdapter(StubRuntime(http=client))  # type: ignore[arg-type]
    adapter.sleep = sleeps
    return adapter


@pytest.fixture
def x_api() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


class TestPublishText:
    async def test_text_post(self, adapter: XAdapter, x_api: respx.MockRouter) -> None:
        route = x_api.post(TWEETS).mock(return_value=created("1445880548472328192"))
        published = await adapter.publish(ACCOUNT, outgoing("Hello world"))
        assert published == Published(
            id="1445880548472328192", url="https://x.com/polypost/status/1445880548472328192"
        )
        request = route.calls.last.request
        assert request.headers["authorization"] == AUTH
        assert request.headers["content-type"] == "application/json"
        assert body(request) == {"text": "Hello world"}

    async def test_permalink_without_handle(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        x_api.post(TWEETS).mock(return_value=created("7"))
        account = Credentials(
            account_id="acc_2", platform=Platform.X, external_id="1", access_token="t"
        )
        published = await adapter.publish(account, outgoing())
        assert published.url == "https://x.com/i/status/7"

    async def test_thread_segment_replies_to_the_previous_post(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        route = x_api.post(TWEETS).mock(return_value=created("30"))
        post = outgoing(
            "2/ more",
            key="tgt_1:segment:2",
            reply_to=Published(id="20"),
            root=Published(id="10"),
        )
        await adapter.publish(ACCOUNT, post)
        assert body(route.calls.last.request) == {
            "text": "2/ more",
            "reply": {"in_reply_to_tweet_id": "20"},
        }

    async def test_poll(self, adapter: XAdapter, x_api: respx.MockRouter) -> None:
        route = x_api.post(TWEETS).mock(return_value=created("40"))
        post = outgoing(
            "Tabs or spaces?",
            post_type=PostType.POLL,
            poll=Poll(options=("Tabs", "Spaces"), duration_minutes=60),
        )
        await adapter.publish(ACCOUNT, post)
        assert body(route.calls.last.request) == {
            "text": "Tabs or spaces?",
            "poll": {"options": ["Tabs", "Spaces"], "duration_minutes": 60},
        }

    async def test_poll_without_duration_lasts_a_day(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        route = x_api.post(TWEETS).mock(return_value=created("41"))
        post = outgoing("Q?", post_type=PostType.POLL, poll=Poll(options=("A", "B", "C")))
        await adapter.publish(ACCOUNT, post)
        assert body(route.calls.last.request)["poll"] == {
            "options": ["A", "B", "C"],
            "duration_minutes": 1440,
        }

    async def test_the_link_goes_at_the_end_of_the_text(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        route = x_api.post(TWEETS).mock(return_value=created("45"))
        await adapter.publish(ACCOUNT, outgoing("Read this", link="https://example.com/a"))
        assert body(route.calls.last.request) == {"text": "Read this\n\nhttps://example.com/a"}
        await adapter.publish(
            ACCOUNT, outgoing("Read https://example.com/a now", link="https://example.com/a")
        )
        assert body(route.calls.last.request) == {"text": "Read https://example.com/a now"}

    async def test_platform_options(self, adapter: XAdapter, x_api: respx.MockRouter) -> None:
        route = x_api.post(TWEETS).mock(return_value=created("50"))
        options = XOptions.model_validate(
            {
                "replySettings": "mentionedUsers",
                "quoteTweetId": "1445880548472328192",
                "communityId": "1146654567674912769",
                "madeWithAi": True,
                "paidPartnership": False,
            }
        )
        await adapter.publish(ACCOUNT, outgoing("Quoting", options=options))
        assert body(route.calls.last.request) == {
            "text": "Quoting",
            "reply_settings": "mentionedUsers",
            "quote_tweet_id": "1445880548472328192",
            "community_id": "1146654567674912769",
            "made_with_ai": True,
            "paid_partnership": False,
        }

    async def test_thread_replies_keep_only_per_post_options(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        route = x_api.post(TWEETS).mock(return_value=created("51"))
        options = XOptions.model_validate(
            {"replySettings": "following", "quoteTweetId": "1", "madeWithAi": True}
        )
        post = outgoing("2/", options=options, reply_to=Published(id="50"))
        await adapter.publish(ACCOUNT, post)
        assert body(route.calls.last.request) == {
            "text": "2/",
            "reply": {"in_reply_to_tweet_id": "50"},
            "made_with_ai": True,
        }

    async def test_first_comment_is_a_self_reply(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        route = x_api.post(TWEETS).mock(return_value=created("60"))
        post = outgoing("Link in here", key="tgt_1:comment", reply_to=Published(id="59"))
        published = await adapter.comment(ACCOUNT, post)
        assert published.id == "60"
        assert body(route.calls.last.request) == {
            "text": "Link in here",
            "reply": {"in_reply_to_tweet_id": "59"},
        }

    async def test_account_without_token_is_auth_expired(self, adapter: XAdapter) -> None:
        account = Credentials(account_id="acc_3", platform=Platform.X, external_id="1")
        with pytest.raises(AuthExpired):
            await adapter.publish(account, outgoing())

    async def test_timeout_on_create_may_have_posted(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        x_api.post(TWEETS).mock(side_effect=httpx.ReadTimeout("slow"))
        with pytest.raises(Transient) as caught:
            await adapter.publish(ACCOUNT, outgoing())
        assert caught.value.maybe_sent is True

    async def test_errors_in_a_2xx_are_permanent(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        x_api.post(TWEETS).mock(
            return_value=httpx.Response(
                200,
                json={
                    "errors": [
                        {
                            "message": "The Tweet contains an invalid URL.",
                            "title": "Invalid Request",
                        }
                    ]
                },
            )
        )
        with pytest.raises(Permanent) as caught:
            await adapter.publish(ACCOUNT, outgoing())
        assert caught.value.code == "invalid_request"
        assert caught.value.message == "The Tweet contains an invalid URL."

    async def test_success_without_an_id_is_an_unknown_outcome(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        x_api.post(TWEETS).mock(return_value=httpx.Response(201, json={}))
        with pytest.raises(Transient) as caught:
            await adapter.publish(ACCOUNT, outgoing())
        assert caught.value.maybe_sent is True


class TestImages:
    async def test_images_upload_one_shot_with_alt_text(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        x_api.get(f"{STORAGE}/md_a").mock(return_value=httpx.Response(200, content=b"AAA"))
        x_api.get(f"{STORAGE}/md_b").mock(return_value=httpx.Response(200, content=b"BBBB"))
        upload = x_api.post(f"{API}/2/media/upload").mock(
            side_effect=[
                httpx.Response(
                    200,
                    json={
                        "data": {
                            "id": "1880028106020515840",
                            "media_key": "3_1880028106020515840",
                            "size": 3,
                            "expires_after_secs": 86400,
                            "image": {"image_type": "image/png", "w": 10, "h": 10},
                        }
                    },
                ),
                httpx.Response(200, json={"data": {"id": "1880028106020515841"}}),
            ]
        )
        metadata = x_api.post(f"{API}/2/media/metadata").mock(
            return_value=httpx.Response(200, json={"data": {"associated_metadata": True}})
        )
        tweet = x_api.post(TWEETS).mock(return_value=created("70"))
        post = outgoing(
            "Two pictures",
            post_type=PostType.CAROUSEL,
            media=(image("md_a", 3), image("md_b", 4)),
            alt_texts={"md_a": "A red square"},
        )
        await adapter.publish(ACCOUNT, post)

        first = upload.calls[0].request
        assert first.headers["authorization"] == AUTH
        parts = multipart(first)
        assert parts["media"][0] == b"AAA"
        assert parts["media"][1].get_content_type() == "image/png"
        assert parts["media_category"][0] == b"tweet_image"
        assert parts["media_type"][0] == b"image/png"
        assert multipart(upload.calls[1].request)["media"][0] == b"BBBB"
        assert metadata.call_count == 1
        assert body(metadata.calls.last.request) == {
            "id": "1880028106020515840",
            "metadata": {"alt_text": {"text": "A red square"}},
        }
        assert body(tweet.calls.last.request) == {
            "text": "Two pictures",
            "media": {"media_ids": ["1880028106020515840", "1880028106020515841"]},
        }

    async def test_tagged_users_go_with_the_media(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        x_api.get(f"{STORAGE}/md_a").mock(return_value=httpx.Response(200, content=b"A"))
        x_api.post(f"{API}/2/media/upload").mock(
            return_value=httpx.Response(200, json={"data": {"id": "11"}})
        )
        tweet = x_api.post(TWEETS).mock(return_value=created("71"))
        options = XOptions.model_validate({"taggedUserIds": ["2244994945"]})
        await adapter.publish(ACCOUNT, outgoing("Tagged", media=(image("md_a"),), options=options))
        assert body(tweet.calls.last.request)["media"] == {
            "media_ids": ["11"],
            "tagged_user_ids": ["2244994945"],
        }

    async def test_a_retry_reuses_the_uploaded_image(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        x_api.get(f"{STORAGE}/md_a").mock(return_value=httpx.Response(200, content=b"A"))
        upload = x_api.post(f"{API}/2/media/upload").mock(
            return_value=httpx.Response(
                200, json={"data": {"id": "12", "expires_after_secs": 86400}}
            )
        )
        tweet = x_api.post(TWEETS).mock(
            side_effect=[httpx.Response(503, json={"title": "Service Unavailable"}), created("72")]
        )
        post = outgoing("Retry me", media=(image("md_a"),))
        with pytest.raises(Transient):
            await adapter.publish(ACCOUNT, post)
        await adapter.publish(ACCOUNT, post)
        assert upload.call_count == 1
        assert body(tweet.calls.last.request)["media"] == {"media_ids": ["12"]}

    async def test_missing_file_is_permanent(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        x_api.get(f"{STORAGE}/md_a").mock(return_value=httpx.Response(404))
        tweet = x_api.post(TWEETS)
        with pytest.raises(Permanent) as caught:
            await adapter.publish(ACCOUNT, outgoing("x", media=(image("md_a"),)))
        assert caught.value.code == "media_unavailable"
        assert not tweet.called

    async def test_storage_error_is_transient(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        x_api.get(f"{STORAGE}/md_a").mock(return_value=httpx.Response(500))
        with pytest.raises(Transient) as caught:
            await adapter.publish(ACCOUNT, outgoing("x", media=(image("md_a"),)))
        assert caught.value.maybe_sent is False

    async def test_media_without_url_is_permanent(self, adapter: XAdapter) -> None:
        media = MediaInfo(id="md_z", kind=MediaKind.IMAGE, content_type="image/png", size=1)
        with pytest.raises(Permanent) as caught:
            await adapter.publish(ACCOUNT, outgoing("x", media=(media,)))
        assert caught.value.code == "media_unavailable"

    async def test_upload_timeout_is_not_an_unknown_outcome(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        # Nothing is published while uploading, so the job may simply retry.
        x_api.get(f"{STORAGE}/md_a").mock(return_value=httpx.Response(200, content=b"A"))
        x_api.post(f"{API}/2/media/upload").mock(side_effect=httpx.WriteTimeout("slow"))
        with pytest.raises(Transient) as caught:
            await adapter.publish(ACCOUNT, outgoing("x", media=(image("md_a"),)))
        assert caught.value.maybe_sent is False


class TestChunkedUpload:
    @pytest.fixture(autouse=True)
    def small_chunks(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(x_media, "CHUNK_SIZE", 4)

    def mock_upload(self, x_api: respx.MockRouter, states: list[dict[str, object]] | None) -> None:
        x_api.get(f"{STORAGE}/md_v").mock(return_value=httpx.Response(200, content=b"0123456789"))
        x_api.post(f"{API}/2/media/upload/initialize", name="init").mock(
            return_value=httpx.Response(
                200,
                json={
                    "data": {
                        "id": "1880028106020515840",
                        "media_key": "7_1880028106020515840",
                        "expires_after_secs": 86400,
                    }
                },
            )
        )
        x_api.post(f"{API}/2/media/upload/1880028106020515840/append", name="append").mock(
            return_value=httpx.Response(200, json={"data": {"expires_at": 1737067231}})
        )
        finalize: dict[str, object] = {
            "id": "1880028106020515840",
            "media_key": "7_1880028106020515840",
            "size": 10,
            "expires_after_secs": 86400,
        }
        if states is not None:
            finalize["processing_info"] = {"state": "pending", "check_after_secs": 1}
        x_api.post(f"{API}/2/media/upload/1880028106020515840/finalize", name="finalize").mock(
            return_value=httpx.Response(200, json={"data": finalize})
        )
        x_api.get(f"{API}/2/media/upload", name="status").mock(
            side_effect=[
                httpx.Response(
                    200, json={"data": {"id": "1880028106020515840", "processing_info": state}}
                )
                for state in states or []
            ]
        )

    async def test_video_init_append_finalize_status(
        self, adapter: XAdapter, x_api: respx.MockRouter, sleeps: Sleeps
    ) -> None:
        self.mock_upload(
            x_api,
            [
                {"state": "in_progress", "check_after_secs": 5, "progress_percent": 40},
                {"state": "succeeded", "progress_percent": 100},
            ],
        )
        tweet = x_api.post(TWEETS).mock(return_value=created("80"))
        await adapter.publish(
            ACCOUNT, outgoing("Watch", post_type=PostType.VIDEO, media=(video(),))
        )

        init = x_api.routes["init"].calls.last.request
        assert init.headers["authorization"] == AUTH
        assert body(init) == {
            "media_type": "video/mp4",
            "total_bytes": 10,
            "media_category": "tweet_video",
        }
        appends = [multipart(c.request) for c in x_api.routes["append"].calls]
        assert [(p["segment_index"][0], p["media"][0]) for p in appends] == [
            (b"0", b"0123"),
            (b"1", b"4567"),
            (b"2", b"89"),
        ]
        finalize = x_api.routes["finalize"].calls.last.request
        assert finalize.content == b""
        status_calls = x_api.routes["status"].calls
        assert [dict(c.request.url.params) for c in status_calls] == [
            {"command": "STATUS", "media_id": "1880028106020515840"}
        ] * 2
        assert sleeps == [1.0, 5.0]
        assert body(tweet.calls.last.request) == {
            "text": "Watch",
            "media": {"media_ids": ["1880028106020515840"]},
        }

    async def test_gif_without_processing_info_is_ready(
        self, adapter: XAdapter, x_api: respx.MockRouter, sleeps: Sleeps
    ) -> None:
        self.mock_upload(x_api, None)
        x_api.post(TWEETS).mock(return_value=created("81"))
        await adapter.publish(ACCOUNT, outgoing("Loop", media=(video(kind=MediaKind.GIF),)))
        assert body(x_api.routes["init"].calls.last.request)["media_category"] == "tweet_gif"
        assert not x_api.routes["status"].called
        assert sleeps == []

    async def test_failed_processing_is_permanent(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        self.mock_upload(
            x_api,
            [
                {
                    "state": "failed",
                    "error": {"code": 1, "name": "InvalidMedia", "message": "Unsupported video"},
                }
            ],
        )
        tweet = x_api.post(TWEETS)
        with pytest.raises(Permanent) as caught:
            await adapter.publish(ACCOUNT, outgoing("x", media=(video(),)))
        assert caught.value.code == "media_processing_failed"
        assert "Unsupported video" in caught.value.message
        assert not tweet.called

    async def test_long_processing_hands_the_worker_back(
        self, adapter: XAdapter, x_api: respx.MockRouter, sleeps: Sleeps
    ) -> None:
        now = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
        adapter.now = lambda: now
        self.mock_upload(
            x_api,
            [
                {"state": "in_progress", "check_after_secs": 10, "progress_percent": 20},
                {"state": "succeeded", "progress_percent": 100},
            ],
        )
        tweet = x_api.post(TWEETS).mock(return_value=created("82"))
        post = outgoing("Long one", media=(video(),))
        with pytest.raises(Pending) as caught:
            await adapter.publish(ACCOUNT, post)
        assert caught.value.stage == "processing media"
        assert caught.value.retry_in == timedelta(seconds=10)
        assert caught.value.state == {
            "media": {"md_v": "1880028106020515840"},
            "since": "2026-11-22T10:00:00Z",
        }
        assert sleeps == [1.0]
        assert not tweet.called

        # The job calls again with the state: only STATUS, then the post.
        await adapter.publish(ACCOUNT, replace(post, resume=caught.value.state))
        assert x_api.routes["init"].call_count == 1
        assert x_api.routes["append"].call_count == 3
        assert x_api.routes["status"].call_count == 2
        assert body(tweet.calls.last.request)["media"] == {"media_ids": ["1880028106020515840"]}

    async def test_processing_has_a_deadline(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        now = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
        adapter.now = lambda: now
        busy = {"state": "in_progress", "check_after_secs": 10}
        self.mock_upload(x_api, [busy, busy])
        state = {"media": {"md_v": "1880028106020515840"}, "since": "2026-11-22T09:44:00Z"}
        post = outgoing("Too long", media=(video(),), resume=state)
        with pytest.raises(Permanent) as caught:
            await adapter.publish(ACCOUNT, post)
        assert caught.value.code == "media_processing_timeout"
        assert not x_api.routes["init"].called

    async def test_unknown_size_is_refused(self, adapter: XAdapter) -> None:
        media = MediaInfo(
            id="md_v", kind=MediaKind.VIDEO, content_type="video/mp4", url=f"{STORAGE}/md_v"
        )
        with pytest.raises(Permanent):
            await adapter.publish(ACCOUNT, outgoing("x", media=(media,)))


def problem(code: int, **fields: object) -> httpx.Response:
    """An X v2 problem body (x.md §6), with `status` repeated as X does."""
    return httpx.Response(code, json={**fields, "status": code})


class TestErrors:
    async def publish_against(
        self, adapter: XAdapter, x_api: respx.MockRouter, response: httpx.Response
    ) -> Exception:
        x_api.post(TWEETS).mock(return_value=response)
        with pytest.raises(Exception) as caught:
            await adapter.publish(ACCOUNT, outgoing())
        return caught.value

    async def test_401_is_auth_expired(self, adapter: XAdapter, x_api: respx.MockRouter) -> None:
        error = await self.publish_against(
            adapter,
            x_api,
            problem(401, title="Unauthorized", type="about:blank", detail="Unauthorized"),
        )
        assert isinstance(error, AuthExpired)

    async def test_v1_invalid_token_code_is_auth_expired(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        error = await self.publish_against(
            adapter,
            x_api,
            problem(403, errors=[{"code": 89, "message": "Invalid or expired token."}]),
        )
        assert isinstance(error, AuthExpired)

    async def test_429_waits_for_the_window_reset(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        reset = int((utcnow() + timedelta(minutes=7)).timestamp())
        response = httpx.Response(
            429,
            json={
                "title": "Too Many Requests",
                "detail": "Too Many Requests",
                "type": "about:blank",
                "status": 429,
            },
            headers={
                "x-rate-limit-limit": "100",
                "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": str(reset),
            },
        )
        error = await self.publish_against(adapter, x_api, response)
        assert isinstance(error, RateLimited)
        assert error.retry_at == datetime.fromtimestamp(reset, UTC)

    async def test_429_with_the_24_hour_limit_spent_waits_for_that_reset(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        window = int((utcnow() + timedelta(minutes=3)).timestamp())
        day = int((utcnow() + timedelta(hours=9)).timestamp())
        response = httpx.Response(
            429,
            json={"title": "Too Many Requests", "status": 429},
            headers={
                "x-rate-limit-remaining": "80",
                "x-rate-limit-reset": str(window),
                "x-user-limit-24hour-limit": "17",
                "x-user-limit-24hour-remaining": "0",
                "x-user-limit-24hour-reset": str(day),
            },
        )
        error = await self.publish_against(adapter, x_api, response)
        assert isinstance(error, RateLimited)
        assert error.retry_at == datetime.fromtimestamp(day, UTC)

    async def test_429_without_headers_waits_conservatively(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        error = await self.publish_against(
            adapter, x_api, problem(429, errors=[{"code": 88, "message": "Rate limit exceeded"}])
        )
        assert isinstance(error, RateLimited)
        assert error.retry_at is not None
        assert timedelta(minutes=14) < error.retry_at - utcnow() <= timedelta(minutes=15)

    async def test_usage_cap_is_permanent(self, adapter: XAdapter, x_api: respx.MockRouter) -> None:
        error = await self.publish_against(
            adapter,
            x_api,
            problem(
                429,
                title="UsageCapExceeded",
                detail="Usage cap exceeded: Monthly product cap",
                type="https://api.twitter.com/2/problems/usage-capped",
                period="Monthly",
                scope="Product",
            ),
        )
        assert isinstance(error, Permanent)
        assert error.code == "usage_capped"

    async def test_duplicate_content(self, adapter: XAdapter, x_api: respx.MockRouter) -> None:
        error = await self.publish_against(
            adapter,
            x_api,
            problem(
                403,
                detail="You are not allowed to create a Tweet with duplicate content.",
                type="about:blank",
                title="Forbidden",
            ),
        )
        assert isinstance(error, Permanent)
        assert error.code == "duplicate_content"

    async def test_reply_not_allowed(self, adapter: XAdapter, x_api: respx.MockRouter) -> None:
        error = await self.publish_against(
            adapter,
            x_api,
            problem(
                403,
                detail="Reply to this conversation is not allowed because you have not been "
                "mentioned or otherwise engaged by the author of the post you are replying to.",
                title="Forbidden",
            ),
        )
        assert isinstance(error, Permanent)
        assert error.code == "reply_not_allowed"

    async def test_client_forbidden(self, adapter: XAdapter, x_api: respx.MockRouter) -> None:
        error = await self.publish_against(
            adapter,
            x_api,
            problem(
                403,
                client_id="123",
                detail="When authenticating requests to the Twitter API v2 endpoints, you must "
                "use keys and tokens from a Twitter developer App that is attached to a Project.",
                registration_url="https://developer.twitter.com/en/docs/projects/overview",
                title="Client Forbidden",
                required_enrollment="Appropriate Level of API Access",
                reason="client-not-enrolled",
                type="https://api.twitter.com/2/problems/client-forbidden",
            ),
        )
        assert isinstance(error, Permanent)
        assert error.code == "client_forbidden"

    async def test_invalid_request_names_the_field(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        error = await self.publish_against(
            adapter,
            x_api,
            problem(
                400,
                errors=[
                    {
                        "parameters": {"media.media_ids": ["1", "2", "3", "4", "5"]},
                        "message": "$.media.media_ids: must contain a maximum of 4 items",
                    }
                ],
                title="Invalid Request",
                detail="One or more parameters to your request was invalid.",
                type="https://api.twitter.com/2/problems/invalid-request",
            ),
        )
        assert isinstance(error, Permanent)
        assert error.code == "invalid_request"
        assert "maximum of 4 items" in error.message

    @pytest.mark.parametrize("status", [500, 502, 503])
    async def test_5xx_is_transient(
        self, adapter: XAdapter, x_api: respx.MockRouter, status: int
    ) -> None:
        error = await self.publish_against(
            adapter, x_api, problem(status, title="Service Unavailable")
        )
        assert isinstance(error, Transient)
        assert error.maybe_sent is False


class TestFindPublished:
    def timeline(self, x_api: respx.MockRouter, tweets: list[dict[str, object]]) -> respx.Route:
        return x_api.get(f"{API}/2/users/2244994945/tweets").mock(
            return_value=httpx.Response(
                200, json={"data": tweets, "meta": {"result_count": len(tweets)}}
            )
        )

    async def test_finds_the_post_despite_tco_links_and_entities(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        route = self.timeline(
            x_api,
            [
                {"id": "91", "text": "Something else", "created_at": "2026-11-22T10:00:00.000Z"},
                {
                    "id": "90",
                    "text": "Q&amp;A tonight https://t.co/abc123",
                    "created_at": "2026-11-22T09:59:00.000Z",
                },
            ],
        )
        found = await adapter.find_published(
            ACCOUNT, outgoing("Q&A tonight https://example.com/live")
        )
        assert found == Published(id="90", url="https://x.com/polypost/status/90")
        request = route.calls.last.request
        assert request.headers["authorization"] == AUTH
        params = dict(request.url.params)
        assert params["max_results"] == "100"
        assert params["tweet.fields"] == "created_at,text,referenced_tweets,attachments,note_tweet"
        start = datetime.fromisoformat(params["start_time"].replace("Z", "+00:00"))
        assert timedelta(hours=23) < utcnow() - start < timedelta(hours=25)

    async def test_a_reply_must_answer_the_same_parent(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        self.timeline(
            x_api,
            [
                {
                    "id": "93",
                    "text": "2/ next",
                    "referenced_tweets": [{"type": "replied_to", "id": "70"}],
                },
                {
                    "id": "92",
                    "text": "2/ next",
                    "referenced_tweets": [{"type": "replied_to", "id": "80"}],
                },
            ],
        )
        found = await adapter.find_published(
            ACCOUNT, outgoing("2/ next", reply_to=Published(id="80"))
        )
        assert found is not None
        assert found.id == "92"

    async def test_nothing_matching_means_not_published(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        self.timeline(x_api, [{"id": "94", "text": "Hello world, again"}])
        assert await adapter.find_published(ACCOUNT, outgoing("Hello world")) is None

    async def test_two_candidates_are_not_guessed(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        self.timeline(x_api, [{"id": "95", "text": "Same"}, {"id": "96", "text": "Same"}])
        with pytest.raises(Permanent) as caught:
            await adapter.find_published(ACCOUNT, outgoing("Same"))
        assert caught.value.code == "ambiguous"

    async def test_a_media_only_post_is_recognised_by_its_uploaded_media(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        x_api.get(f"{STORAGE}/md_a").mock(return_value=httpx.Response(200, content=b"A"))
        x_api.post(f"{API}/2/media/upload").mock(
            return_value=httpx.Response(200, json={"data": {"id": "555"}})
        )
        x_api.post(TWEETS).mock(side_effect=httpx.ReadTimeout("lost"))
        post = outgoing("", media=(image("md_a"),))
        with pytest.raises(Transient):
            await adapter.publish(ACCOUNT, post)
        self.timeline(
            x_api,
            [
                {"id": "97", "text": "https://t.co/x", "attachments": {"media_keys": ["3_444"]}},
                {"id": "98", "text": "https://t.co/y", "attachments": {"media_keys": ["3_555"]}},
            ],
        )
        found = await adapter.find_published(ACCOUNT, post)
        assert found is not None
        assert found.id == "98"

    async def test_a_media_only_post_without_its_upload_cannot_be_recognised(
        self, adapter: XAdapter
    ) -> None:
        with pytest.raises(Permanent) as caught:
            await adapter.find_published(ACCOUNT, outgoing("", media=(image("md_q"),)))
        assert caught.value.code == "unsupported"

    def test_comparable_text(self) -> None:
        assert comparable("@alice @bob  Hi &lt;3 https://t.co/1 ") == "Hi <3"
        assert comparable("see example.com/x now") == comparable("see https://t.co/Zz now")


class TestOtherOperations:
    async def test_delete(self, adapter: XAdapter, x_api: respx.MockRouter) -> None:
        route = x_api.delete(f"{TWEETS}/1445880548472328192").mock(
            return_value=httpx.Response(200, json={"data": {"deleted": True}})
        )
        await adapter.delete(ACCOUNT, "1445880548472328192")
        assert route.calls.last.request.headers["authorization"] == AUTH

    async def test_deleting_a_deleted_post_succeeds(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        x_api.delete(f"{TWEETS}/5").mock(
            return_value=httpx.Response(404, json={"title": "Not Found Error", "status": 404})
        )
        await adapter.delete(ACCOUNT, "5")

    async def test_delete_with_a_revoked_token(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        x_api.delete(f"{TWEETS}/5").mock(return_value=problem(401, title="Unauthorized"))
        with pytest.raises(AuthExpired):
            await adapter.delete(ACCOUNT, "5")

    async def test_edit_is_unsupported(self, adapter: XAdapter) -> None:
        with pytest.raises(Permanent) as caught:
            await adapter.edit(ACCOUNT, "5", outgoing("new"))
        assert caught.value.code == "unsupported"

    async def test_metrics(self, adapter: XAdapter, x_api: respx.MockRouter) -> None:
        route = x_api.get(f"{TWEETS}/1445880548472328192").mock(
            return_value=httpx.Response(
                200,
                json={
                    "data": {
                        "id": "1445880548472328192",
                        "text": "hi",
                        "public_metrics": {
                            "retweet_count": 3,
                            "reply_count": 2,
                            "like_count": 10,
                            "quote_count": 1,
                            "bookmark_count": 4,
                            "impression_count": 250,
                        },
                    }
                },
            )
        )
        metrics = await adapter.metrics(ACCOUNT, "1445880548472328192")
        assert (metrics.likes, metrics.comments, metrics.shares, metrics.impressions) == (
            10,
            2,
            4,
            250,
        )
        assert metrics.reach is None
        assert dict(route.calls.last.request.url.params) == {"tweet.fields": "public_metrics"}

    async def test_metrics_accept_the_newer_repost_name(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        x_api.get(f"{TWEETS}/6").mock(
            return_value=httpx.Response(
                200,
                json={"data": {"id": "6", "public_metrics": {"repost_count": 5, "like_count": 1}}},
            )
        )
        metrics = await adapter.metrics(ACCOUNT, "6")
        assert metrics.shares == 5
        assert metrics.comments is None

    async def test_metrics_of_a_deleted_post(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        x_api.get(f"{TWEETS}/7").mock(
            return_value=httpx.Response(
                200,
                json={
                    "errors": [
                        {
                            "value": "7",
                            "detail": "Could not find tweet with id: [7].",
                            "title": "Not Found Error",
                            "resource_type": "tweet",
                            "type": "https://api.twitter.com/2/problems/resource-not-found",
                        }
                    ]
                },
            )
        )
        with pytest.raises(Permanent) as caught:
            await adapter.metrics(ACCOUNT, "7")
        assert caught.value.code == "not_found"


class TestAccounts:
    def test_oauth_spec(self) -> None:
        spec = XAdapter.oauth
        assert spec.authorize_url == "https://x.com/i/oauth2/authorize"
        assert spec.token_url == "https://api.x.com/2/oauth2/token"
        assert spec.pkce is True
        assert spec.client_auth == "basic"
        assert set(spec.scopes) == {
            "tweet.read",
            "tweet.write",
            "users.read",
            "media.write",
            "offline.access",
        }

    async def test_whoami(self, adapter: XAdapter, x_api: respx.MockRouter) -> None:
        route = x_api.get(f"{API}/2/users/me").mock(
            return_value=httpx.Response(
                200,
                json={
                    "data": {
                        "id": "2244994945",
                        "name": "Polypost",
                        "username": "polypost",
                        "profile_image_url": "https://pbs.twimg.com/profile_images/1/a.jpg",
                    }
                },
            )
        )
        identity = await adapter.whoami(ACCOUNT)
        assert (identity.external_id, identity.handle, identity.display_name) == (
            "2244994945",
            "polypost",
            "Polypost",
        )
        assert identity.avatar_url == "https://pbs.twimg.com/profile_images/1/a.jpg"
        request = route.calls.last.request
        assert request.headers["authorization"] == AUTH
        assert dict(request.url.params) == {"user.fields": "id,name,username,profile_image_url"}

    async def test_whoami_with_a_bad_token(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        x_api.get(f"{API}/2/users/me").mock(return_value=problem(401, title="Unauthorized"))
        with pytest.raises(AuthExpired):
            await adapter.whoami(ACCOUNT)

    def tokens(self, refresh: str = "refresh-2") -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "token_type": "bearer",
                "expires_in": 7200,
                "access_token": "access-2",
                "scope": "tweet.read tweet.write users.read media.write offline.access",
                "refresh_token": refresh,
            },
        )

    async def test_exchange_code_as_a_confidential_client(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        route = x_api.post(f"{API}/2/oauth2/token").mock(return_value=self.tokens())
        app = AppCredentials(client_id="cid", client_secret="secret")
        tokens = await adapter.exchange_code(app, "the-code", "https://app.example/cb", "verifier")
        request = route.calls.last.request
        assert (
            request.headers["authorization"] == "Basic " + base64.b64encode(b"cid:secret").decode()
        )
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        assert form(request) == {
            "grant_type": "authorization_code",
            "code": "the-code",
            "redirect_uri": "https://app.example/cb",
            "code_verifier": "verifier",
        }
        assert tokens.access_token == "access-2"
        assert tokens.refresh_token == "refresh-2"
        assert tokens.scopes == (
            "tweet.read",
            "tweet.write",
            "users.read",
            "media.write",
            "offline.access",
        )
        assert tokens.expires_at is not None
        assert timedelta(minutes=119) < tokens.expires_at - utcnow() <= timedelta(hours=2)

    async def test_exchange_code_as_a_public_client(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        route = x_api.post(f"{API}/2/oauth2/token").mock(return_value=self.tokens())
        await adapter.exchange_code(AppCredentials(client_id="cid"), "c", "https://a/cb", "v")
        request = route.calls.last.request
        assert "authorization" not in request.headers
        assert form(request)["client_id"] == "cid"

    async def test_refresh_rotates_both_tokens(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        route = x_api.post(f"{API}/2/oauth2/token").mock(return_value=self.tokens("refresh-3"))
        app = AppCredentials(client_id="cid", client_secret="secret")
        tokens = await adapter.refresh(ACCOUNT, app)
        assert (tokens.access_token, tokens.refresh_token) == ("access-2", "refresh-3")
        request = route.calls.last.request
        assert request.headers["authorization"].startswith("Basic ")
        assert form(request) == {"grant_type": "refresh_token", "refresh_token": "refresh-1"}

    async def test_refresh_uses_the_app_the_account_carries(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        route = x_api.post(f"{API}/2/oauth2/token").mock(return_value=self.tokens())
        account = replace(ACCOUNT, app=AppCredentials(client_id="public-id"))
        await adapter.refresh(account)
        request = route.calls.last.request
        assert "authorization" not in request.headers
        assert form(request) == {
            "grant_type": "refresh_token",
            "refresh_token": "refresh-1",
            "client_id": "public-id",
        }

    async def test_a_spent_refresh_token_is_auth_expired(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        x_api.post(f"{API}/2/oauth2/token").mock(
            return_value=httpx.Response(
                400,
                json={
                    "error": "invalid_request",
                    "error_description": "Value passed for the token was invalid.",
                },
            )
        )
        with pytest.raises(AuthExpired) as caught:
            await adapter.refresh(ACCOUNT, AppCredentials(client_id="cid", client_secret="s"))
        assert "Value passed for the token was invalid." in caught.value.message

    async def test_refused_app_credentials_are_not_the_users_fault(
        self, adapter: XAdapter, x_api: respx.MockRouter
    ) -> None:
        x_api.post(f"{API}/2/oauth2/token").mock(
            return_value=httpx.Response(
                401,
                json={
                    "error": "unauthorized_client",
                    "error_description": "Missing valid authorization header",
                },
            )
        )
        with pytest.raises(Permanent) as caught:
            await adapter.refresh(ACCOUNT, AppCredentials(client_id="cid", client_secret="bad"))
        assert caught.value.code == "unauthorized_client"

    async def test_refresh_needs_a_refresh_token_and_the_app(self, adapter: XAdapter) -> None:
        without = Credentials(
            account_id="a", platform=Platform.X, external_id="1", access_token="t"
        )
        with pytest.raises(AuthExpired):
            await adapter.refresh(without, AppCredentials(client_id="cid"))
        with pytest.raises(Permanent) as caught:
            await adapter.refresh(ACCOUNT)
        assert caught.value.code == "credentials_missing"
