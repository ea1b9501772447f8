"""The three-step upload against the embedded (local) storage backend."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import update

from polypost.auth.scopes import ALL_SCOPES
from polypost.core import crypto
from polypost.core.runtime import Runtime
from polypost.models import Media
from polypost.storage import LocalStorage, StorageError
from tests.fixtures.factories import Tenant, make_key, make_tenant
from tests.media.helpers import (
    complete,
    events_of,
    file_on_disk,
    media_row,
    path_of,
    set_quota,
    start_upload,
    upload_local,
)
from tests.media.samples import jpeg_bytes, pdf_bytes, png_bytes


class TestCreateUploadUrl:
    async def test_seed_response_shape(self, client: httpx.AsyncClient, tenant: Tenant):
        before = datetime.now(UTC)
        grant = await start_upload(client, tenant)
        assert grant["mediaId"].startswith("md_")
        assert grant["key"] == f"{tenant.workspace.id}/{grant['mediaId']}/sunset.jpg"
        assert grant["uploadUrl"].startswith("http://127.0.0.1:8000/v1/media/files/")
        assert grant["uploadUrl"].endswith("/sunset.jpg")
        expires = datetime.fromisoformat(grant["expiresAt"])
        assert timedelta(minutes=14) < expires - before <= timedelta(minutes=15, seconds=5)
        assert grant["headers"] == {"Content-Type": "image/jpeg"}

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"contentType": "image/jpeg"}, "filename"),
            ({"filename": "a.jpg"}, "contentType"),
            ({"filename": "", "contentType": "image/jpeg"}, "filename"),
            ({"filename": "../../etc/x.jpg", "contentType": "image/jpeg"}, "filename"),
            ({"filename": "a.exe", "contentType": "application/x-msdownload"}, "contentType"),
            ({"filename": "a.jpg", "contentType": "image/jpeg", "size": 0}, "size"),
            ({"filename": "a.jpg", "contentType": "image/jpeg", "mediaId": "md_x"}, "mediaId"),
            ({"filename": "a" * 256, "contentType": "image/jpeg"}, "filename"),
        ],
    )
    async def test_bad_fields_are_400(
        self, client: httpx.AsyncClient, tenant: Tenant, body: dict[str, object], field: str
    ):
        response = await client.post("/v1/media/upload-url", headers=tenant.headers, json=body)
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "bad_request"
        assert [f["field"] for f in error["details"]["fields"]] == [field]

    async def test_declared_size_over_quota_is_413_before_any_bytes(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        await set_quota(runtime, tenant.workspace.id, 1000)
        response = await client.post(
            "/v1/media/upload-url",
            headers=tenant.headers,
            json={"filename": "a.jpg", "contentType": "image/jpeg", "size": 1001},
        )
        assert response.status_code == 413
        error = response.json()["error"]
        assert error["code"] == "storage_quota_exceeded"
        assert error["details"] == {"usedBytes": 0, "quotaBytes": 1000, "requestedBytes": 1001}
        listed = await client.get("/v1/media", headers=tenant.headers)
        assert listed.json()["media"] == []

    async def test_pending_declared_sizes_hold_quota(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        await set_quota(runtime, tenant.workspace.id, 1000)
        await start_upload(client, tenant, size=600)
        response = await client.post(
            "/v1/media/upload-url",
            headers=tenant.headers,
            json={"filename": "b.jpg", "contentType": "image/jpeg", "size": 600},
        )
        assert response.status_code == 413

    async def test_declared_size_over_upload_limit_is_413(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        size = runtime.settings.max_upload_bytes + 1
        response = await client.post(
            "/v1/media/upload-url",
            headers=tenant.headers,
            json={"filename": "a.mp4", "contentType": "video/mp4", "size": size},
        )
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"

    async def test_keeps_the_json_body_limit(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        """Only the upload routes lift the body limit, not their JSON neighbours."""
        padding = "x" * (runtime.settings.max_body_bytes + 1)
        response = await client.post(
            "/v1/media/upload-url",
            headers={**tenant.headers, "Content-Type": "application/json"},
            content=f'{{"filename": "a.jpg", "contentType": "image/jpeg", "x": "{padding}"}}',
        )
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"

    async def test_needs_media_write(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        reader = await make_key(runtime, tenant.workspace.id, {"media:read"})
        body = {"filename": "a.jpg", "contentType": "image/jpeg"}
        response = await client.post(
            "/v1/media/upload-url", headers={"X-Api-Key": reader}, json=body
        )
        assert response.status_code == 403
        anonymous = await client.post("/v1/media/upload-url", json=body)
        assert anonymous.status_code == 401


class TestPutLocalUploadUrl:
    async def test_wrong_content_type_is_refused(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        grant = await start_upload(client, tenant)
        response = await client.put(
            path_of(grant["uploadUrl"]), content=png_bytes(), headers={"Content-Type": "image/png"}
        )
        assert response.status_code == 400
        assert "image/jpeg" in response.json()["error"]["message"]
        assert not file_on_disk(runtime, grant["key"]).exists()

    async def test_forged_url_is_403(self, client: httpx.AsyncClient, tenant: Tenant):
        grant = await start_upload(client, tenant)
        path = path_of(grant["uploadUrl"])
        token = path.split("/")[4]
        body, signature = token.split(".")
        forged = path.replace(
            token, body + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
        )
        response = await client.put(
            forged, content=jpeg_bytes(), headers={"Content-Type": "image/jpeg"}
        )
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"

    async def test_url_for_another_object_is_403(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        """A token re-signed with any other key (here: for a key of the attacker's
        choosing) is not accepted."""
        grant = await start_upload(client, tenant)
        other = crypto.sign_payload(
            runtime.settings.signing_key,
            {"op": "put", "k": "ws_x/md_x/a.jpg", "ct": "image/jpeg", "m": grant["mediaId"]},
            60,
        )
        response = await client.put(
            f"/v1/media/files/{other}/a.jpg",
            content=jpeg_bytes(),
            headers={"Content-Type": "image/jpeg"},
        )
        assert response.status_code == 403

    async def test_expired_url_is_403(
        self, client: httpx.AsyncClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
    ):
        grant = await start_upload(client, tenant)
        later = time.time() + 15 * 60 + 1
        monkeypatch.setattr(crypto.time, "time", lambda: later)
        response = await client.put(
            path_of(grant["uploadUrl"]),
            content=jpeg_bytes(),
            headers={"Content-Type": "image/jpeg"},
        )
        assert response.status_code == 403
        assert "expired" in response.json()["error"]["message"]

    async def test_preview_url_cannot_upload(self, client: httpx.AsyncClient, tenant: Tenant):
        media_id = await upload_local(client, tenant, jpeg_bytes())
        done = (await complete(client, tenant, media_id)).json()
        response = await client.put(
            path_of(done["previewUrl"]), content=b"x", headers={"Content-Type": "image/jpeg"}
        )
        assert response.status_code == 403

    async def test_more_than_declared_is_413_and_less_is_400(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        data = jpeg_bytes()
        grant = await start_upload(client, tenant, size=len(data))
        url = path_of(grant["uploadUrl"])
        headers = {"Content-Type": "image/jpeg"}
        over = await client.put(url, content=data + b"x", headers=headers)
        assert over.status_code == 413
        assert over.json()["error"]["code"] == "payload_too_large"
        under = await client.put(url, content=data[:-1], headers=headers)
        assert under.status_code == 400
        assert not file_on_disk(runtime, grant["key"]).exists()
        exact = await client.put(url, content=data, headers=headers)
        assert exact.status_code == 200

    async def test_streamed_body_over_the_upload_limit_is_413(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        tenant: Tenant,
        monkeypatch: pytest.MonkeyPatch,
    ):
        monkeypatch.setattr(runtime.settings, "max_upload_bytes", 4096)
        grant = await start_upload(client, tenant)

        async def body():  # no Content-Length: only the stream count can stop it
            for _ in range(8):
                yield b"\xff" * 1024

        response = await client.put(
            path_of(grant["uploadUrl"]), content=body(), headers={"Content-Type": "image/jpeg"}
        )
        assert response.status_code == 413
        assert not file_on_disk(runtime, grant["key"]).exists()

    async def test_completed_media_cannot_be_overwritten(
        self, client: httpx.AsyncClient, tenant: Tenant
    ):
        grant = await start_upload(client, tenant)
        url = path_of(grant["uploadUrl"])
        headers = {"Content-Type": "image/jpeg"}
        assert (await client.put(url, content=jpeg_bytes(), headers=headers)).status_code == 200
        assert (await complete(client, tenant, grant["mediaId"])).status_code == 200
        again = await client.put(url, content=jpeg_bytes(10, 10), headers=headers)
        assert again.status_code == 409


class TestComplete:
    async def test_three_steps_make_an_uploaded_image(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        data = jpeg_bytes(640, 480)
        media_id = await upload_local(client, tenant, data)
        response = await complete(client, tenant, media_id)
        assert response.status_code == 200
        body = response.json()
        assert {k: body[k] for k in ("mediaId", "status", "kind", "width", "height", "size")} == {
            "mediaId": media_id,
            "status": "uploaded",
            "kind": "image",
            "width": 640,
            "height": 480,
            "size": len(data),
        }
        assert body["durationMs"] is None
        assert body["expiresAt"] is None
        preview = await client.get(path_of(body["previewUrl"]))
        assert preview.status_code == 200
        assert preview.content == data
        assert preview.headers["content-type"] == "image/jpeg"
        assert preview.headers["x-content-type-options"] == "nosniff"
        events = await events_of(runtime, media_id)
        assert [e.type for e in events] == ["media.ready"]
        assert events[0].data["width"] == 640

    async def test_verify_is_an_alias(self, client: httpx.AsyncClient, tenant: Tenant):
        media_id = await upload_local(
            client, tenant, png_bytes(), filename="a.png", content_type="image/png"
        )
        response = await client.post(f"/v1/media/{media_id}/verify", headers=tenant.headers)
        assert response.status_code == 200
        assert response.json()["status"] == "uploaded"

    async def test_completing_twice_returns_the_same_result(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        media_id = await upload_local(client, tenant, jpeg_bytes())
        first = await complete(client, tenant, media_id)
        second = await complete(client, tenant, media_id)
        assert second.status_code == 200
        assert second.json()["completedAt"] == first.json()["completedAt"]
        assert len(await events_of(runtime, media_id)) == 1

    async def test_before_the_upload_is_409(self, client: httpx.AsyncClient, tenant: Tenant):
        grant = await start_upload(client, tenant)
        response = await complete(client, tenant, grant["mediaId"])
        assert response.status_code == 409
        assert "PUT" in response.json()["error"]["message"]

    async def test_a_jpg_that_is_a_pdf_is_invalid(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        grant = await start_upload(client, tenant)
        await client.put(
            path_of(grant["uploadUrl"]), content=pdf_bytes(), headers={"Content-Type": "image/jpeg"}
        )
        response = await complete(client, tenant, grant["mediaId"])
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "invalid"
        assert "application/pdf" in body["error"]
        assert body["previewUrl"] is None
        assert body["expiresAt"] is not None
        assert not file_on_disk(runtime, grant["key"]).exists()
        events = await events_of(runtime, grant["mediaId"])
        assert [e.type for e in events] == ["media.invalid"]
        assert "application/pdf" in events[0].data["error"]

    async def test_damaged_image_is_invalid(self, client: httpx.AsyncClient, tenant: Tenant):
        data = jpeg_bytes(800, 600, noise=True)
        media_id = await upload_local(client, tenant, data[: len(data) // 3])
        body = (await complete(client, tenant, media_id)).json()
        assert body["status"] == "invalid"
        assert "damaged" in body["error"]

    async def test_reported_size_mismatch_is_invalid(
        self, client: httpx.AsyncClient, tenant: Tenant
    ):
        data = jpeg_bytes()
        media_id = await upload_local(client, tenant, data)
        response = await client.post(
            f"/v1/media/{media_id}/complete", headers=tenant.headers, json={"size": len(data) + 5}
        )
        assert response.json()["status"] == "invalid"
        assert str(len(data)) in response.json()["error"]

    async def test_pdf_document_has_a_page_count(self, client: httpx.AsyncClient, tenant: Tenant):
        media_id = await upload_local(
            client, tenant, pdf_bytes(4), filename="deck.pdf", content_type="application/pdf"
        )
        body = (await complete(client, tenant, media_id)).json()
        assert (body["status"], body["kind"], body["pageCount"]) == ("uploaded", "document", 4)

    async def test_video_gets_duration_dimensions_and_codec(
        self, client: httpx.AsyncClient, tenant: Tenant, mp4_sample: bytes
    ):
        media_id = await upload_local(
            client, tenant, mp4_sample, filename="clip.mp4", content_type="video/mp4"
        )
        body = (await complete(client, tenant, media_id)).json()
        assert (body["status"], body["kind"], body["width"], body["height"]) == (
            "uploaded",
            "video",
            320,
            240,
        )
        assert 1400 <= body["durationMs"] <= 1700
        assert body["metadata"]["videoCodec"] == "h264"
        assert body["metadata"]["audioCodec"] == "aac"
        assert body["warnings"] == []

    async def test_video_without_ffprobe_says_so(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        tenant: Tenant,
        mp4_sample: bytes,
        monkeypatch: pytest.MonkeyPatch,
    ):
        monkeypatch.setattr(runtime.settings, "ffprobe_path", "/nonexistent/ffprobe")
        media_id = await upload_local(
            client, tenant, mp4_sample, filename="clip.mp4", content_type="video/mp4"
        )
        body = (await complete(client, tenant, media_id)).json()
        assert body["status"] == "uploaded"
        assert body["durationMs"] is None
        assert "ffprobe is not installed" in body["warnings"][0]

    async def test_undeclared_size_over_quota_is_413_at_completion(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        data = jpeg_bytes()
        await set_quota(runtime, tenant.workspace.id, len(data) - 1)
        grant = await start_upload(client, tenant)
        await client.put(
            path_of(grant["uploadUrl"]), content=data, headers={"Content-Type": "image/jpeg"}
        )
        response = await complete(client, tenant, grant["mediaId"])
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "storage_quota_exceeded"
        assert not file_on_disk(runtime, grant["key"]).exists()
        row = await media_row(runtime, grant["mediaId"])
        assert row is not None
        assert row.status == "pending"

    async def test_another_workspaces_media_is_404(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        media_id = await upload_local(client, tenant, jpeg_bytes())
        other = await make_tenant(runtime, "other", scopes=ALL_SCOPES)
        response = await complete(client, other, media_id)
        assert response.status_code == 404
        row = await media_row(runtime, media_id)
        assert row is not None
        assert row.status == "pending"

    async def test_expired_upload_is_410(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        media_id = await upload_local(client, tenant, jpeg_bytes())
        async with runtime.sessions() as session:
            await session.execute(
                update(Media)
                .where(Media.id == media_id)
                .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
            await session.commit()
        response = await complete(client, tenant, media_id)
        assert response.status_code == 410

    async def test_storage_outage_is_503_without_details(
        self, client: httpx.AsyncClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
    ):
        media_id = await upload_local(client, tenant, jpeg_bytes())

        async def broken(self: LocalStorage, key: str) -> None:
            raise StorageError()

        monkeypatch.setattr(LocalStorage, "head", broken)
        response = await complete(client, tenant, media_id)
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "unavailable"
        assert media_id not in response.json()["error"]["message"]
