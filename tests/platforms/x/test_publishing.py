"""X end to end: `POST /v1/posts` → publishing job → X (respx) → target published, and
the account's native posts read back from the timeline."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import respx

from polypost.core.pagination import PageParams
from polypost.core.runtime import Runtime
from polypost.models import SocialAccount
from polypost.platforms.x.adapter import XAdapter
from tests.fixtures.factories import make_media, make_tenant
from tests.fixtures.jobs import RunJobs
from tests.platforms.helpers import body, make_account, multipart

TWEETS = "https://api.x.com/2/tweets"
TIMELINE = "https://api.x.com/2/users/2244994945/tweets"


@pytest.fixture
def x_api() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


def created(tweet_id: str) -> httpx.Response:
    return httpx.Response(201, json={"data": {"id": tweet_id, "text": "…"}})


async def test_a_thread_with_a_first_comment_is_published(
    client: httpx.AsyncClient, runtime: Runtime, run_jobs: RunJobs, x_api: respx.MockRouter
) -> None:
    tenant = await make_tenant(runtime)
    account_id = await make_account(
        runtime,
        tenant.workspace.id,
        "x",
        external_id="2244994945",
        handle="polypost",
        refresh_token="refresh-1",
    )
    create = x_api.post(TWEETS).mock(side_effect=[created("100"), created("101"), created("102")])
    response = await client.post(
        "/v1/posts",
        headers=tenant.headers,
        json={
            "accountIds": [account_id],
            "postType": "thread",
            "content": "1/ Launch day",
            "thread": [{"text": "2/ The details"}],
            "firstComment": "Sign up at https://example.com",
            "publishNow": True,
        },
    )
    assert response.status_code == 201, response.text
    post_id = response.json()["postId"]
    await run_jobs()

    status = (await client.get(f"/v1/posts/{post_id}/status", headers=tenant.headers)).json()
    assert status["status"] == "published", status
    target = status["targets"][0]
    assert target["platformPostId"] == "100"
    assert target["permalink"] == "https://x.com/polypost/status/100"
    sent = [body(call.request) for call in create.calls]
    assert sent == [
        {"text": "1/ Launch day"},
        {"text": "2/ The details", "reply": {"in_reply_to_tweet_id": "100"}},
        {"text": "Sign up at https://example.com", "reply": {"in_reply_to_tweet_id": "100"}},
    ]
    assert all(c.request.headers["authorization"] == "Bearer user-token" for c in create.calls)

    x_api.get(TIMELINE).mock(
        return_value=httpx.Response(
            200,
            json={
                "data": [
                    {
                        "id": "102",
                        "text": "Sign up at https://t.co/a",
                        "created_at": "2026-11-22T10:00:02.000Z",
                    },
                    {
                        "id": "100",
                        "text": "1/ Launch day",
                        "created_at": "2026-11-22T10:00:00.000Z",
                    },
                    {
                        "id": "55",
                        "text": "Posted on x.com",
                        "created_at": "2026-11-01T08:00:00.000Z",
                    },
                ],
                "meta": {"result_count": 3},
            },
        )
    )
    native = await client.get(f"/v1/accounts/{account_id}/posts", headers=tenant.headers)
    assert native.status_code == 200, native.text
    posts = {p["platformPostId"]: p for p in native.json()["posts"]}
    assert posts["100"]["inDb"] is True
    assert posts["100"]["dbPostId"] == post_id
    assert posts["55"]["inDb"] is False
    assert posts["55"]["timestamp"] == "2026-11-01T08:00:00Z"


async def test_a_duplicate_fails_the_target_with_the_platform_reason(
    client: httpx.AsyncClient, runtime: Runtime, run_jobs: RunJobs, x_api: respx.MockRouter
) -> None:
    tenant = await make_tenant(runtime)
    account_id = await make_account(
        runtime, tenant.workspace.id, "x", external_id="2244994945", handle="polypost"
    )
    x_api.post(TWEETS).mock(
        return_value=httpx.Response(
            403,
            json={
                "detail": "You are not allowed to create a Tweet with duplicate content.",
                "type": "about:blank",
                "title": "Forbidden",
                "status": 403,
            },
        )
    )
    response = await client.post(
        "/v1/posts",
        headers=tenant.headers,
        json={"accountIds": [account_id], "content": "Again", "publishNow": True},
    )
    await run_jobs()
    status = (
        await client.get(f"/v1/posts/{response.json()['postId']}/status", headers=tenant.headers)
    ).json()
    assert status["status"] == "failed"
    assert status["targets"][0]["error"]["code"] == "duplicate_content"


class TestListPosts:
    """Page sizes under X's minimum of 5 are cut from a larger X page."""

    def timeline(self, x_api: respx.MockRouter) -> respx.Route:
        tweets = [
            {"id": str(200 - i), "text": f"post {i}", "created_at": "2026-11-22T10:00:00.000Z"}
            for i in range(5)
        ]
        return x_api.get(TIMELINE).mock(
            side_effect=[
                httpx.Response(
                    200,
                    json={
                        "data": tweets,
                        "meta": {"next_token": "7140dibdnow9c7btw3w29grvxfcgvpb9n9coehpk7xz5i"},
                    },
                ),
                httpx.Response(
                    200,
                    json={
                        "data": tweets,
                        "meta": {"next_token": "7140dibdnow9c7btw3w29grvxfcgvpb9n9coehpk7xz5i"},
                    },
                ),
                httpx.Response(200, json={"data": [{"id": "1", "text": "last"}], "meta": {}}),
            ]
        )

    async def test_small_pages_walk_the_timeline(
        self, runtime: Runtime, x_api: respx.MockRouter
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await make_account(
            runtime, tenant.workspace.id, "x", external_id="2244994945", handle="polypost"
        )
        route = self.timeline(x_api)
        adapter = XAdapter(runtime)
        seen: list[str] = []
        cursor = None
        async with runtime.sessions() as session:
            account = await session.get(SocialAccount, account_id)
            assert account is not None
            for _ in range(3):
                page = await adapter.list_posts(runtime, session, account, PageParams(3, cursor))
                seen += [p.platform_post_id or "" for p in page.items]
                cursor = page.next_cursor
                if cursor is None:
                    break
        assert seen == ["200", "199", "198", "197", "196", "1"]
        queries = [dict(c.request.url.params) for c in route.calls]
        assert queries[0] == {"max_results": "5", "tweet.fields": "created_at,text,note_tweet"}
        assert queries[1] == {"max_results": "6", "tweet.fields": "created_at,text,note_tweet"}
        assert queries[2]["pagination_token"] == "7140dibdnow9c7btw3w29grvxfcgvpb9n9coehpk7xz5i"
        assert route.calls[0].request.headers["authorization"] == "Bearer user-token"

    async def test_a_forged_cursor_is_a_bad_request(
        self, client: httpx.AsyncClient, runtime: Runtime, x_api: respx.MockRouter
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await make_account(
            runtime, tenant.workspace.id, "x", external_id="2244994945", handle="polypost"
        )
        timeline = x_api.get(TIMELINE)
        response = await client.get(
            f"/v1/accounts/{account_id}/posts",
            headers=tenant.headers,
            params={"cursor": "abc/def.x"},
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "bad_request"
        assert not timeline.called


async def test_an_image_post_uploads_the_stored_file(
    client: httpx.AsyncClient, runtime: Runtime, run_jobs: RunJobs, x_api: respx.MockRouter
) -> None:
    tenant = await make_tenant(runtime)
    account_id = await make_account(
        runtime, tenant.workspace.id, "x", external_id="2244994945", handle="polypost"
    )
    media_id = await make_media(runtime, tenant.workspace.id, size=7)
    # The pipeline hands the adapter a signed URL of the stored bytes.
    stored = x_api.get(path__startswith="/v1/media/files/").mock(
        return_value=httpx.Response(200, content=b"JPEGDAT")
    )
    upload = x_api.post("https://api.x.com/2/media/upload").mock(
        return_value=httpx.Response(200, json={"data": {"id": "1880028106020515840"}})
    )
    metadata = x_api.post("https://api.x.com/2/media/metadata").mock(
        return_value=httpx.Response(200, json={"data": {"associated_metadata": True}})
    )
    create = x_api.post(TWEETS).mock(return_value=created("300"))
    response = await client.post(
        "/v1/posts",
        headers=tenant.headers,
        json={
            "accountIds": [account_id],
            "content": "Fresh out of the oven",
            "mediaIds": [media_id],
            "altText": {media_id: "A loaf of bread"},
            "publishNow": True,
        },
    )
    assert response.status_code == 201, response.text
    await run_jobs()
    status = (
        await client.get(f"/v1/posts/{response.json()['postId']}/status", headers=tenant.headers)
    ).json()
    assert status["status"] == "published", status
    assert stored.call_count == 1
    assert multipart(upload.calls.last.request)["media"][0] == b"JPEGDAT"
    assert body(metadata.calls.last.request) == {
        "id": "1880028106020515840",
        "metadata": {"alt_text": {"text": "A loaf of bread"}},
    }
    assert body(create.calls.last.request) == {
        "text": "Fresh out of the oven",
        "media": {"media_ids": ["1880028106020515840"]},
    }
