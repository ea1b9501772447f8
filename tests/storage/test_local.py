from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from polypost.core import crypto
from polypost.storage.local import LocalStorage, UploadTooLarge

KEY = b"local-storage-test-signing-key-0123456789"


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "media", base_url="http://api.test/", signing_key=KEY)


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def token_of(url: str) -> str:
    return url.split("/v1/media/files/", 1)[1].split("/", 1)[0]


class TestSignedUrls:
    async def test_upload_url_grants_one_object_type_and_size(self, storage: LocalStorage):
        target = await storage.upload_target(
            "ws_1/md_1/a.jpg", content_type="image/jpeg", size=10, media_id="md_1"
        )
        assert target.url.startswith("http://api.test/v1/media/files/")
        assert target.url.endswith("/a.jpg")
        assert target.headers == {"Content-Type": "image/jpeg"}
        grant = storage.read_grant(token_of(target.url))
        assert grant is not None
        assert (grant.op, grant.key, grant.content_type, grant.max_size, grant.media_id) == (
            "put",
            "ws_1/md_1/a.jpg",
            "image/jpeg",
            10,
            "md_1",
        )

    async def test_forged_token_is_rejected(self, storage: LocalStorage):
        target = await storage.upload_target(
            "ws_1/md_1/a.jpg", content_type="image/jpeg", size=None, media_id="md_1"
        )
        token = token_of(target.url)
        body, sig = token.split(".")
        tampered = crypto.sign_payload(b"another-key", {"op": "put", "k": "ws_2/x"}, 60)
        assert storage.read_grant(tampered) is None
        assert storage.read_grant(body + "." + sig[::-1]) is None
        assert storage.read_grant("garbage") is None

    async def test_expired_token_is_rejected(self, storage: LocalStorage, monkeypatch):
        url = await storage.download_url("ws_1/md_1/a.jpg", content_type="image/jpeg")
        assert storage.read_grant(token_of(url)) is not None
        later = time.time() + 3601
        monkeypatch.setattr(crypto.time, "time", lambda: later)
        assert storage.read_grant(token_of(url)) is None

    async def test_tokens_signed_for_other_purposes_are_not_media_urls(self, storage: LocalStorage):
        """Same server secret, other use (e.g. OAuth state): not a media grant."""
        other = crypto.sign_payload(KEY, {"op": "get", "k": "ws_1/md_1/a.jpg"}, 60)
        assert storage.read_grant(other) is None


class TestObjects:
    async def test_write_read_head_delete(self, storage: LocalStorage):
        written = await storage.write_stream("ws_1/md_1/a.bin", chunks(b"abc", b"def"), 10)
        assert written == 6
        info = await storage.head("ws_1/md_1/a.bin")
        assert info is not None
        assert info.size == 6
        async with storage.local_copy("ws_1/md_1/a.bin") as path:
            assert path.read_bytes() == b"abcdef"
        assert b"".join([c async for c in storage.iter_chunks("ws_1/md_1/a.bin", 4)]) == b"abcdef"
        await storage.delete("ws_1/md_1/a.bin")
        assert await storage.head("ws_1/md_1/a.bin") is None
        assert not (storage.root / "ws_1").exists()  # empty folders are pruned
        await storage.delete("ws_1/md_1/a.bin")  # deleting twice is fine

    async def test_stream_over_the_limit_keeps_nothing(self, storage: LocalStorage):
        with pytest.raises(UploadTooLarge):
            await storage.write_stream("ws_1/md_1/a.bin", chunks(b"12345", b"67890"), 8)
        assert await storage.head("ws_1/md_1/a.bin") is None
        assert list((storage.root / "ws_1" / "md_1").iterdir()) == []

    async def test_put_file_replaces(self, storage: LocalStorage, tmp_path: Path):
        source = tmp_path / "src"
        source.write_bytes(b"one")
        await storage.put_file("ws_1/md_1/d/x.png", source, "image/png")
        source.write_bytes(b"second")
        await storage.put_file("ws_1/md_1/d/x.png", source, "image/png")
        info = await storage.head("ws_1/md_1/d/x.png")
        assert info is not None
        assert info.size == 6

    async def test_missing_object_has_no_local_copy(self, storage: LocalStorage):
        with pytest.raises(FileNotFoundError):
            async with storage.local_copy("ws_1/md_1/none.jpg"):
                pass

    @pytest.mark.parametrize("key", ["../escape", "/abs/path", "ws/../../x", "ws//x", "ws/./x"])
    def test_keys_cannot_escape_the_root(self, storage: LocalStorage, key: str):
        with pytest.raises(ValueError, match="invalid storage key"):
            storage.path_for(key)
