"""Local-disk storage for embedded mode: objects are files under `<data_dir>/media`.

Clients still upload straight to a URL, as with S3: the API's own
`/v1/media/files/{token}/{name}` route, where the token is an HMAC-signed, expiring
grant for one object, one method and (for uploads) one content type and size limit.
The token is the credential, so the URL works from curl without an API key, exactly
like a presigned S3 URL.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import secrets
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar
from urllib.parse import quote

import anyio

from polypost.core.crypto import sign_payload, verify_payload
from polypost.core.timeutil import utcnow
from polypost.storage.base import (
    DOWNLOAD_URL_TTL_SECONDS,
    UPLOAD_URL_TTL_SECONDS,
    ObjectInfo,
    UploadTarget,
)

FILES_PATH = "/v1/media/files/"
_URL_KEY_LABEL = b"polypost:media-url:v1"


class UploadTooLarge(Exception):
    """The streamed body passed the limit the upload URL was issued with."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the upload exceeds {limit} bytes")
        self.limit = limit


@dataclass(frozen=True)
class Grant:
    """What a verified URL token allows."""

    op: str  # "put" or "get"
    key: str
    content_type: str | None
    max_size: int | None
    media_id: str | None


class LocalStorage:
    name: ClassVar[str] = "local"

    def __init__(self, root: Path, *, base_url: str, signing_key: bytes) -> None:
        self.root = root
        self.base_url = base_url.rstrip("/")
        # A key of its own, so no other signed token (OAuth state, ...) is a media URL.
        self._url_key = hmac.new(signing_key, _URL_KEY_LABEL, hashlib.sha256).digest()

    def path_for(self, key: str) -> Path:
        """The file for `key`; keys are server-made, but never let one escape the root."""
        parts = key.split("/")
        if "\\" in key or "\0" in key or any(p in ("..", ".", "") for p in parts):
            raise ValueError(f"invalid storage key {key!r}")
        return self.root.joinpath(*parts)

    def _url(self, key: str, payload: dict[str, Any], ttl: int) -> str:
        token = sign_payload(self._url_key, payload, ttl)
        return f"{self.base_url}{FILES_PATH}{token}/{quote(PurePosixPath(key).name)}"

    async def upload_target(
        self, key: str, *, content_type: str, size: int | None, media_id: str
    ) -> UploadTarget:
        payload = {"op": "put", "k": key, "ct": content_type, "n": size, "m": media_id}
        return UploadTarget(
            url=self._url(key, payload, UPLOAD_URL_TTL_SECONDS),
            expires_at=utcnow() + timedelta(seconds=UPLOAD_URL_TTL_SECONDS),
            headers={"Content-Type": content_type},
        )

    async def download_url(self, key: str, *, content_type: str | None = None) -> str:
        payload = {"op": "get", "k": key, "ct": content_type}
        return self._url(key, payload, DOWNLOAD_URL_TTL_SECONDS)

    def read_grant(self, token: str) -> Grant | None:
        """The grant in a URL token, or None when forged, malformed or expired."""
        data = verify_payload(self._url_key, token)
        if data is None or data.get("op") not in ("put", "get") or not data.get("k"):
            return None
        max_size = data.get("n")
        return Grant(
            op=str(data["op"]),
            key=str(data["k"]),
            content_type=data.get("ct"),
            max_size=int(max_size) if max_size is not None else None,
            media_id=data.get("m"),
        )

    async def head(self, key: str) -> ObjectInfo | None:
        path = anyio.Path(self.path_for(key))
        try:
            stat = await path.stat()
        except FileNotFoundError:
            return None
        return ObjectInfo(size=stat.st_size)

    @asynccontextmanager
    async def local_copy(self, key: str) -> AsyncIterator[Path]:
        path = self.path_for(key)
        if not await anyio.Path(path).is_file():
            raise FileNotFoundError(key)
        yield path

    async def iter_chunks(self, key: str, chunk_size: int = 1024 * 1024) -> AsyncIterator[bytes]:
        async with await anyio.open_file(self.path_for(key), "rb") as handle:
            while chunk := await handle.read(chunk_size):
                yield chunk

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        target = self.path_for(key)
        await asyncio.to_thread(_copy_atomically, path, target)

    async def write_stream(self, key: str, chunks: AsyncIterator[bytes], max_size: int) -> int:
        """Write a streamed upload; the object appears only once complete.

        Raises:
            UploadTooLarge: more than `max_size` bytes arrived (nothing is kept).
        """
        target = self.path_for(key)
        await anyio.Path(target.parent).mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{secrets.token_hex(6)}.part")
        written = 0
        try:
            async with await anyio.open_file(partial, "wb") as handle:
                async for chunk in chunks:
                    written += len(chunk)
                    if written > max_size:
                        raise UploadTooLarge(max_size)
                    await handle.write(chunk)
            await anyio.Path(partial).rename(target)
        finally:
            await anyio.Path(partial).unlink(missing_ok=True)
        return written

    async def delete(self, key: str) -> None:
        path = self.path_for(key)
        await anyio.Path(path).unlink(missing_ok=True)
        await asyncio.to_thread(_prune_empty_dirs, path.parent, self.root)


def _copy_atomically(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{secrets.token_hex(6)}.part")
    try:
        shutil.copyfile(source, partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _prune_empty_dirs(directory: Path, root: Path) -> None:
    """Remove the object's now-empty folders (`ws_…/md_…`) up to the root."""
    while directory != root and root in directory.parents:
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent
