"""The Facebook Pages adapter against respx: every post type, video processing parked
with `Pending`, first comments, edit/delete/metrics, Page selection, login, recovery and
the Graph error classes (expired Page tokens, usage headers)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx

from polypost.core.timeutil import isoformat, utcnow
from polypost.platforms.base import (
    Article,
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
from polypost.platforms.facebook.adapter import FacebookAdapter
from polypost.platforms.options import FacebookOptions
from tests.platforms.helpers import body, form
from tests.platforms.instagram.graph import (
    MetaRuntime,
    app_usage,
    buc_usage,
    graph_error,
    log,
    ok,
    params,
)

API = "https://graph.facebook.com/v23.0"
VIDEO_API = "https://graph-video.facebook.com/v23.0"
RUPLOAD = "https://rupload.facebook.com/video-upload/v23.0"
PAGE = "1020000000000001"
POST_ID = f"{PAGE}_3300000000000001"
PERMALINK = f"https://www.facebook.com/{PAGE}/posts/3300000000000001"
STORAGE = "https://storage.example.com"
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
AUTH = "Bearer page-token"
USER_AUTH = "Bearer EAAuser"


def media(media_id: str, kind: MediaKind = MediaKind.IMAGE) -> MediaInfo:
    return MediaInfo(
        id=media_id,
        kind=kind,
        content_type="video/mp4" if kind is MediaKind.VIDEO else "image/jpeg",
        size=1000,
        url=f"{STORAGE}/{media_id}?sig=1",
    )


def outgoing(text: str = "Hello Page", **kwargs: object) -> Outgoing:
    return Outgoing(
        target_id="tgt_fb",
        key=kwargs.pop("key", "tgt_fb:main"),  # type: ignore[arg-type]
        post_type=kwargs.pop("post_type", PostType.TEXT),  # type: ignore[arg-type]
        text=text,
        **kwargs,  # type: ignore[arg-type]
    )


def video_status(
    video_status: str, publishing: str | None = None, **phases: object
) -> httpx.Response:
    status: dict[str, object] = {"video_status": video_status, **phases}
    if publishing is not None:
        status["publishing_phase"] = {
            "status": publishing,
            "publish_status": "published" if publishing == "complete" else None,
        }
    return ok({"id": "v", "status": status})


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def runtime(client: httpx.AsyncClient) -> MetaRuntime:
    return MetaRuntime(http=client)


@pytest.fixture
def adapter(runtime: MetaRuntime) -> FacebookAdapter:
    adapter = FacebookAdapter(runtime)  # type: ignore[arg-type]
    adapter.now = lambda: NOW
    return adapter


@pytest.fixture
def account(runtime: MetaRuntime) -> Credentials:
    return Credentials(
        account_id="acc_fb",
        platform=Platform.FACEBOOK,
        external_id="10150000000000001",
        access_token="EAAuser",
        settings={
            "pageId": PAGE,
            "pageName": "Acme",
            "pageTokenEnc": runtime.cipher.encrypt("page-token"),
        },
    )


@pytest.fixture
def graph() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


def permalink(graph: respx.MockRouter, object_id: str, url: str = PERMALINK) -> respx.Route:
    return graph.get(f"{API}/{object_id}", params={"fields": "permalink_url"}).mock(
        return_value=ok({"id": object_id, "permalink_url": url})
    )


class TestFeed:
    async def test_text(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        feed = graph.post(f"{API}/{PAGE}/feed").mock(return_value=ok({"id": POST_ID}))
        link = permalink(graph, POST_ID)
        published = await adapter.publish(account, outgoing("Hello Page"))
        assert published == Published(id=POST_ID, url=PERMALINK)
        request = feed.calls.last.request
        assert request.headers["authorization"] == AUTH
        assert request.headers["content-type"] == "application/json"
        assert body(request) == {"message": "Hello Page"}
        assert params(link.calls.last.request) == {"fields": "permalink_url"}
        assert link.calls.last.request.headers["authorization"] == AUTH

    async def test_link(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        feed = graph.post(f"{API}/{PAGE}/feed").mock(return_value=ok({"id": POST_ID}))
        permalink(graph, POST_ID)
        await adapter.publish(account, outgoing("Read this", link="https://example.com/a"))
        assert body(feed.calls.last.request) == {
            "message": "Read this",
            "link": "https://example.com/a",
        }

    async def test_article(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        feed = graph.post(f"{API}/{PAGE}/feed").mock(return_value=ok({"id": POST_ID}))
        permalink(graph, POST_ID)
        post = outgoing(
            "Our write-up",
            post_type=PostType.ARTICLE,
            article=Article(url="https://blog.example.com/p", title="How"),
        )
        await adapter.publish(account, post)
        assert body(feed.calls.last.request) == {
            "message": "Our write-up",
            "link": "https://blog.example.com/p",
        }

    async def test_nothing_to_post(self, adapter: FacebookAdapter, account: Credentials) -> None:
        with pytest.raises(Permanent) as raised:
            await adapter.publish(account, outgoing(""))
        assert raised.value.code == "content_invalid"

    async def test_a_lost_answer_may_have_published(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        graph.post(f"{API}/{PAGE}/feed").mock(side_effect=httpx.ReadTimeout("lost"))
        with pytest.raises(Transient) as raised:
            await adapter.publish(account, outgoing())
        assert raised.value.maybe_sent


class TestPhotos:
    async def test_one_image(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        photos = graph.post(f"{API}/{PAGE}/photos").mock(
            return_value=ok({"id": "ph1", "post_id": POST_ID})
        )
        permalink(graph, POST_ID)
        post = outgoing(
            "Menu", post_type=PostType.IMAGE, media=(media("md_1"),), alt_texts={"md_1": "A menu"}
        )
        assert await adapter.publish(account, post) == Published(id=POST_ID, url=PERMALINK)
        request = photos.calls.last.request
        assert request.headers["authorization"] == AUTH
        assert form(request) == {
            "url": f"{STORAGE}/md_1?sig=1",
            "alt_text_custom": "A menu",
            "published": "true",
            "message": "Menu",
        }

    async def test_several_images_are_attached_to_one_post(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        photos = graph.post(f"{API}/{PAGE}/photos").mock(
            side_effect=[ok({"id": "ph1"}), ok({"id": "ph2"})]
        )
        feed = graph.post(f"{API}/{PAGE}/feed").mock(return_value=ok({"id": POST_ID}))
        permalink(graph, POST_ID)
        post = outgoing(
            "Album",
            post_type=PostType.CAROUSEL,
            media=(media("md_1"), media("md_2")),
            link="https://example.com/ignored",
        )
        await adapter.publish(account, post)
        assert [form(c.request) for c in photos.calls] == [
            {"url": f"{STORAGE}/md_1?sig=1", "published": "false"},
            {"url": f"{STORAGE}/md_2?sig=1", "published": "false"},
        ]
        assert body(feed.calls.last.request) == {
            "attached_media": [{"media_fbid": "ph1"}, {"media_fbid": "ph2"}],
            "message": "Album",
        }

    async def test_uploaded_photos_are_reused_after_a_failure(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        photos = graph.post(f"{API}/{PAGE}/photos").mock(
            side_effect=[
                ok({"id": "ph1"}),
                graph_error(500, 2, message="Service temporarily unavailable"),
                ok({"id": "ph2"}),
            ]
        )
        graph.post(f"{API}/{PAGE}/feed").mock(return_value=ok({"id": POST_ID}))
        permalink(graph, POST_ID)
        post = outgoing("Album", post_type=PostType.CAROUSEL, media=(media("md_1"), media("md_2")))
        with pytest.raises(Transient):
            await adapter.publish(account, post)
        await adapter.publish(account, post)
        assert [form(c.request)["url"] for c in photos.calls] == [
            f"{STORAGE}/md_1?sig=1",
            f"{STORAGE}/md_2?sig=1",
            f"{STORAGE}/md_2?sig=1",
        ]

    async def test_an_oversized_photo_is_permanent(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        graph.post(f"{API}/{PAGE}/photos").mock(
            return_value=graph_error(400, 100, 1366046, error_user_msg="Photo is too large")
        )
        post = outgoing("Big", post_type=PostType.IMAGE, media=(media("md_1"),))
        with pytest.raises(Permanent) as raised:
            await adapter.publish(account, post)
        assert raised.value.code == "100/1366046"
        assert "Photo is too large" in raised.value.message


class TestVideo:
    async def test_video_is_pulled_by_url_and_parked_until_ready(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        upload = graph.post(f"{VIDEO_API}/{PAGE}/videos").mock(return_value=ok({"id": "vid1"}))
        polls = graph.get(f"{API}/vid1", params={"fields": "status"}).mock(
            side_effect=[
                video_status("processing", processing_phase={"status": "in_progress"}),
                video_status("ready"),
            ]
        )
        permalink(graph, "vid1", "/acme/videos/vid1/")
        options = FacebookOptions.model_validate({"title": "Launch"})
        post = outgoing(
            "Watch",
            post_type=PostType.VIDEO,
            media=(media("md_v", MediaKind.VIDEO),),
            options=options,
        )
        with pytest.raises(Pending) as parked:
            await adapter.publish(account, post)
        assert parked.value.stage == "processing"
        assert parked.value.retry_in == timedelta(seconds=10)
        assert parked.value.state["video"] == "vid1"
        assert parked.value.state["deadline"] == isoformat(NOW + timedelta(minutes=30))
        json.dumps(parked.value.state)

        published = await adapter.publish(account, replace(post, resume=parked.value.state))
        assert published == Published(id="vid1", url="https://www.facebook.com/acme/videos/vid1/")
        assert upload.call_count == 1
        assert polls.call_count == 2
        request = upload.calls.last.request
        assert request.headers["authorization"] == AUTH
        assert form(request) == {
            "file_url": f"{STORAGE}/md_v?sig=1",
            "published": "true",
            "description": "Watch",
            "title": "Launch",
        }

    async def test_a_processing_error_is_reported(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        graph.post(f"{VIDEO_API}/{PAGE}/videos").mock(return_value=ok({"id": "vid1"}))
        graph.get(f"{API}/vid1", params={"fields": "status"}).mock(
            return_value=video_status(
                "error",
                processing_phase={
                    "status": "error",
                    "errors": [{"code": 1363008, "message": "Video is too short"}],
                },
            )
        )
        post = outgoing("Watch", post_type=PostType.VIDEO, media=(media("md_v", MediaKind.VIDEO),))
        with pytest.raises(Permanent) as raised:
            await adapter.publish(account, post)
        assert "Video is too short" in raised.value.message

    async def test_processing_past_the_deadline(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        graph.post(f"{VIDEO_API}/{PAGE}/videos").mock(return_value=ok({"id": "vid1"}))
        graph.get(f"{API}/vid1", params={"fields": "status"}).mock(
            return_value=video_status("processing")
        )
        post = outgoing("Watch", post_type=PostType.VIDEO, media=(media("md_v", MediaKind.VIDEO),))
        with pytest.raises(Pending) as parked:
            await adapter.publish(account, post)
        adapter.now = lambda: NOW + timedelta(minutes=45)
        with pytest.raises(Permanent) as raised:
            await adapter.publish(account, replace(post, resume=parked.value.state))
        assert raised.value.code == "processing_timeout"


class TestReel:
    def mock_reel(
        self, graph: respx.MockRouter, statuses: list[httpx.Response]
    ) -> dict[str, respx.Route]:
        return {
            "reels": graph.post(f"{API}/{PAGE}/video_reels").mock(
                side_effect=[
                    ok({"video_id": "r1", "upload_url": f"{RUPLOAD}/r1"}),
                    ok({"success": True}),
                ]
            ),
            "upload": graph.post(f"{RUPLOAD}/r1").mock(return_value=ok({"success": True})),
            "status": graph.get(f"{API}/r1", params={"fields": "status"}).mock(
                side_effect=statuses
            ),
        }

    async def test_start_upload_finish_then_poll(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        routes = self.mock_reel(
            graph,
            [
                video_status("processing", "not_started"),
                video_status("ready", "complete"),
            ],
        )
        post = outgoing("Reel!", post_type=PostType.REEL, media=(media("md_v", MediaKind.VIDEO),))
        with pytest.raises(Pending) as parked:
            await adapter.publish(account, post)
        published = await adapter.publish(account, replace(post, resume=parked.value.state))

        assert published == Published(id="r1", url="https://www.facebook.com/reel/r1")
        assert log(graph) == [
            f"POST {API}/{PAGE}/video_reels",
            f"POST {RUPLOAD}/r1",
            f"POST {API}/{PAGE}/video_reels",
            f"GET {API}/r1",
            f"GET {API}/r1",
        ]
        start, finish = (c.request for c in routes["reels"].calls)
        assert form(start) == {"upload_phase": "start"}
        assert form(finish) == {
            "upload_phase": "finish",
            "video_id": "r1",
            "video_state": "PUBLISHED",
            "description": "Reel!",
        }
        upload = routes["upload"].calls.last.request
        assert upload.headers["authorization"] == "OAuth page-token"
        assert upload.headers["file_url"] == f"{STORAGE}/md_v?sig=1"
        assert upload.content == b""

    async def test_a_video_with_as_reel(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        self.mock_reel(graph, [video_status("ready", "complete")])
        options = FacebookOptions.model_validate({"asReel": True})
        post = outgoing(
            "Reel!",
            post_type=PostType.VIDEO,
            media=(media("md_v", MediaKind.VIDEO),),
            options=options,
        )
        assert (await adapter.publish(account, post)).id == "r1"

    async def test_a_failed_upload_is_retried_in_the_same_session(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        routes = self.mock_reel(graph, [video_status("ready", "complete")])
        routes["upload"].mock(
            side_effect=[
                httpx.Response(
                    500, json={"debug_info": {"retriable": True, "message": "Try again"}}
                ),
                ok({"success": True}),
            ]
        )
        post = outgoing("Reel!", post_type=PostType.REEL, media=(media("md_v", MediaKind.VIDEO),))
        with pytest.raises(Transient):
            await adapter.publish(account, post)
        assert (await adapter.publish(account, post)).id == "r1"
        assert routes["reels"].call_count == 2  # one start, one finish

    async def test_the_daily_reel_limit(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        routes = self.mock_reel(graph, [])
        routes["reels"].mock(
            return_value=graph_error(
                400,
                80001,
                message="There have been too many calls to this Page account",
                headers=buc_usage(PAGE, 100, 25, "pages"),
            )
        )
        post = outgoing("Reel!", post_type=PostType.REEL, media=(media("md_v", MediaKind.VIDEO),))
        before = utcnow()
        with pytest.raises(RateLimited) as raised:
            await adapter.publish(account, post)
        assert raised.value.retry_at is not None
        assert raised.value.retry_at >= before + timedelta(minutes=25)


class TestStory:
    async def test_photo_story(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        photos = graph.post(f"{API}/{PAGE}/photos").mock(return_value=ok({"id": "ph1"}))
        story = graph.post(f"{API}/{PAGE}/photo_stories").mock(
            return_value=ok({"success": True, "post_id": "st1"})
        )
        post = outgoing("", post_type=PostType.STORY, media=(media("md_1"),))
        assert await adapter.publish(account, post) == Published(id="st1")
        assert form(photos.calls.last.request) == {
            "url": f"{STORAGE}/md_1?sig=1",
            "published": "false",
        }
        assert form(story.calls.last.request) == {"photo_id": "ph1"}

    async def test_video_story(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        stories = graph.post(f"{API}/{PAGE}/video_stories").mock(
            side_effect=[
                ok({"video_id": "sv1", "upload_url": f"{RUPLOAD}/sv1"}),
                ok({"success": True, "post_id": "st2"}),
            ]
        )
        upload = graph.post(f"{RUPLOAD}/sv1").mock(return_value=ok({"success": True}))
        post = outgoing("", post_type=PostType.STORY, media=(media("md_v", MediaKind.VIDEO),))
        assert await adapter.publish(account, post) == Published(id="st2")
        assert [form(c.request) for c in stories.calls] == [
            {"upload_phase": "start"},
            {"upload_phase": "finish", "video_id": "sv1"},
        ]
        assert upload.calls.last.request.headers["file_url"] == f"{STORAGE}/md_v?sig=1"


class TestFirstComment:
    async def test_comment_as_the_page(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        route = graph.post(f"{API}/{POST_ID}/comments").mock(
            return_value=ok({"id": f"{POST_ID}_c1"})
        )
        post = outgoing("First!", key="tgt_fb:comment", reply_to=Published(id=POST_ID))
        assert await adapter.comment(account, post) == Published(id=f"{POST_ID}_c1")
        assert form(route.calls.last.request) == {"message": "First!"}
        assert route.calls.last.request.headers["authorization"] == AUTH


class TestPageTokenAndErrors:
    async def test_no_page_selected(self, adapter: FacebookAdapter, account: Credentials) -> None:
        with pytest.raises(Permanent) as raised:
            await adapter.publish(replace(account, settings={}), outgoing())
        assert raised.value.code == "page_not_selected"

    async def test_an_unreadable_page_token(
        self, adapter: FacebookAdapter, account: Credentials
    ) -> None:
        broken = replace(account, settings={"pageId": PAGE, "pageTokenEnc": "garbage"})
        with pytest.raises(AuthExpired):
            await adapter.publish(broken, outgoing())

    async def test_an_expired_page_token(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        graph.post(f"{API}/{PAGE}/feed").mock(
            return_value=graph_error(
                400,
                190,
                460,
                message="Error validating access token: The session has been invalidated "
                "because the user changed their password.",
            )
        )
        with pytest.raises(AuthExpired) as raised:
            await adapter.publish(account, outgoing())
        assert raised.value.code == "190/460"

    async def test_no_role_on_the_page(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        graph.post(f"{API}/{PAGE}/feed").mock(
            return_value=graph_error(
                400,
                190,
                message="(#190) This method must be called with a Page Access Token; "
                "pages_manage_posts permission(s) must be granted before impersonating a "
                "user's page.",
            )
        )
        with pytest.raises(Permanent):
            await adapter.publish(account, outgoing())

    async def test_app_usage_over_the_limit(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        graph.post(f"{API}/{PAGE}/feed").mock(
            return_value=graph_error(400, 4, headers=app_usage(100, 40, 60))
        )
        with pytest.raises(RateLimited):
            await adapter.publish(account, outgoing())

    async def test_page_business_use_case_limit(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        graph.post(f"{API}/{PAGE}/feed").mock(
            return_value=graph_error(400, 32, headers=buc_usage(PAGE, 100, 42, "pages"))
        )
        before = utcnow()
        with pytest.raises(RateLimited) as raised:
            await adapter.publish(account, outgoing())
        assert raised.value.retry_at is not None
        assert before + timedelta(minutes=42) <= raised.value.retry_at

    async def test_duplicate_post(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        graph.post(f"{API}/{PAGE}/feed").mock(
            return_value=graph_error(400, 506, message="Duplicate status message")
        )
        with pytest.raises(Permanent) as raised:
            await adapter.publish(account, outgoing())
        assert raised.value.code == "duplicate_content"

    async def test_server_error(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        graph.post(f"{API}/{PAGE}/feed").mock(
            return_value=graph_error(500, 1, message="An unknown error has occurred.")
        )
        with pytest.raises(Transient) as raised:
            await adapter.publish(account, outgoing())
        assert not raised.value.maybe_sent


class TestRecovery:
    async def test_a_text_post_is_found_among_the_page_posts(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        route = graph.get(f"{API}/{PAGE}/posts").mock(
            return_value=ok(
                {
                    "data": [
                        {
                            "id": f"{PAGE}_9",
                            "message": "Other",
                            "created_time": "2026-11-22T09:59:00+0000",
                        },
                        {
                            "id": POST_ID,
                            "message": "Hello Page",
                            "created_time": "2026-11-22T09:58:00+0000",
                            "permalink_url": PERMALINK,
                        },
                    ]
                }
            )
        )
        assert await adapter.find_published(account, outgoing()) == Published(
            id=POST_ID, url=PERMALINK
        )
        assert params(route.calls.last.request) == {
            "fields": "id,message,created_time,permalink_url",
            "limit": "25",
        }

    async def test_a_reel_whose_finish_was_lost(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        graph.post(f"{API}/{PAGE}/video_reels").mock(
            side_effect=[
                ok({"video_id": "r1", "upload_url": f"{RUPLOAD}/r1"}),
                httpx.ReadTimeout("lost"),
            ]
        )
        graph.post(f"{RUPLOAD}/r1").mock(return_value=ok({"success": True}))
        post = outgoing("Reel!", post_type=PostType.REEL, media=(media("md_v", MediaKind.VIDEO),))
        with pytest.raises(Transient) as raised:
            await adapter.publish(account, post)
        assert raised.value.maybe_sent
        status = graph.get(f"{API}/r1", params={"fields": "status"}).mock(
            side_effect=[
                video_status("processing", "not_started"),
                video_status("processing", "in_progress"),
            ]
        )
        assert await adapter.find_published(account, post) is None
        assert await adapter.find_published(account, post) == Published(
            id="r1", url="https://www.facebook.com/reel/r1"
        )
        assert status.call_count == 2

    async def test_stories_cannot_be_looked_up(
        self, adapter: FacebookAdapter, account: Credentials
    ) -> None:
        post = outgoing("", post_type=PostType.STORY, media=(media("md_1"),))
        with pytest.raises(Permanent) as raised:
            await adapter.find_published(account, post)
        assert raised.value.code == "unsupported"

    async def test_a_first_comment_by_the_page(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        route = graph.get(f"{API}/{POST_ID}/comments").mock(
            return_value=ok(
                {
                    "data": [
                        {"id": "c_fan", "message": "First!", "from": {"id": "42", "name": "Fan"}},
                        {"id": "c_page", "message": "First!", "from": {"id": PAGE, "name": "Acme"}},
                    ]
                }
            )
        )
        post = outgoing("First!", key="tgt_fb:comment", reply_to=Published(id=POST_ID))
        assert await adapter.find_published(account, post) == Published(id="c_page")
        assert params(route.calls.last.request) == {
            "fields": "id,message,from,created_time,like_count,comment_count,is_hidden,parent",
            "filter": "stream",
            "order": "reverse_chronological",
            "limit": "50",
        }


class TestEditDeleteMetrics:
    async def test_edit_a_post(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        route = graph.post(f"{API}/{POST_ID}").mock(return_value=ok({"success": True}))
        permalink(graph, POST_ID)
        published = await adapter.edit(account, POST_ID, outgoing("Fixed typo"))
        assert published == Published(id=POST_ID, url=PERMALINK)
        assert form(route.calls.last.request) == {"message": "Fixed typo"}
        assert route.calls.last.request.headers["authorization"] == AUTH

    async def test_edit_a_video(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        route = graph.post(f"{API}/vid1").mock(return_value=ok({"success": True}))
        permalink(graph, "vid1")
        await adapter.edit(account, "vid1", outgoing("New description"))
        assert form(route.calls.last.request) == {"description": "New description"}

    async def test_delete(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        route = graph.delete(f"{API}/{POST_ID}").mock(return_value=ok({"success": True}))
        await adapter.delete(account, POST_ID)
        assert route.calls.last.request.headers["authorization"] == AUTH

    async def test_delete_of_a_deleted_post_succeeds(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        graph.delete(f"{API}/{POST_ID}").mock(
            return_value=graph_error(400, 100, 33, message="Object does not exist")
        )
        await adapter.delete(account, POST_ID)

    async def test_post_metrics(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        counters = graph.get(f"{API}/{POST_ID}").mock(
            return_value=ok(
                {
                    "shares": {"count": 3},
                    "reactions": {"data": [], "summary": {"total_count": 10}},
                    "comments": {"data": [], "summary": {"total_count": 4}},
                }
            )
        )
        insights = graph.get(f"{API}/{POST_ID}/insights").mock(
            return_value=ok(
                {
                    "data": [
                        {
                            "name": "post_total_media_view_unique",
                            "period": "lifetime",
                            "values": [{"value": 900}],
                        },
                        {
                            "name": "post_media_view",
                            "values": [{"value": {"paid": 100, "organic": 1100}}],
                        },
                        {"name": "post_clicks", "values": [{"value": 31}]},
                    ]
                }
            )
        )
        metrics = await adapter.metrics(account, POST_ID)
        assert (
            metrics.likes,
            metrics.comments,
            metrics.shares,
            metrics.reach,
            metrics.impressions,
            metrics.clicks,
        ) == (10, 4, 3, 900, 1200, 31)
        assert params(counters.calls.last.request) == {
            "fields": "shares,reactions.summary(total_count).limit(0),"
            "comments.summary(total_count).limit(0)"
        }
        assert params(insights.calls.last.request) == {
            "metric": "post_total_media_view_unique,post_media_view,post_clicks"
        }

    async def test_missing_insights_leave_the_counters(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        graph.get(f"{API}/{POST_ID}").mock(
            return_value=ok({"reactions": {"summary": {"total_count": 1}}})
        )
        graph.get(f"{API}/{POST_ID}/insights").mock(
            return_value=graph_error(
                400, 100, message="(#100) The value must be a valid insights metric"
            )
        )
        metrics = await adapter.metrics(account, POST_ID)
        assert metrics.likes == 1
        assert metrics.shares == 0
        assert metrics.reach is None

    async def test_video_metrics(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        graph.get(f"{API}/vid1").mock(
            return_value=ok(
                {
                    "likes": {"summary": {"total_count": 5}},
                    "comments": {"summary": {"total_count": 2}},
                }
            )
        )
        insights = graph.get(f"{API}/vid1/video_insights").mock(
            return_value=ok({"data": [{"name": "total_video_views", "values": [{"value": 77}]}]})
        )
        metrics = await adapter.metrics(account, "vid1")
        assert (metrics.likes, metrics.comments, metrics.views) == (5, 2, 77)
        assert params(insights.calls.last.request) == {"metric": "total_video_views"}


class TestPages:
    async def test_list_follows_paging_with_the_user_token(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        route = graph.get(f"{API}/me/accounts").mock(
            side_effect=[
                ok(
                    {
                        "data": [
                            {
                                "id": PAGE,
                                "name": "Acme",
                                "username": "acme",
                                "tasks": [
                                    "ANALYZE",
                                    "ADVERTISE",
                                    "MODERATE",
                                    "CREATE_CONTENT",
                                    "MANAGE",
                                ],
                                "picture": {"data": {"url": "https://cdn.example.com/acme.jpg"}},
                                "instagram_business_account": {"id": "1784", "username": "acme.ig"},
                            }
                        ],
                        "paging": {"next": f"{API}/me/accounts?after=QVFI&limit=100"},
                    }
                ),
                ok({"data": [{"id": "2", "name": "Analytics only", "tasks": ["ANALYZE"]}]}),
            ]
        )
        pages = await adapter.list_pages(account)
        assert [(p.id, p.name, p.can_publish) for p in pages] == [
            (PAGE, "Acme", True),
            ("2", "Analytics only", False),
        ]
        assert pages[0].picture_url == "https://cdn.example.com/acme.jpg"
        assert pages[0].extra == {"instagramAccountId": "1784", "instagramUsername": "acme.ig"}
        first, second = (c.request for c in route.calls)
        assert first.headers["authorization"] == USER_AUTH
        assert params(first) == {
            "fields": "id,name,username,tasks,picture.type(large),"
            "instagram_business_account{id,username}",
            "limit": "100",
        }
        assert params(second) == {"after": "QVFI", "limit": "100"}

    async def test_select_reads_the_page_token(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        route = graph.get(f"{API}/{PAGE}").mock(
            return_value=ok(
                {
                    "id": PAGE,
                    "name": "Acme",
                    "username": "acme",
                    "tasks": ["CREATE_CONTENT"],
                    "access_token": "new-page-token",
                }
            )
        )
        selection = await adapter.select_page(account, PAGE)
        assert selection.secret == "new-page-token"
        assert selection.settings == {
            "pageId": PAGE,
            "pageName": "Acme",
            "pageUsername": "acme",
            "pagePictureUrl": None,
        }
        assert route.calls.last.request.headers["authorization"] == USER_AUTH
        assert params(route.calls.last.request)["fields"].endswith(",access_token")

    async def test_select_a_page_without_a_role(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        graph.get(f"{API}/{PAGE}").mock(return_value=ok({"id": PAGE, "name": "Someone else's"}))
        with pytest.raises(Permanent) as raised:
            await adapter.select_page(account, PAGE)
        assert raised.value.code == "page_not_found"

    async def test_select_a_page_without_create_content(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        graph.get(f"{API}/{PAGE}").mock(
            return_value=ok({"id": PAGE, "name": "Acme", "tasks": ["ANALYZE"], "access_token": "t"})
        )
        with pytest.raises(Permanent) as raised:
            await adapter.select_page(account, PAGE)
        assert raised.value.code == "page_forbidden"

    async def test_select_an_unknown_page(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        graph.get(f"{API}/999").mock(
            return_value=graph_error(400, 100, 33, message="Object with ID '999' does not exist")
        )
        with pytest.raises(Permanent) as raised:
            await adapter.select_page(account, "999")
        assert raised.value.code == "page_not_found"


class TestLogin:
    def test_oauth_spec(self, adapter: FacebookAdapter) -> None:
        assert adapter.oauth.authorize_url == "https://www.facebook.com/v23.0/dialog/oauth"
        assert adapter.oauth.token_url == f"{API}/oauth/access_token"
        assert adapter.oauth.scope_separator == ","
        assert "pages_manage_posts" in adapter.oauth.scopes
        assert adapter.oauth.pkce is False

    async def test_exchange_code_for_a_long_lived_token(
        self, adapter: FacebookAdapter, graph: respx.MockRouter
    ) -> None:
        tokens_route = graph.get(f"{API}/oauth/access_token").mock(
            side_effect=[
                ok({"access_token": "EAAshort", "token_type": "bearer", "expires_in": 5400}),
                ok({"access_token": "EAAlong", "token_type": "bearer", "expires_in": 5184000}),
            ]
        )
        permissions = graph.get(f"{API}/me/permissions").mock(
            return_value=ok(
                {
                    "data": [
                        {"permission": "pages_show_list", "status": "granted"},
                        {"permission": "pages_manage_posts", "status": "granted"},
                        {"permission": "read_insights", "status": "declined"},
                    ]
                }
            )
        )
        tokens = await adapter.exchange_code(
            AppCredentials("app-id", "app-secret"), "the-code", "https://api.example.com/cb", None
        )
        assert tokens.access_token == "EAAlong"
        assert tokens.scopes == ("pages_show_list", "pages_manage_posts")
        assert tokens.expires_at is not None
        assert tokens.expires_at - utcnow() > timedelta(days=59)
        short, long = (c.request for c in tokens_route.calls)
        assert params(short) == {
            "client_id": "app-id",
            "client_secret": "app-secret",
            "redirect_uri": "https://api.example.com/cb",
            "code": "the-code",
        }
        assert params(long) == {
            "grant_type": "fb_exchange_token",
            "client_id": "app-id",
            "client_secret": "app-secret",
            "fb_exchange_token": "EAAshort",
        }
        assert permissions.calls.last.request.headers["authorization"] == "Bearer EAAlong"

    async def test_a_declined_publishing_permission_refuses_the_connect(
        self, adapter: FacebookAdapter, graph: respx.MockRouter
    ) -> None:
        graph.get(f"{API}/oauth/access_token").mock(
            side_effect=[ok({"access_token": "EAAshort"}), ok({"access_token": "EAAlong"})]
        )
        graph.get(f"{API}/me/permissions").mock(
            return_value=ok({"data": [{"permission": "pages_show_list", "status": "granted"}]})
        )
        with pytest.raises(Permanent) as raised:
            await adapter.exchange_code(AppCredentials("a", "s"), "c", "https://x.example/cb", None)
        assert raised.value.code == "permission_declined"
        assert "pages_manage_posts" in raised.value.message

    async def test_an_invalid_code(self, adapter: FacebookAdapter, graph: respx.MockRouter) -> None:
        graph.get(f"{API}/oauth/access_token").mock(
            return_value=graph_error(400, 100, 36007, message="Invalid verification code format.")
        )
        with pytest.raises(Permanent):
            await adapter.exchange_code(AppCredentials("a", "s"), "c", "https://x.example/cb", None)

    async def test_whoami(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        route = graph.get(f"{API}/me").mock(
            return_value=ok(
                {
                    "id": "10150000000000001",
                    "name": "Ada",
                    "picture": {"data": {"url": "https://cdn.example.com/ada.jpg"}},
                }
            )
        )
        identity = await adapter.whoami(account)
        assert (identity.external_id, identity.display_name, identity.avatar_url) == (
            "10150000000000001",
            "Ada",
            "https://cdn.example.com/ada.jpg",
        )
        assert params(route.calls.last.request) == {"fields": "id,name,picture"}
        assert route.calls.last.request.headers["authorization"] == USER_AUTH

    async def test_refresh_re_exchanges_the_user_token(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        route = graph.get(f"{API}/oauth/access_token").mock(
            return_value=ok({"access_token": "EAAnew", "expires_in": 5184000})
        )
        tokens = await adapter.refresh(replace(account, app=AppCredentials("app-id", "sec")))
        assert tokens.access_token == "EAAnew"
        assert params(route.calls.last.request)["fb_exchange_token"] == "EAAuser"

    async def test_refresh_of_a_revoked_token(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        graph.get(f"{API}/oauth/access_token").mock(
            return_value=graph_error(
                400, 190, 458, message="The user has not authorized application"
            )
        )
        with pytest.raises(AuthExpired):
            await adapter.refresh(replace(account, app=AppCredentials("app-id", "sec")))

    async def test_revoke(
        self, adapter: FacebookAdapter, account: Credentials, graph: respx.MockRouter
    ) -> None:
        route = graph.delete(f"{API}/me/permissions").mock(return_value=ok({"success": True}))
        await adapter.revoke(account)
        assert route.calls.last.request.headers["authorization"] == USER_AUTH
