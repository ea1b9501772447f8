"""The TikTok adapter against respx: creator info, video uploads and pulls, photo posts,
inbox drafts, status polling, recovery, metrics, OAuth and every error class."""

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

from polypost.core.timeutil import isoformat
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
from polypost.platforms.options import TikTokOptions
from polypost.platforms.tiktok.adapter import TikTokAdapter
from polypost.platforms.tiktok.bodies import chunk_plan
from polypost.posts.validation import TargetDraft
from tests.platforms.helpers import StubRuntime, form

API = "https://open.tiktokapis.com"
CREATOR = f"{API}/v2/post/publish/creator_info/query/"
VIDEO_INIT = f"{API}/v2/post/publish/video/init/"
INBOX_INIT = f"{API}/v2/post/publish/inbox/video/init/"
CONTENT_INIT = f"{API}/v2/post/publish/content/init/"
STATUS = f"{API}/v2/post/publish/status/fetch/"
UPLOAD = "https://open-upload.tiktokapis.com/video/?upload_id=67890&upload_token=Xza123"
STORAGE = "https://storage.example.com"
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
AUTH = "Bearer act.tiktok"
VIDEO_BYTES = b"0123456789"  # 10 bytes: with 4-byte chunks, 2 chunks (4 + 6)
ACCOUNT = Credentials(
    account_id="acc_tt",
    platform=Platform.TIKTOK,
    external_id="open-id-1",
    access_token="act.tiktok",
    refresh_token="rft.tiktok",
    handle="polypost",
    app=AppCredentials(client_id="ck_123", client_secret="cs_456"),
)
CREATOR_DATA = {
    "creator_avatar_url": "https://p16.tiktokcdn.com/a.jpg",
    "creator_username": "polypost",
    "creator_nickname": "Polypost",
    "privacy_level_options": ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"],
    "comment_disabled": False,
    "duet_disabled": False,
    "stitch_disabled": True,
    "max_video_post_duration_sec": 300,
}


def ok(data: dict[str, Any]) -> httpx.Response:
    return httpx.Response(
        200, json={"data": data, "error": {"code": "ok", "message": "", "log_id": "L1"}}
    )


def failure(status: int, code: str, message: str = "") -> httpx.Response:
    return httpx.Response(
        status,
        json={"data": {}, "error": {"code": code, "message": message or code, "log_id": "L2"}},
    )


def status(value: str, **fields: Any) -> httpx.Response:
    return ok({"status": value, **fields})


def video(size: int = len(VIDEO_BYTES), **kwargs: Any) -> MediaInfo:
    return MediaInfo(
        id=kwargs.pop("id", "md_v"),
        kind=MediaKind.VIDEO,
        content_type="video/mp4",
        size=size,
        width=kwargs.pop("width", 1080),
        height=kwargs.pop("height", 1920),
        duration_ms=kwargs.pop("duration_ms", 15_000),
        url=kwargs.pop("url", f"{STORAGE}/md_v.mp4?sig=1"),
    )


def photo(media_id: str) -> MediaInfo:
    return MediaInfo(
        id=media_id,
        kind=MediaKind.IMAGE,
        content_type="image/jpeg",
        size=1000,
        width=1080,
        height=1350,
        url=f"{STORAGE}/{media_id}.jpg?sig=1",
    )


def outgoing(**kwargs: Any) -> Outgoing:
    options = kwargs.pop("options", {"privacyLevel": "PUBLIC_TO_EVERYONE"})
    return Outgoing(
        target_id="tgt_tt",
        key="tgt_tt:main",
        post_type=kwargs.pop("post_type", PostType.VIDEO),
        text=kwargs.pop("text", "Launch day #polypost"),
        media=kwargs.pop("media", (video(),)),
        options=TikTokOptions.model_validate(options),
        **kwargs,
    )


def sent(call: Any) -> Any:
    return json.loads(call.request.content)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def runtime(client: httpx.AsyncClient) -> StubRuntime:
    return StubRuntime(http=client)


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.value = 0.0

    def __call__(self) -> float:
        return self.value


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def adapter(runtime: StubRuntime, clock: Clock) -> TikTokAdapter:
    adapter = TikTokAdapter(runtime)  # type: ignore[arg-type]
    adapter.now = lambda: NOW
    adapter.clock = clock
    adapter.chunk_size = 4
    return adapter


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        yield router


def storage(api: respx.MockRouter, content: bytes = VIDEO_BYTES) -> respx.Route:
    """Our storage: honours `Range: bytes=N-` like S3."""

    def serve(request: httpx.Request) -> httpx.Response:
        wanted = request.headers.get("range")
        if wanted:
            start = int(wanted.removeprefix("bytes=").rstrip("-"))
            return httpx.Response(206, content=content[start:])
        return httpx.Response(200, content=content)

    return api.get(url__startswith=f"{STORAGE}/md_v.mp4").mock(side_effect=serve)


async def pending(coro: Any) -> Pending:
    with pytest.raises(Pending) as caught:
        await coro
    return caught.value


class TestChunkPlan:
    def test_plan_follows_the_media_transfer_guide(self) -> None:
        mib = 1024 * 1024
        # Under one chunk: the whole file as its single chunk.
        assert chunk_plan(3 * mib) == (3 * mib, 1)
        # floor(size / chunk); the remainder rides on the last chunk.
        assert chunk_plan(25 * mib) == (10 * mib, 2)
        assert chunk_plan(4 * 1024 * mib) == (10 * mib, 409)


class TestCreatorInfo:
    async def test_the_query_and_its_answer(
        self, adapter: TikTokAdapter, api: respx.MockRouter
    ) -> None:
        route = api.post(CREATOR).mock(return_value=ok(CREATOR_DATA))
        info = await adapter.creator_info(ACCOUNT)
        request = route.calls.last.request
        assert request.headers["authorization"] == AUTH
        assert request.headers["content-type"] == "application/json; charset=UTF-8"
        assert request.content == b""
        assert info.privacy_level_options == (
            "PUBLIC_TO_EVERYONE",
            "MUTUAL_FOLLOW_FRIENDS",
            "SELF_ONLY",
        )
        assert info.stitch_disabled is True
        assert info.max_video_post_duration_sec == 300
        assert info.nickname == "Polypost"

    async def test_spam_risk_in_a_200_is_rate_limited_for_a_day(
        self, adapter: TikTokAdapter, api: respx.MockRouter
    ) -> None:
        api.post(CREATOR).mock(return_value=failure(200, "spam_risk_too_many_posts"))
        with pytest.raises(RateLimited) as caught:
            await adapter.creator_info(ACCOUNT)
        assert caught.value.code == "spam_risk_too_many_posts"
        assert caught.value.retry_at is not None
        assert caught.value.retry_at - datetime.now(UTC) > timedelta(hours=23)

    async def test_banned_creator_is_permanent(
        self, adapter: TikTokAdapter, api: respx.MockRouter
    ) -> None:
        api.post(CREATOR).mock(return_value=failure(200, "spam_risk_user_banned_from_posting"))
        with pytest.raises(Permanent) as caught:
            await adapter.creator_info(ACCOUNT)
        assert caught.value.code == "spam_risk_user_banned_from_posting"


class TestFileUpload:
    async def test_init_upload_and_status_to_the_post_id(
        self, adapter: TikTokAdapter, api: respx.MockRouter
    ) -> None:
        api.post(CREATOR).mock(return_value=ok(CREATOR_DATA))
        init = api.post(VIDEO_INIT).mock(
            return_value=ok({"publish_id": "v_pub_file~v2-1.123", "upload_url": UPLOAD})
        )
        storage(api)
        put = api.put(UPLOAD).mock(side_effect=[httpx.Response(206), httpx.Response(201)])
        fetch = api.post(STATUS).mock(
            side_effect=[
                status("PROCESSING_UPLOAD", uploaded_bytes=10),
                status("PUBLISH_COMPLETE", publicaly_available_post_id=[7312345678901234567]),
            ]
        )
        post = outgoing(
            options={
                "privacyLevel": "PUBLIC_TO_EVERYONE",
                "disableComment": True,
                "isAigc": True,
                "brandOrganicToggle": True,
            },
            cover_offset_ms=1500,
        )

        # 1. init, then the worker is handed back before any byte is sent.
        first = await pending(adapter.publish(ACCOUNT, post))
        assert first.stage == "uploading"
        assert first.retry_in == timedelta(0)
        assert first.state["publishId"] == "v_pub_file~v2-1.123"
        assert put.call_count == 0
        request = init.calls.last.request
        assert request.headers["authorization"] == AUTH
        assert request.headers["content-type"] == "application/json; charset=UTF-8"
        assert sent(init.calls.last) == {
            "post_info": {
                "title": "Launch day #polypost",
                "privacy_level": "PUBLIC_TO_EVERYONE",
                "disable_duet": False,
                "disable_comment": True,
                # the creator has stitches off: the toggle is forced on
                "disable_stitch": True,
                "brand_content_toggle": False,
                "brand_organic_toggle": True,
                "is_aigc": True,
                "video_cover_timestamp_ms": 1500,
            },
            "source_info": {
                "source": "FILE_UPLOAD",
                "video_size": 10,
                "chunk_size": 4,
                "total_chunk_count": 2,
            },
        }

        # 2. the chunks, then the first status poll (still processing).
        second = await pending(adapter.publish(ACCOUNT, replace(post, resume=first.state)))
        assert second.stage == "processing"
        assert second.retry_in == timedelta(seconds=5)
        chunks = [
            (
                c.request.headers["content-range"],
                c.request.headers["content-type"],
                c.request.content,
            )
            for c in put.calls
        ]
        assert chunks == [
            ("bytes 0-3/10", "video/mp4", b"0123"),
            ("bytes 4-9/10", "video/mp4", b"456789"),
        ]
        assert "authorization" not in put.calls.last.request.headers
        assert sent(fetch.calls.last) == {"publish_id": "v_pub_file~v2-1.123"}

        # 3. complete, with the public id.
        published = await adapter.publish(ACCOUNT, replace(post, resume=second.state))
        assert published == Published(
            id="7312345678901234567",
            url="https://www.tiktok.com/@polypost/video/7312345678901234567",
            extra={"publishId": "v_pub_file~v2-1.123"},
        )
        assert init.call_count == 1

    async def test_upload_hands_the_worker_back_when_its_budget_is_spent(
        self, adapter: TikTokAdapter, api: respx.MockRouter, clock: Clock
    ) -> None:
        api.post(CREATOR).mock(return_value=ok(CREATOR_DATA))
        api.post(VIDEO_INIT).mock(
            return_value=ok({"publish_id": "v_pub_file~1", "upload_url": UPLOAD})
        )
        storage(api)

        def slow(request: httpx.Request) -> httpx.Response:
            clock.value += 30.0  # each chunk takes longer than the budget
            return httpx.Response(206)

        put = api.put(UPLOAD).mock(side_effect=slow)
        post = outgoing()
        first = await pending(adapter.publish(ACCOUNT, post))
        second = await pending(adapter.publish(ACCOUNT, replace(post, resume=first.state)))
        assert second.stage == "uploading"
        assert second.retry_in == timedelta(0)
        assert second.state["next"] == 1
        assert put.call_count == 1
        put.mock(return_value=httpx.Response(201))
        api.post(STATUS).mock(return_value=status("PROCESSING_UPLOAD"))
        third = await pending(adapter.publish(ACCOUNT, replace(post, resume=second.state)))
        assert third.stage == "processing"
        assert put.calls.last.request.headers["content-range"] == "bytes 4-9/10"

    async def test_a_5xx_mid_upload_resumes_from_what_tiktok_has(
        self, adapter: TikTokAdapter, api: respx.MockRouter
    ) -> None:
        api.post(CREATOR).mock(return_value=ok(CREATOR_DATA))
        api.post(VIDEO_INIT).mock(
            return_value=ok({"publish_id": "v_pub_file~2", "upload_url": UPLOAD})
        )
        reads = storage(api)
        put = api.put(UPLOAD).mock(
            side_effect=[httpx.Response(206), httpx.Response(503), httpx.Response(201)]
        )
        fetch = api.post(STATUS).mock(
            side_effect=[
                status("PROCESSING_UPLOAD", uploaded_bytes=4),
                status("PROCESSING_UPLOAD", uploaded_bytes=10),
            ]
        )
        post = outgoing()
        first = await pending(adapter.publish(ACCOUNT, post))
        failed = await pending(adapter.publish(ACCOUNT, replace(post, resume=first.state)))
        assert failed.stage == "uploading"
        assert failed.retry_in == timedelta(seconds=5)
        assert failed.state["failures"] == 1
        assert failed.state["next"] == 1
        resumed = await pending(adapter.publish(ACCOUNT, replace(post, resume=failed.state)))
        assert resumed.stage == "processing"
        ranges = [c.request.headers["content-range"] for c in put.calls]
        assert ranges == ["bytes 0-3/10", "bytes 4-9/10", "bytes 4-9/10"]
        # the storage read resumed at the chunk TikTok lacks
        assert reads.calls.last.request.headers["range"] == "bytes=4-"
        assert fetch.call_count == 2  # how far TikTok got, then the first status poll

    async def test_repeated_chunk_failures_give_up_and_start_over(
        self, adapter: TikTokAdapter, api: respx.MockRouter
    ) -> None:
        api.post(STATUS).mock(return_value=status("PROCESSING_UPLOAD", uploaded_bytes=0))
        post = outgoing()
        state = {
            "publishId": "v_pub_file~3",
            "uploadUrl": UPLOAD,
            "mode": "FILE_UPLOAD",
            "phase": "uploading",
            "size": 10,
            "chunkSize": 4,
            "chunks": 2,
            "next": 0,
            "failures": 6,
            "uploadDeadline": (NOW + timedelta(minutes=30)).isoformat(),
        }
        await adapter.memo.put("publish:acc_tt:tgt_tt:main", state, timedelta(hours=1))
        with pytest.raises(Transient) as caught:
            await adapter.publish(ACCOUNT, replace(post, resume=state))
        assert caught.value.code == "upload_failed"
        assert not caught.value.maybe_sent
        assert await adapter.memo.get("publish:acc_tt:tgt_tt:main") is None

    async def test_an_expired_upload_url_starts_over(
        self, adapter: TikTokAdapter, api: respx.MockRouter
    ) -> None:
        state = {
            "publishId": "v_pub_file~4",
            "uploadUrl": UPLOAD,
            "mode": "FILE_UPLOAD",
            "phase": "uploading",
            "size": 10,
            "chunkSize": 4,
            "chunks": 2,
            "next": 1,
            "failures": 0,
            "uploadDeadline": (NOW - timedelta(minutes=1)).isoformat(),
        }
        with pytest.raises(Transient) as caught:
            await adapter.publish(ACCOUNT, outgoing(resume=state))
        assert caught.value.code == "upload_expired"

    async def test_a_lost_init_answer_for_a_file_upload_is_safe_to_repeat(
        self, adapter: TikTokAdapter, api: respx.MockRouter
    ) -> None:
        api.post(CREATOR).mock(return_value=ok(CREATOR_DATA))
        api.post(VIDEO_INIT).mock(side_effect=httpx.ReadTimeout("slow"))
        with pytest.raises(Transient) as caught:
            await adapter.publish(ACCOUNT, outgoing())
        assert caught.value.maybe_sent is False


class TestPullAndPhotos:
    async def test_a_verified_prefix_lets_tiktok_pull_the_video(
        self, adapter: TikTokAdapter, api: respx.MockRouter, runtime: StubRuntime
    ) -> None:
        runtime.settings = SimpleNamespace(  # type: ignore[attr-defined]
            oauth_apps={"tiktok": {"clientId": "ck", "verifiedUrlPrefixes": f"{STORAGE}/"}}
        )
        api.post(CREATOR).mock(return_value=ok(CREATOR_DATA))
        init = api.post(VIDEO_INIT).mock(return_value=ok({"publish_id": "v_pub_url~5"}))
        api.post(STATUS).mock(
            return_value=status("PUBLISH_COMPLETE", publicaly_available_post_id=[77])
        )
        first = await pending(adapter.publish(ACCOUNT, outgoing()))
        assert first.stage == "processing"
        assert sent(init.calls.last)["source_info"] == {
            "source": "PULL_FROM_URL",
            "video_url": f"{STORAGE}/md_v.mp4?sig=1",
        }
        published = await adapter.publish(ACCOUNT, outgoing(resume=first.state))
        assert published.id == "77"

    async def test_photo_carousel(self, adapter: TikTokAdapter, api: respx.MockRouter) -> None:
        api.post(CREATOR).mock(return_value=ok(CREATOR_DATA))
        init = api.post(CONTENT_INIT).mock(return_value=ok({"publish_id": "p_pub_url~6"}))
        api.post(STATUS).mock(
            side_effect=[
                status("PROCESSING_DOWNLOAD", downloaded_bytes=100),
                status("PUBLISH_COMPLETE", publicaly_available_post_id=[7399]),
            ]
        )
        post = outgoing(
            post_type=PostType.CAROUSEL,
            text="Three photos",
            media=(photo("md_1"), photo("md_2"), photo("md_3")),
            options={
                "privacyLevel": "MUTUAL_FOLLOW_FRIENDS",
                "title": "Trip",
                "autoAddMusic": True,
                "photoCoverIndex": 1,
            },
        )
        first = await pending(adapter.publish(ACCOUNT, post))
        assert sent(init.calls.last) == {
            "media_type": "PHOTO",
            "post_mode": "DIRECT_POST",
            "post_info": {
                "title": "Trip",
                "description": "Three photos",
                "privacy_level": "MUTUAL_FOLLOW_FRIENDS",
                "disable_comment": False,
                "auto_add_music": True,
                "brand_content_toggle": False,
                "brand_organic_toggle": False,
            },
            "source_info": {
                "source": "PULL_FROM_URL",
                "photo_cover_index": 1,
                "photo_images": [
                    f"{STORAGE}/md_1.jpg?sig=1",
                    f"{STORAGE}/md_2.jpg?sig=1",
                    f"{STORAGE}/md_3.jpg?sig=1",
                ],
            },
        }
        second = await pending(adapter.publish(ACCOUNT, replace(post, resume=first.state)))
        assert second.retry_in == timedelta(seconds=10)  # polls back off
        published = await adapter.publish(ACCOUNT, replace(post, resume=second.state))
        assert published.id == "7399"

    async def test_inbox_draft_of_a_video(
        self, adapter: TikTokAdapter, api: respx.MockRouter
    ) -> None:
        api.post(CREATOR).mock(return_value=ok(CREATOR_DATA))
        init = api.post(INBOX_INIT).mock(
            return_value=ok({"publish_id": "v_inbox_file~7", "upload_url": UPLOAD})
        )
        storage(api)
        api.put(UPLOAD).mock(side_effect=[httpx.Response(206), httpx.Response(201)])
        api.post(STATUS).mock(return_value=status("SEND_TO_USER_INBOX"))
        post = outgoing(options={"postMode": "MEDIA_UPLOAD"})
        first = await pending(adapter.publish(ACCOUNT, post))
        assert sent(init.calls.last) == {
            "source_info": {
                "source": "FILE_UPLOAD",
                "video_size": 10,
                "chunk_size": 4,
                "total_chunk_count": 2,
            }
        }
        published = await adapter.publish(ACCOUNT, replace(post, resume=first.state))
        assert published == Published(
            id="v_inbox_file~7",
            url="https://www.tiktok.com/@polypost",
            extra={"publishId": "v_inbox_file~7", "status": "SEND_TO_USER_INBOX"},
        )


class TestStatus:
    def processing(self, **extra: Any) -> dict[str, Any]:
        return {
            "publishId": "v_pub_url~8",
            "mode": "PULL_FROM_URL",
            "phase": "processing",
            "handle": "polypost",
            "deadline": (NOW + timedelta(minutes=10)).isoformat(),
            **extra,
        }

    async def test_processing_past_the_deadline_fails(
        self, adapter: TikTokAdapter, api: respx.MockRouter
    ) -> None:
        api.post(STATUS).mock(return_value=status("PROCESSING_DOWNLOAD"))
        state = self.processing(deadline=(NOW - timedelta(seconds=1)).isoformat())
        with pytest.raises(Permanent) as caught:
            await adapter.publish(ACCOUNT, outgoing(resume=state))
        assert caught.value.code == "processing_timeout"
        assert "v_pub_url~8" in caught.value.message

    @pytest.mark.parametrize(
        ("reason", "kind"),
        [
            ("file_format_check_failed", Permanent),
            ("duration_check_failed", Permanent),
            ("picture_size_check_failed", Permanent),
            ("internal", Transient),
            ("video_pull_failed", Transient),
            ("auth_removed", AuthExpired),
            ("spam_risk_too_many_posts", RateLimited),
        ],
    )
    async def test_a_failed_publish_is_classified_by_its_reason(
        self, adapter: TikTokAdapter, api: respx.MockRouter, reason: str, kind: type
    ) -> None:
        api.post(STATUS).mock(return_value=status("FAILED", fail_reason=reason))
        await adapter.memo.put("publish:acc_tt:tgt_tt:main", self.processing(), timedelta(hours=1))
        with pytest.raises(kind) as caught:
            await adapter.publish(ACCOUNT, outgoing(resume=self.processing()))
        assert caught.value.code == reason
        assert await adapter.memo.get("publish:acc_tt:tgt_tt:main") is None

    async def test_a_private_post_completes_without_a_public_id(
        self, adapter: TikTokAdapter, api: respx.MockRouter
    ) -> None:
        api.post(STATUS).mock(return_value=status("PUBLISH_COMPLETE"))
        published = await adapter.publish(ACCOUNT, outgoing(resume=self.processing(private=True)))
        assert published == Published(
            id="v_pub_url~8",
            url="https://www.tiktok.com/@polypost",
            extra={"publishId": "v_pub_url~8", "status": "PUBLISH_COMPLETE"},
        )

    async def test_a_public_post_waits_a_while_for_its_id(
        self, adapter: TikTokAdapter, api: respx.MockRouter
    ) -> None:
        api.post(STATUS).mock(return_value=status("PUBLISH_COMPLETE"))
        waiting = await pending(adapter.publish(ACCOUNT, outgoing(resume=self.processing())))
        assert waiting.state["completedAt"] == isoformat(NOW)
        adapter.now = lambda: NOW + timedelta(minutes=11)
        published = await adapter.publish(ACCOUNT, outgoing(resume=waiting.state))
        assert published.id == "v_pub_url~8"


class TestPreflight:
    async def test_a_privacy_level_the_creator_lacks_is_refused_before_init(
        self, adapter: TikTokAdapter, api: respx.MockRouter
    ) -> None:
        api.post(CREATOR).mock(return_value=ok(CREATOR_DATA))
        init = api.post(VIDEO_INIT)
        with pytest.raises(Permanent) as caught:
            await adapter.publish(
                ACCOUNT, outgoing(options={"privacyLevel": "FOLLOWER_OF_CREATOR"})
            )
        assert caught.value.code == "privacy_level_not_allowed"
        assert init.call_count == 0

    async def test_a_video_over_the_creators_maximum_is_refused(
        self, adapter: TikTokAdapter, api: respx.MockRouter
    ) -> None:
        api.post(CREATOR).mock(return_value=ok(CREATOR_DATA))
        with pytest.raises(Permanent) as caught:
            await adapter.publish(ACCOUNT, outgoing(media=(video(duration_ms=301_000),)))
        assert caught.value.code == "video_too_long"

    async def test_a_direct_post_without_a_privacy_level_is_refused(
        self, adapter: TikTokAdapter, api: respx.MockRouter
    ) -> None:
        api.post(CREATOR).mock(return_value=ok(CREATOR_DATA))
        with pytest.raises(Permanent) as caught:
            await adapter.publish(ACCOUNT, outgoing(options={}))
        assert caught.value.code == "privacy_level_required"

    async def test_replies_are_unsupported(self, adapter: TikTokAdapter) -> None:
        with pytest.raises(Permanent) as caught:
            await adapter.publish(ACCOUNT, outgoing(reply_to=Published(id="1")))
        assert caught.value.code == "unsupported"


class PlainCipher:
    def decrypt(self, value: str) -> str:
        return value


class TestValidation:
    def account(self) -> SocialAccount:
        return SocialAccount(
            id="acc_tt",
            platform="tiktok",
            external_id="open-id-1",
            handle="polypost",
            access_token_enc="act.tiktok",
            settings={},
        )

    def draft(self, **options: Any) -> TargetDraft:
        return TargetDraft(
            account_id="acc_tt",
            platform="tiktok",
            post_type=PostType.VIDEO,
            text="Launch",
            media=(video(duration_ms=400_000),),
            options=TikTokOptions.model_validate(options),
        )

    async def test_checks_use_only_what_warm_account_fetched(
        self, adapter: TikTokAdapter, api: respx.MockRouter, runtime: StubRuntime
    ) -> None:
        runtime.cipher = PlainCipher()  # type: ignore[attr-defined]
        route = api.post(CREATOR).mock(return_value=ok(CREATOR_DATA))
        draft = self.draft(privacyLevel="FOLLOWER_OF_CREATOR", disableStitch=False)
        # Not fetched yet: no platform call here, only the static rules.
        assert await adapter.validate_account(self.account(), draft) == []
        assert route.call_count == 0
        await adapter.warm_account(self.account())
        await adapter.warm_account(self.account())  # cached: asked once
        assert route.call_count == 1
        assert route.calls.last.request.headers["authorization"] == AUTH
        problems = await adapter.validate_account(self.account(), draft)
        assert [(p.code, p.rule, p.limit, p.actual) for p in problems] == [
            ("content_invalid", "privacy_level_not_allowed", None, None),
            ("content_invalid", "interaction_disabled_by_creator", None, None),
            ("media_invalid", "video_too_long", 300_000, 400_000),
        ]
        assert all(p.account_id == "acc_tt" and p.platform == "tiktok" for p in problems)

    async def test_a_failed_fetch_leaves_the_static_rules(
        self, adapter: TikTokAdapter, api: respx.MockRouter, runtime: StubRuntime
    ) -> None:
        runtime.cipher = PlainCipher()  # type: ignore[attr-defined]
        api.post(CREATOR).mock(return_value=failure(401, "access_token_invalid"))
        await adapter.warm_account(self.account())
        problems = await adapter.validate_account(self.account(), self.draft())
        assert [p.rule for p in problems] == ["privacy_level_required"]


class TestRecovery:
    async def test_a_file_upload_without_a_publish_id_posted_nothing(
        self, adapter: TikTokAdapter
    ) -> None:
        assert await adapter.find_published(ACCOUNT, outgoing()) is None

    async def test_a_photo_post_without_a_publish_id_cannot_be_told(
        self, adapter: TikTokAdapter
    ) -> None:
        post = outgoing(post_type=PostType.IMAGE, media=(photo("md_1"),))
        with pytest.raises(Permanent) as caught:
            await adapter.find_published(ACCOUNT, post)
        assert caught.value.code == "unsupported"

    async def test_the_publish_id_settles_it(
        self, adapter: TikTokAdapter, api: respx.MockRouter
    ) -> None:
        fetch = api.post(STATUS).mock(
            return_value=status("PUBLISH_COMPLETE", publicaly_available_post_id=[42])
        )
        state = {"publishId": "v_pub_url~9", "mode": "PULL_FROM_URL", "phase": "processing"}
        found = await adapter.find_published(ACCOUNT, outgoing(resume=state))
        assert found is not None
        assert found.id == "42"
        assert sent(fetch.calls.last) == {"publish_id": "v_pub_url~9"}

    async def test_a_failed_earlier_attempt_is_safe_to_repeat(
        self, adapter: TikTokAdapter, api: respx.MockRouter
    ) -> None:
        api.post(STATUS).mock(return_value=status("FAILED", fail_reason="internal"))
        state = {"publishId": "v_pub_url~9", "mode": "PULL_FROM_URL", "phase": "processing"}
        await adapter.memo.put("publish:acc_tt:tgt_tt:main", state, timedelta(hours=1))
        assert await adapter.find_published(ACCOUNT, outgoing()) is None

    async def test_a_partial_upload_cannot_publish(
        self, adapter: TikTokAdapter, api: respx.MockRouter
    ) -> None:
        api.post(STATUS).mock(return_value=status("PROCESSING_UPLOAD", uploaded_bytes=4))
        state = {
            "publishId": "v_pub_file~10",
            "mode": "FILE_UPLOAD",
            "phase": "uploading",
            "size": 10,
        }
        assert await adapter.find_published(ACCOUNT, outgoing(resume=state)) is None

    async def test_still_processing_asks_again_later(
        self, adapter: TikTokAdapter, api: respx.MockRouter
    ) -> None:
        api.post(STATUS).mock(return_value=status("PROCESSING_DOWNLOAD"))
        state = {"publishId": "v_pub_url~11", "mode": "PULL_FROM_URL", "phase": "processing"}
        with pytest.raises(Transient) as caught:
            await adapter.find_published(ACCOUNT, outgoing(resume=state))
        assert caught.value.code == "processing"


class TestErrors:
    @pytest.mark.parametrize(
        ("response", "kind", "code"),
        [
            (failure(401, "access_token_invalid"), AuthExpired, "access_token_invalid"),
            (failure(401, "scope_not_authorized"), AuthExpired, "scope_not_authorized"),
            (failure(429, "rate_limit_exceeded"), RateLimited, "rate_limit_exceeded"),
            (failure(500, "internal_error"), Transient, "internal_error"),
            (failure(400, "invalid_params"), Permanent, "invalid_params"),
            (
                failure(403, "privacy_level_option_mismatch"),
                Permanent,
                "privacy_level_option_mismatch",
            ),
            (failure(403, "url_ownership_unverified"), Permanent, "url_ownership_unverified"),
            (
                failure(403, "unaudited_client_can_only_post_to_private_accounts"),
                Permanent,
                "unaudited_client_can_only_post_to_private_accounts",
            ),
            (failure(403, "spam_risk_text"), Permanent, "spam_risk_text"),
            (httpx.Response(502, text="<html>Bad gateway</html>"), Transient, "502"),
            (httpx.Response(401, text=""), AuthExpired, "401"),
        ],
    )
    def test_classify(
        self, adapter: TikTokAdapter, response: httpx.Response, kind: type, code: str
    ) -> None:
        error = adapter.classify(response)
        assert isinstance(error, kind)
        assert error.code == code

    def test_rate_limit_waits_a_minute(self, adapter: TikTokAdapter) -> None:
        error = adapter.classify(failure(429, "rate_limit_exceeded"))
        assert error.retry_at is not None
        wait = error.retry_at - datetime.now(UTC)
        assert timedelta(seconds=55) < wait <= timedelta(seconds=60)

    async def test_an_init_refusal_is_raised(
        self, adapter: TikTokAdapter, api: respx.MockRouter
    ) -> None:
        api.post(CREATOR).mock(return_value=ok(CREATOR_DATA))
        api.post(VIDEO_INIT).mock(return_value=failure(403, "spam_risk_too_many_pending_share"))
        with pytest.raises(RateLimited) as caught:
            await adapter.publish(ACCOUNT, outgoing())
        assert caught.value.code == "spam_risk_too_many_pending_share"


class TestOtherOperations:
    async def test_metrics_of_a_post_id(
        self, adapter: TikTokAdapter, api: respx.MockRouter
    ) -> None:
        query = api.post(f"{API}/v2/video/query/").mock(
            return_value=ok(
                {
                    "videos": [
                        {
                            "id": "7312345678901234567",
                            "view_count": 1200,
                            "like_count": 80,
                            "comment_count": 7,
                            "share_count": 3,
                        }
                    ]
                }
            )
        )
        metrics = await adapter.metrics(ACCOUNT, "7312345678901234567")
        request = query.calls.last.request
        assert dict(request.url.params) == {
            "fields": "id,view_count,like_count,comment_count,share_count"
        }
        assert sent(query.calls.last) == {"filters": {"video_ids": ["7312345678901234567"]}}
        assert (metrics.views, metrics.likes, metrics.comments, metrics.shares) == (
            1200,
            80,
            7,
            3,
        )
        assert metrics.impressions is None

    async def test_metrics_of_a_publish_id_resolve_it_first(
        self, adapter: TikTokAdapter, api: respx.MockRouter
    ) -> None:
        api.post(STATUS).mock(
            return_value=status("PUBLISH_COMPLETE", publicaly_available_post_id=[99])
        )
        query = api.post(f"{API}/v2/video/query/").mock(
            return_value=ok({"videos": [{"id": "99", "view_count": 1}]})
        )
        metrics = await adapter.metrics(ACCOUNT, "v_pub_url~12")
        assert sent(query.calls.last) == {"filters": {"video_ids": ["99"]}}
        assert metrics.views == 1

    async def test_a_publish_id_that_never_went_public_has_no_metrics(
        self, adapter: TikTokAdapter, api: respx.MockRouter
    ) -> None:
        api.post(STATUS).mock(return_value=status("PUBLISH_COMPLETE"))
        with pytest.raises(Permanent) as caught:
            await adapter.metrics(ACCOUNT, "v_pub_url~13")
        assert caught.value.code == "not_available"

    async def test_delete_edit_and_comments_are_unsupported(self, adapter: TikTokAdapter) -> None:
        with pytest.raises(Permanent) as deleting:
            await adapter.delete(ACCOUNT, "1")
        with pytest.raises(Permanent) as editing:
            await adapter.edit(ACCOUNT, "1", outgoing())
        with pytest.raises(Permanent) as commenting:
            await adapter.comment(ACCOUNT, outgoing(reply_to=Published(id="1")))
        codes = {e.value.code for e in (deleting, editing, commenting)}
        assert codes == {"unsupported"}

    async def test_whoami(self, adapter: TikTokAdapter, api: respx.MockRouter) -> None:
        route = api.get(f"{API}/v2/user/info/").mock(
            return_value=ok(
                {
                    "user": {
                        "open_id": "open-id-1",
                        "union_id": "u-1",
                        "avatar_url": "https://p16.tiktokcdn.com/a.jpg",
                        "display_name": "Polypost",
                        "username": "polypost",
                    }
                }
            )
        )
        identity = await adapter.whoami(ACCOUNT)
        assert dict(route.calls.last.request.url.params) == {
            "fields": "open_id,union_id,avatar_url,display_name,username"
        }
        assert route.calls.last.request.headers["authorization"] == AUTH
        assert identity.external_id == "open-id-1"
        assert identity.handle == "polypost"
        assert identity.display_name == "Polypost"


class TestOAuth:
    TOKEN = f"{API}/v2/oauth/token/"

    def tokens(self) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "open_id": "open-id-1",
                "scope": "user.info.basic,video.publish",
                "access_token": "act.new",
                "expires_in": 86400,
                "refresh_token": "rft.new",
                "refresh_expires_in": 31536000,
                "token_type": "Bearer",
            },
        )

    async def test_code_exchange_uses_client_key(
        self, adapter: TikTokAdapter, api: respx.MockRouter
    ) -> None:
        route = api.post(self.TOKEN).mock(return_value=self.tokens())
        tokens = await adapter.exchange_code(
            AppCredentials(client_id="ck_123", client_secret="cs_456"),
            "code-1",
            "https://polypost.example/v1/accounts/callback/tiktok",
            None,
        )
        assert form(route.calls.last.request) == {
            "client_key": "ck_123",
            "client_secret": "cs_456",
            "code": "code-1",
            "grant_type": "authorization_code",
            "redirect_uri": "https://polypost.example/v1/accounts/callback/tiktok",
        }
        assert tokens.access_token == "act.new"
        assert tokens.refresh_token == "rft.new"
        assert tokens.scopes == ("user.info.basic", "video.publish")

    async def test_refresh_rotates_the_refresh_token(
        self, adapter: TikTokAdapter, api: respx.MockRouter
    ) -> None:
        route = api.post(self.TOKEN).mock(return_value=self.tokens())
        tokens = await adapter.refresh(ACCOUNT)
        assert form(route.calls.last.request) == {
            "client_key": "ck_123",
            "client_secret": "cs_456",
            "grant_type": "refresh_token",
            "refresh_token": "rft.tiktok",
        }
        assert tokens.refresh_token == "rft.new"

    async def test_a_dead_refresh_token_in_a_200_is_auth_expired(
        self, adapter: TikTokAdapter, api: respx.MockRouter
    ) -> None:
        api.post(self.TOKEN).mock(
            return_value=httpx.Response(
                200,
                json={
                    "error": "invalid_grant",
                    "error_description": "Refresh token is invalid or expired.",
                    "log_id": "L3",
                },
            )
        )
        with pytest.raises(AuthExpired) as caught:
            await adapter.refresh(ACCOUNT)
        assert caught.value.code == "invalid_grant"

    async def test_a_refused_client_is_permanent(
        self, adapter: TikTokAdapter, api: respx.MockRouter
    ) -> None:
        api.post(self.TOKEN).mock(
            return_value=httpx.Response(
                401, json={"error": "invalid_client", "error_description": "Client key"}
            )
        )
        with pytest.raises(Permanent) as caught:
            await adapter.refresh(ACCOUNT)
        assert caught.value.code == "invalid_client"

    def test_the_authorize_spec(self, adapter: TikTokAdapter) -> None:
        spec = adapter.oauth
        assert spec.authorize_url == "https://www.tiktok.com/v2/auth/authorize/"
        assert spec.client_id_param == "client_key"
        assert spec.scope_separator == ","
        assert "video.publish" in spec.scopes
        assert spec.pkce is False
