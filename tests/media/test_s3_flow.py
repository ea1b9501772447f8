"""The three-step upload against an S3 API (moto's server): the client PUTs to a real
presigned URL over HTTP, never through the API."""

from __future__ import annotations

import httpx
import pytest

from polypost.core.runtime import Runtime
from polypost.settings import MediaStorage, Settings
from tests.fixtures.factories import Tenant
from tests.fixtures.s3 import S3_KEY_ID, S3_REGION, S3_SECRET, S3Bucket
from tests.media.helpers import JPEG, complete, events_of, set_quota, start_upload
from tests.media.samples import pdf_bytes


@pytest.fixture
def settings(settings: Settings, s3_bucket: S3Bucket) -> Settings:
    return settings.model_copy(
        update={
            "media_storage": MediaStorage.S3,
            "s3_endpoint_url": s3_bucket.endpoint_url,
            "s3_bucket": s3_bucket.bucket,
            "s3_region": S3_REGION,
            "s3_access_key_id": S3_KEY_ID,
            "s3_secret_access_key": S3_SECRET,
        }
    )


def object_exists(bucket: S3Bucket, key: str) -> bool:
    listed = bucket.client().list_objects_v2(Bucket=bucket.bucket, Prefix=key)  # type: ignore[attr-defined]
    return bool(listed.get("KeyCount"))


class TestS3Upload:
    async def test_three_steps_with_a_real_presigned_put(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, s3_bucket: S3Bucket
    ):
        grant = await start_upload(client, tenant)
        assert grant["uploadUrl"].startswith(f"{s3_bucket.endpoint_url}/{s3_bucket.bucket}/")
        assert "X-Amz-Signature=" in grant["uploadUrl"]
        async with httpx.AsyncClient() as outside:
            put = await outside.put(
                grant["uploadUrl"], content=JPEG, headers={"Content-Type": "image/jpeg"}
            )
        assert put.status_code == 200
        response = await complete(client, tenant, grant["mediaId"])
        assert response.status_code == 200
        body = response.json()
        assert (body["status"], body["kind"], body["width"], body["height"], body["size"]) == (
            "uploaded",
            "image",
            640,
            480,
            len(JPEG),
        )
        async with httpx.AsyncClient() as outside:
            preview = await outside.get(body["previewUrl"])
        assert preview.content == JPEG
        assert [e.type for e in await events_of(runtime, grant["mediaId"])] == ["media.ready"]

    async def test_wrong_content_type_on_put_makes_it_invalid(
        self, client: httpx.AsyncClient, tenant: Tenant, s3_bucket: S3Bucket
    ):
        """Real S3 refuses the PUT (Content-Type is signed); servers that do not check
        signed headers are caught at completion from the stored type."""
        grant = await start_upload(client, tenant)
        async with httpx.AsyncClient() as outside:
            await outside.put(
                grant["uploadUrl"], content=JPEG, headers={"Content-Type": "image/png"}
            )
        body = (await complete(client, tenant, grant["mediaId"])).json()
        assert body["status"] == "invalid"
        assert "image/png" in body["error"]
        assert not object_exists(s3_bucket, grant["key"])

    async def test_a_jpg_that_is_a_pdf_is_invalid(
        self, client: httpx.AsyncClient, tenant: Tenant, s3_bucket: S3Bucket
    ):
        grant = await start_upload(client, tenant)
        async with httpx.AsyncClient() as outside:
            await outside.put(
                grant["uploadUrl"], content=pdf_bytes(), headers={"Content-Type": "image/jpeg"}
            )
        body = (await complete(client, tenant, grant["mediaId"])).json()
        assert body["status"] == "invalid"
        assert "application/pdf" in body["error"]
        assert not object_exists(s3_bucket, grant["key"])

    async def test_complete_before_put_is_409(self, client: httpx.AsyncClient, tenant: Tenant):
        grant = await start_upload(client, tenant)
        response = await complete(client, tenant, grant["mediaId"])
        assert response.status_code == 409

    async def test_quota_checked_at_completion(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, s3_bucket: S3Bucket
    ):
        await set_quota(runtime, tenant.workspace.id, 100)
        grant = await start_upload(client, tenant)
        async with httpx.AsyncClient() as outside:
            await outside.put(
                grant["uploadUrl"], content=JPEG, headers={"Content-Type": "image/jpeg"}
            )
        response = await complete(client, tenant, grant["mediaId"])
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "storage_quota_exceeded"
        assert not object_exists(s3_bucket, grant["key"])

    async def test_multipart_upload_and_delete(
        self, client: httpx.AsyncClient, tenant: Tenant, s3_bucket: S3Bucket
    ):
        created = await client.post(
            "/v1/media/upload",
            headers=tenant.headers,
            files={"file": ("a.jpg", JPEG, "image/jpeg")},
        )
        assert created.status_code == 201
        media_id = created.json()["mediaId"]
        key = f"{tenant.workspace.id}/{media_id}/a.jpg"
        assert object_exists(s3_bucket, key)
        deleted = await client.delete(f"/v1/media/{media_id}", headers=tenant.headers)
        assert deleted.status_code == 200
        assert not object_exists(s3_bucket, key)

    async def test_local_file_routes_are_not_served(
        self, client: httpx.AsyncClient, tenant: Tenant
    ):
        response = await client.put(
            "/v1/media/files/abc.def/a.jpg", content=b"x", headers={"Content-Type": "image/jpeg"}
        )
        assert response.status_code == 404
