"""The YouTube adapter against respx: resumable uploads (chunks, resume after a 5xx,
expired sessions, budgets), thumbnails, processing, Shorts, quota, recovery, the first
comment, edit, delete, statistics, OAuth and every error class."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import respx

from polypost.models import SocialAccount
from polypost.platforms.base import (
    AuthExpired,
    Credentials,
    MediaInfo,
    MediaKind,
    Outgoing,
    Pending,
    Permanent,
    Platform,
    PostType,
    Published,
    RateLimited,
    Transient,
)
from polypost.platforms.connect import AppCredentials
from polypost.platforms.options import YouTubeOptions
from polypost.platforms.youtube.adapter import YouTubeAdapter
from polypost.platforms.youtube.errors import next_quota_reset
from polypost.posts.validation import TargetDraft
from tests.platforms.helpers import StubRuntime, form

API = "https://www.googleapis.com/youtube/v3"
UPLOAD = "https://www.googleapis.com/upload/youtube/v3"
SESSION = f"{UPLOAD}/videos?uploadType=resumable&upload_id=xa298sd_f"
STORAGE = "https://storage.example.com"
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
AUTH = "Bearer ya29.token"
DATA = b"0123456789"
ACCOUNT = Credentials(
    account_id="acc_yt",
    platform=Platform.YOUTUBE,
    external_id="UCabcdefghijklmnopqrstuv",
    access_token="ya29.token",
    refresh_token="1//refresh",
    handle="@polypost",
    app=AppCredentials(client_id="gid.apps.googleusercontent.com", client_secret="gsecret"),
)


def video(**kwargs: Any) -> MediaInfo:
    return MediaInfo(
        id="md_v",
        kind=MediaKind.VIDEO,
        content_type="video/mp4",
        size=kwargs.pop("size", len(DATA)),
        width=kwargs.pop("width", 1920),
        height=kwargs.pop("height", 1080),
        duration_ms=60_000,
        url=f"{STORAGE}/md_v.mp4?sig=1",
        filename="launch.mp4",
    )


def cover() -> MediaInfo:
    return MediaInfo(
        id="md_c",
        kind=MediaKind.IMAGE,
        content_type="image/jpeg",
        size=5,
        width=1280,
        height=720,
        url=f"{STORAGE}/md_c.jpg?sig=1",
    )


def outgoing(**kwargs: Any) -> Outgoing:
    return Outgoing(
        target_id="tgt_yt",
        key=kwargs.pop("key", "tgt_yt:main"),
        post_type=kwargs.pop("post_type", PostType.VIDEO),
        text=kwargs.pop("text", "Launch video\nEverything we shipped this year."),
        media=kwargs.pop("media", (video(),)),
        options=YouTubeOptions.model_validate(kwargs.pop("options", {})),
        **kwargs,
    )


def google_error(code: int, reason: str, message: str = "Error", **extra: Any) -> httpx.Response:
    return httpx.Response(
        code,
        json={
            "error": {
                "code": code,
                "message": message,
                "errors": [{"message": message, "domain": "youtube", "reason": reason}],
                **extra,
            }
        },
    )


def resource(video_id: str = "dQw4w9WgXcQ") -> dict[str, Any]:
    return {"kind": "youtube#video", "id": video_id, "status": {"uploadStatus": "uploaded"}}


def processed(video_id: str = "dQw4w9WgXcQ", upload: str = "processed", **status: Any) -> Any:
    return httpx.Response(
        200,
        json={
            "items": [
                {
                    "id": video_id,
                    "status": {"uploadStatus": upload, **status},
                    "processingDetails": {
                        "processingStatus": "succeeded" if upload == "processed" else "processing"
                    },
                }
            ]
        },
    )


def resume_incomplete(last: int | None) -> httpx.Response:
    headers = {"Range": f"bytes=0-{last}"} if last is not None else {}
    return httpx.Response(308, headers=headers)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def runtime(client: httpx.AsyncClient) -> StubRuntime:
    return StubRuntime(http=client)


class Clock:
    def __init__(self) -> None:
        self.value = 0.0

    def __call__(self) -> float:
        return self.value


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def adapter(runtime: StubRuntime, clock: Clock) -> YouTubeAdapter:
    adapter = YouTubeAdapter(runtime)  # type: ignore[arg-type]
    adapter.now = lambda: NOW
    adapter.clock = clock
    adapter.chunk_size = 4
    return adapter


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        yield router


def storage(api: respx.MockRouter) -> respx.Route:
    def serve(request: httpx.Request) -> httpx.Response:
        wanted = request.headers.get("range")
        if wanted:
            return httpx.Response(206, content=DATA[int(wanted[6:].rstrip("-")) :])
        return httpx.Response(200, content=DATA)

    return api.get(url__startswith=f"{STORAGE}/md_v.mp4").mock(side_effect=serve)


def initiate(api: respx.MockRouter) -> respx.Route:
    return api.post(f"{UPLOAD}/videos").mock(
        return_value=httpx.Response(200, headers={"Location": SESSION})
    )


async def pending(coro: Any) -> Pending:
    with pytest.raises(Pending) as caught:
        await coro
    return caught.value


def ranges(route: respx.Route) -> list[str]:
    return [call.request.headers["content-range"] for call in route.calls]


class TestUpload:
    async def test_session_chunks_and_processing(
        self, adapter: YouTubeAdapter, api: respx.MockRouter
    ) -> None:
        start = initiate(api)
        reads = storage(api)
        session = api.put(SESSION).mock(
            side_effect=[
                resume_incomplete(3),
                resume_incomplete(7),
                httpx.Response(201, json=resource()),
            ]
        )
        status = api.get(f"{API}/videos").mock(return_value=processed())
        post = outgoing(
            options={
                "tags": ["launch", "product"],
                "ytPrivacy": "unlisted",
                "categoryId": "28",
                "notifySubscribers": False,
            }
        )

        opened = await pending(adapter.publish(ACCOUNT, post))
        assert opened.stage == "uploading"
        assert opened.retry_in == timedelta(0)
        assert opened.state["session"] == SESSION
        assert session.call_count == 0
        request = start.calls.last.request
        assert dict(request.url.params) == {
            "uploadType": "resumable",
            "part": "snippet,status",
            "notifySubscribers": "false",
        }
        assert request.headers["authorization"] == AUTH
        assert request.headers["content-type"] == "application/json; charset=UTF-8"
        assert request.headers["x-upload-content-length"] == "10"
        assert request.headers["x-upload-content-type"] == "video/mp4"
        assert json.loads(request.content) == {
            "snippet": {
                "title": "Launch video",
                "description": "Launch video\nEverything we shipped this year.",
                "categoryId": "28",
                "tags": ["launch", "product"],
            },
            "status": {"privacyStatus": "unlisted", "selfDeclaredMadeForKids": False},
        }

        published = await adapter.publish(ACCOUNT, replace(post, resume=opened.state))
        assert published == Published(
            id="dQw4w9WgXcQ", url="https://www.youtube.com/watch?v=dQw4w9WgXcQ"
        )
        assert ranges(session) == ["bytes 0-3/10", "bytes 4-7/10", "bytes 8-9/10"]
        assert [c.request.content for c in session.calls] == [b"0123", b"4567", b"89"]
        assert all(c.request.headers["authorization"] == AUTH for c in session.calls)
        assert reads.call_count == 1
        assert dict(status.calls.last.request.url.params) == {
            "part": "status,processingDetails",
            "id": "dQw4w9WgXcQ",
        }
        assert start.call_count == 1

    async def test_a_5xx_mid_upload_resumes_where_youtube_stopped(
        self, adapter: YouTubeAdapter, api: respx.MockRouter
    ) -> None:
        initiate(api)
        reads = storage(api)
        session = api.put(SESSION).mock(
            side_effect=[
                resume_incomplete(3),
                google_error(503, "backendError"),
                resume_incomplete(3),  # the probe: YouTube holds bytes 0-3
                resume_incomplete(7),
                httpx.Response(200, json=resource()),
            ]
        )
        api.get(f"{API}/videos").mock(return_value=processed())
        post = outgoing()
        opened = await pending(adapter.publish(ACCOUNT, post))
        failed = await pending(adapter.publish(ACCOUNT, replace(post, resume=opened.state)))
        assert failed.stage == "uploading"
        assert failed.retry_in == timedelta(seconds=5)
        assert failed.state["failures"] == 1
        assert failed.state["confirmed"] is False

        published = await adapter.publish(ACCOUNT, replace(post, resume=failed.state))
        assert published.id == "dQw4w9WgXcQ"
        assert ranges(session) == [
            "bytes 0-3/10",
            "bytes 4-7/10",
            "bytes */10",
            "bytes 4-7/10",
            "bytes 8-9/10",
        ]
        assert session.calls[2].request.content == b""
        assert session.calls[2].request.headers["content-length"] == "0"
        assert [c.request.headers.get("range") for c in reads.calls] == [None, "bytes=4-"]

    async def test_youtube_keeping_fewer_bytes_continues_from_what_it_holds(
        self, adapter: YouTubeAdapter, api: respx.MockRouter
    ) -> None:
        storage(api)
        session = api.put(SESSION).mock(
            side_effect=[resume_incomplete(5), httpx.Response(201, json=resource())]
        )
        api.get(f"{API}/videos").mock(return_value=processed())
        state = {"session": SESSION, "size": 10, "offset": 0, "confirmed": True, "failures": 0}
        short = await pending(adapter.publish(ACCOUNT, outgoing(resume=state)))
        assert (short.state["offset"], short.retry_in) == (6, timedelta(0))
        await adapter.publish(ACCOUNT, outgoing(resume=short.state))
        assert ranges(session) == ["bytes 0-3/10", "bytes 6-9/10"]

    async def test_a_spent_budget_hands_the_worker_back(
        self, adapter: YouTubeAdapter, api: respx.MockRouter, clock: Clock
    ) -> None:
        storage(api)

        def slow(request: httpx.Request) -> httpx.Response:
            clock.value += 25.0
            return resume_incomplete(3)

        session = api.put(SESSION).mock(side_effect=slow)
        state = {"session": SESSION, "size": 10, "offset": 0, "confirmed": True, "failures": 0}
        paused = await pending(adapter.publish(ACCOUNT, outgoing(resume=state)))
        assert paused.stage == "uploading"
        assert paused.state["offset"] == 4
        assert session.call_count == 1

    async def test_an_expired_session_starts_over(
        self, adapter: YouTubeAdapter, api: respx.MockRouter
    ) -> None:
        api.put(SESSION).mock(return_value=google_error(404, "notFound"))
        state = {"session": SESSION, "size": 10, "offset": 4, "confirmed": False, "failures": 1}
        await adapter.memo.put("publish:acc_yt:tgt_yt:main", state, timedelta(hours=1))
        with pytest.raises(Transient) as caught:
            await adapter.publish(ACCOUNT, outgoing(resume=state))
        assert caught.value.code == "upload_session_expired"
        assert await adapter.memo.get("publish:acc_yt:tgt_yt:main") is None

    async def test_repeated_failures_give_up(
        self, adapter: YouTubeAdapter, api: respx.MockRouter
    ) -> None:
        api.put(SESSION).mock(return_value=resume_incomplete(3))
        state = {"session": SESSION, "size": 10, "offset": 4, "confirmed": False, "failures": 6}
        with pytest.raises(Transient) as caught:
            await adapter.publish(ACCOUNT, outgoing(resume=state))
        assert caught.value.code == "upload_failed"

    async def test_a_lost_answer_to_the_last_chunk_is_settled_by_the_probe(
        self, adapter: YouTubeAdapter, api: respx.MockRouter
    ) -> None:
        storage(api)
        session = api.put(SESSION).mock(
            side_effect=[
                httpx.ReadTimeout("lost"),
                httpx.Response(201, json=resource()),  # the probe: it completed
            ]
        )
        api.get(f"{API}/videos").mock(return_value=processed())
        state = {"session": SESSION, "size": 10, "offset": 8, "confirmed": True, "failures": 0}
        retried = await pending(adapter.publish(ACCOUNT, outgoing(resume=state)))
        assert retried.state["confirmed"] is False
        published = await adapter.publish(ACCOUNT, outgoing(resume=retried.state))
        assert published.id == "dQw4w9WgXcQ"
        assert ranges(session) == ["bytes 8-9/10", "bytes */10"]


class TestAfterUpload:
    def uploaded(self, **extra: Any) -> dict[str, Any]:
        return {
            "session": SESSION,
            "size": 10,
            "videoId": "dQw4w9WgXcQ",
            "processingDeadline": (NOW + timedelta(minutes=10)).isoformat(),
            **extra,
        }

    async def test_the_cover_becomes_the_thumbnail(
        self, adapter: YouTubeAdapter, api: respx.MockRouter
    ) -> None:
        api.get(f"{STORAGE}/md_c.jpg?sig=1").mock(
            return_value=httpx.Response(200, content=b"JPEG!")
        )
        thumb = api.post(f"{UPLOAD}/thumbnails/set").mock(
            return_value=httpx.Response(200, json={"kind": "youtube#thumbnailSetResponse"})
        )
        api.get(f"{API}/videos").mock(return_value=processed())
        published = await adapter.publish(ACCOUNT, outgoing(cover=cover(), resume=self.uploaded()))
        request = thumb.calls.last.request
        assert dict(request.url.params) == {"videoId": "dQw4w9WgXcQ", "uploadType": "media"}
        assert request.headers["content-type"] == "image/jpeg"
        assert request.headers["authorization"] == AUTH
        assert request.content == b"JPEG!"
        assert published.extra == {}

    async def test_a_refused_thumbnail_leaves_the_video_published(
        self, adapter: YouTubeAdapter, api: respx.MockRouter
    ) -> None:
        api.get(f"{STORAGE}/md_c.jpg?sig=1").mock(return_value=httpx.Response(200, content=b"J"))
        thumb = api.post(f"{UPLOAD}/thumbnails/set").mock(
            return_value=google_error(403, "forbidden", "The authenticated user cannot set thumbs")
        )
        api.get(f"{API}/videos").mock(side_effect=[processed(upload="uploaded"), processed()])
        waiting = await pending(
            adapter.publish(ACCOUNT, outgoing(cover=cover(), resume=self.uploaded()))
        )
        assert waiting.stage == "processing"
        published = await adapter.publish(ACCOUNT, outgoing(cover=cover(), resume=waiting.state))
        assert published.extra == {"thumbnail": "failed: forbidden"}
        assert thumb.call_count == 1  # not set again on the resumed call

    async def test_a_short_has_a_shorts_url(
        self, adapter: YouTubeAdapter, api: respx.MockRouter
    ) -> None:
        api.get(f"{API}/videos").mock(return_value=processed())
        published = await adapter.publish(
            ACCOUNT, outgoing(post_type=PostType.REEL, resume=self.uploaded())
        )
        assert published.url == "https://www.youtube.com/shorts/dQw4w9WgXcQ"

    async def test_slow_processing_is_reported_published_after_the_wait(
        self, adapter: YouTubeAdapter, api: respx.MockRouter
    ) -> None:
        api.get(f"{API}/videos").mock(return_value=processed(upload="uploaded"))
        state = self.uploaded(processingDeadline=(NOW - timedelta(seconds=1)).isoformat())
        published = await adapter.publish(ACCOUNT, outgoing(resume=state))
        assert published.id == "dQw4w9WgXcQ"
        assert published.extra == {"processing": "processing"}

    async def test_a_rejected_video_fails(
        self, adapter: YouTubeAdapter, api: respx.MockRouter
    ) -> None:
        api.get(f"{API}/videos").mock(
            return_value=processed(upload="rejected", rejectionReason="duplicate")
        )
        with pytest.raises(Permanent) as caught:
            await adapter.publish(ACCOUNT, outgoing(resume=self.uploaded()))
        assert caught.value.code == "video_duplicate"


class TestQuota:
    async def test_quota_exceeded_waits_for_midnight_pacific_and_holds_later_calls(
        self, adapter: YouTubeAdapter, api: respx.MockRouter
    ) -> None:
        start = api.post(f"{UPLOAD}/videos").mock(
            return_value=google_error(
                403,
                "quotaExceeded",
                "The request cannot be completed because you have exceeded your quota.",
                status="PERMISSION_DENIED",
            )
        )
        with pytest.raises(RateLimited) as caught:
            await adapter.publish(ACCOUNT, outgoing())
        assert caught.value.code == "quotaExceeded"
        # 10:00 UTC is 02:00 PST; the quota resets at the next midnight PST (08:00 UTC).
        assert caught.value.retry_at == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
        delete = api.delete(f"{API}/videos")
        with pytest.raises(RateLimited):
            await adapter.delete(ACCOUNT, "dQw4w9WgXcQ")
        assert delete.call_count == 0
        assert start.call_count == 1
        usage = await adapter.publishing_quota(ACCOUNT)
        assert (usage.used, usage.total, usage.remaining) == (10_000, 10_000, 0)

    async def test_usage_is_counted_per_call(
        self, adapter: YouTubeAdapter, api: respx.MockRouter
    ) -> None:
        initiate(api)
        api.get(f"{API}/videos").mock(
            return_value=httpx.Response(200, json={"items": [{"statistics": {}}]})
        )
        await pending(adapter.publish(ACCOUNT, outgoing()))
        await adapter.metrics(ACCOUNT, "dQw4w9WgXcQ")
        usage = await adapter.publishing_quota(ACCOUNT)
        assert (usage.used, usage.remaining) == (1601, 8399)
        assert usage.resets_at == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)

    async def test_a_configured_daily_quota_holds_back_what_would_pass_it(
        self, adapter: YouTubeAdapter, api: respx.MockRouter, runtime: StubRuntime
    ) -> None:
        runtime.settings = SimpleNamespace(  # type: ignore[attr-defined]
            oauth_apps={"youtube": {"clientId": "gid", "dailyQuota": "1000"}}
        )
        start = api.post(f"{UPLOAD}/videos")
        with pytest.raises(RateLimited) as caught:
            await adapter.publish(replace(ACCOUNT, app=None), outgoing())
        assert caught.value.code == "quotaExceeded"
        assert start.call_count == 0

    def test_the_reset_follows_pacific_daylight_time(self) -> None:
        summer = datetime(2026, 7, 1, 6, 59, tzinfo=UTC)  # 23:59 PDT on June 30
        assert next_quota_reset(summer) == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)


class TestErrors:
    @pytest.mark.parametrize(
        ("response", "kind", "code"),
        [
            (google_error(401, "authError", status="UNAUTHENTICATED"), AuthExpired, "authError"),
            (google_error(403, "insufficientPermissions"), AuthExpired, "insufficientPermissions"),
            (google_error(403, "rateLimitExceeded"), RateLimited, "rateLimitExceeded"),
            (google_error(403, "userRateLimitExceeded"), RateLimited, "userRateLimitExceeded"),
            (google_error(429, "uploadRateLimitExceeded"), RateLimited, "uploadRateLimitExceeded"),
            (google_error(400, "uploadLimitExceeded"), RateLimited, "uploadLimitExceeded"),
            (google_error(500, "backendError"), Transient, "backendError"),
            (httpx.Response(503, text="Service Unavailable"), Transient, "503"),
            (google_error(400, "invalidTitle"), Permanent, "invalidTitle"),
            (google_error(400, "invalidDescription"), Permanent, "invalidDescription"),
            (google_error(404, "videoNotFound"), Permanent, "videoNotFound"),
            (google_error(403, "forbidden"), Permanent, "forbidden"),
            (google_error(401, "youtubeSignupRequired"), Permanent, "youtubeSignupRequired"),
        ],
    )
    def test_classify(
        self, adapter: YouTubeAdapter, response: httpx.Response, kind: type, code: str
    ) -> None:
        error = adapter.classify(response)
        assert isinstance(error, kind)
        assert error.code == code

    def test_the_channel_upload_cap_waits_a_day(self, adapter: YouTubeAdapter) -> None:
        error = adapter.classify(google_error(400, "uploadLimitExceeded"))
        assert error.retry_at is not None
        assert error.retry_at - datetime.now(UTC) > timedelta(hours=23)


class TestRecovery:
    async def test_nothing_stored_means_nothing_uploaded(self, adapter: YouTubeAdapter) -> None:
        assert await adapter.find_published(ACCOUNT, outgoing()) is None

    async def test_a_completed_session_is_the_video(
        self, adapter: YouTubeAdapter, api: respx.MockRouter
    ) -> None:
        probe = api.put(SESSION).mock(
            return_value=httpx.Response(200, json=resource("abcdefghijk"))
        )
        state = {"session": SESSION, "size": 10, "offset": 4}
        found = await adapter.find_published(ACCOUNT, outgoing(resume=state))
        assert found == Published(
            id="abcdefghijk", url="https://www.youtube.com/watch?v=abcdefghijk"
        )
        assert probe.calls.last.request.headers["content-range"] == "bytes */10"

    async def test_an_incomplete_or_expired_session_posted_nothing(
        self, adapter: YouTubeAdapter, api: respx.MockRouter
    ) -> None:
        api.put(SESSION).mock(side_effect=[resume_incomplete(3), httpx.Response(410)])
        state = {"session": SESSION, "size": 10, "offset": 0}
        assert await adapter.find_published(ACCOUNT, outgoing(resume=state)) is None
        assert await adapter.find_published(ACCOUNT, outgoing(resume=state)) is None

    async def test_a_known_video_id_is_adopted(self, adapter: YouTubeAdapter) -> None:
        state = {"session": SESSION, "size": 10, "videoId": "dQw4w9WgXcQ"}
        found = await adapter.find_published(ACCOUNT, outgoing(resume=state))
        assert found is not None
        assert found.id == "dQw4w9WgXcQ"

    async def test_the_first_comment_is_found_by_author_and_text(
        self, adapter: YouTubeAdapter, api: respx.MockRouter
    ) -> None:
        route = api.get(f"{API}/commentThreads").mock(
            return_value=httpx.Response(
                200,
                json={
                    "items": [
                        {
                            "id": "UgzOther",
                            "snippet": {
                                "topLevelComment": {
                                    "snippet": {
                                        "textOriginal": "Links below",
                                        "authorChannelId": {"value": "UCsomeoneelse"},
                                    }
                                }
                            },
                        },
                        {
                            "id": "UgzMine",
                            "snippet": {
                                "topLevelComment": {
                                    "snippet": {
                                        "textOriginal": "Links below",
                                        "authorChannelId": {"value": ACCOUNT.external_id},
                                    }
                                }
                            },
                        },
                    ]
                },
            )
        )
        post = outgoing(key="tgt_yt:comment", text="Links below", reply_to=Published(id="vid"))
        found = await adapter.find_published(ACCOUNT, post)
        assert found == Published(
            id="UgzMine", url="https://www.youtube.com/watch?v=vid&lc=UgzMine"
        )
        assert dict(route.calls.last.request.url.params) == {
            "part": "snippet",
            "videoId": "vid",
            "maxResults": "50",
            "order": "time",
        }


class TestOtherOperations:
    async def test_first_comment(self, adapter: YouTubeAdapter, api: respx.MockRouter) -> None:
        route = api.post(f"{API}/commentThreads").mock(
            return_value=httpx.Response(200, json={"id": "UgzC0mment"})
        )
        published = await adapter.comment(
            ACCOUNT, outgoing(text="Chapters in the description", reply_to=Published(id="vid"))
        )
        assert published == Published(
            id="UgzC0mment", url="https://www.youtube.com/watch?v=vid&lc=UgzC0mment"
        )
        request = route.calls.last.request
        assert dict(request.url.params) == {"part": "snippet"}
        assert json.loads(request.content) == {
            "snippet": {
                "videoId": "vid",
                "topLevelComment": {"snippet": {"textOriginal": "Chapters in the description"}},
            }
        }

    async def test_edit_reads_then_replaces_the_snippet(
        self, adapter: YouTubeAdapter, api: respx.MockRouter
    ) -> None:
        api.get(f"{API}/videos").mock(
            return_value=httpx.Response(
                200,
                json={
                    "items": [
                        {
                            "id": "dQw4w9WgXcQ",
                            "snippet": {
                                "title": "Launch",
                                "description": "old",
                                "tags": ["a"],
                                "categoryId": "22",
                                "channelId": "UC1",
                                "publishedAt": "2026-11-01T00:00:00Z",
                            },
                            "status": {"privacyStatus": "private", "uploadStatus": "processed"},
                        }
                    ]
                },
            )
        )
        update = api.put(f"{API}/videos").mock(return_value=httpx.Response(200, json={}))
        published = await adapter.edit(
            ACCOUNT,
            "dQw4w9WgXcQ",
            outgoing(text="new description", options={"privacyStatus": "public"}),
        )
        assert published.id == "dQw4w9WgXcQ"
        request = update.calls.last.request
        assert dict(request.url.params) == {"part": "snippet,status"}
        assert json.loads(request.content) == {
            "id": "dQw4w9WgXcQ",
            "snippet": {
                "title": "Launch",
                "description": "new description",
                "tags": ["a"],
                "categoryId": "22",
            },
            "status": {"privacyStatus": "public"},
        }

    async def test_delete_a_video_or_a_comment(
        self, adapter: YouTubeAdapter, api: respx.MockRouter
    ) -> None:
        videos = api.delete(f"{API}/videos").mock(
            side_effect=[httpx.Response(204), google_error(404, "videoNotFound")]
        )
        comments = api.delete(f"{API}/comments").mock(return_value=httpx.Response(204))
        await adapter.delete(ACCOUNT, "dQw4w9WgXcQ")
        await adapter.delete(ACCOUNT, "dQw4w9WgXcQ")  # already gone
        await adapter.delete(ACCOUNT, "UgzC0mmentThreadId123")
        assert dict(videos.calls.last.request.url.params) == {"id": "dQw4w9WgXcQ"}
        assert dict(comments.calls.last.request.url.params) == {"id": "UgzC0mmentThreadId123"}

    async def test_statistics(self, adapter: YouTubeAdapter, api: respx.MockRouter) -> None:
        route = api.get(f"{API}/videos").mock(
            return_value=httpx.Response(
                200,
                json={
                    "items": [
                        {
                            "id": "dQw4w9WgXcQ",
                            "statistics": {
                                "viewCount": "1500",
                                "likeCount": "120",
                                "favoriteCount": "0",
                                "commentCount": "8",
                            },
                        }
                    ]
                },
            )
        )
        metrics = await adapter.metrics(ACCOUNT, "dQw4w9WgXcQ")
        assert dict(route.calls.last.request.url.params) == {
            "part": "statistics",
            "id": "dQw4w9WgXcQ",
        }
        assert (metrics.views, metrics.likes, metrics.comments) == (1500, 120, 8)

    async def test_statistics_of_a_missing_video(
        self, adapter: YouTubeAdapter, api: respx.MockRouter
    ) -> None:
        api.get(f"{API}/videos").mock(return_value=httpx.Response(200, json={"items": []}))
        with pytest.raises(Permanent) as caught:
            await adapter.metrics(ACCOUNT, "dQw4w9WgXcQ")
        assert caught.value.code == "videoNotFound"

    def channel(self) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "items": [
                    {
                        "id": "UCabcdefghijklmnopqrstuv",
                        "snippet": {
                            "title": "Polypost",
                            "customUrl": "@polypost",
                            "thumbnails": {"default": {"url": "https://yt3.ggpht.com/a"}},
                        },
                    }
                ]
            },
        )

    async def test_whoami_and_the_channel_page(
        self, adapter: YouTubeAdapter, api: respx.MockRouter
    ) -> None:
        route = api.get(f"{API}/channels").mock(return_value=self.channel())
        identity = await adapter.whoami(ACCOUNT)
        assert (identity.external_id, identity.handle, identity.display_name) == (
            "UCabcdefghijklmnopqrstuv",
            "@polypost",
            "Polypost",
        )
        assert dict(route.calls.last.request.url.params) == {"part": "snippet", "mine": "true"}
        pages = await adapter.list_pages(ACCOUNT)
        assert [(p.id, p.name) for p in pages] == [("UCabcdefghijklmnopqrstuv", "Polypost")]
        selection = await adapter.select_page(ACCOUNT, "UCabcdefghijklmnopqrstuv")
        assert selection.settings["pageId"] == "UCabcdefghijklmnopqrstuv"
        with pytest.raises(Permanent) as caught:
            await adapter.select_page(ACCOUNT, "UCanotherchannel")
        assert caught.value.code == "page_not_found"

    async def test_a_google_account_without_a_channel(
        self, adapter: YouTubeAdapter, api: respx.MockRouter
    ) -> None:
        api.get(f"{API}/channels").mock(return_value=httpx.Response(200, json={"items": []}))
        with pytest.raises(Permanent) as caught:
            await adapter.whoami(ACCOUNT)
        assert caught.value.code == "youtubeSignupRequired"


class TestOAuth:
    TOKEN = "https://oauth2.googleapis.com/token"

    async def test_refresh_keeps_the_refresh_token(
        self, adapter: YouTubeAdapter, api: respx.MockRouter
    ) -> None:
        route = api.post(self.TOKEN).mock(
            return_value=httpx.Response(
                200,
                json={
                    "access_token": "ya29.new",
                    "expires_in": 3599,
                    "scope": "https://www.googleapis.com/auth/youtube.upload",
                    "token_type": "Bearer",
                },
            )
        )
        tokens = await adapter.refresh(ACCOUNT)
        assert form(route.calls.last.request) == {
            "grant_type": "refresh_token",
            "refresh_token": "1//refresh",
            "client_id": "gid.apps.googleusercontent.com",
            "client_secret": "gsecret",
        }
        assert tokens.access_token == "ya29.new"
        assert tokens.refresh_token is None

    async def test_a_revoked_grant_is_auth_expired(
        self, adapter: YouTubeAdapter, api: respx.MockRouter
    ) -> None:
        api.post(self.TOKEN).mock(
            return_value=httpx.Response(
                400,
                json={
                    "error": "invalid_grant",
                    "error_description": "Token has been expired or revoked.",
                },
            )
        )
        with pytest.raises(AuthExpired) as caught:
            await adapter.refresh(ACCOUNT)
        assert caught.value.code == "invalid_grant"

    def test_offline_access_with_consent(self, adapter: YouTubeAdapter) -> None:
        spec = adapter.oauth
        assert spec.pkce is True
        assert dict(spec.extra_authorize_params) == {
            "access_type": "offline",
            "prompt": "consent",
            "include_granted_scopes": "true",
        }
        assert "https://www.googleapis.com/auth/youtube.upload" in spec.scopes


class TestValidation:
    account = SocialAccount(id="acc_yt", platform="youtube", settings={})

    def draft(self, **kwargs: Any) -> TargetDraft:
        return TargetDraft(
            account_id="acc_yt",
            platform="youtube",
            post_type=kwargs.pop("post_type", PostType.VIDEO),
            text=kwargs.pop("text", "A video"),
            media=kwargs.pop("media", (video(),)),
            options=YouTubeOptions.model_validate(kwargs.pop("options", {})),
            **kwargs,
        )

    async def rules(self, adapter: YouTubeAdapter, draft: TargetDraft) -> list[str]:
        return [p.rule for p in await adapter.validate_account(self.account, draft)]

    async def test_rules(self, adapter: YouTubeAdapter) -> None:
        assert await self.rules(adapter, self.draft()) == []
        assert await self.rules(adapter, self.draft(text="a <b> tag")) == [
            "text_invalid_characters"
        ]
        # The description option replaces the text, so the text may hold anything.
        assert (
            await self.rules(adapter, self.draft(text="a <b>", options={"description": "clean"}))
            == []
        )
        assert await self.rules(adapter, self.draft(post_type=PostType.REEL)) == [
            "short_not_vertical"
        ]
        assert (
            await self.rules(
                adapter,
                self.draft(post_type=PostType.REEL, media=(video(width=1080, height=1920),)),
            )
            == []
        )
        big = replace(cover(), size=3 * 1024 * 1024, content_type="image/gif")
        assert await self.rules(adapter, self.draft(cover=big)) == [
            "thumbnail_format_not_supported",
            "thumbnail_too_large",
        ]
        assert await self.rules(
            adapter, self.draft(cover=cover(), options={"thumbnailMediaId": "md_other"})
        ) == ["thumbnail_media_id_unsupported"]
        assert (
            await self.rules(
                adapter, self.draft(cover=cover(), options={"thumbnailMediaId": "md_c"})
            )
            == []
        )
