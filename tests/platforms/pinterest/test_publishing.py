"""Pinterest end to end: choosing a board through the pages routes, `POST /v1/posts`
validated for a board and the carousel's aspect ratio, image and video pins published
by the jobs, and a published pin deleted through `DELETE /v1/posts/{id}`."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx

from polypost.core.runtime import Runtime
from polypost.platforms.pinterest.adapter import PinterestAdapter
from polypost.platforms.registry import adapter_for
from tests.fixtures.factories import make_account, make_media, make_tenant
from tests.fixtures.jobs import RunJobs
from tests.platforms.helpers import body, multipart

API = "https://api.pinterest.com/v5"
S3 = "https://pinterest-media-upload.s3-accelerate.amazonaws.com/"
FILES = r"/v1/media/files/"


@pytest.fixture
def pinterest() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


async def post_status(client: httpx.AsyncClient, headers: dict[str, str], post_id: str) -> Any:
    return (await client.get(f"/v1/posts/{post_id}/status", headers=headers)).json()


async def test_choose_a_board_then_pin_an_image_with_a_link(
    client: httpx.AsyncClient, runtime: Runtime, run_jobs: RunJobs, pinterest: respx.MockRouter
) -> None:
    tenant = await make_tenant(runtime)
    account_id = await make_account(
        runtime, tenant.workspace.id, "pinterest", access_token="pina_token"
    )
    pinterest.get(f"{API}/boards").mock(
        return_value=httpx.Response(
            200,
            json={
                "items": [
                    {"id": "1111", "name": "Recipes", "privacy": "PUBLIC"},
                    {"id": "2222", "name": "Travel", "privacy": "SECRET"},
                ],
                "bookmark": None,
            },
        )
    )
    pinterest.get(f"{API}/boards/1111").mock(
        return_value=httpx.Response(200, json={"id": "1111", "name": "Recipes"})
    )
    pages = await client.get(f"/v1/accounts/{account_id}/pages", headers=tenant.headers)
    assert pages.status_code == 200, pages.text
    assert [p["pageId"] for p in pages.json()["pages"]] == ["1111", "2222"]
    chosen = await client.patch(f"/v1/accounts/{account_id}/pages/1111", headers=tenant.headers)
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["selected"] is True

    media_id = await make_media(runtime, tenant.workspace.id)
    pinterest.get(url__regex=FILES).mock(return_value=httpx.Response(200, content=b"\xff\xd8JPG"))
    create = pinterest.post(f"{API}/pins").mock(
        return_value=httpx.Response(201, json={"id": "813744226420795884"})
    )
    response = await client.post(
        "/v1/posts",
        headers=tenant.headers,
        json={
            "accountIds": [account_id],
            "postType": "image",
            "content": "Weeknight pasta",
            "mediaIds": [media_id],
            "link": "https://example.com/recipe",
            "publishNow": True,
        },
    )
    assert response.status_code == 201, response.text
    post_id = response.json()["postId"]
    await run_jobs()
    status = await post_status(client, tenant.headers, post_id)
    assert status["status"] == "published", status
    assert status["targets"][0]["platformPostId"] == "813744226420795884"
    assert status["targets"][0]["permalink"] == "https://www.pinterest.com/pin/813744226420795884/"
    # The server's own media URLs are local: the image goes inline.
    assert body(create.calls.last.request) == {
        "board_id": "1111",
        "description": "Weeknight pasta",
        "link": "https://example.com/recipe",
        "media_source": {
            "source_type": "image_base64",
            "content_type": "image/jpeg",
            "data": base64.b64encode(b"\xff\xd8JPG").decode(),
        },
    }

    delete = pinterest.delete(f"{API}/pins/813744226420795884").mock(
        return_value=httpx.Response(204)
    )
    removed = await client.delete(f"/v1/posts/{post_id}", headers=tenant.headers)
    assert removed.status_code == 200, removed.text
    assert removed.json()["removedFrom"] == ["pinterest"]
    assert delete.calls.last.request.headers["authorization"] == "Bearer pina_token"


async def test_a_video_pin_waits_for_processing_without_holding_a_worker(
    client: httpx.AsyncClient, runtime: Runtime, run_jobs: RunJobs, pinterest: respx.MockRouter
) -> None:
    adapter = adapter_for(runtime, "pinterest")
    assert isinstance(adapter, PinterestAdapter)
    adapter.poll_delays = (timedelta(0),)
    tenant = await make_tenant(runtime)
    account_id = await make_account(
        runtime, tenant.workspace.id, "pinterest", settings={"pageId": "1111"}
    )
    media_id = await make_media(runtime, tenant.workspace.id, "video", size=5)
    pinterest.post(f"{API}/media").mock(
        return_value=httpx.Response(
            201,
            json={
                "media_id": "12345",
                "media_type": "video",
                "upload_url": S3,
                "upload_parameters": {"key": "uploads/12345", "policy": "p"},
            },
        )
    )
    pinterest.get(url__regex=FILES).mock(return_value=httpx.Response(200, content=b"VIDEO"))
    upload = pinterest.post(S3).mock(return_value=httpx.Response(204))
    checks = pinterest.get(f"{API}/media/12345").mock(
        side_effect=[
            httpx.Response(200, json={"status": "registered"}),
            httpx.Response(200, json={"status": "processing"}),
            httpx.Response(200, json={"status": "succeeded"}),
        ]
    )
    create = pinterest.post(f"{API}/pins").mock(return_value=httpx.Response(201, json={"id": "9"}))
    response = await client.post(
        "/v1/posts",
        headers=tenant.headers,
        json={
            "accountIds": [account_id],
            "content": "Watch this",
            "mediaIds": [media_id],
            "platformOptions": {"pinterest": {"title": "Clip"}},
            "publishNow": True,
        },
    )
    assert response.status_code == 201, response.text
    await run_jobs()
    status = await post_status(client, tenant.headers, response.json()["postId"])
    assert status["status"] == "published", status
    assert status["targets"][0]["platformPostId"] == "9"
    assert upload.call_count == 1
    assert multipart(upload.calls.last.request)["file"][0] == b"VIDEO"
    assert checks.call_count == 3
    assert body(create.calls.last.request) == {
        "board_id": "1111",
        "title": "Clip",
        "description": "Watch this",
        "media_source": {
            "source_type": "video_id",
            "media_id": "12345",
            "cover_image_key_frame_time": 0,
        },
    }


class TestValidation:
    async def test_no_board_is_422(
        self, client: httpx.AsyncClient, runtime: Runtime, pinterest: respx.MockRouter
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await make_account(runtime, tenant.workspace.id, "pinterest")
        media_id = await make_media(runtime, tenant.workspace.id)
        response = await client.post(
            "/v1/posts",
            headers=tenant.headers,
            json={"accountIds": [account_id], "mediaIds": [media_id], "publishNow": True},
        )
        assert response.status_code == 422, response.text
        targets = response.json()["error"]["details"]["targets"]
        assert [t["rule"] for t in targets] == ["board_required"]

    async def test_carousel_images_of_different_shapes_are_422(
        self, client: httpx.AsyncClient, runtime: Runtime, pinterest: respx.MockRouter
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await make_account(
            runtime, tenant.workspace.id, "pinterest", settings={"pageId": "1111"}
        )
        tall = await make_media(runtime, tenant.workspace.id, width=1000, height=1500)
        square = await make_media(runtime, tenant.workspace.id, width=1000, height=1000)
        response = await client.post(
            "/v1/posts/validate",
            headers=tenant.headers,
            json={"accountIds": [account_id], "mediaIds": [tall, square], "publishNow": True},
        )
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "media_invalid"
        assert [t["rule"] for t in error["details"]["targets"]] == [
            "carousel_aspect_ratio_mismatch"
        ]

    async def test_a_sixth_carousel_image_is_422(
        self, client: httpx.AsyncClient, runtime: Runtime, pinterest: respx.MockRouter
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await make_account(
            runtime, tenant.workspace.id, "pinterest", settings={"pageId": "1111"}
        )
        media = [await make_media(runtime, tenant.workspace.id) for _ in range(6)]
        response = await client.post(
            "/v1/posts/validate",
            headers=tenant.headers,
            json={"accountIds": [account_id], "mediaIds": media, "publishNow": True},
        )
        assert response.status_code == 422, response.text
        target = response.json()["error"]["details"]["targets"][0]
        assert (target["rule"], target["limit"], target["actual"]) == ("too_many_media", 5, 6)
