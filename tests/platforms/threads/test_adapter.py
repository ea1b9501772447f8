"""The Threads adapter against respx: containers, waits, publishing, recovery, errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx

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
from polypost.platforms.options import ThreadsOptions
from polypost.platforms.threads.adapter import ThreadsAdapter
from polypost.platforms.threads.containers import fingerprint
from tests.platforms.helpers import Sleeps, StubRuntime, form

GRAPH = "https://graph.threads.net"
API = f"{GRAPH}/v1.0"
USER = "17841400000000001"
CREATE = f"{API}/{USER}/threads"
PUBLISH = f"{API}/{USER}/threads_publish"
STORAGE = "https://storage.example.com"
AUTH = "Bearer th-token"
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
ACCOUNT = Credentials(
    account_id="acc_t",
    platform=Platform.THREADS,
    external_id=USER,
    access_token="th-token",
    handle="polypost",
)


def outgoing(text: str = "Hello Threads", **kwargs: object) -> Outgoing:
    return Outgoing(
        target_id="tgt_t",
        key=kwargs.pop("key", "tgt_t:main"),  # type: ignore[arg-type]
        post_type=kwargs.pop("post_type", PostType.TEXT),  # type: ignore[arg-type]
        text=text,
        **kwargs,  # type: ignore[arg-type]
    )


def media(media_id: str, kind: MediaKind = MediaKind.IMAGE) -> MediaInfo:
    return MediaInfo(
        id=media_id,
        kind=kind,
        content_type="video/mp4" if kind is MediaKind.VIDEO else "image/jpeg",
        size=1000,
        url=f"{STORAGE}/{media_id}.bin?sig=1",
    )


def graph_error(
    status: int, code: int, subcode: int | None = None, **extra: object
) -> httpx.Response:
    error: dict[str, object] = {
        "message": extra.pop("message", "An error occurred"),
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AbCdEf",
        **extra,
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return httpx.Response(status, json={"error": error})


def status(container_id: str, value: str, message: str | None = None) -> httpx.Response:
    body: dict[str, object] = {"id": container_id, "status": value}
    if message:
        body["error_message"] = message
    return httpx.Response(200, json=body)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def adapter(client: httpx.AsyncClient, sleeps: Sleeps) -> ThreadsAdapter:
    adapter = ThreadsAdapter(StubRuntime(http=client))  # type: ignore[arg-type]
    adapter.sleep = sleeps
    adapter.now = lambda: NOW
    return adapter


@pytest.fixture
def graph() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


def mock_flow(
    graph: respx.MockRouter,
    *,
    containers: list[str],
    statuses: dict[str, list[httpx.Response]] | None = None,
    published: str = "18000000000000001",
) -> None:
    """Container creation answers ids in order; each container reports FINISHED unless
    `statuses` scripts it; publishing answers `published`; its permalink is readable."""
    graph.post(CREATE, name="create").mock(
        side_effect=[httpx.Response(200, json={"id": c}) for c in containers]
    )
    for container in containers:
        answers = (statuses or {}).get(container) or [status(container, "FINISHED")]
        graph.get(f"{API}/{container}", name=f"status:{container}").mock(side_effect=answers)
    graph.post(PUBLISH, name="publish").mock(
        return_value=httpx.Response(200, json={"id": published})
    )
    graph.get(f"{API}/{published}", name="permalink").mock(
        return_value=httpx.Response(
            200,
            json={"id": published, "permalink": "https://www.threads.com/@polypost/post/DAbCdEf"},
        )
    )


def created_params(graph: respx.MockRouter) -> list[dict[str, str]]:
    return [form(call.request) for call in graph.routes["create"].calls]


class TestPublish:
    async def test_text_post(
        self, adapter: ThreadsAdapter, graph: respx.MockRouter, sleeps: Sleeps
    ) -> None:
        mock_flow(graph, containers=["c1"])
        published = await adapter.publish(ACCOUNT, outgoing("Hello Threads"))
        assert published == Published(
            id="18000000000000001", url="https://www.threads.com/@polypost/post/DAbCdEf"
        )
        create = graph.routes["create"].calls.last.request
        assert create.headers["authorization"] == AUTH
        assert create.headers["content-type"] == "application/x-www-form-urlencoded"
        assert form(create) == {"media_type": "TEXT", "text": "Hello Threads"}
        check = graph.routes["status:c1"].calls.last.request
        assert dict(check.url.params) == {"fields": "id,status,error_message"}
        publish = graph.routes["publish"].calls.last.request
        assert form(publish) == {"creation_id": "c1"}
        assert publish.headers["authorization"] == AUTH
        link = graph.routes["permalink"].calls.last.request
        assert dict(link.url.params) == {"fields": "permalink"}
        assert sleeps == []

    async def test_link_card_and_options(
        self, adapter: ThreadsAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(graph, containers=["c1"])
        options = ThreadsOptions.model_validate(
            {
                "replyControl": "accounts_you_follow",
                "topicTag": "python",
                "quotePostId": "18000000000000009",
                "locationId": "4321",
            }
        )
        await adapter.publish(
            ACCOUNT, outgoing("Read this", link="https://example.com/a", options=options)
        )
        assert created_params(graph) == [
            {
                "media_type": "TEXT",
                "link_attachment": "https://example.com/a",
                "text": "Read this",
                "reply_control": "accounts_you_follow",
                "topic_tag": "python",
                "quote_post_id": "18000000000000009",
                "location_id": "4321",
            }
        ]

    async def test_a_link_on_a_media_post_goes_in_the_text(
        self, adapter: ThreadsAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(graph, containers=["c1"])
        post = outgoing("New menu", media=(media("md_1"),), link="https://example.com/menu")
        await adapter.publish(ACCOUNT, post)
        params = created_params(graph)[0]
        assert params["text"] == "New menu\n\nhttps://example.com/menu"
        assert "link_attachment" not in params

    async def test_poll(self, adapter: ThreadsAdapter, graph: respx.MockRouter) -> None:
        mock_flow(graph, containers=["c1"])
        await adapter.publish(
            ACCOUNT,
            outgoing(
                "Lunch?", post_type=PostType.POLL, poll=Poll(options=("Pizza", "Ramen", "Salad"))
            ),
        )
        params = created_params(graph)[0]
        assert params["media_type"] == "TEXT"
        assert json.loads(params["poll_attachment"]) == {
            "option_a": "Pizza",
            "option_b": "Ramen",
            "option_c": "Salad",
        }

    async def test_thread_reply_points_at_the_previous_post(
        self, adapter: ThreadsAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(graph, containers=["c2"])
        options = ThreadsOptions.model_validate({"replyControl": "mentioned_only"})
        post = outgoing(
            "2/ more",
            key="tgt_t:segment:1",
            reply_to=Published(id="18000000000000001"),
            root=Published(id="18000000000000001"),
            options=options,
        )
        await adapter.publish(ACCOUNT, post)
        assert created_params(graph) == [
            {"media_type": "TEXT", "text": "2/ more", "reply_to_id": "18000000000000001"}
        ]

    async def test_first_comment_is_a_text_reply(
        self, adapter: ThreadsAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(graph, containers=["c3"])
        post = outgoing(
            "First!",
            key="tgt_t:comment",
            reply_to=Published(id="18000000000000001"),
            media=(media("md_1"),),
            link="https://example.com",
        )
        await adapter.comment(ACCOUNT, post)
        assert created_params(graph) == [
            {"media_type": "TEXT", "text": "First!", "reply_to_id": "18000000000000001"}
        ]

    async def test_image_with_alt_text(
        self, adapter: ThreadsAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(graph, containers=["c1"])
        await adapter.publish(
            ACCOUNT,
            outgoing(
                "Sunset",
                post_type=PostType.IMAGE,
                media=(media("md_1"),),
                alt_texts={"md_1": "Orange sky"},
            ),
        )
        assert created_params(graph) == [
            {
                "media_type": "IMAGE",
                "image_url": f"{STORAGE}/md_1.bin?sig=1",
                "alt_text": "Orange sky",
                "text": "Sunset",
            }
        ]

    async def test_video_waits_for_processing_then_settles(
        self, adapter: ThreadsAdapter, graph: respx.MockRouter, sleeps: Sleeps
    ) -> None:
        busy, done = status("c1", "IN_PROGRESS"), status("c1", "FINISHED")
        mock_flow(graph, containers=["c1"], statuses={"c1": [busy, busy, done, done, done]})
        post = outgoing("Clip", post_type=PostType.VIDEO, media=(media("md_v", MediaKind.VIDEO),))
        with pytest.raises(Pending) as caught:
            await adapter.publish(ACCOUNT, post)
        assert created_params(graph)[0] == {
            "media_type": "VIDEO",
            "video_url": f"{STORAGE}/md_v.bin?sig=1",
            "text": "Clip",
        }
        # Polls back off 1 s, 2 s until FINISHED; the container is then 0 s old (frozen
        # clock), so the rest of Meta's recommended 30 s is handed back to the job.
        assert sleeps == [1.0, 2.0]
        assert caught.value.retry_in == timedelta(seconds=30)
        state = caught.value.state
        assert state["container"] == "c1"
        assert state["createdAt"] == "2026-11-22T10:00:00Z"
        assert not graph.routes["publish"].called

        adapter.now = lambda: NOW + timedelta(seconds=30)
        published = await adapter.publish(ACCOUNT, replace(post, resume=state))
        assert published.id == "18000000000000001"
        assert graph.routes["create"].call_count == 1
        assert form(graph.routes["publish"].calls.last.request) == {"creation_id": "c1"}

    async def test_carousel(self, adapter: ThreadsAdapter, graph: respx.MockRouter) -> None:
        mock_flow(graph, containers=["k1", "k2", "parent"])
        post = outgoing(
            "Album",
            post_type=PostType.CAROUSEL,
            media=(media("md_1"), media("md_2", MediaKind.VIDEO)),
            alt_texts={"md_2": "A clip"},
        )
        await adapter.publish(ACCOUNT, post)
        assert created_params(graph) == [
            {
                "media_type": "IMAGE",
                "image_url": f"{STORAGE}/md_1.bin?sig=1",
                "is_carousel_item": "true",
            },
            {
                "media_type": "VIDEO",
                "video_url": f"{STORAGE}/md_2.bin?sig=1",
                "alt_text": "A clip",
                "is_carousel_item": "true",
            },
            {"media_type": "CAROUSEL", "children": "k1,k2", "text": "Album"},
        ]
        assert graph.routes["status:k1"].called
        assert graph.routes["status:k2"].called
        assert form(graph.routes["publish"].calls.last.request) == {"creation_id": "parent"}

    async def test_media_without_url_is_permanent(
        self, adapter: ThreadsAdapter, graph: respx.MockRouter
    ) -> None:
        bare = MediaInfo(id="md_x", kind=MediaKind.IMAGE, content_type="image/jpeg")
        with pytest.raises(Permanent) as caught:
            await adapter.publish(ACCOUNT, outgoing("x", media=(bare,)))
        assert caught.value.code == "media_unavailable"

    async def test_a_slow_container_hands_the_worker_back(
        self, adapter: ThreadsAdapter, graph: respx.MockRouter, sleeps: Sleeps
    ) -> None:
        # Polled at 0, 1, 3 and 7 s; then the job is asked to come back in 5 s.
        busy = [status("c1", "IN_PROGRESS")] * 4
        mock_flow(graph, containers=["c1"], statuses={"c1": [*busy, status("c1", "FINISHED")]})
        post = outgoing("Big picture", media=(media("md_1"),))
        with pytest.raises(Pending) as caught:
            await adapter.publish(ACCOUNT, post)
        assert sleeps == [1.0, 2.0, 4.0]
        assert caught.value.stage == "processing"
        assert caught.value.retry_in == timedelta(seconds=5)
        assert caught.value.state["polls"] == 1
        assert not graph.routes["publish"].called

        graph.routes["status:c1"].side_effect = [
            status("c1", "IN_PROGRESS"),
            *[status("c1", "IN_PROGRESS")] * 4,
        ]
        with pytest.raises(Pending) as again:
            await adapter.publish(ACCOUNT, replace(post, resume=caught.value.state))
        assert again.value.retry_in == timedelta(seconds=10)
        assert again.value.state["polls"] == 2

        graph.routes["status:c1"].side_effect = [status("c1", "FINISHED")] * 2
        await adapter.publish(ACCOUNT, replace(post, resume=again.value.state))
        assert graph.routes["create"].call_count == 1
        assert form(graph.routes["publish"].calls.last.request) == {"creation_id": "c1"}

    async def test_processing_has_a_deadline(
        self, adapter: ThreadsAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(graph, containers=["c1"], statuses={"c1": [status("c1", "IN_PROGRESS")] * 5})
        post = outgoing("Stuck", media=(media("md_1"),))
        started = NOW - timedelta(minutes=16)
        state = {
            "fingerprint": fingerprint(post),
            "container": "c1",
            "createdAt": started.isoformat(),
        }
        with pytest.raises(Permanent) as caught:
            await adapter.publish(ACCOUNT, replace(post, resume=state))
        assert caught.value.code == "processing_timeout"
        assert not graph.routes["create"].called

    async def test_a_retry_after_a_transient_error_reuses_the_container(
        self, adapter: ThreadsAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(graph, containers=["c1"], statuses={"c1": [status("c1", "FINISHED")] * 3})
        graph.routes["publish"].side_effect = [
            graph_error(500, 2, message="Service temporarily unavailable"),
            httpx.Response(200, json={"id": "18000000000000001"}),
        ]
        post = outgoing("Persist")
        with pytest.raises(Transient):
            await adapter.publish(ACCOUNT, post)
        await adapter.publish(ACCOUNT, post)
        assert graph.routes["create"].call_count == 1

    async def test_refused_media_is_permanent_and_forgotten(
        self, adapter: ThreadsAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(
            graph,
            containers=["c1", "c2"],
            statuses={"c1": [status("c1", "ERROR", "INVALID_ASPEC_RATIO")]},
        )
        post = outgoing("Odd", media=(media("md_1"),))
        with pytest.raises(Permanent) as caught:
            await adapter.publish(ACCOUNT, post)
        assert caught.value.code == "invalid_aspec_ratio"
        await adapter.publish(ACCOUNT, post)
        assert graph.routes["create"].call_count == 2

    async def test_unknown_processing_error_is_transient(
        self, adapter: ThreadsAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(graph, containers=["c1"], statuses={"c1": [status("c1", "ERROR", "UNKNOWN")]})
        with pytest.raises(Transient):
            await adapter.publish(ACCOUNT, outgoing("x", media=(media("md_1"),)))

    async def test_media_not_found_after_finished_retries_the_same_container(
        self, adapter: ThreadsAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(graph, containers=["c1"], statuses={"c1": [status("c1", "FINISHED")] * 3})
        graph.routes["publish"].side_effect = [
            graph_error(
                400, 24, 4279009, message="Media Not Found", error_user_title="Media Not Found"
            ),
            httpx.Response(200, json={"id": "18000000000000001"}),
        ]
        post = outgoing("Again")
        with pytest.raises(Transient) as caught:
            await adapter.publish(ACCOUNT, post)
        assert caught.value.code == "24/4279009"
        assert caught.value.maybe_sent is False
        published = await adapter.publish(ACCOUNT, post)
        assert published.id == "18000000000000001"
        assert graph.routes["create"].call_count == 1

    async def test_an_edited_post_gets_a_new_container(
        self, adapter: ThreadsAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(
            graph, containers=["c1", "c2"], statuses={"c1": [status("c1", "IN_PROGRESS")] * 10}
        )
        with pytest.raises(Pending):
            await adapter.publish(ACCOUNT, outgoing("Before the edit", media=(media("md_1"),)))
        await adapter.publish(ACCOUNT, outgoing("After the edit", media=(media("md_1"),)))
        assert [p["text"] for p in created_params(graph)] == ["Before the edit", "After the edit"]
        assert form(graph.routes["publish"].calls.last.request) == {"creation_id": "c2"}

    async def test_publishing_the_same_step_again_returns_the_post(
        self, adapter: ThreadsAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(graph, containers=["c1"])
        first = await adapter.publish(ACCOUNT, outgoing("Once"))
        second = await adapter.publish(ACCOUNT, outgoing("Once"))
        assert first == second
        assert graph.routes["publish"].call_count == 1

    async def test_container_creation_timeout_is_not_an_unknown_outcome(
        self, adapter: ThreadsAdapter, graph: respx.MockRouter
    ) -> None:
        graph.post(CREATE).mock(side_effect=httpx.ReadTimeout("slow"))
        with pytest.raises(Transient) as caught:
            await adapter.publish(ACCOUNT, outgoing())
        assert caught.value.maybe_sent is False

    async def test_a_missing_permalink_does_not_fail_a_published_post(
        self, adapter: ThreadsAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(graph, containers=["c1"])
        graph.routes["permalink"].side_effect = [
            graph_error(500, 2, message="Service temporarily unavailable")
        ]
        published = await adapter.publish(ACCOUNT, outgoing())
        assert published == Published(id="18000000000000001", url=None)


def listing(*items: dict[str, object]) -> httpx.Response:
    return httpx.Response(
        200, json={"data": list(items), "paging": {"cursors": {"before": "b", "after": "a"}}}
    )


class TestRecovery:
    async def test_publish_timeout_then_the_container_says_published(
        self, adapter: ThreadsAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(
            graph,
            containers=["c1"],
            statuses={"c1": [status("c1", "FINISHED"), status("c1", "PUBLISHED")]},
        )
        graph.routes["publish"].side_effect = httpx.ReadTimeout("lost")
        post = outgoing("Did it go?")
        with pytest.raises(Transient) as caught:
            await adapter.publish(ACCOUNT, post)
        assert caught.value.maybe_sent is True

        lookup = graph.get(f"{API}/{USER}/threads").mock(
            return_value=listing(
                {
                    "id": "18000000000000002",
                    "text": "Did it go?",
                    "media_type": "TEXT_POST",
                    "is_reply": False,
                    "permalink": "https://www.threads.com/@polypost/post/X",
                    "timestamp": "2026-11-22T10:00:05+0000",
                },
                {
                    "id": "18000000000000000",
                    "text": "Did it go",
                    "media_type": "TEXT_POST",
                    "is_reply": False,
                    "timestamp": "2026-11-22T10:00:01+0000",
                },
            )
        )
        found = await adapter.find_published(ACCOUNT, post)
        assert found == Published(
            id="18000000000000002", url="https://www.threads.com/@polypost/post/X"
        )
        params = dict(lookup.calls.last.request.url.params)
        assert params["fields"] == "id,text,timestamp,permalink,media_type,is_reply,replied_to"
        assert int(params["since"]) == int((NOW - timedelta(minutes=2)).timestamp())

    async def test_a_finished_container_was_not_published(
        self, adapter: ThreadsAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(graph, containers=["c1"], statuses={"c1": [status("c1", "FINISHED")] * 2})
        graph.routes["publish"].side_effect = httpx.ReadTimeout("lost")
        post = outgoing("Did it go?")
        with pytest.raises(Transient):
            await adapter.publish(ACCOUNT, post)
        assert await adapter.find_published(ACCOUNT, post) is None

    async def test_error_10_on_publish_with_the_post_out(
        self, adapter: ThreadsAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(
            graph,
            containers=["c1"],
            statuses={"c1": [status("c1", "FINISHED"), status("c1", "PUBLISHED")]},
        )
        graph.routes["publish"].side_effect = [
            graph_error(400, 10, message="Application does not have permission for this action")
        ]
        graph.get(f"{API}/{USER}/threads").mock(
            return_value=listing(
                {"id": "18000000000000003", "text": "Quirk", "media_type": "TEXT_POST"}
            )
        )
        published = await adapter.publish(ACCOUNT, outgoing("Quirk"))
        assert published.id == "18000000000000003"

    async def test_error_10_on_publish_without_the_post_is_a_permission_problem(
        self, adapter: ThreadsAdapter, graph: respx.MockRouter
    ) -> None:
        mock_flow(graph, containers=["c1"], statuses={"c1": [status("c1", "FINISHED")] * 2})
        graph.routes["publish"].side_effect = [
            graph_error(400, 10, message="Application does not have permission for this action")
        ]
        with pytest.raises(AuthExpired) as caught:
            await adapter.publish(ACCOUNT, outgoing("Quirk"))
        assert caught.value.code == "10"

    async def test_lookup_without_a_container_matches_replies_by_parent(
        self, adapter: ThreadsAdapter, graph: respx.MockRouter
    ) -> None:
        route = graph.get(f"{API}/{USER}/replies").mock(
            return_value=listing(
                {"id": "r1", "text": "2/ next", "is_reply": True, "replied_to": {"id": "other"}},
                {
                    "id": "r2",
                    "text": "2/ next",
                    "is_reply": True,
                    "replied_to": {"id": "18000000000000001"},
                },
            )
        )
        found = await adapter.find_published(
            ACCOUNT, outgoing("2/ next", reply_to=Published(id="18000000000000001"))
        )
        assert found is not None
        assert found.id == "r2"
        since = int(dict(route.calls.last.request.url.params)["since"])
        assert since == int((NOW - timedelta(hours=24)).timestamp())

    async def test_lookup_of_a_media_post_with_a_link(
        self, adapter: ThreadsAdapter, graph: respx.MockRouter
    ) -> None:
        graph.get(f"{API}/{USER}/threads").mock(
            return_value=listing(
                {"id": "m1", "text": "Menu", "media_type": "IMAGE"},
                {"id": "m2", "text": "Menu\n\nhttps://example.com/m", "media_type": "IMAGE"},
            )
        )
        post = outgoing("Menu", media=(media("md_1"),), link="https://example.com/m")
        found = await adapter.find_published(ACCOUNT, post)
        assert found is not None
        assert found.id == "m2"

    async def test_lookup_finds_nothing(
        self, adapter: ThreadsAdapter, graph: respx.MockRouter
    ) -> None:
        graph.get(f"{API}/{USER}/threads").mock(return_value=listing({"id": "1", "text": "Other"}))
        assert await adapter.find_published(ACCOUNT, outgoing("Mine")) is None

    async def test_lookup_does_not_guess_between_two(
        self, adapter: ThreadsAdapter, graph: respx.MockRouter
    ) -> None:
        graph.get(f"{API}/{USER}/threads").mock(
            return_value=listing({"id": "1", "text": "Same"}, {"id": "2", "text": "Same"})
        )
        with pytest.raises(Permanent) as caught:
            await adapter.find_published(ACCOUNT, outgoing("Same"))
        assert caught.value.code == "ambiguous"

    async def test_a_textless_post_without_its_container_is_unknown(
        self, adapter: ThreadsAdapter
    ) -> None:
        with pytest.raises(Permanent) as caught:
            await adapter.find_published(ACCOUNT, outgoing("", media=(media("md_1"),)))
        assert caught.value.code == "unsupported"


class TestErrors:
    async def fail_with(
        self, adapter: ThreadsAdapter, graph: respx.MockRouter, response: httpx.Response
    ) -> Exception:
        graph.post(CREATE).mock(return_value=response)
        with pytest.raises(Exception) as caught:
            await adapter.publish(ACCOUNT, outgoing())
        return caught.value

    async def test_expired_token(self, adapter: ThreadsAdapter, graph: respx.MockRouter) -> None:
        error = await self.fail_with(
            adapter,
            graph,
            graph_error(
                400,
                190,
                463,
                message="Error validating access token: Session has expired on Friday, 21-Nov-26.",
            ),
        )
        assert isinstance(error, AuthExpired)
        assert error.code == "190/463"

    async def test_missing_permission(
        self, adapter: ThreadsAdapter, graph: respx.MockRouter
    ) -> None:
        error = await self.fail_with(
            adapter, graph, graph_error(403, 200, message="Permissions error")
        )
        assert isinstance(error, AuthExpired)

    @pytest.mark.parametrize("code", [4, 17, 32, 613])
    async def test_rate_limits(
        self, adapter: ThreadsAdapter, graph: respx.MockRouter, code: int
    ) -> None:
        response = graph_error(
            400, code, message="Application request limit reached", is_transient=True
        )
        response.headers["retry-after"] = "120"
        error = await self.fail_with(adapter, graph, response)
        assert isinstance(error, RateLimited)
        assert error.retry_at is not None

    async def test_action_block_is_permanent(
        self, adapter: ThreadsAdapter, graph: respx.MockRouter
    ) -> None:
        error = await self.fail_with(
            adapter,
            graph,
            graph_error(
                403,
                4,
                2207051,
                message="Application request limit reached",
                is_transient=False,
                error_user_title="action is blocked",
                error_user_msg="We restrict certain activity to protect our community.",
            ),
        )
        assert isinstance(error, Permanent)
        assert error.code == "4/2207051"
        assert "We restrict certain activity" in error.message

    @pytest.mark.parametrize(
        "response",
        [
            graph_error(500, 1, message="An unknown error occurred"),
            graph_error(500, 2, message="Service temporarily unavailable"),
            graph_error(400, 9000, message="Try again", is_transient=True),
            httpx.Response(502, text="<html>Bad Gateway</html>"),
        ],
    )
    async def test_transient(
        self, adapter: ThreadsAdapter, graph: respx.MockRouter, response: httpx.Response
    ) -> None:
        error = await self.fail_with(adapter, graph, response)
        assert isinstance(error, Transient)

    async def test_text_too_long_is_permanent(
        self, adapter: ThreadsAdapter, graph: respx.MockRouter
    ) -> None:
        error = await self.fail_with(
            adapter,
            graph,
            graph_error(
                400,
                100,
                message="Invalid parameter",
                error_user_msg="text must be at most 500 characters",
            ),
        )
        assert isinstance(error, Permanent)
        assert error.code == "100"
        assert "500 characters" in error.message


class TestOtherOperations:
    async def test_delete(self, adapter: ThreadsAdapter, graph: respx.MockRouter) -> None:
        route = graph.delete(f"{API}/18000000000000001").mock(
            return_value=httpx.Response(
                200, json={"success": True, "deleted_id": "18000000000000001"}
            )
        )
        await adapter.delete(ACCOUNT, "18000000000000001")
        assert route.calls.last.request.headers["authorization"] == AUTH

    async def test_deleting_a_deleted_post_succeeds(
        self, adapter: ThreadsAdapter, graph: respx.MockRouter
    ) -> None:
        graph.delete(f"{API}/5").mock(
            return_value=graph_error(
                400,
                100,
                33,
                message="Unsupported delete request. Object with ID '5' does not exist",
            )
        )
        await adapter.delete(ACCOUNT, "5")

    async def test_delete_without_the_scope(
        self, adapter: ThreadsAdapter, graph: respx.MockRouter
    ) -> None:
        graph.delete(f"{API}/5").mock(
            return_value=graph_error(403, 10, message="Application does not have permission")
        )
        with pytest.raises(AuthExpired):
            await adapter.delete(ACCOUNT, "5")

    async def test_edit_is_unsupported(self, adapter: ThreadsAdapter) -> None:
        with pytest.raises(Permanent) as caught:
            await adapter.edit(ACCOUNT, "5", outgoing())
        assert caught.value.code == "unsupported"

    async def test_metrics(self, adapter: ThreadsAdapter, graph: respx.MockRouter) -> None:
        route = graph.get(f"{API}/18000000000000001/insights").mock(
            return_value=httpx.Response(
                200,
                json={
                    "data": [
                        {
                            "name": "views",
                            "period": "lifetime",
                            "values": [{"value": 1200}],
                            "title": "Views",
                            "id": "x/insights/views/lifetime",
                        },
                        {"name": "likes", "period": "lifetime", "values": [{"value": 40}]},
                        {"name": "replies", "period": "lifetime", "values": [{"value": 5}]},
                        {"name": "reposts", "period": "lifetime", "values": [{"value": 3}]},
                        {"name": "quotes", "period": "lifetime", "total_value": {"value": 2}},
                        {"name": "shares", "period": "lifetime", "values": [{"value": 1}]},
                    ]
                },
            )
        )
        metrics = await adapter.metrics(ACCOUNT, "18000000000000001")
        assert (metrics.views, metrics.likes, metrics.comments, metrics.shares) == (1200, 40, 5, 6)
        assert metrics.impressions is None
        assert dict(route.calls.last.request.url.params) == {
            "metric": "views,likes,replies,reposts,quotes,shares"
        }


class TestAccounts:
    def test_oauth_spec(self) -> None:
        spec = ThreadsAdapter.oauth
        assert spec.authorize_url == "https://threads.net/oauth/authorize"
        assert spec.token_url == "https://graph.threads.net/oauth/access_token"
        assert spec.scope_separator == ","
        assert spec.pkce is False
        assert {"threads_basic", "threads_content_publish", "threads_delete"} <= set(spec.scopes)

    async def test_whoami(self, adapter: ThreadsAdapter, graph: respx.MockRouter) -> None:
        route = graph.get(f"{API}/me").mock(
            return_value=httpx.Response(
                200,
                json={
                    "id": USER,
                    "username": "polypost",
                    "name": "Polypost",
                    "threads_profile_picture_url": "https://scontent.cdninstagram.com/p.jpg",
                },
            )
        )
        identity = await adapter.whoami(ACCOUNT)
        assert (
            identity.external_id,
            identity.handle,
            identity.display_name,
            identity.avatar_url,
        ) == (
            USER,
            "polypost",
            "Polypost",
            "https://scontent.cdninstagram.com/p.jpg",
        )
        assert dict(route.calls.last.request.url.params) == {
            "fields": "id,username,name,threads_profile_picture_url"
        }
        assert route.calls.last.request.headers["authorization"] == AUTH

    async def test_exchange_code_for_a_long_lived_token(
        self, adapter: ThreadsAdapter, graph: respx.MockRouter
    ) -> None:
        short = graph.post(f"{GRAPH}/oauth/access_token").mock(
            return_value=httpx.Response(
                200, json={"access_token": "short", "user_id": 17841400000000001}
            )
        )
        long = graph.get(f"{GRAPH}/access_token").mock(
            return_value=httpx.Response(
                200, json={"access_token": "long", "token_type": "bearer", "expires_in": 5183944}
            )
        )
        tokens = await adapter.exchange_code(
            AppCredentials(client_id="app-id", client_secret="app-secret"),
            "AQBcode#_",
            "https://app.example/cb",
            None,
        )
        assert form(short.calls.last.request) == {
            "client_id": "app-id",
            "client_secret": "app-secret",
            "grant_type": "authorization_code",
            "redirect_uri": "https://app.example/cb",
            "code": "AQBcode",
        }
        assert dict(long.calls.last.request.url.params) == {
            "grant_type": "th_exchange_token",
            "client_secret": "app-secret",
            "access_token": "short",
        }
        assert tokens.access_token == "long"
        assert tokens.refresh_token is None
        assert tokens.expires_at is not None
        assert timedelta(days=59) < tokens.expires_at - datetime.now(UTC) < timedelta(days=61)

    async def test_exchange_needs_the_app_secret(self, adapter: ThreadsAdapter) -> None:
        with pytest.raises(Permanent) as caught:
            await adapter.exchange_code(
                AppCredentials(client_id="app-id"), "c", "https://a/cb", None
            )
        assert caught.value.code == "credentials_missing"

    async def test_bad_code(self, adapter: ThreadsAdapter, graph: respx.MockRouter) -> None:
        graph.post(f"{GRAPH}/oauth/access_token").mock(
            return_value=graph_error(400, 100, message="Invalid verification code format.")
        )
        with pytest.raises(Permanent):
            await adapter.exchange_code(
                AppCredentials(client_id="i", client_secret="s"), "bad", "https://a/cb", None
            )

    async def test_refresh(self, adapter: ThreadsAdapter, graph: respx.MockRouter) -> None:
        route = graph.get(f"{GRAPH}/refresh_access_token").mock(
            return_value=httpx.Response(
                200, json={"access_token": "newer", "token_type": "bearer", "expires_in": 5183944}
            )
        )
        tokens = await adapter.refresh(ACCOUNT)
        assert dict(route.calls.last.request.url.params) == {
            "grant_type": "th_refresh_token",
            "access_token": "th-token",
        }
        assert tokens.access_token == "newer"
        assert tokens.refresh_token is None

    async def test_refresh_of_an_expired_token(
        self, adapter: ThreadsAdapter, graph: respx.MockRouter
    ) -> None:
        graph.get(f"{GRAPH}/refresh_access_token").mock(
            return_value=graph_error(
                400, 190, message="Error validating access token: Session has expired"
            )
        )
        with pytest.raises(AuthExpired):
            await adapter.refresh(ACCOUNT)
