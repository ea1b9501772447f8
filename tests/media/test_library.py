"""Listing, reading, deleting media, storage usage, and the expiry job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import update

from polypost.core.ids import new_id
from polypost.core.runtime import Runtime
from polypost.media.jobs import expire_pending_media
from polypost.models import Media, Post
from polypost.worker.context import JobContext
from tests.fixtures.factories import Tenant, make_key, make_tenant
from tests.media.helpers import (
    JPEG,
    complete,
    file_on_disk,
    media_row,
    path_of,
    start_upload,
    upload_local,
)
from tests.media.samples import png_bytes


async def uploaded(client: httpx.AsyncClient, tenant: Tenant, name: str = "a.jpg") -> str:
    media_id = await upload_local(client, tenant, JPEG, filename=name)
    assert (await complete(client, tenant, media_id)).json()["status"] == "uploaded"
    return media_id


async def add_post(runtime: Runtime, workspace_id: str, status: str, **fields: object) -> str:
    post_id = new_id("pst")
    async with runtime.sessions() as session:
        session.add(
            Post(
                id=post_id,
                workspace_id=workspace_id,
                content="hello",
                post_type="image",
                status=status,
                media_ids=fields.get("media_ids", []),
                options=fields.get("options", {}),
            )
        )
        await session.commit()
    return post_id


class TestListMedia:
    async def test_newest_first_with_preview_urls_and_cursor(
        self, client: httpx.AsyncClient, tenant: Tenant
    ):
        ids = [await uploaded(client, tenant, f"{n}.jpg") for n in range(3)]
        pending = await start_upload(client, tenant, filename="later.jpg")
        first = await client.get("/v1/media?limit=2", headers=tenant.headers)
        assert first.status_code == 200
        page = first.json()
        assert [m["mediaId"] for m in page["media"]] == [pending["mediaId"], ids[2]]
        assert page["media"][0]["previewUrl"] is None
        preview = await client.get(path_of(page["media"][1]["previewUrl"]))
        assert preview.content == JPEG
        second = await client.get(
            f"/v1/media?limit=2&cursor={page['nextCursor']}", headers=tenant.headers
        )
        assert [m["mediaId"] for m in second.json()["media"]] == [ids[1], ids[0]]
        assert second.json()["nextCursor"] is None

    async def test_filters(self, client: httpx.AsyncClient, tenant: Tenant):
        done = await uploaded(client, tenant)
        await start_upload(client, tenant)
        response = await client.get("/v1/media?status=uploaded&kind=image", headers=tenant.headers)
        assert [m["mediaId"] for m in response.json()["media"]] == [done]
        bad = await client.get("/v1/media?status=lost", headers=tenant.headers)
        assert bad.status_code == 400

    async def test_other_workspaces_media_never_appear(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        await uploaded(client, tenant)
        other = await make_tenant(runtime, "other")
        response = await client.get("/v1/media", headers=other.headers)
        assert response.json()["media"] == []

    async def test_needs_media_read(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        writer = await make_key(runtime, tenant.workspace.id, {"posts:read"})
        response = await client.get("/v1/media", headers={"X-Api-Key": writer})
        assert response.status_code == 403
        reader = await make_key(runtime, tenant.workspace.id, {"media:read"})
        assert (await client.get("/v1/media", headers={"X-Api-Key": reader})).status_code == 200


class TestGetMedia:
    async def test_one_item(self, client: httpx.AsyncClient, tenant: Tenant):
        media_id = await uploaded(client, tenant)
        response = await client.get(f"/v1/media/{media_id}", headers=tenant.headers)
        assert response.status_code == 200
        assert response.json()["mediaId"] == media_id

    async def test_other_workspace_is_404(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        media_id = await uploaded(client, tenant)
        other = await make_tenant(runtime, "other")
        response = await client.get(f"/v1/media/{media_id}", headers=other.headers)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


class TestDeleteMedia:
    async def test_deletes_row_and_file(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        media_id = await uploaded(client, tenant)
        row = await media_row(runtime, media_id)
        assert row is not None
        path = file_on_disk(runtime, row.storage_key)
        assert path.exists()
        response = await client.delete(f"/v1/media/{media_id}", headers=tenant.headers)
        assert response.status_code == 200
        assert response.json() == {"mediaId": media_id, "deleted": True}
        assert await media_row(runtime, media_id) is None
        assert not path.exists()
        again = await client.delete(f"/v1/media/{media_id}", headers=tenant.headers)
        assert again.status_code == 404

    @pytest.mark.parametrize("status", ["scheduled", "draft", "publishing"])
    async def test_refused_while_an_unpublished_post_uses_it(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, status: str
    ):
        media_id = await uploaded(client, tenant)
        post_id = await add_post(runtime, tenant.workspace.id, status, media_ids=[media_id])
        response = await client.delete(f"/v1/media/{media_id}", headers=tenant.headers)
        assert response.status_code == 409
        assert response.json()["error"]["details"] == {"postIds": [post_id]}
        assert await media_row(runtime, media_id) is not None

    async def test_media_referenced_in_options_counts_as_used(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        media_id = await uploaded(client, tenant)
        await add_post(
            runtime,
            tenant.workspace.id,
            "scheduled",
            options={"thread": [{"text": "1/", "mediaIds": [media_id]}]},
        )
        response = await client.delete(f"/v1/media/{media_id}", headers=tenant.headers)
        assert response.status_code == 409

    async def test_allowed_once_posts_are_done_or_elsewhere(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        media_id = await uploaded(client, tenant)
        other = await make_tenant(runtime, "other")
        await add_post(runtime, tenant.workspace.id, "published", media_ids=[media_id])
        await add_post(runtime, other.workspace.id, "scheduled", media_ids=[media_id])
        response = await client.delete(f"/v1/media/{media_id}", headers=tenant.headers)
        assert response.status_code == 200

    async def test_other_workspace_is_404(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        media_id = await uploaded(client, tenant)
        other = await make_tenant(runtime, "other")
        response = await client.delete(f"/v1/media/{media_id}", headers=other.headers)
        assert response.status_code == 404
        assert await media_row(runtime, media_id) is not None


class TestStorageUsage:
    async def test_counts_uploaded_and_declared_pending_bytes(
        self, client: httpx.AsyncClient, tenant: Tenant
    ):
        await uploaded(client, tenant)
        await start_upload(client, tenant, size=1000)
        await upload_local(client, tenant, png_bytes(), filename="x.jpg", content_type="image/jpeg")
        response = await client.get("/v1/media/storage", headers=tenant.headers)
        assert response.status_code == 200
        body = response.json()
        assert body["usedBytes"] == len(JPEG) + 1000
        assert body["count"] == 3
        assert body["quotaBytes"] == body["usedBytes"] + body["availableBytes"]


class TestExpirePendingMedia:
    async def test_removes_expired_pending_and_invalid_media_with_their_files(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        kept = await uploaded(client, tenant)
        fresh = (await start_upload(client, tenant))["mediaId"]
        stale = await upload_local(client, tenant, JPEG, filename="stale.jpg")
        stale_row = await media_row(runtime, stale)
        assert stale_row is not None
        assert file_on_disk(runtime, stale_row.storage_key).exists()
        async with runtime.sessions() as session:
            await session.execute(
                update(Media)
                .where(Media.id.in_([stale, kept]))
                .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
            )
            await session.commit()
        ctx: JobContext = {"runtime": runtime, "worker_id": "test", "job_try": 1}
        assert await expire_pending_media(ctx) == 1
        assert await media_row(runtime, stale) is None
        assert not file_on_disk(runtime, stale_row.storage_key).exists()
        assert await media_row(runtime, fresh) is not None
        assert await media_row(runtime, kept) is not None  # uploaded media never expire
        assert await expire_pending_media(ctx) == 0
