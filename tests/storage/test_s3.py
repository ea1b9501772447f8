from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from polypost.storage.s3 import S3Storage
from tests.fixtures.s3 import S3_KEY_ID, S3_REGION, S3_SECRET, S3Bucket


@pytest.fixture
def storage(s3_bucket: S3Bucket) -> S3Storage:
    return S3Storage(
        bucket=s3_bucket.bucket,
        region=S3_REGION,
        endpoint_url=s3_bucket.endpoint_url,
        access_key_id=S3_KEY_ID,
        secret_access_key=S3_SECRET,
    )


class TestPresignedUrls:
    async def test_put_url_signs_type_and_size_and_expires_in_15_minutes(self, storage: S3Storage):
        target = await storage.upload_target(
            "ws_1/md_1/a.jpg", content_type="image/jpeg", size=1234, media_id="md_1"
        )
        query = parse_qs(urlsplit(target.url).query)
        assert query["X-Amz-Expires"] == ["900"]
        signed = query["X-Amz-SignedHeaders"][0].split(";")
        assert "content-type" in signed
        assert "content-length" in signed
        assert target.headers == {"Content-Type": "image/jpeg"}

    async def test_public_endpoint_is_used_for_client_urls(self, s3_bucket: S3Bucket):
        storage = S3Storage(
            bucket=s3_bucket.bucket,
            region=S3_REGION,
            endpoint_url=s3_bucket.endpoint_url,
            public_endpoint_url="https://media.example.com",
            access_key_id=S3_KEY_ID,
            secret_access_key=S3_SECRET,
        )
        target = await storage.upload_target(
            "k/a.jpg", content_type="image/jpeg", size=None, media_id="md_1"
        )
        assert target.url.startswith(f"https://media.example.com/{s3_bucket.bucket}/k/a.jpg?")
        assert (
            "content-length" not in parse_qs(urlsplit(target.url).query)["X-Amz-SignedHeaders"][0]
        )
        url = await storage.download_url("k/a.jpg")
        assert url.startswith("https://media.example.com/")

    async def test_real_put_then_read_back(self, storage: S3Storage):
        target = await storage.upload_target(
            "ws_1/md_1/a.pdf", content_type="application/pdf", size=None, media_id="md_1"
        )
        async with httpx.AsyncClient() as client:
            put = await client.put(target.url, content=b"%PDF-1.4 x", headers=target.headers)
            assert put.status_code == 200
            info = await storage.head("ws_1/md_1/a.pdf")
            assert info is not None
            assert (info.size, info.content_type) == (10, "application/pdf")
            got = await client.get(await storage.download_url("ws_1/md_1/a.pdf"))
            assert got.content == b"%PDF-1.4 x"


class TestObjects:
    async def test_put_file_copy_stream_delete(self, storage: S3Storage, tmp_path: Path):
        source = tmp_path / "x.png"
        source.write_bytes(b"\x89PNG" + b"0" * 100)
        await storage.put_file("ws_1/md_1/x.png", source, "image/png")
        info = await storage.head("ws_1/md_1/x.png")
        assert info is not None
        assert (info.content_type, info.size) == ("image/png", 104)
        async with storage.local_copy("ws_1/md_1/x.png") as path:
            assert path.read_bytes() == source.read_bytes()
        streamed = b"".join([c async for c in storage.iter_chunks("ws_1/md_1/x.png", 10)])
        assert streamed == source.read_bytes()
        await storage.delete("ws_1/md_1/x.png")
        assert await storage.head("ws_1/md_1/x.png") is None
        await storage.delete("ws_1/md_1/x.png")

    async def test_missing_object(self, storage: S3Storage):
        assert await storage.head("nope") is None
        with pytest.raises(FileNotFoundError):
            async with storage.local_copy("nope"):
                pass
