"""`POST /v1/media/upload` (multipart) and `POST /v1/media/from-url` (server fetch)."""

from __future__ import annotations

import httpx
import pytest

from polypost.core import outbound
from polypost.core.runtime import Runtime
from tests.fixtures.factories import Tenant
from tests.media.helpers import JPEG, Origin, events_of, path_of, set_quota
from tests.media.samples import gif_bytes, pdf_bytes


class TestMultipartUpload:
    async def test_file_part_becomes_uploaded_media(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        response = await client.post(
            "/v1/media/upload",
            headers=tenant.headers,
            files={"file": ("cat.jpg", JPEG, "image/jpeg")},
        )
        assert response.status_code == 201
        body = response.json()
        assert (body["status"], body["filename"], body["size"]) == (
            "uploaded",
            "cat.jpg",
            len(JPEG),
        )
        preview = await client.get(path_of(body["previewUrl"]))
        assert preview.content == JPEG
        assert [e.type for e in await events_of(runtime, body["mediaId"])] == ["media.ready"]

    async def test_generic_part_type_is_sniffed(self, client: httpx.AsyncClient, tenant: Tenant):
        response = await client.post(
            "/v1/media/upload",
            headers=tenant.headers,
            files={"file": ("anim", gif_bytes(), "application/octet-stream")},
        )
        assert response.status_code == 201
        body = response.json()
        assert (body["contentType"], body["metadata"]["animated"]) == ("image/gif", True)

    async def test_filename_field_overrides(self, client: httpx.AsyncClient, tenant: Tenant):
        response = await client.post(
            "/v1/media/upload",
            headers=tenant.headers,
            files={"file": ("blob", JPEG, "image/jpeg")},
            data={"filename": "holiday.jpg"},
        )
        assert response.json()["filename"] == "holiday.jpg"

    async def test_pdf_sent_as_jpeg_is_422(self, client: httpx.AsyncClient, tenant: Tenant):
        response = await client.post(
            "/v1/media/upload",
            headers=tenant.headers,
            files={"file": ("cat.jpg", pdf_bytes(), "image/jpeg")},
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "media_invalid"
        listed = await client.get("/v1/media", headers=tenant.headers)
        assert listed.json()["media"] == []

    async def test_missing_file_part_is_400(self, client: httpx.AsyncClient, tenant: Tenant):
        response = await client.post(
            "/v1/media/upload", headers=tenant.headers, files={"other": ("a.jpg", JPEG)}
        )
        assert response.status_code == 400
        assert response.json()["error"]["details"]["fields"][0]["field"] == "file"
        not_multipart = await client.post("/v1/media/upload", headers=tenant.headers, json={})
        assert not_multipart.status_code == 400

    async def test_over_the_multipart_limit_is_413(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        tenant: Tenant,
        monkeypatch: pytest.MonkeyPatch,
    ):
        monkeypatch.setattr(runtime.settings, "max_multipart_upload_bytes", 2048)
        response = await client.post(
            "/v1/media/upload",
            headers=tenant.headers,
            files={"file": ("big.jpg", JPEG + b"\0" * 100_000, "image/jpeg")},
        )
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"

    async def test_chunked_body_over_the_limit_is_cut_off(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        tenant: Tenant,
        monkeypatch: pytest.MonkeyPatch,
    ):
        """Without Content-Length only the byte count can stop it."""
        monkeypatch.setattr(runtime.settings, "max_multipart_upload_bytes", 2048)

        async def body():
            yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
            yield b"Content-Type: image/jpeg\r\n\r\n"
            for _ in range(40):
                yield b"\xff" * 4096
            yield b"\r\n--b--\r\n"

        response = await client.post(
            "/v1/media/upload",
            headers={**tenant.headers, "Content-Type": "multipart/form-data; boundary=b"},
            content=body(),
        )
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"

    async def test_declared_length_over_quota_is_413(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        await set_quota(runtime, tenant.workspace.id, 100)
        response = await client.post(
            "/v1/media/upload",
            headers=tenant.headers,
            files={"file": ("cat.jpg", JPEG, "image/jpeg")},
        )
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "storage_quota_exceeded"

    async def test_needs_media_write(self, client: httpx.AsyncClient):
        response = await client.post("/v1/media/upload", files={"file": ("a.jpg", JPEG)})
        assert response.status_code == 401


@pytest.fixture
def allow_loopback(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """The origin server lives on 127.0.0.1, which the guard refuses by default."""
    monkeypatch.setattr(runtime.settings, "outbound_allow", ["127.0.0.1"])


class TestFromUrl:
    @pytest.mark.usefixtures("allow_loopback")
    async def test_fetches_and_stores(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, origin: Origin
    ):
        url = origin.url("/to-cat")
        response = await client.post(
            "/v1/media/from-url", headers=tenant.headers, json={"url": url}
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert (body["status"], body["filename"], body["width"]) == ("uploaded", "cat.jpg", 640)
        assert body["metadata"]["sourceUrl"] == url
        assert origin.seen == ["/to-cat", "/cat.jpg"]
        preview = await client.get(path_of(body["previewUrl"]))
        assert preview.content == JPEG

    @pytest.mark.usefixtures("allow_loopback")
    async def test_generic_content_type_is_sniffed(
        self, client: httpx.AsyncClient, tenant: Tenant, origin: Origin
    ):
        response = await client.post(
            "/v1/media/from-url",
            headers=tenant.headers,
            json={"url": origin.url("/octet"), "filename": "photo"},
        )
        assert response.status_code == 201
        assert (response.json()["contentType"], response.json()["filename"]) == (
            "image/jpeg",
            "photo",
        )

    async def test_loopback_is_refused(
        self, client: httpx.AsyncClient, tenant: Tenant, origin: Origin
    ):
        response = await client.post(
            "/v1/media/from-url", headers=tenant.headers, json={"url": origin.url("/cat.jpg")}
        )
        assert response.status_code == 400
        assert "private address" in response.json()["error"]["message"]
        assert origin.seen == []

    @pytest.mark.parametrize(
        "url",
        [
            "http://169.254.169.254/latest/meta-data/",
            "http://[::ffff:127.0.0.1]/",
            "http://2130706433/",
            "http://10.0.0.1/a.jpg",
            "file:///etc/passwd",
            "http://user:pw@example.com/a.jpg",
        ],
    )
    async def test_ssrf_targets_are_refused(
        self, client: httpx.AsyncClient, tenant: Tenant, url: str
    ):
        response = await client.post(
            "/v1/media/from-url", headers=tenant.headers, json={"url": url}
        )
        assert response.status_code == 400
        assert response.json()["error"]["details"]["fields"][0]["field"] == "url"

    async def test_name_resolving_to_loopback_is_refused(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        origin: Origin,
        monkeypatch: pytest.MonkeyPatch,
    ):
        async def fake(host: str, port: int) -> list[str]:
            return ["127.0.0.1"]

        monkeypatch.setattr(outbound, "resolve", fake)
        response = await client.post(
            "/v1/media/from-url",
            headers=tenant.headers,
            json={"url": f"http://cdn.example.com:{origin.port}/cat.jpg"},
        )
        assert response.status_code == 400
        assert "cdn.example.com resolves to a private address" in response.text
        assert origin.seen == []

    @pytest.mark.usefixtures("allow_loopback")
    async def test_redirect_to_metadata_is_refused(
        self, client: httpx.AsyncClient, tenant: Tenant, origin: Origin
    ):
        response = await client.post(
            "/v1/media/from-url", headers=tenant.headers, json={"url": origin.url("/to-metadata")}
        )
        assert response.status_code == 400
        assert "169.254.169.254" in response.json()["error"]["message"]
        assert origin.seen == ["/to-metadata"]

    @pytest.mark.usefixtures("allow_loopback")
    async def test_announced_oversize_is_413_without_reading(
        self, client: httpx.AsyncClient, tenant: Tenant, origin: Origin
    ):
        response = await client.post(
            "/v1/media/from-url",
            headers=tenant.headers,
            json={"url": origin.url("/announced-huge")},
        )
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"

    @pytest.mark.usefixtures("allow_loopback")
    async def test_stream_over_the_limit_is_aborted(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        tenant: Tenant,
        origin: Origin,
        monkeypatch: pytest.MonkeyPatch,
    ):
        monkeypatch.setattr(runtime.settings, "max_upload_bytes", 300_000)
        response = await client.post(
            "/v1/media/from-url", headers=tenant.headers, json={"url": origin.url("/endless")}
        )
        assert response.status_code == 413
        assert not list((runtime.settings.data_dir / "media").glob("**/*.jpg"))

    @pytest.mark.usefixtures("allow_loopback")
    async def test_announced_length_over_quota_is_413(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, origin: Origin
    ):
        await set_quota(runtime, tenant.workspace.id, 1000)
        response = await client.post(
            "/v1/media/from-url", headers=tenant.headers, json={"url": origin.url("/cat.jpg")}
        )
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "storage_quota_exceeded"

    @pytest.mark.usefixtures("allow_loopback")
    async def test_upstream_error_is_422(
        self, client: httpx.AsyncClient, tenant: Tenant, origin: Origin
    ):
        response = await client.post(
            "/v1/media/from-url", headers=tenant.headers, json={"url": origin.url("/gone")}
        )
        assert response.status_code == 422
        assert response.json()["error"]["details"]["status"] == 404

    @pytest.mark.usefixtures("allow_loopback")
    async def test_server_content_type_must_match_the_bytes(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, origin: Origin
    ):
        """A server's Content-Type is a claim: it must agree with the bytes."""
        response = await client.post(
            "/v1/media/from-url", headers=tenant.headers, json={"url": origin.url("/doc.pdf")}
        )
        assert response.status_code == 422
        assert "application/pdf" in response.json()["error"]["message"]
        assert not list((runtime.settings.data_dir / "media").glob("**/*"))

    @pytest.mark.parametrize("body", [{}, {"url": ""}, {"url": "x" * 3000}, {"url": 5}])
    async def test_bad_bodies_are_400(
        self, client: httpx.AsyncClient, tenant: Tenant, body: dict[str, object]
    ):
        response = await client.post("/v1/media/from-url", headers=tenant.headers, json=body)
        assert response.status_code == 400
