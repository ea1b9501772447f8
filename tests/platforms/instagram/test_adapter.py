"""The Instagram adapter against respx: containers, parking while Meta processes,
publishing, the 24-hour cap, recovery, comments, insights, accounts and errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx

from polypost.core.timeutil import isoformat
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
from polypost.platforms.instagram.adapter import InstagramAdapter
from polypost.platforms.options import InstagramOptions
from tests.platforms.helpers import StubRuntime, form
from tests.platforms.instagram.graph import graph_error, log, ok, params

API = "https://graph.instagram.com/v23.0"
FB = "https://graph.facebook.com/v23.0"
USER = "17841400000000001"
MEDIA_ID = "17900000000000001"
PERMALINK = "https://www.instagram.com/p/DAbCdEf/"
STORAGE = "https://storage.example.com"
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
ACCOUNT = Credentials(
    account_id="acc_ig",
    platform=Platform.INSTAGRAM,
    external_id=USER,
    access_token="IGAAtoken",
    handle="polypost",
)
FB_ACCOUNT = replace(ACCOUNT, access_token="EAAtoken", settings={"login": "facebook"})
AUTH = "Bearer IGAAtoken"
QUOTA = f"{API}/{USER}/content_publishing_limit"
CREATE = f"{API}/{USER}/media"
PUBLISH = f"{API}/{USER}/media_publish"


def media(media_id: str, kind: MediaKind = MediaKind.IMAGE) -> MediaInfo:
    return MediaInfo(
        id=media_id,
        kind=kind,
        content_type="video/mp4" if kind is MediaKind.VIDEO else "image/jpeg",
        size=1000,
        url=f"{STORAGE}/{media_id}?sig=1",
    )


def outgoing(text: str = "Golden hour", **kwargs: object) -> Outgoing:
    kwargs.setdefault("media", (media("md_1"),))
    return Outgoing(
        target_id="tgt_ig",
        key=kwargs.pop("key", "tgt_ig:main"),  # type: ignore[arg-type]
        post_type=kwargs.pop("post_type", PostType.IMAGE),  # type: ignore[arg-type]
        text=text,
        **kwargs,  # type: ignore[arg-type]
    )


def status(code: str, detail: str | None = None) -> httpx.Response:
    return ok({"status_code": code, "status": detail or code, "id": "c"})


def quota_body(used: int, total: int = 50) -> httpx.Response:
    return ok(
        {"data": [{"quota_usage": used, "config": {"quota_total": total, "quota_duration": 86400}}]}
    )


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def adapter(client: httpx.AsyncClient) -> InstagramAdapter:
    adapter = InstagramAdapter(StubRuntime(http=client))  # type: ignore[arg-type]
    adapter.now = lambda: NOW
    return adapter


@pytest.fixture
def graph() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


def mock_flow(
    graph: respx.MockRouter,
    containers: list[str],
    statuses: dict[str, list[httpx.Response]] | None = None,
    used: int = 3,
) -> None:
    """The quota has room; containers are created in order and FINISHED unless
    `statuses` scripts them; publishing answers MEDIA_ID with a readable permalink."""
    graph.get(QUOTA, name="quota").mock(return_value=quota_body(used))
    graph.post(CREATE, name="create").mock(side_effect=[ok({"id": c}) for c in containers])
    for container in containers:
        answers = (statuses or {}).get(container) or [status("FINISHED")]
        graph.get(f"{API}/{container}", name=f"status:{container}").mock(side_effect=answers)
    graph.post(PUBLISH, name="publish").mock(return_value=ok({"id": MEDIA_ID}))
    graph.get(f"{API}/{MEDIA_ID}", name="permalink").mock(
        return_value=ok({"id": MEDIA_ID, "permalink": PERMALINK})
    )


def created(graph: respx.MockRouter) -> list[dict[str, str]]:
    return [form(call.request) for call in graph.routes["create"].calls]


class TestPublishImage:
    async def test_exact_requests(self, adapter: InstagramAdapter, graph: respx.MockRouter) -> None:
        mock_flow(graph, ["c1"])
        options = InstagramOptions.model_validate(
            {
                "locationId": "123456",
                "collaborators": ["friend.one"],
                "userTags": [{"username": "bob", "x": 0.2, "y": 0.8}, {"username": "amy"}],
            }
        )
        post = outgoing("Golden hour #sun", alt_texts={"md_1": "A sunset"}, options=options)

        published = await adapter.publish(ACCOUNT, post)

        assert published == Published(id=MEDIA_ID, url=PERMALINK)
        assert log(graph) == [
            f"GET {QUOTA}",
            f"POST {CREATE}",
            f"GET {API}/c1",
            f"POST {PUBLISH}",
            f"GET {API}/{MEDIA_ID}",
        ]
        assert all(call.request.headers["authorization"] == AUTH for call in graph.calls)
        requests = [call.request for call in graph.calls]
        assert params(requests[0]) == {"fields": "quota_usage,config"}
        assert requests[1].headers["content-type"] == "application/x-www-form-urlencoded"
        assert form(requests[1]) == {
            "image_url": f"{STORAGE}/md_1?sig=1",
            "caption": "Golden hour #sun",
            "location_id": "123456",
            "collaborators": '["friend.one"]',
            "alt_text": "A sunset",
            "user_tags": '[{"username":"bob","x":0.2,"y":0.8},{"username":"amy","x":0.5,"y":0.5}]',
        }
        assert params(requests[2]) == {"fields": "status_code,status"}
        assert form(requests[3]) == {"creation_id": "c1"}
        assert params(requests[4]) == {"fields": "permalink"}

    async def test_a_permalink_read_failure_still_publishes(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(graph, ["c1"])
        graph.routes["permalink"].mock(
            return_value=graph_error(400, 100, 33, message="Object does not exist")
        )
        published = await adapter.publish(ACCOUNT, outgoing())
        assert published == Published(id=MEDIA_ID, url=None)

    async def test_facebook_login_accounts_use_graph_facebook_com(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        graph.get(f"{FB}/{USER}/content_publishing_limit").mock(return_value=quota_body(0))
        graph.post(f"{FB}/{USER}/media").mock(return_value=ok({"id": "c1"}))
        graph.get(f"{FB}/c1").mock(return_value=status("FINISHED"))
        graph.post(f"{FB}/{USER}/media_publish").mock(return_value=ok({"id": MEDIA_ID}))
        graph.get(f"{FB}/{MEDIA_ID}").mock(return_value=ok({"permalink": PERMALINK}))
        await adapter.publish(FB_ACCOUNT, outgoing())
        assert [entry.split(" ")[1].split("/v23.0")[0] for entry in log(graph)] == [
            "https://graph.facebook.com"
        ] * 5
        assert graph.calls.last.request.headers["authorization"] == "Bearer EAAtoken"

    async def test_without_a_token_nothing_is_called(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        with pytest.raises(AuthExpired):
            await adapter.publish(replace(ACCOUNT, access_token=None), outgoing())
        assert not graph.calls

    async def test_a_reply_is_refused(self, adapter: InstagramAdapter) -> None:
        with pytest.raises(Permanent) as raised:
            await adapter.publish(ACCOUNT, outgoing(reply_to=Published(id=MEDIA_ID)))
        assert raised.value.code == "unsupported"


class TestPublishVideo:
    async def test_reel_with_cover_and_options(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(graph, ["c1"])
        options = InstagramOptions.model_validate(
            {
                "shareToFeed": False,
                "audioName": "Original audio",
                "trialGraduation": "MANUAL",
                "userTags": [{"username": "bob", "x": 0.1, "y": 0.1}],
            }
        )
        post = outgoing(
            "New drop",
            post_type=PostType.REEL,
            media=(media("md_v", MediaKind.VIDEO),),
            cover=media("md_cover"),
            cover_offset_ms=2000,
            options=options,
        )
        await adapter.publish(ACCOUNT, post)
        assert created(graph) == [
            {
                "media_type": "REELS",
                "video_url": f"{STORAGE}/md_v?sig=1",
                "caption": "New drop",
                "share_to_feed": "false",
                "cover_url": f"{STORAGE}/md_cover?sig=1",
                "audio_name": "Original audio",
                "user_tags": '[{"username":"bob"}]',
                "trial_params": '{"graduation_strategy":"MANUAL"}',
            }
        ]

    async def test_a_video_post_is_a_reel_shared_to_the_feed_with_a_frame_cover(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(graph, ["c1"])
        post = outgoing(
            "Clip",
            post_type=PostType.VIDEO,
            media=(media("md_v", MediaKind.VIDEO),),
            cover_offset_ms=1500,
        )
        await adapter.publish(ACCOUNT, post)
        assert created(graph) == [
            {
                "media_type": "REELS",
                "video_url": f"{STORAGE}/md_v?sig=1",
                "caption": "Clip",
                "share_to_feed": "true",
                "thumb_offset": "1500",
            }
        ]

    async def test_processing_parks_and_resumes_without_a_new_container(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(
            graph,
            ["c1"],
            statuses={"c1": [status("IN_PROGRESS"), status("IN_PROGRESS"), status("FINISHED")]},
        )
        post = outgoing("Clip", post_type=PostType.REEL, media=(media("md_v", MediaKind.VIDEO),))

        with pytest.raises(Pending) as first:
            await adapter.publish(ACCOUNT, post)
        assert first.value.stage == "processing"
        assert first.value.retry_in == timedelta(seconds=5)
        assert first.value.state["container"] == "c1"
        assert first.value.state["deadline"] == isoformat(NOW + timedelta(minutes=30))
        json.dumps(first.value.state)  # the job stores it as JSON

        with pytest.raises(Pending) as second:
            await adapter.publish(ACCOUNT, replace(post, resume=first.value.state))
        assert second.value.retry_in == timedelta(seconds=10)

        published = await adapter.publish(ACCOUNT, replace(post, resume=second.value.state))
        assert published == Published(id=MEDIA_ID, url=PERMALINK)
        assert log(graph) == [
            f"GET {QUOTA}",
            f"POST {CREATE}",
            f"GET {API}/c1",
            f"GET {API}/c1",
            f"GET {API}/c1",
            f"POST {PUBLISH}",
            f"GET {API}/{MEDIA_ID}",
        ]

    async def test_processing_past_the_deadline_fails(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(graph, ["c1"], statuses={"c1": [status("IN_PROGRESS"), status("IN_PROGRESS")]})
        post = outgoing("Clip", post_type=PostType.REEL, media=(media("md_v", MediaKind.VIDEO),))
        with pytest.raises(Pending) as parked:
            await adapter.publish(ACCOUNT, post)
        adapter.now = lambda: NOW + timedelta(minutes=31)
        with pytest.raises(Permanent) as raised:
            await adapter.publish(ACCOUNT, replace(post, resume=parked.value.state))
        assert raised.value.code == "processing_timeout"
        assert not graph.routes["publish"].called

    async def test_images_have_a_shorter_deadline(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(graph, ["c1"], statuses={"c1": [status("IN_PROGRESS")]})
        with pytest.raises(Pending) as parked:
            await adapter.publish(ACCOUNT, outgoing())
        assert parked.value.state["deadline"] == isoformat(NOW + timedelta(minutes=10))


class TestPublishCarousel:
    async def test_mixed_children_then_parent(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(
            graph,
            ["c1", "c2", "c3"],
            statuses={"c2": [status("IN_PROGRESS"), status("FINISHED")]},
        )
        options = InstagramOptions.model_validate({"collaborators": ["a.b"], "locationId": "9"})
        post = outgoing(
            "Swipe",
            post_type=PostType.CAROUSEL,
            media=(media("md_1"), media("md_2", MediaKind.VIDEO)),
            alt_texts={"md_1": "first"},
            options=options,
        )
        with pytest.raises(Pending) as parked:
            await adapter.publish(ACCOUNT, post)
        assert parked.value.state["children"] == ["c1", "c2"]
        assert parked.value.state["finished"] == ["c1"]

        published = await adapter.publish(ACCOUNT, replace(post, resume=parked.value.state))

        assert published.id == MEDIA_ID
        assert log(graph) == [
            f"GET {QUOTA}",
            f"POST {CREATE}",
            f"POST {CREATE}",
            f"GET {API}/c1",
            f"GET {API}/c2",
            f"GET {API}/c2",  # c1 is not polled again
            f"POST {CREATE}",
            f"GET {API}/c3",
            f"POST {PUBLISH}",
            f"GET {API}/{MEDIA_ID}",
        ]
        assert created(graph) == [
            {"image_url": f"{STORAGE}/md_1?sig=1", "is_carousel_item": "true", "alt_text": "first"},
            {
                "media_type": "VIDEO",
                "video_url": f"{STORAGE}/md_2?sig=1",
                "is_carousel_item": "true",
            },
            {
                "media_type": "CAROUSEL",
                "children": "c1,c2",
                "caption": "Swipe",
                "location_id": "9",
                "collaborators": '["a.b"]',
            },
        ]
        assert form(graph.routes["publish"].calls.last.request) == {"creation_id": "c3"}

    async def test_a_failed_child_fails_the_carousel(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(
            graph,
            ["c1", "c2"],
            statuses={
                "c2": [status("ERROR", "Error: Media upload has failed with error code 2207026")]
            },
        )
        post = outgoing(
            "Swipe",
            post_type=PostType.CAROUSEL,
            media=(media("md_1"), media("md_2", MediaKind.VIDEO)),
        )
        with pytest.raises(Permanent) as raised:
            await adapter.publish(ACCOUNT, post)
        assert raised.value.code == "processing/2207026"
        assert "video format" in raised.value.message


class TestPublishStory:
    async def test_image_story_has_no_caption(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(graph, ["c1"])
        options = InstagramOptions.model_validate(
            {"userTags": [{"username": "bob", "x": 0.3, "y": 0.3}]}
        )
        await adapter.publish(
            ACCOUNT, outgoing("ignored", post_type=PostType.STORY, options=options)
        )
        assert created(graph) == [
            {
                "media_type": "STORIES",
                "image_url": f"{STORAGE}/md_1?sig=1",
                "user_tags": '[{"username":"bob"}]',
            }
        ]

    async def test_video_story(self, adapter: InstagramAdapter, graph: respx.MockRouter) -> None:
        mock_flow(graph, ["c1"])
        post = outgoing("", post_type=PostType.STORY, media=(media("md_v", MediaKind.VIDEO),))
        await adapter.publish(ACCOUNT, post)
        assert created(graph) == [{"media_type": "STORIES", "video_url": f"{STORAGE}/md_v?sig=1"}]


class TestContainerErrors:
    async def test_a_processing_failure_is_transient_and_starts_over_next_time(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        failed = status("ERROR", "Error: Media upload has failed with error code 2207082")
        mock_flow(graph, ["c1", "c2"], statuses={"c1": [failed]})
        with pytest.raises(Transient) as raised:
            await adapter.publish(ACCOUNT, outgoing())
        assert raised.value.code == "processing/2207082"
        assert not raised.value.maybe_sent
        await adapter.publish(ACCOUNT, outgoing())
        assert graph.routes["create"].call_count == 2

    async def test_an_unsupported_file_is_permanent(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        failed = status("ERROR", "Error: Media upload has failed with error code 2207005")
        mock_flow(graph, ["c1"], statuses={"c1": [failed]})
        with pytest.raises(Permanent) as raised:
            await adapter.publish(ACCOUNT, outgoing())
        assert raised.value.code == "processing/2207005"
        assert "JPEG only" in raised.value.message

    async def test_an_expired_container_is_transient(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(graph, ["c1"], statuses={"c1": [status("EXPIRED")]})
        with pytest.raises(Transient) as raised:
            await adapter.publish(ACCOUNT, outgoing())
        assert raised.value.code == "expired"

    async def test_container_creation_refused(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(graph, ["c1"])
        graph.routes["create"].mock(
            return_value=graph_error(
                400, 36003, 2207009, error_user_msg="The aspect ratio is not supported."
            )
        )
        with pytest.raises(Permanent) as raised:
            await adapter.publish(ACCOUNT, outgoing())
        assert raised.value.code == "36003/2207009"
        assert raised.value.message.startswith("Instagram: The aspect ratio is not supported.")

    async def test_a_lost_container_answer_is_not_an_unknown_outcome(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(graph, ["c1"])
        graph.routes["create"].mock(side_effect=httpx.ReadTimeout("slow"))
        with pytest.raises(Transient) as raised:
            await adapter.publish(ACCOUNT, outgoing())
        assert not raised.value.maybe_sent

    async def test_an_error_mid_processing_resumes_the_same_container(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(
            graph,
            ["c1"],
            statuses={
                "c1": [
                    graph_error(500, 2, message="Service temporarily unavailable"),
                    status("FINISHED"),
                ]
            },
        )
        with pytest.raises(Transient):
            await adapter.publish(ACCOUNT, outgoing())
        published = await adapter.publish(ACCOUNT, outgoing())
        assert published.id == MEDIA_ID
        assert graph.routes["create"].call_count == 1
        assert graph.routes["quota"].call_count == 1


class TestMediaPublish:
    async def test_not_ready_parks(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(graph, ["c1"])
        graph.routes["publish"].mock(
            return_value=graph_error(400, 9007, 2207027, message="Media ID is not available")
        )
        with pytest.raises(Pending) as parked:
            await adapter.publish(ACCOUNT, outgoing())
        assert parked.value.state["container"] == "c1"

    async def test_a_5xx_that_published_is_adopted(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(graph, ["c1"], statuses={"c1": [status("FINISHED"), status("PUBLISHED")]})
        graph.routes["publish"].mock(return_value=graph_error(500, 1, message="Unknown error"))
        graph.get(f"{API}/{USER}/media", name="recent").mock(
            return_value=ok(
                {
                    "data": [
                        {
                            "id": MEDIA_ID,
                            "caption": "Golden  hour",
                            "timestamp": "2026-11-22T10:00:30+0000",
                            "permalink": PERMALINK,
                        },
                        {
                            "id": "17800000000000000",
                            "caption": "Golden hour",
                            "timestamp": "2026-11-21T08:00:00+0000",
                        },
                    ]
                }
            )
        )
        published = await adapter.publish(ACCOUNT, outgoing())
        assert published == Published(id=MEDIA_ID, url=PERMALINK)
        assert params(graph.routes["recent"].calls.last.request) == {
            "fields": "id,caption,timestamp,permalink,media_product_type",
            "limit": "25",
        }

    async def test_a_lost_answer_with_the_container_unpublished_is_safe_to_retry(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(graph, ["c1"], statuses={"c1": [status("FINISHED"), status("FINISHED")]})
        graph.routes["publish"].mock(side_effect=httpx.ReadTimeout("lost"))
        with pytest.raises(Transient) as raised:
            await adapter.publish(ACCOUNT, outgoing())
        assert not raised.value.maybe_sent

    async def test_a_lost_answer_that_cannot_be_checked_stays_unknown(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(graph, ["c1"], statuses={"c1": [status("FINISHED"), graph_error(503, 2)]})
        graph.routes["publish"].mock(side_effect=httpx.ReadTimeout("lost"))
        with pytest.raises(Transient) as raised:
            await adapter.publish(ACCOUNT, outgoing())
        assert raised.value.maybe_sent

    async def test_the_quota_error_is_a_rate_limit(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(graph, ["c1"])
        graph.routes["publish"].mock(
            return_value=graph_error(400, 9, 2207042, message="You reached maximum number of posts")
        )
        with pytest.raises(RateLimited) as raised:
            await adapter.publish(ACCOUNT, outgoing())
        assert raised.value.code == "9/2207042"


class TestPublishingLimit:
    async def test_at_the_cap_nothing_is_created_until_a_slot_frees(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(graph, ["c1"], used=50)
        graph.get(f"{API}/{USER}/media", name="recent").mock(
            return_value=ok(
                {
                    "data": [
                        {"id": "1", "timestamp": "2026-11-22T08:00:00+0000"},
                        {"id": "2", "timestamp": "2026-11-21T14:00:00+0000"},
                        {"id": "3", "timestamp": "2026-11-20T09:00:00+0000"},
                    ]
                }
            )
        )
        with pytest.raises(RateLimited) as raised:
            await adapter.publish(ACCOUNT, outgoing())
        assert raised.value.code == "publishing_limit"
        assert raised.value.retry_at == datetime(2026, 11, 22, 14, 0, tzinfo=UTC)
        assert "50/50" in raised.value.message
        assert not graph.routes["create"].called
        assert params(graph.routes["recent"].calls.last.request) == {
            "fields": "id,timestamp",
            "limit": "50",
        }

    async def test_without_a_listed_post_the_wait_is_an_hour(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(graph, ["c1"], used=50)
        graph.get(f"{API}/{USER}/media").mock(return_value=ok({"data": []}))
        with pytest.raises(RateLimited) as raised:
            await adapter.publish(ACCOUNT, outgoing())
        assert raised.value.retry_at == NOW + timedelta(hours=1)

    async def test_an_unreadable_quota_does_not_block_publishing(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(graph, ["c1"])
        graph.routes["quota"].mock(
            return_value=graph_error(403, 10, message="Application does not have permission")
        )
        assert (await adapter.publish(ACCOUNT, outgoing())).id == MEDIA_ID

    async def test_a_rate_limited_quota_read_is_raised(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(graph, ["c1"])
        graph.routes["quota"].mock(
            return_value=graph_error(
                400,
                4,
                message="Application request limit reached",
                headers={"X-App-Usage": '{"call_count":100,"total_cputime":20,"total_time":30}'},
            )
        )
        with pytest.raises(RateLimited):
            await adapter.publish(ACCOUNT, outgoing())
        assert not graph.routes["create"].called

    async def test_publishing_quota(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        graph.get(QUOTA).mock(return_value=quota_body(7, total=100))
        quota = await adapter.publishing_quota(ACCOUNT)
        assert (quota.used, quota.total, quota.remaining, quota.window_seconds) == (
            7,
            100,
            93,
            86400,
        )


class TestFirstComment:
    async def test_comment_on_the_media(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        route = graph.post(f"{API}/{MEDIA_ID}/comments").mock(return_value=ok({"id": "1790001"}))
        post = outgoing("First!", key="tgt_ig:comment", media=(), reply_to=Published(id=MEDIA_ID))
        assert await adapter.comment(ACCOUNT, post) == Published(id="1790001")
        request = route.calls.last.request
        assert form(request) == {"message": "First!"}
        assert request.headers["authorization"] == AUTH


class TestRecovery:
    async def test_a_remembered_publish_is_returned(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(graph, ["c1"])
        await adapter.publish(ACCOUNT, outgoing())
        calls = len(graph.calls)
        assert await adapter.find_published(ACCOUNT, outgoing()) == Published(
            id=MEDIA_ID, url=PERMALINK
        )
        assert len(graph.calls) == calls

    async def test_an_unpublished_container_means_not_published(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(graph, ["c1"], statuses={"c1": [status("IN_PROGRESS"), status("FINISHED")]})
        with pytest.raises(Pending):
            await adapter.publish(ACCOUNT, outgoing())
        assert await adapter.find_published(ACCOUNT, outgoing()) is None

    async def test_a_published_container_is_found_by_caption(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(graph, ["c1"], statuses={"c1": [status("IN_PROGRESS"), status("PUBLISHED")]})
        with pytest.raises(Pending):
            await adapter.publish(ACCOUNT, outgoing())
        graph.get(f"{API}/{USER}/media").mock(
            return_value=ok(
                {
                    "data": [
                        {
                            "id": "other",
                            "caption": "Another",
                            "timestamp": "2026-11-22T10:01:00+0000",
                        },
                        {
                            "id": MEDIA_ID,
                            "caption": "Golden hour",
                            "timestamp": "2026-11-22T10:00:40+0000",
                            "permalink": PERMALINK,
                        },
                    ]
                }
            )
        )
        assert await adapter.find_published(ACCOUNT, outgoing()) == Published(
            id=MEDIA_ID, url=PERMALINK
        )

    async def test_without_memory_the_recent_media_are_searched(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        graph.get(f"{API}/{USER}/media").mock(
            return_value=ok(
                {
                    "data": [
                        {
                            "id": "old",
                            "caption": "Golden hour",
                            "timestamp": "2026-11-20T10:00:00+0000",
                        },
                    ]
                }
            )
        )
        assert await adapter.find_published(ACCOUNT, outgoing()) is None

    async def test_a_post_without_caption_cannot_be_recognised(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        with pytest.raises(Permanent) as raised:
            await adapter.find_published(ACCOUNT, outgoing(""))
        assert raised.value.code == "unsupported"
        with pytest.raises(Permanent):
            await adapter.find_published(ACCOUNT, outgoing("x", post_type=PostType.STORY))
        assert not graph.calls

    async def test_a_first_comment_is_found_by_text_and_author(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        route = graph.get(f"{API}/{MEDIA_ID}/comments").mock(
            return_value=ok(
                {
                    "data": [
                        {"id": "c_other", "text": "First!", "username": "someone"},
                        {"id": "c_mine", "text": "First!", "username": "polypost"},
                    ]
                }
            )
        )
        post = outgoing("First!", key="tgt_ig:comment", media=(), reply_to=Published(id=MEDIA_ID))
        assert await adapter.find_published(ACCOUNT, post) == Published(id="c_mine")
        assert params(route.calls.last.request) == {
            "fields": "id,text,timestamp,username,like_count,hidden,from,parent_id",
            "limit": "50",
        }


class TestDeleteAndEdit:
    async def test_delete_with_facebook_login(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        route = graph.delete(f"{FB}/{MEDIA_ID}").mock(return_value=ok({"success": True}))
        await adapter.delete(FB_ACCOUNT, MEDIA_ID)
        assert route.calls.last.request.headers["authorization"] == "Bearer EAAtoken"

    async def test_deleting_a_deleted_media_succeeds(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        graph.delete(f"{FB}/{MEDIA_ID}").mock(return_value=graph_error(400, 100, 33))
        await adapter.delete(FB_ACCOUNT, MEDIA_ID)

    async def test_delete_without_the_permission_is_permanent(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        graph.delete(f"{FB}/{MEDIA_ID}").mock(return_value=graph_error(403, 200))
        with pytest.raises(Permanent) as raised:
            await adapter.delete(FB_ACCOUNT, MEDIA_ID)
        assert "permission" in raised.value.message

    async def test_instagram_login_cannot_delete(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        with pytest.raises(Permanent) as raised:
            await adapter.delete(ACCOUNT, MEDIA_ID)
        assert raised.value.code == "unsupported"
        assert not graph.calls

    async def test_edit_is_unsupported(self, adapter: InstagramAdapter) -> None:
        with pytest.raises(Permanent) as raised:
            await adapter.edit(ACCOUNT, MEDIA_ID, outgoing())
        assert raised.value.code == "unsupported"


class TestMetrics:
    async def test_feed_media(self, adapter: InstagramAdapter, graph: respx.MockRouter) -> None:
        info = graph.get(f"{API}/{MEDIA_ID}").mock(
            return_value=ok({"media_product_type": "FEED", "like_count": 9, "comments_count": 1})
        )
        insights = graph.get(f"{API}/{MEDIA_ID}/insights").mock(
            return_value=ok(
                {
                    "data": [
                        {"name": "views", "period": "lifetime", "values": [{"value": 500}]},
                        {"name": "reach", "period": "lifetime", "values": [{"value": 320}]},
                        {"name": "likes", "values": [{"value": 12}]},
                        {"name": "comments", "values": [{"value": 3}]},
                        {"name": "shares", "total_value": {"value": 4}},
                        {"name": "saved", "values": [{"value": 2}]},
                    ]
                }
            )
        )
        metrics = await adapter.metrics(ACCOUNT, MEDIA_ID)
        assert (metrics.likes, metrics.comments, metrics.shares, metrics.reach, metrics.views) == (
            12,
            3,
            4,
            320,
            500,
        )
        assert params(info.calls.last.request) == {
            "fields": "media_product_type,like_count,comments_count"
        }
        assert params(insights.calls.last.request) == {
            "metric": "views,reach,likes,comments,shares,saved"
        }

    async def test_a_story_without_enough_viewers_falls_back_to_counters(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        graph.get(f"{API}/{MEDIA_ID}").mock(
            return_value=ok({"media_product_type": "STORY", "like_count": 0})
        )
        insights = graph.get(f"{API}/{MEDIA_ID}/insights").mock(
            return_value=graph_error(
                400, 10, message="(#10) Not enough viewers for the media to show insights"
            )
        )
        metrics = await adapter.metrics(ACCOUNT, MEDIA_ID)
        assert metrics.views is None
        assert metrics.likes == 0
        assert params(insights.calls.last.request) == {"metric": "views,reach,replies,shares"}


class TestComments:
    async def test_list_comments(self, adapter: InstagramAdapter, graph: respx.MockRouter) -> None:
        route = graph.get(f"{API}/{MEDIA_ID}/comments").mock(
            return_value=ok(
                {
                    "data": [
                        {
                            "id": "17850001",
                            "text": "Love it",
                            "timestamp": "2026-11-22T09:00:00+0000",
                            "username": "fan",
                            "like_count": 2,
                            "hidden": False,
                            "from": {"id": "1784", "username": "fan"},
                        },
                        {
                            "id": "17850002",
                            "text": "Thanks!",
                            "username": "polypost",
                            "parent_id": "17850001",
                        },
                    ],
                    "paging": {
                        "cursors": {"after": "QVFI"},
                        "next": "https://graph.instagram.com/next",
                    },
                }
            )
        )
        page = await adapter.list_comments(ACCOUNT, MEDIA_ID, cursor="QUFB", limit=10)
        assert [(c.id, c.text, c.author_name, c.parent_id) for c in page.comments] == [
            ("17850001", "Love it", "fan", None),
            ("17850002", "Thanks!", "polypost", "17850001"),
        ]
        assert page.comments[0].created_at == datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
        assert page.comments[0].author_id == "1784"
        assert page.next_cursor == "QVFI"
        assert params(route.calls.last.request)["after"] == "QUFB"


class TestAccounts:
    async def test_whoami_with_instagram_login(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        route = graph.get(f"{API}/me").mock(
            return_value=ok(
                {
                    "id": "app-scoped",
                    "user_id": USER,
                    "username": "polypost",
                    "name": "Polypost",
                    "account_type": "BUSINESS",
                    "profile_picture_url": "https://cdn.example.com/p.jpg",
                }
            )
        )
        identity = await adapter.whoami(ACCOUNT)
        assert (identity.external_id, identity.handle, identity.display_name) == (
            USER,
            "polypost",
            "Polypost",
        )
        assert params(route.calls.last.request) == {
            "fields": "user_id,username,name,account_type,profile_picture_url"
        }

    async def test_whoami_with_facebook_login_finds_the_linked_business_account(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        graph.get(f"{FB}/me/accounts").mock(
            return_value=ok(
                {
                    "data": [
                        {"id": "p1", "name": "No IG"},
                        {
                            "id": "p2",
                            "name": "Shop",
                            "instagram_business_account": {"id": USER, "username": "shop"},
                        },
                    ]
                }
            )
        )
        identity = await adapter.whoami(replace(FB_ACCOUNT, settings={}))
        assert (identity.external_id, identity.handle, identity.display_name) == (
            USER,
            "shop",
            "Shop",
        )

    async def test_facebook_login_without_a_business_account(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        graph.get(f"{FB}/me/accounts").mock(return_value=ok({"data": [{"id": "p1"}]}))
        with pytest.raises(Permanent) as raised:
            await adapter.whoami(FB_ACCOUNT)
        assert raised.value.code == "no_business_account"

    async def test_me_without_a_user_id(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        graph.get(f"{API}/me").mock(return_value=ok({"username": "x"}))
        with pytest.raises(Transient):
            await adapter.whoami(ACCOUNT)

    async def test_exchange_code(self, adapter: InstagramAdapter, graph: respx.MockRouter) -> None:
        short = graph.post("https://api.instagram.com/oauth/access_token").mock(
            return_value=ok(
                {
                    "data": [
                        {
                            "access_token": "IGshort",
                            "user_id": USER,
                            "permissions": (
                                "instagram_business_basic,instagram_business_content_publish"
                            ),
                        }
                    ]
                }
            )
        )
        long = graph.get("https://graph.instagram.com/access_token").mock(
            return_value=ok(
                {"access_token": "IGlong", "token_type": "bearer", "expires_in": 5183944}
            )
        )
        tokens = await adapter.exchange_code(
            AppCredentials("app-id", "app-secret"), "code123#_", "https://api.example.com/cb", None
        )
        assert tokens.access_token == "IGlong"
        assert tokens.scopes == ("instagram_business_basic", "instagram_business_content_publish")
        assert tokens.expires_at is not None
        assert form(short.calls.last.request) == {
            "client_id": "app-id",
            "client_secret": "app-secret",
            "grant_type": "authorization_code",
            "redirect_uri": "https://api.example.com/cb",
            "code": "code123",
        }
        assert params(long.calls.last.request) == {
            "grant_type": "ig_exchange_token",
            "client_secret": "app-secret",
            "access_token": "IGshort",
        }

    async def test_refresh_with_instagram_login(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        route = graph.get("https://graph.instagram.com/refresh_access_token").mock(
            return_value=ok(
                {"access_token": "IGnew", "token_type": "bearer", "expires_in": 5184000}
            )
        )
        tokens = await adapter.refresh(ACCOUNT)
        assert tokens.access_token == "IGnew"
        assert tokens.refresh_token is None
        assert params(route.calls.last.request) == {
            "grant_type": "ig_refresh_token",
            "access_token": "IGAAtoken",
        }

    async def test_refresh_with_facebook_login(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        route = graph.get(f"{FB}/oauth/access_token").mock(
            return_value=ok({"access_token": "EAAnew", "expires_in": 5184000})
        )
        account = replace(FB_ACCOUNT, app=AppCredentials("app-id", "app-secret"))
        assert (await adapter.refresh(account)).access_token == "EAAnew"
        assert params(route.calls.last.request) == {
            "grant_type": "fb_exchange_token",
            "client_id": "app-id",
            "client_secret": "app-secret",
            "fb_exchange_token": "EAAtoken",
        }

    async def test_refresh_of_a_dead_token_is_auth_expired(
        self, adapter: InstagramAdapter, graph: respx.MockRouter
    ) -> None:
        graph.get("https://graph.instagram.com/refresh_access_token").mock(
            return_value=graph_error(400, 190, 463, message="Session has expired")
        )
        with pytest.raises(AuthExpired):
            await adapter.refresh(ACCOUNT)

    async def test_refresh_with_facebook_login_needs_the_app(
        self, adapter: InstagramAdapter
    ) -> None:
        with pytest.raises(Permanent) as raised:
            await adapter.refresh(FB_ACCOUNT)
        assert raised.value.code == "credentials_missing"
