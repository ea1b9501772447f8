"""TikTok end to end: `POST /v1/posts` validated against the creator's settings →
publishing jobs (init, upload, status, each a job of its own) → target published; the
creator-info route; the account's videos read back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx

from polypost.core.runtime import Runtime
from polypost.platforms.registry import adapter_for
from polypost.platforms.tiktok.adapter import TikTokAdapter
from tests.fixtures.factories import connect_sandbox, make_media, make_tenant
from tests.fixtures.jobs import RunJobs
from tests.platforms.helpers import body, make_account

API = "https://open.tiktokapis.com"
CREATOR = f"{API}/v2/post/publish/creator_info/query/"
VIDEO_INIT = f"{API}/v2/post/publish/video/init/"
STATUS = f"{API}/v2/post/publish/status/fetch/"
UPLOAD = "https://open-upload.tiktokapis.com/video/?upload_id=1&upload_token=t"
VIDEO = b"0123456789"
CREATOR_DATA = {
    "creator_avatar_url": "https://p16.tiktokcdn.com/a.jpg",
    "creator_username": "polypost",
    "creator_nickname": "Polypost",
    "privacy_level_options": ["PUBLIC_TO_EVERYONE", "SELF_ONLY"],
    "comment_disabled": True,
    "duet_disabled": False,
    "stitch_disabled": False,
    "max_video_post_duration_sec": 60,
}


def ok(data: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json={"data": data, "error": {"code": "ok", "message": ""}})


@pytest.fixture
def tiktok() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        router.post(CREATOR, name="creator").mock(return_value=ok(CREATOR_DATA))
        yield router


@pytest.fixture
def adapter(runtime: Runtime) -> TikTokAdapter:
    adapter = adapter_for(runtime, "tiktok")
    assert isinstance(adapter, TikTokAdapter)
    adapter.poll_delays = (timedelta(0),)
    adapter.chunk_size = 4
    return adapter


async def tiktok_account(runtime: Runtime, workspace_id: str) -> str:
    return await make_account(
        runtime,
        workspace_id,
        "tiktok",
        external_id="open-id-1",
        handle="polypost",
        access_token="act.tiktok",
        refresh_token="rft.tiktok",
    )


async def test_a_video_is_uploaded_and_published(
    client: httpx.AsyncClient,
    runtime: Runtime,
    run_jobs: RunJobs,
    tiktok: respx.MockRouter,
    adapter: TikTokAdapter,
) -> None:
    tenant = await make_tenant(runtime)
    account_id = await tiktok_account(runtime, tenant.workspace.id)
    media_id = await make_media(
        runtime, tenant.workspace.id, "video", size=len(VIDEO), width=1080, height=1920
    )
    init = tiktok.post(VIDEO_INIT).mock(
        return_value=ok({"publish_id": "v_pub_file~v2-1.7", "upload_url": UPLOAD})
    )
    files = tiktok.get(url__regex=r"/v1/media/files/").mock(
        return_value=httpx.Response(200, content=VIDEO)
    )
    put = tiktok.put(UPLOAD).mock(side_effect=[httpx.Response(206), httpx.Response(201)])
    fetch = tiktok.post(STATUS).mock(
        side_effect=[
            ok({"status": "PROCESSING_UPLOAD", "uploaded_bytes": 10}),
            ok({"status": "PUBLISH_COMPLETE", "publicaly_available_post_id": [7312345678]}),
        ]
    )
    response = await client.post(
        "/v1/posts",
        headers=tenant.headers,
        json={
            "accountIds": [account_id],
            "content": "Behind the scenes #launch",
            "mediaIds": [media_id],
            "platformOptions": {"tiktok": {"privacyLevel": "PUBLIC_TO_EVERYONE"}},
            "publishNow": True,
        },
    )
    assert response.status_code == 201, response.text
    await run_jobs()

    status = (
        await client.get(f"/v1/posts/{response.json()['postId']}/status", headers=tenant.headers)
    ).json()
    assert status["status"] == "published", status
    target = status["targets"][0]
    assert target["platformPostId"] == "7312345678"
    assert target["permalink"] == "https://www.tiktok.com/@polypost/video/7312345678"
    assert body(init.calls.last.request) == {
        "post_info": {
            "title": "Behind the scenes #launch",
            "privacy_level": "PUBLIC_TO_EVERYONE",
            "disable_duet": False,
            "disable_comment": True,  # the creator has comments off
            "disable_stitch": False,
            "brand_content_toggle": False,
            "brand_organic_toggle": False,
            "is_aigc": False,
        },
        "source_info": {
            "source": "FILE_UPLOAD",
            "video_size": 10,
            "chunk_size": 4,
            "total_chunk_count": 2,
        },
    }
    assert [c.request.headers["content-range"] for c in put.calls] == [
        "bytes 0-3/10",
        "bytes 4-9/10",
    ]
    assert b"".join(c.request.content for c in put.calls) == VIDEO
    assert files.call_count == 1
    assert fetch.call_count == 2
    assert init.call_count == 1


class TestValidation:
    async def post(
        self, client: httpx.AsyncClient, headers: dict[str, str], path: str, **fields: Any
    ) -> httpx.Response:
        return await client.post(path, headers=headers, json={"publishNow": True, **fields})

    async def test_a_privacy_level_the_creator_lacks_is_422(
        self, client: httpx.AsyncClient, runtime: Runtime, tiktok: respx.MockRouter
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await tiktok_account(runtime, tenant.workspace.id)
        media_id = await make_media(runtime, tenant.workspace.id, "video")
        for path in ("/v1/posts/validate", "/v1/posts"):
            response = await self.post(
                client,
                tenant.headers,
                path,
                accountIds=[account_id],
                mediaIds=[media_id],
                platformOptions={
                    "tiktok": {"privacyLevel": "FOLLOWER_OF_CREATOR", "disableComment": False}
                },
            )
            assert response.status_code == 422, response.text
            error = response.json()["error"]
            assert error["code"] == "content_invalid"
            rules = {t["rule"] for t in error["details"]["targets"]}
            assert rules == {"privacy_level_not_allowed", "interaction_disabled_by_creator"}
            assert all(t["accountId"] == account_id for t in error["details"]["targets"])

    async def test_a_video_longer_than_the_creator_may_post_is_422(
        self, client: httpx.AsyncClient, runtime: Runtime, tiktok: respx.MockRouter
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await tiktok_account(runtime, tenant.workspace.id)
        media_id = await make_media(runtime, tenant.workspace.id, "video", duration_ms=61_000)
        response = await self.post(
            client,
            tenant.headers,
            "/v1/posts",
            accountIds=[account_id],
            mediaIds=[media_id],
            platformOptions={"tiktok": {"privacyLevel": "SELF_ONLY"}},
        )
        assert response.status_code == 422, response.text
        target = response.json()["error"]["details"]["targets"][0]
        assert target["rule"] == "video_too_long"
        assert (target["limit"], target["actual"]) == (60_000, 61_000)

    async def test_a_direct_post_needs_a_privacy_level(
        self, client: httpx.AsyncClient, runtime: Runtime, tiktok: respx.MockRouter
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await tiktok_account(runtime, tenant.workspace.id)
        media_id = await make_media(runtime, tenant.workspace.id, "video")
        response = await self.post(
            client, tenant.headers, "/v1/posts", accountIds=[account_id], mediaIds=[media_id]
        )
        assert response.status_code == 422, response.text
        rules = [t["rule"] for t in response.json()["error"]["details"]["targets"]]
        assert rules == ["privacy_level_required"]

    async def test_an_oversized_photo_is_422_without_asking_tiktok_twice(
        self, client: httpx.AsyncClient, runtime: Runtime, tiktok: respx.MockRouter
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await tiktok_account(runtime, tenant.workspace.id)
        media_id = await make_media(runtime, tenant.workspace.id, width=1086, height=1448)
        for _ in range(2):
            response = await self.post(
                client,
                tenant.headers,
                "/v1/posts/validate",
                accountIds=[account_id],
                mediaIds=[media_id],
                platformOptions={"tiktok": {"privacyLevel": "SELF_ONLY"}},
            )
            assert response.status_code == 422, response.text
            target = response.json()["error"]["details"]["targets"][0]
            assert (target["rule"], target["limit"], target["actual"]) == (
                "photo_too_large",
                1080,
                1086,
            )
        assert tiktok.routes["creator"].call_count == 1  # cached for a few minutes

    async def test_creator_info_unavailable_leaves_the_static_checks(
        self, client: httpx.AsyncClient, runtime: Runtime, tiktok: respx.MockRouter
    ) -> None:
        tiktok.routes["creator"].mock(
            return_value=httpx.Response(
                500, json={"data": {}, "error": {"code": "internal_error", "message": "x"}}
            )
        )
        tenant = await make_tenant(runtime)
        account_id = await tiktok_account(runtime, tenant.workspace.id)
        media_id = await make_media(runtime, tenant.workspace.id, "video")
        response = await self.post(
            client,
            tenant.headers,
            "/v1/posts/validate",
            accountIds=[account_id],
            mediaIds=[media_id],
            platformOptions={"tiktok": {"privacyLevel": "SELF_ONLY"}},
        )
        assert response.status_code == 200, response.text
        assert response.json()["valid"] is True


class TestCreatorInfoRoute:
    async def test_the_creators_settings(
        self, client: httpx.AsyncClient, runtime: Runtime, tiktok: respx.MockRouter
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await tiktok_account(runtime, tenant.workspace.id)
        response = await client.get(
            f"/v1/accounts/{account_id}/creator-info", headers=tenant.headers
        )
        assert response.status_code == 200, response.text
        assert response.json() == {
            "accountId": account_id,
            "platform": "tiktok",
            "creatorUsername": "polypost",
            "creatorNickname": "Polypost",
            "creatorAvatarUrl": "https://p16.tiktokcdn.com/a.jpg",
            "privacyLevelOptions": ["PUBLIC_TO_EVERYONE", "SELF_ONLY"],
            "commentDisabled": True,
            "duetDisabled": False,
            "stitchDisabled": False,
            "maxVideoPostDurationSec": 60,
        }
        request = tiktok.routes["creator"].calls.last.request
        assert request.headers["authorization"] == "Bearer act.tiktok"

    async def test_another_workspaces_account_is_404(
        self, client: httpx.AsyncClient, runtime: Runtime, tiktok: respx.MockRouter
    ) -> None:
        owner = await make_tenant(runtime, "owner")
        other = await make_tenant(runtime, "other")
        account_id = await tiktok_account(runtime, owner.workspace.id)
        response = await client.get(
            f"/v1/accounts/{account_id}/creator-info", headers=other.headers
        )
        assert response.status_code == 404
        assert tiktok.routes["creator"].call_count == 0

    async def test_other_platforms_have_none(
        self, client: httpx.AsyncClient, runtime: Runtime, tiktok: respx.MockRouter
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await connect_sandbox(client, tenant)
        response = await client.get(
            f"/v1/accounts/{account_id}/creator-info", headers=tenant.headers
        )
        assert response.status_code == 501
        assert response.json()["error"]["code"] == "unsupported"

    async def test_tiktok_refusing_the_token_is_a_platform_error(
        self, client: httpx.AsyncClient, runtime: Runtime, tiktok: respx.MockRouter
    ) -> None:
        tiktok.routes["creator"].mock(
            return_value=httpx.Response(
                401,
                json={
                    "data": {},
                    "error": {"code": "access_token_invalid", "message": "expired"},
                },
            )
        )
        tenant = await make_tenant(runtime)
        account_id = await tiktok_account(runtime, tenant.workspace.id)
        response = await client.get(
            f"/v1/accounts/{account_id}/creator-info", headers=tenant.headers
        )
        assert response.status_code == 502
        error = response.json()["error"]
        assert error["code"] == "platform_error"
        assert error["details"]["platformCode"] == "access_token_invalid"

    async def test_spam_risk_is_429(
        self, client: httpx.AsyncClient, runtime: Runtime, tiktok: respx.MockRouter
    ) -> None:
        tiktok.routes["creator"].mock(
            return_value=httpx.Response(
                200,
                json={"data": {}, "error": {"code": "spam_risk_too_many_posts", "message": "x"}},
            )
        )
        tenant = await make_tenant(runtime)
        account_id = await tiktok_account(runtime, tenant.workspace.id)
        response = await client.get(
            f"/v1/accounts/{account_id}/creator-info", headers=tenant.headers
        )
        assert response.status_code == 429
        assert int(response.headers["retry-after"]) > 23 * 3600


async def test_the_accounts_videos_are_listed_with_their_post(
    client: httpx.AsyncClient, runtime: Runtime, tiktok: respx.MockRouter
) -> None:
    tenant = await make_tenant(runtime)
    account_id = await tiktok_account(runtime, tenant.workspace.id)
    listing = tiktok.post(f"{API}/v2/video/list/").mock(
        return_value=ok(
            {
                "videos": [
                    {"id": "7300000000000000002", "title": "Newer", "create_time": 1795000000},
                    {"id": "7300000000000000001", "title": "Older", "create_time": 1794000000},
                ],
                "cursor": 1794000000000,
                "has_more": True,
            }
        )
    )
    response = await client.get(
        f"/v1/accounts/{account_id}/posts", headers=tenant.headers, params={"limit": 2}
    )
    assert response.status_code == 200, response.text
    page = response.json()
    assert [p["platformPostId"] for p in page["posts"]] == [
        "7300000000000000002",
        "7300000000000000001",
    ]
    assert page["posts"][0]["caption"] == "Newer"
    assert page["posts"][0]["timestamp"] == "2026-11-18T11:06:40Z"
    assert page["posts"][0]["inDb"] is False
    assert page["nextCursor"] == "1794000000000"
    request = listing.calls.last.request
    assert dict(request.url.params) == {
        "fields": "id,title,video_description,create_time,share_url"
    }
    assert body(request) == {"max_count": 2}
    await client.get(
        f"/v1/accounts/{account_id}/posts",
        headers=tenant.headers,
        params={"limit": 2, "cursor": page["nextCursor"]},
    )
    assert body(listing.calls.last.request) == {"max_count": 2, "cursor": 1794000000000}
