"""The Pinterest adapter against respx: image, carousel and video pins, boards,
recovery, delete, metrics, OAuth and every error class."""

from __future__ import annotations

import base64
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
from polypost.platforms.options import PinterestOptions
from polypost.platforms.pinterest.adapter import PinterestAdapter
from polypost.platforms.pinterest.publishing import publicly_fetchable
from polypost.posts.validation import TargetDraft
from tests.platforms.helpers import StubRuntime, form, multipart

API = "https://api.pinterest.com/v5"
STORAGE = "https://storage.example.com"
LOCAL = "http://127.0.0.1:8000/v1/media/files/tok"
S3 = "https://pinterest-media-upload.s3-accelerate.amazonaws.com/"
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
AUTH = "Bearer pina_token"
ACCOUNT = Credentials(
    account_id="acc_pin",
    platform=Platform.PINTEREST,
    external_id="549755885175",
    access_token="pina_token",
    refresh_token="pinr_token",
    handle="polypost",
    settings={"pageId": "1111", "pageName": "Recipes"},
    app=AppCredentials(client_id="pin-client", client_secret="pin-secret"),
)


def image(media_id: str, url: str | None = None, **size: int) -> MediaInfo:
    return MediaInfo(
        id=media_id,
        kind=MediaKind.IMAGE,
        content_type="image/jpeg",
        size=1000,
        width=size.get("width", 1000),
        height=size.get("height", 1500),
        url=url or f"{STORAGE}/{media_id}.jpg?sig=1",
    )


def video(url: str | None = None) -> MediaInfo:
    return MediaInfo(
        id="md_v",
        kind=MediaKind.VIDEO,
        content_type="video/mp4",
        size=8,
        width=1080,
        height=1920,
        duration_ms=10_000,
        url=url or f"{STORAGE}/md_v.mp4?sig=1",
        filename="clip.mp4",
    )


def outgoing(**kwargs: Any) -> Outgoing:
    return Outgoing(
        target_id="tgt_pin",
        key="tgt_pin:main",
        post_type=kwargs.pop("post_type", PostType.IMAGE),
        text=kwargs.pop("text", "Weeknight pasta"),
        media=kwargs.pop("media", (image("md_1"),)),
        options=PinterestOptions.model_validate(kwargs.pop("options", {})),
        **kwargs,
    )


def sent(route: respx.Route) -> Any:
    return json.loads(route.calls.last.request.content)


def pin(pin_id: str = "813744226420795884", **fields: Any) -> httpx.Response:
    return httpx.Response(201, json={"id": pin_id, "board_id": "1111", **fields})


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def runtime(client: httpx.AsyncClient) -> StubRuntime:
    return StubRuntime(http=client)


@pytest.fixture
def adapter(runtime: StubRuntime) -> PinterestAdapter:
    adapter = PinterestAdapter(runtime)  # type: ignore[arg-type]
    adapter.now = lambda: NOW
    return adapter


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        yield router


async def pending(coro: Any) -> Pending:
    with pytest.raises(Pending) as caught:
        await coro
    return caught.value


class TestImagePins:
    async def test_image_pin_with_link_by_url(
        self, adapter: PinterestAdapter, api: respx.MockRouter
    ) -> None:
        create = api.post(f"{API}/pins").mock(return_value=pin())
        published = await adapter.publish(
            ACCOUNT,
            outgoing(
                link="https://example.com/recipe",
                alt_texts={"md_1": "A bowl of pasta"},
                options={"title": "Pasta in 20 minutes"},
            ),
        )
        assert published == Published(
            id="813744226420795884", url="https://www.pinterest.com/pin/813744226420795884/"
        )
        request = create.calls.last.request
        assert request.headers["authorization"] == AUTH
        assert sent(create) == {
            "board_id": "1111",
            "title": "Pasta in 20 minutes",
            "description": "Weeknight pasta",
            "link": "https://example.com/recipe",
            "alt_text": "A bowl of pasta",
            "media_source": {"source_type": "image_url", "url": f"{STORAGE}/md_1.jpg?sig=1"},
        }

    async def test_options_choose_board_section_and_text(
        self, adapter: PinterestAdapter, api: respx.MockRouter
    ) -> None:
        create = api.post(f"{API}/pins").mock(return_value=pin())
        await adapter.publish(
            ACCOUNT,
            outgoing(
                options={
                    "boardId": "2222",
                    "boardSectionId": "3333",
                    "description": "Own description",
                    "link": "https://example.com/b",
                    "altText": "alt",
                }
            ),
        )
        body = sent(create)
        assert body["board_id"] == "2222"
        assert body["board_section_id"] == "3333"
        assert body["description"] == "Own description"
        assert body["link"] == "https://example.com/b"
        assert body["alt_text"] == "alt"

    async def test_a_local_url_is_sent_inline(
        self, adapter: PinterestAdapter, api: respx.MockRouter
    ) -> None:
        api.get(f"{LOCAL}/a.jpg").mock(return_value=httpx.Response(200, content=b"\xff\xd8JPEG"))
        create = api.post(f"{API}/pins").mock(return_value=pin())
        await adapter.publish(ACCOUNT, outgoing(media=(image("md_1", f"{LOCAL}/a.jpg"),)))
        assert sent(create)["media_source"] == {
            "source_type": "image_base64",
            "content_type": "image/jpeg",
            "data": base64.b64encode(b"\xff\xd8JPEG").decode(),
        }

    async def test_carousel(self, adapter: PinterestAdapter, api: respx.MockRouter) -> None:
        create = api.post(f"{API}/pins").mock(return_value=pin())
        media = (image("md_1"), image("md_2"), image("md_3"))
        await adapter.publish(ACCOUNT, outgoing(post_type=PostType.CAROUSEL, media=media))
        assert sent(create)["media_source"] == {
            "source_type": "multiple_image_urls",
            "items": [{"url": f"{STORAGE}/md_{i}.jpg?sig=1"} for i in (1, 2, 3)],
        }

    async def test_a_carousel_with_a_local_image_goes_inline_whole(
        self, adapter: PinterestAdapter, api: respx.MockRouter
    ) -> None:
        api.get(f"{STORAGE}/md_1.jpg?sig=1").mock(return_value=httpx.Response(200, content=b"A"))
        api.get(f"{LOCAL}/b.png").mock(return_value=httpx.Response(200, content=b"B"))
        create = api.post(f"{API}/pins").mock(return_value=pin())
        local = replace(image("md_2", f"{LOCAL}/b.png"), content_type="image/png")
        await adapter.publish(
            ACCOUNT, outgoing(post_type=PostType.CAROUSEL, media=(image("md_1"), local))
        )
        assert sent(create)["media_source"] == {
            "source_type": "multiple_image_base64",
            "items": [
                {"content_type": "image/jpeg", "data": "QQ=="},
                {"content_type": "image/png", "data": "Qg=="},
            ],
        }

    async def test_no_board_is_permanent(self, adapter: PinterestAdapter) -> None:
        with pytest.raises(Permanent) as caught:
            await adapter.publish(replace(ACCOUNT, settings={}), outgoing())
        assert caught.value.code == "board_required"

    async def test_a_missing_id_may_have_been_created(
        self, adapter: PinterestAdapter, api: respx.MockRouter
    ) -> None:
        api.post(f"{API}/pins").mock(return_value=httpx.Response(201, json={}))
        with pytest.raises(Transient) as caught:
            await adapter.publish(ACCOUNT, outgoing())
        assert caught.value.maybe_sent is True

    def test_which_urls_pinterest_can_fetch(self) -> None:
        assert publicly_fetchable("https://bucket.s3.amazonaws.com/a.jpg?X-Amz-Signature=1")
        assert not publicly_fetchable("http://127.0.0.1:8000/v1/media/files/t/a.jpg")
        assert not publicly_fetchable("http://localhost/a.jpg")
        assert not publicly_fetchable("http://10.0.0.5/a.jpg")
        assert not publicly_fetchable("http://minio.internal/a.jpg")
        assert not publicly_fetchable(None)


class TestVideoPins:
    def register(self, api: respx.MockRouter) -> respx.Route:
        return api.post(f"{API}/media").mock(
            return_value=httpx.Response(
                201,
                json={
                    "media_id": "12345",
                    "media_type": "video",
                    "upload_url": S3,
                    "upload_parameters": {
                        "x-amz-date": "20261122T000000Z",
                        "x-amz-signature": "sig",
                        "key": "uploads/12345",
                        "policy": "cG9saWN5",
                        "Content-Type": "multipart/form-data",
                    },
                },
            )
        )

    async def test_upload_processing_then_pin(
        self, adapter: PinterestAdapter, api: respx.MockRouter
    ) -> None:
        register = self.register(api)
        api.get(f"{STORAGE}/md_v.mp4?sig=1").mock(
            return_value=httpx.Response(200, content=b"MP4BYTES")
        )
        upload = api.post(S3).mock(return_value=httpx.Response(204))
        status = api.get(f"{API}/media/12345").mock(
            side_effect=[
                httpx.Response(200, json={"media_id": "12345", "status": "processing"}),
                httpx.Response(200, json={"media_id": "12345", "status": "succeeded"}),
            ]
        )
        create = api.post(f"{API}/pins").mock(return_value=pin("900"))
        post = outgoing(post_type=PostType.VIDEO, media=(video(),), cover_offset_ms=2500)

        parked = await pending(adapter.publish(ACCOUNT, post))
        assert parked.stage == "processing"
        assert parked.retry_in == timedelta(seconds=5)
        assert parked.state["mediaId"] == "12345"
        assert sent(register) == {"media_type": "video"}
        assert register.calls.last.request.headers["authorization"] == AUTH
        request = upload.calls.last.request
        assert "authorization" not in request.headers
        parts = multipart(request)
        assert list(parts) == [
            "x-amz-date",
            "x-amz-signature",
            "key",
            "policy",
            "Content-Type",
            "file",
        ]
        assert parts["key"][0] == b"uploads/12345"
        content, headers = parts["file"]
        assert content == b"MP4BYTES"
        assert headers.get_filename() == "clip.mp4"
        assert create.call_count == 0

        published = await adapter.publish(ACCOUNT, replace(post, resume=parked.state))
        assert published.id == "900"
        assert register.call_count == 1
        assert status.call_count == 2
        assert sent(create)["media_source"] == {
            "source_type": "video_id",
            "media_id": "12345",
            "cover_image_key_frame_time": 2,
        }

    async def test_a_cover_image_is_the_pins_cover(
        self, adapter: PinterestAdapter, api: respx.MockRouter
    ) -> None:
        api.get(f"{API}/media/12345").mock(
            return_value=httpx.Response(200, json={"status": "succeeded"})
        )
        create = api.post(f"{API}/pins").mock(return_value=pin("901"))
        post = outgoing(
            post_type=PostType.VIDEO,
            media=(video(),),
            cover=image("md_c"),
            resume={"mediaId": "12345", "deadline": (NOW + timedelta(minutes=5)).isoformat()},
        )
        await adapter.publish(ACCOUNT, post)
        assert sent(create)["media_source"] == {
            "source_type": "video_id",
            "media_id": "12345",
            "cover_image_url": f"{STORAGE}/md_c.jpg?sig=1",
        }

    async def test_failed_processing_is_permanent(
        self, adapter: PinterestAdapter, api: respx.MockRouter
    ) -> None:
        api.get(f"{API}/media/12345").mock(
            return_value=httpx.Response(200, json={"status": "failed"})
        )
        post = outgoing(post_type=PostType.VIDEO, media=(video(),), resume={"mediaId": "12345"})
        with pytest.raises(Permanent) as caught:
            await adapter.publish(ACCOUNT, post)
        assert caught.value.code == "media_processing_failed"

    async def test_processing_past_the_deadline_fails(
        self, adapter: PinterestAdapter, api: respx.MockRouter
    ) -> None:
        api.get(f"{API}/media/12345").mock(
            return_value=httpx.Response(200, json={"status": "processing"})
        )
        create = api.post(f"{API}/pins")
        post = outgoing(
            post_type=PostType.VIDEO,
            media=(video(),),
            resume={"mediaId": "12345", "deadline": (NOW - timedelta(seconds=1)).isoformat()},
        )
        with pytest.raises(Permanent) as caught:
            await adapter.publish(ACCOUNT, post)
        assert caught.value.code == "processing_timeout"
        assert create.call_count == 0

    @pytest.mark.parametrize(
        ("answer", "kind", "code"),
        [
            (httpx.Response(503, text="<Error>SlowDown</Error>"), Transient, "s3_503"),
            (httpx.Response(403, text="<Error>Policy expired</Error>"), Transient, "s3_403"),
            (
                httpx.Response(400, text="<Error>EntityTooLarge</Error>"),
                Permanent,
                "upload_rejected",
            ),
        ],
    )
    async def test_storage_answers(
        self,
        adapter: PinterestAdapter,
        api: respx.MockRouter,
        answer: httpx.Response,
        kind: type,
        code: str,
    ) -> None:
        self.register(api)
        api.get(f"{STORAGE}/md_v.mp4?sig=1").mock(return_value=httpx.Response(200, content=b"V"))
        api.post(S3).mock(return_value=answer)
        with pytest.raises(kind) as caught:
            await adapter.publish(ACCOUNT, outgoing(post_type=PostType.VIDEO, media=(video(),)))
        assert caught.value.code == code


class TestRecovery:
    def board_pins(self, api: respx.MockRouter, *pins: dict[str, Any]) -> respx.Route:
        return api.get(f"{API}/boards/1111/pins").mock(
            return_value=httpx.Response(200, json={"items": list(pins), "bookmark": None})
        )

    async def test_the_recent_pin_with_the_same_text_is_adopted(
        self, adapter: PinterestAdapter, api: respx.MockRouter
    ) -> None:
        route = self.board_pins(
            api,
            {"id": "1", "created_at": "2026-11-22T09:59:00", "description": "Weeknight pasta"},
            {"id": "2", "created_at": "2026-11-20T09:00:00", "description": "Weeknight pasta"},
            {"id": "3", "created_at": "2026-11-22T09:59:30", "description": "Other"},
        )
        found = await adapter.find_published(ACCOUNT, outgoing())
        assert found == Published(id="1", url="https://www.pinterest.com/pin/1/")
        assert dict(route.calls.last.request.url.params) == {"page_size": "50"}

    async def test_nothing_found_is_safe_to_send(
        self, adapter: PinterestAdapter, api: respx.MockRouter
    ) -> None:
        self.board_pins(api)
        assert await adapter.find_published(ACCOUNT, outgoing()) is None

    async def test_two_candidates_are_ambiguous(
        self, adapter: PinterestAdapter, api: respx.MockRouter
    ) -> None:
        self.board_pins(
            api,
            {"id": "1", "created_at": "2026-11-22T09:59:00", "description": "Weeknight pasta"},
            {"id": "2", "created_at": "2026-11-22T09:58:00", "description": "Weeknight  pasta"},
        )
        with pytest.raises(Permanent) as caught:
            await adapter.find_published(ACCOUNT, outgoing())
        assert caught.value.code == "ambiguous"

    async def test_a_pin_without_text_cannot_be_recognised(self, adapter: PinterestAdapter) -> None:
        with pytest.raises(Permanent) as caught:
            await adapter.find_published(ACCOUNT, outgoing(text=""))
        assert caught.value.code == "unsupported"

    async def test_a_pin_created_before_the_crash_is_remembered(
        self, adapter: PinterestAdapter, api: respx.MockRouter
    ) -> None:
        create = api.post(f"{API}/pins").mock(return_value=pin("77"))
        await adapter.publish(ACCOUNT, outgoing())
        assert await adapter.find_published(ACCOUNT, outgoing()) == Published(
            id="77", url="https://www.pinterest.com/pin/77/"
        )
        # …and publishing the same step again returns it instead of pinning twice.
        assert (await adapter.publish(ACCOUNT, outgoing())).id == "77"
        assert create.call_count == 1


class TestErrors:
    @pytest.mark.parametrize(
        ("response", "kind", "code"),
        [
            (
                httpx.Response(401, json={"code": 2, "message": "Authentication failed."}),
                AuthExpired,
                "2",
            ),
            (
                httpx.Response(429, json={"code": 8, "message": "Rate limit exceeded"}),
                RateLimited,
                "8",
            ),
            (httpx.Response(500, json={"code": 1, "message": "Internal error"}), Transient, "1"),
            (
                httpx.Response(
                    403,
                    json={
                        "code": 29,
                        "message": "Apps with Trial access may not create Pins in production",
                    },
                ),
                Permanent,
                "trial_access",
            ),
            (
                httpx.Response(404, json={"code": 50, "message": "Pin not found."}),
                Permanent,
                "not_found",
            ),
            (
                httpx.Response(400, json={"code": 1, "message": "Board not found."}),
                Permanent,
                "1",
            ),
            (
                httpx.Response(400, json={"code": 1, "message": "Unable to reach the URL"}),
                Transient,
                "url_unreachable",
            ),
        ],
    )
    def test_classify(
        self, adapter: PinterestAdapter, response: httpx.Response, kind: type, code: str
    ) -> None:
        error = adapter.classify(response)
        assert isinstance(error, kind)
        assert error.code == code

    def test_rate_limit_reset_header(self, adapter: PinterestAdapter) -> None:
        reset = int(datetime(2030, 1, 1, tzinfo=UTC).timestamp())
        error = adapter.classify(
            httpx.Response(429, json={"code": 8}, headers={"x-ratelimit-reset": str(reset)})
        )
        assert error.retry_at == datetime(2030, 1, 1, tzinfo=UTC)


class TestOtherOperations:
    async def test_delete(self, adapter: PinterestAdapter, api: respx.MockRouter) -> None:
        route = api.delete(f"{API}/pins/55").mock(
            side_effect=[httpx.Response(204), httpx.Response(404, json={"code": 50})]
        )
        await adapter.delete(ACCOUNT, "55")
        await adapter.delete(ACCOUNT, "55")  # already gone
        assert route.call_count == 2
        assert route.calls.last.request.headers["authorization"] == AUTH

    async def test_edit_is_unsupported(self, adapter: PinterestAdapter) -> None:
        with pytest.raises(Permanent) as caught:
            await adapter.edit(ACCOUNT, "55", outgoing())
        assert caught.value.code == "unsupported"

    async def test_metrics(self, adapter: PinterestAdapter, api: respx.MockRouter) -> None:
        route = api.get(f"{API}/pins/55/analytics").mock(
            return_value=httpx.Response(
                200,
                json={
                    "all": {
                        "daily_metrics": [],
                        "lifetime_metrics": {
                            "IMPRESSION": 1500,
                            "OUTBOUND_CLICK": 12,
                            "PIN_CLICK": 30,
                            "SAVE": 9,
                            "TOTAL_COMMENTS": 2,
                            "TOTAL_REACTIONS": 41,
                        },
                    }
                },
            )
        )
        metrics = await adapter.metrics(ACCOUNT, "55")
        assert dict(route.calls.last.request.url.params) == {
            "start_date": "2026-08-25",
            "end_date": "2026-11-22",
            "metric_types": (
                "IMPRESSION,OUTBOUND_CLICK,PIN_CLICK,SAVE,TOTAL_COMMENTS,TOTAL_REACTIONS"
            ),
            "app_types": "ALL",
        }
        assert (metrics.impressions, metrics.clicks, metrics.shares) == (1500, 42, 9)
        assert (metrics.comments, metrics.likes, metrics.views) == (2, 41, None)

    async def test_boards_are_the_pages(
        self, adapter: PinterestAdapter, api: respx.MockRouter
    ) -> None:
        route = api.get(f"{API}/boards").mock(
            side_effect=[
                httpx.Response(
                    200,
                    json={
                        "items": [{"id": "1111", "name": "Recipes", "privacy": "PUBLIC"}],
                        "bookmark": "next-1",
                    },
                ),
                httpx.Response(
                    200, json={"items": [{"id": "2222", "name": "Travel"}], "bookmark": None}
                ),
            ]
        )
        boards = await adapter.list_pages(ACCOUNT)
        assert [(b.id, b.name) for b in boards] == [("1111", "Recipes"), ("2222", "Travel")]
        assert boards[0].extra == {"privacy": "PUBLIC"}
        assert [dict(c.request.url.params) for c in route.calls] == [
            {"page_size": "250"},
            {"page_size": "250", "bookmark": "next-1"},
        ]

    async def test_selecting_a_board(
        self, adapter: PinterestAdapter, api: respx.MockRouter
    ) -> None:
        api.get(f"{API}/boards/2222").mock(
            return_value=httpx.Response(200, json={"id": "2222", "name": "Travel"})
        )
        api.get(f"{API}/boards/3333").mock(
            return_value=httpx.Response(404, json={"code": 40, "message": "Board not found."})
        )
        selection = await adapter.select_page(ACCOUNT, "2222")
        assert selection.settings == {"pageId": "2222", "pageName": "Travel"}
        with pytest.raises(Permanent) as caught:
            await adapter.select_page(ACCOUNT, "3333")
        assert caught.value.code == "page_not_found"

    async def test_whoami(self, adapter: PinterestAdapter, api: respx.MockRouter) -> None:
        api.get(f"{API}/user_account").mock(
            return_value=httpx.Response(
                200,
                json={
                    "id": "549755885175",
                    "username": "polypost",
                    "account_type": "BUSINESS",
                    "business_name": "Polypost Inc",
                    "profile_image": "https://i.pinimg.com/p.jpg",
                },
            )
        )
        identity = await adapter.whoami(ACCOUNT)
        assert (identity.external_id, identity.handle, identity.display_name) == (
            "549755885175",
            "polypost",
            "Polypost Inc",
        )

    async def test_the_sandbox_host_for_trial_apps(
        self, adapter: PinterestAdapter, api: respx.MockRouter, runtime: StubRuntime
    ) -> None:
        runtime.settings = SimpleNamespace(  # type: ignore[attr-defined]
            oauth_apps={"pinterest": {"apiBaseUrl": "https://api-sandbox.pinterest.com/v5"}}
        )
        create = api.post("https://api-sandbox.pinterest.com/v5/pins").mock(return_value=pin())
        await adapter.publish(ACCOUNT, outgoing())
        assert create.call_count == 1


class TestOAuth:
    TOKEN = "https://api.pinterest.com/v5/oauth/token"

    async def test_refresh_asks_for_continuous_refresh(
        self, adapter: PinterestAdapter, api: respx.MockRouter
    ) -> None:
        route = api.post(self.TOKEN).mock(
            return_value=httpx.Response(
                200,
                json={
                    "access_token": "pina_new",
                    "refresh_token": "pinr_new",
                    "response_type": "refresh_token",
                    "token_type": "bearer",
                    "expires_in": 2592000,
                    "refresh_token_expires_in": 5184000,
                    "scope": "boards:read,pins:write",
                },
            )
        )
        tokens = await adapter.refresh(ACCOUNT)
        request = route.calls.last.request
        expected = base64.b64encode(b"pin-client:pin-secret").decode()
        assert request.headers["authorization"] == f"Basic {expected}"
        assert form(request) == {
            "grant_type": "refresh_token",
            "refresh_token": "pinr_token",
            "continuous_refresh": "true",
        }
        assert (tokens.access_token, tokens.refresh_token) == ("pina_new", "pinr_new")
        assert tokens.scopes == ("boards:read", "pins:write")

    async def test_a_dead_refresh_token_is_auth_expired(
        self, adapter: PinterestAdapter, api: respx.MockRouter
    ) -> None:
        api.post(self.TOKEN).mock(
            return_value=httpx.Response(400, json={"code": 1, "message": "Invalid refresh token"})
        )
        with pytest.raises(AuthExpired):
            await adapter.refresh(ACCOUNT)

    def test_the_authorize_spec(self, adapter: PinterestAdapter) -> None:
        spec = adapter.oauth
        assert spec.authorize_url == "https://www.pinterest.com/oauth/"
        assert spec.scope_separator == ","
        assert spec.client_auth == "basic"
        assert set(spec.scopes) >= {"boards:read", "pins:write", "user_accounts:read"}


class TestValidation:
    def account(self, **settings: Any) -> SocialAccount:
        return SocialAccount(id="acc_pin", platform="pinterest", settings=settings)

    def draft(self, media: tuple[MediaInfo, ...], **kwargs: Any) -> TargetDraft:
        return TargetDraft(
            account_id="acc_pin",
            platform="pinterest",
            post_type=kwargs.pop("post_type", PostType.CAROUSEL),
            text="Pins",
            media=media,
            options=PinterestOptions.model_validate(kwargs.pop("options", {})),
        )

    async def test_a_board_is_required(self, adapter: PinterestAdapter) -> None:
        problems = await adapter.validate_account(
            self.account(), self.draft((image("md_1"),), post_type=PostType.IMAGE)
        )
        assert [(p.code, p.rule) for p in problems] == [("content_invalid", "board_required")]
        chosen = await adapter.validate_account(
            self.account(pageId="1111"), self.draft((image("md_1"),), post_type=PostType.IMAGE)
        )
        by_option = await adapter.validate_account(
            self.account(),
            self.draft((image("md_1"),), post_type=PostType.IMAGE, options={"boardId": "9"}),
        )
        assert chosen == by_option == []

    async def test_carousel_images_share_an_aspect_ratio(self, adapter: PinterestAdapter) -> None:
        same = (image("md_1"), image("md_2", width=2000, height=3000))
        assert await adapter.validate_account(self.account(pageId="1"), self.draft(same)) == []
        mixed = (image("md_1"), image("md_2", width=1000, height=1000))
        problems = await adapter.validate_account(self.account(pageId="1"), self.draft(mixed))
        assert [(p.code, p.rule) for p in problems] == [
            ("media_invalid", "carousel_aspect_ratio_mismatch")
        ]
        assert "1000x1500, 1000x1000" in problems[0].message
