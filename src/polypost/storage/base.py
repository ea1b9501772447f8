"""The one interface every media storage backend implements.

Media bytes never pass through the database. The API hands clients a URL to upload to
(`upload_target`) and URLs to read from (`download_url`); the server itself reads objects
through `local_copy`/`iter_chunks` (verification, fitting, platform uploads) and writes
the files it produces (derivatives, server-side fetches) with `put_file`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import ClassVar, Protocol

from polypost.core.errors import ServiceUnavailable

UPLOAD_URL_TTL_SECONDS = 15 * 60  # seed 001: "valid 15 min"
DOWNLOAD_URL_TTL_SECONDS = 60 * 60


class StorageError(ServiceUnavailable):
    """The backend failed (network, permissions, missing bucket): a 503 for the client,
    with the cause logged rather than shown (it can name buckets and endpoints)."""

    default_message = "Media storage is unavailable; try again shortly."


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    content_type: str | None = None


@dataclass(frozen=True)
class UploadTarget:
    """Where and how the client sends the bytes: `PUT url` with exactly `headers`."""

    url: str
    expires_at: datetime
    method: str = "PUT"
    headers: dict[str, str] = field(default_factory=dict)


class Storage(Protocol):
    """A bucket of objects addressed by key (`ws_…/md_…/name.jpg`)."""

    name: ClassVar[str]

    async def upload_target(
        self, key: str, *, content_type: str, size: int | None, media_id: str
    ) -> UploadTarget:
        """A single-object, expiring upload URL bound to `content_type` (and `size` when
        declared)."""
        ...

    async def download_url(self, key: str, *, content_type: str | None = None) -> str:
        """An expiring URL anyone holding it may GET the object from (previews, platforms
        that pull media by URL)."""
        ...

    async def head(self, key: str) -> ObjectInfo | None:
        """Size and stored content type, or None when the object does not exist."""
        ...

    def local_copy(self, key: str) -> AbstractAsyncContextManager[Path]:
        """A readable local file with the object's bytes for the duration of the block.

        Raises:
            FileNotFoundError: the object does not exist.
        """
        ...

    def iter_chunks(self, key: str, chunk_size: int = 1024 * 1024) -> AsyncIterator[bytes]:
        """Stream the object's bytes (platform uploads)."""
        ...

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        """Store a local file under `key`, replacing any previous object."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; a missing object is not an error."""
        ...
