"""Threads end to end: `POST /v1/posts` → publishing job → Threads (respx) → target
published, and the account's native posts read back."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import respx

from polypost.core.runtime import Runtime
from polypost.platforms.registry import adapter_for
from tests.fixtures.factories import make_media, make_tenant
from tests.fixtures.jobs import RunJobs
from tests.platforms.helpers import form, make_account

API = "https://graph.threads.net/v1.0"
USER = "17841400000000001"


@pytest.fixture
def graph() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


async def test_a_thread_with_a_first_comment_is_published(
    client: httpx.AsyncClient, runtime: Runtime, run_jobs: RunJobs, graph: respx.MockRouter
) -> None:
    tenant = await make_tenant(runtime)
    account_id = await make_account(
        runtime, tenant.workspace.id, "threads", external_id=USER, handle="polypost"
    )
    create = graph.post(f"{API}/{USER}/threads").mock(
        side_effect=[httpx.Response(200, json={"id": f"c{i}"}) for i in range(3)]
    )
    for i in range(3):
        graph.get(f"{API}/c{i}").mock(
            return_value=httpx.Response(200, json={"id": f"c{i}", "status": "FINISHED"})
        )
    publish = graph.post(f"{API}/{USER}/threads_publish").mock(
        side_effect=[httpx.Response(200, json={"id": f"1800000000000000{i}"}) for i in range(3)]
    )
    for i in range(3):
        graph.get(f"{API}/1800000000000000{i}").mock(
            return_value=httpx.Response(
                200, json={"permalink": f"https://www.threads.com/@polypost/post/P{i}"}
            )
        )
    response = await client.post(
        "/v1/posts",
        headers=tenant.headers,
        json={
            "accountIds": [account_id],
            "postType": "thread",
            "content": "1/ Launch day",
            "thread": [{"text": "2/ The details"}],
            "firstComment": "Questions welcome",
            "platformOptions": {"threads": {"replyControl": "accounts_you_follow"}},
            "publishNow": True,
        },
    )
    assert response.status_code == 201, response.text
    post_id = response.json()["postId"]
    await run_jobs()

    status = (await client.get(f"/v1/posts/{post_id}/status", headers=tenant.headers)).json()
    assert status["status"] == "published", status
    target = status["targets"][0]
    assert target["platformPostId"] == "18000000000000000"
    assert target["permalink"] == "https://www.threads.com/@polypost/post/P0"
    assert [form(c.request) for c in create.calls] == [
        {"media_type": "TEXT", "text": "1/ Launch day", "reply_control": "accounts_you_follow"},
        {"media_type": "TEXT", "text": "2/ The details", "reply_to_id": "18000000000000000"},
        {"media_type": "TEXT", "text": "Questions welcome", "reply_to_id": "18000000000000000"},
    ]
    assert [form(c.request) for c in publish.calls] == [
        {"creation_id": "c0"},
        {"creation_id": "c1"},
        {"creation_id": "c2"},
    ]
    assert all(c.request.headers["authorization"] == "Bearer user-token" for c in create.calls)

    listing = graph.get(f"{API}/{USER}/threads").mock(
        return_value=httpx.Response(
            200,
            json={
                "data": [
                    {
                        "id": "18000000000000000",
                        "text": "1/ Launch day",
                        "timestamp": "2026-11-22T10:00:00+0000",
                        "media_type": "TEXT_POST",
                    },
                    {
                        "id": "17999999999999999",
                        "text": "Posted in the app",
                        "timestamp": "2026-11-20T08:30:00+0000",
                        "media_type": "TEXT_POST",
                    },
                ],
                "paging": {
                    "cursors": {"before": "QVFIUb", "after": "QVFIUa"},
                    "next": f"{API}/{USER}/threads?after=QVFIUa",
                },
            },
        )
    )
    native = await client.get(
        f"/v1/accounts/{account_id}/posts", headers=tenant.headers, params={"limit": 2}
    )
    assert native.status_code == 200, native.text
    page = native.json()
    assert page["nextCursor"] == "QVFIUa"
    posts = {p["platformPostId"]: p for p in page["posts"]}
    assert posts["18000000000000000"]["inDb"] is True
    assert posts["18000000000000000"]["dbPostId"] == post_id
    assert posts["17999999999999999"]["inDb"] is False
    assert posts["17999999999999999"]["timestamp"] == "2026-11-20T08:30:00Z"
    assert dict(listing.calls.last.request.url.params) == {
        "fields": "id,text,timestamp,permalink,media_type",
        "limit": "2",
    }


async def test_an_expired_token_fails_the_target_and_the_account(
    client: httpx.AsyncClient, runtime: Runtime, run_jobs: RunJobs, graph: respx.MockRouter
) -> None:
    tenant = await make_tenant(runtime)
    account_id = await make_account(
        runtime, tenant.workspace.id, "threads", external_id=USER, handle="polypost"
    )
    graph.post(f"{API}/{USER}/threads").mock(
        return_value=httpx.Response(
            400,
            json={
                "error": {
                    "message": "Error validating access token: Session has expired.",
                    "type": "OAuthException",
                    "code": 190,
                    "error_subcode": 463,
                }
            },
        )
    )
    # The pipeline refreshes once on a refused token; a dead token cannot be refreshed.
    refresh = graph.get("https://graph.threads.net/refresh_access_token").mock(
        return_value=httpx.Response(
            400,
            json={
                "error": {
                    "message": "Error validating access token: Session has expired.",
                    "type": "OAuthException",
                    "code": 190,
                }
            },
        )
    )
    response = await client.post(
        "/v1/posts",
        headers=tenant.headers,
        json={"accountIds": [account_id], "content": "Hello", "publishNow": True},
    )
    await run_jobs()
    status = (
        await client.get(f"/v1/posts/{response.json()['postId']}/status", headers=tenant.headers)
    ).json()
    assert status["status"] == "failed"
    assert status["targets"][0]["error"]["code"] == "auth_expired"
    accounts = (await client.get("/v1/accounts", headers=tenant.headers)).json()["accounts"]
    assert [a["status"] for a in accounts if a["accountId"] == account_id] == ["expired"]
    assert refresh.call_count == 1


async def test_a_processing_container_parks_the_target_until_finished(
    client: httpx.AsyncClient, runtime: Runtime, run_jobs: RunJobs, graph: respx.MockRouter
) -> None:
    tenant = await make_tenant(runtime)
    account_id = await make_account(
        runtime, tenant.workspace.id, "threads", external_id=USER, handle="polypost"
    )
    adapter = adapter_for(runtime, "threads")
    adapter.container_wait = 0.0  # hand the worker back at the first IN_PROGRESS
    adapter.pending_delays = (0.0,)
    create = graph.post(f"{API}/{USER}/threads").mock(
        return_value=httpx.Response(200, json={"id": "c9"})
    )
    checks = graph.get(f"{API}/c9").mock(
        side_effect=[
            httpx.Response(200, json={"id": "c9", "status": status})
            for status in ("IN_PROGRESS", "IN_PROGRESS", "FINISHED")
        ]
    )
    publish = graph.post(f"{API}/{USER}/threads_publish").mock(
        return_value=httpx.Response(200, json={"id": "18000000000000009"})
    )
    graph.get(f"{API}/18000000000000009").mock(
        return_value=httpx.Response(200, json={"permalink": "https://www.threads.com/@p/post/Q"})
    )
    response = await client.post(
        "/v1/posts",
        headers=tenant.headers,
        json={"accountIds": [account_id], "content": "Patience", "publishNow": True},
    )
    await run_jobs()
    status = (
        await client.get(f"/v1/posts/{response.json()['postId']}/status", headers=tenant.headers)
    ).json()
    assert status["status"] == "published", status
    assert status["targets"][0]["platformPostId"] == "18000000000000009"
    assert create.call_count == 1
    assert checks.call_count == 3
    assert [form(c.request) for c in publish.calls] == [{"creation_id": "c9"}]


async def test_an_image_post_hands_threads_the_signed_url(
    client: httpx.AsyncClient, runtime: Runtime, run_jobs: RunJobs, graph: respx.MockRouter
) -> None:
    tenant = await make_tenant(runtime)
    account_id = await make_account(
        runtime, tenant.workspace.id, "threads", external_id=USER, handle="polypost"
    )
    media_id = await make_media(runtime, tenant.workspace.id)
    create = graph.post(f"{API}/{USER}/threads").mock(
        return_value=httpx.Response(200, json={"id": "c5"})
    )
    graph.get(f"{API}/c5").mock(
        return_value=httpx.Response(200, json={"id": "c5", "status": "FINISHED"})
    )
    graph.post(f"{API}/{USER}/threads_publish").mock(
        return_value=httpx.Response(200, json={"id": "18000000000000005"})
    )
    graph.get(f"{API}/18000000000000005").mock(
        return_value=httpx.Response(200, json={"permalink": "https://www.threads.com/@p/post/I"})
    )
    response = await client.post(
        "/v1/posts",
        headers=tenant.headers,
        json={
            "accountIds": [account_id],
            "content": "Bread",
            "mediaIds": [media_id],
            "altText": {media_id: "A loaf"},
            "publishNow": True,
        },
    )
    assert response.status_code == 201, response.text
    await run_jobs()
    status = (
        await client.get(f"/v1/posts/{response.json()['postId']}/status", headers=tenant.headers)
    ).json()
    assert status["status"] == "published", status
    params = form(create.calls.last.request)
    image_url = httpx.URL(params.pop("image_url"))
    assert image_url.path.startswith("/v1/media/files/")
    assert image_url.scheme in ("http", "https")
    assert params == {"media_type": "IMAGE", "alt_text": "A loaf", "text": "Bread"}
