"""Instagram end to end: `POST /v1/posts` → publishing job parked while Meta processes
the reel → resumed until FINISHED → published with its first comment; the account's
limits and native media read back through the API."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx

from polypost.core.runtime import Runtime
from polypost.platforms.registry import adapter_for
from tests.fixtures.factories import connect_sandbox, make_media, make_tenant
from tests.fixtures.jobs import RunJobs
from tests.platforms.helpers import form, make_account
from tests.platforms.instagram.graph import graph_error, ok

API = "https://graph.instagram.com/v23.0"
USER = "17841400000000001"
MEDIA_ID = "17900000000000001"
PERMALINK = "https://www.instagram.com/reel/DAbCdEf/"


@pytest.fixture
def graph() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


def quota(used: int) -> httpx.Response:
    return ok(
        {"data": [{"quota_usage": used, "config": {"quota_total": 50, "quota_duration": 86400}}]}
    )


async def status_of(
    client: httpx.AsyncClient, headers: dict[str, str], post_id: str
) -> dict[str, Any]:
    response = await client.get(f"/v1/posts/{post_id}/status", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_reel_is_parked_while_processing_and_resumed_until_finished(
    client: httpx.AsyncClient, runtime: Runtime, run_jobs: RunJobs, graph: respx.MockRouter
) -> None:
    tenant = await make_tenant(runtime)
    account_id = await make_account(
        runtime,
        tenant.workspace.id,
        "instagram",
        external_id=USER,
        handle="polypost",
        access_token="IGAAtoken",
    )
    video = await make_media(
        runtime, tenant.workspace.id, "video", width=1080, height=1920, size=8_000_000
    )
    adapter = adapter_for(runtime, "instagram")
    adapter.poll_delays = (timedelta(milliseconds=300),)

    graph.get(f"{API}/{USER}/content_publishing_limit").mock(return_value=quota(4))
    create = graph.post(f"{API}/{USER}/media").mock(return_value=ok({"id": "c1"}))
    polls = graph.get(f"{API}/c1").mock(
        side_effect=[
            ok({"status_code": "IN_PROGRESS", "status": "In Progress"}),
            ok({"status_code": "IN_PROGRESS", "status": "In Progress"}),
            ok({"status_code": "FINISHED", "status": "Finished"}),
        ]
    )
    publish = graph.post(f"{API}/{USER}/media_publish").mock(return_value=ok({"id": MEDIA_ID}))
    graph.get(f"{API}/{MEDIA_ID}").mock(return_value=ok({"permalink": PERMALINK}))
    comment = graph.post(f"{API}/{MEDIA_ID}/comments").mock(return_value=ok({"id": "1790001"}))

    response = await client.post(
        "/v1/posts",
        headers=tenant.headers,
        json={
            "accountIds": [account_id],
            "postType": "reel",
            "content": "New drop",
            "mediaIds": [video],
            "coverOffsetMs": 1200,
            "firstComment": "Link in bio",
            "platformOptions": {"instagram": {"shareToFeed": True}},
            "publishNow": True,
        },
    )
    assert response.status_code == 201, response.text
    post_id = response.json()["postId"]

    await run_jobs()
    parked = await status_of(client, tenant.headers, post_id)
    assert parked["status"] == "publishing"
    assert parked["targets"][0]["status"] == "publishing"
    assert parked["targets"][0]["stage"] == "processing"
    assert polls.call_count == 1
    assert not publish.called

    for _ in range(40):
        await asyncio.sleep(0.35)
        await run_jobs()
        if (await status_of(client, tenant.headers, post_id))["status"] != "publishing":
            break

    final = await status_of(client, tenant.headers, post_id)
    assert final["status"] == "published", final
    target = final["targets"][0]
    assert target["platformPostId"] == MEDIA_ID
    assert target["permalink"] == PERMALINK
    assert polls.call_count == 3
    assert create.call_count == 1
    assert publish.call_count == 1
    params = form(create.calls.last.request)
    assert params["media_type"] == "REELS"
    assert params["caption"] == "New drop"
    assert params["share_to_feed"] == "true"
    assert params["thumb_offset"] == "1200"
    # Meta pulls the file from the server's own signed download URL.
    assert params["video_url"].startswith(runtime.settings.public_base_url)
    assert form(publish.calls.last.request) == {"creation_id": "c1"}
    assert form(comment.calls.last.request) == {"message": "Link in bio"}


async def test_a_processing_error_fails_the_target(
    client: httpx.AsyncClient, runtime: Runtime, run_jobs: RunJobs, graph: respx.MockRouter
) -> None:
    tenant = await make_tenant(runtime)
    account_id = await make_account(
        runtime, tenant.workspace.id, "instagram", external_id=USER, handle="polypost"
    )
    image = await make_media(runtime, tenant.workspace.id, "image")
    graph.get(f"{API}/{USER}/content_publishing_limit").mock(return_value=quota(0))
    graph.post(f"{API}/{USER}/media").mock(return_value=ok({"id": "c1"}))
    graph.get(f"{API}/c1").mock(
        return_value=ok(
            {
                "status_code": "ERROR",
                "status": "Error: Media upload has failed with error code 2207005",
            }
        )
    )
    response = await client.post(
        "/v1/posts",
        headers=tenant.headers,
        json={"accountIds": [account_id], "content": "Hi", "mediaIds": [image], "publishNow": True},
    )
    assert response.status_code == 201, response.text
    await run_jobs()
    final = await status_of(client, tenant.headers, response.json()["postId"])
    assert final["status"] == "failed"
    assert final["targets"][0]["error"]["code"] == "processing/2207005"


async def test_limits_show_the_24_hour_publishing_quota(
    client: httpx.AsyncClient, runtime: Runtime, graph: respx.MockRouter
) -> None:
    tenant = await make_tenant(runtime)
    account_id = await make_account(
        runtime, tenant.workspace.id, "instagram", external_id=USER, handle="polypost"
    )
    route = graph.get(f"{API}/{USER}/content_publishing_limit").mock(return_value=quota(12))
    response = await client.get(f"/v1/accounts/{account_id}/limits", headers=tenant.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["platform"] == "instagram"
    assert body["quota"] == {
        "used": 12,
        "total": 50,
        "remaining": 38,
        "windowSeconds": 86400,
        "resetsAt": None,
    }
    assert body["limits"]["textLimit"] == 2200
    assert body["limits"]["carouselMax"] == 10
    assert body["limits"]["maxHashtags"] == 5
    assert dict(route.calls.last.request.url.params) == {"fields": "quota_usage,config"}


async def test_limits_of_an_expired_token_are_a_clear_error(
    client: httpx.AsyncClient, runtime: Runtime, graph: respx.MockRouter
) -> None:
    tenant = await make_tenant(runtime)
    account_id = await make_account(
        runtime, tenant.workspace.id, "instagram", external_id=USER, handle="polypost"
    )
    graph.get(f"{API}/{USER}/content_publishing_limit").mock(
        return_value=graph_error(400, 190, 463, message="Session has expired")
    )
    response = await client.get(f"/v1/accounts/{account_id}/limits", headers=tenant.headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "credentials_invalid"


async def test_limits_of_a_platform_without_a_quota_api_are_static(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    account_id = await connect_sandbox(client, tenant, persona="x")
    response = await client.get(f"/v1/accounts/{account_id}/limits", headers=tenant.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["quota"] is None
    assert body["limits"]["textLimit"] == 280
    assert body["limits"]["polls"]["maxOptions"] == 4


async def test_limits_of_another_workspace_account_are_not_found(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    owner = await make_tenant(runtime)
    other = await make_tenant(runtime, "other")
    account_id = await make_account(
        runtime, owner.workspace.id, "instagram", external_id=USER, handle="polypost"
    )
    response = await client.get(f"/v1/accounts/{account_id}/limits", headers=other.headers)
    assert response.status_code == 404


async def test_native_media_are_listed(
    client: httpx.AsyncClient, runtime: Runtime, graph: respx.MockRouter
) -> None:
    tenant = await make_tenant(runtime)
    account_id = await make_account(
        runtime, tenant.workspace.id, "instagram", external_id=USER, handle="polypost"
    )
    listing = graph.get(f"{API}/{USER}/media").mock(
        return_value=ok(
            {
                "data": [
                    {
                        "id": MEDIA_ID,
                        "caption": "Golden hour",
                        "media_type": "IMAGE",
                        "timestamp": "2026-11-20T08:30:00+0000",
                    }
                ],
                "paging": {"cursors": {"after": "QVFI"}, "next": f"{API}/{USER}/media?after=QVFI"},
            }
        )
    )
    response = await client.get(
        f"/v1/accounts/{account_id}/posts", headers=tenant.headers, params={"limit": 1}
    )
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["nextCursor"] == "QVFI"
    assert page["posts"][0]["platformPostId"] == MEDIA_ID
    assert page["posts"][0]["caption"] == "Golden hour"
    assert page["posts"][0]["timestamp"] == "2026-11-20T08:30:00Z"
    assert page["posts"][0]["inDb"] is False
    assert dict(listing.calls.last.request.url.params) == {
        "fields": "id,caption,media_type,media_product_type,permalink,timestamp",
        "limit": "1",
    }
