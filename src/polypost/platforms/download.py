"""Reading a post's media files from their download URLs, for adapters that upload bytes.

`MediaInfo.url` is a presigned storage URL or the server's own signed URL. Our storage
failing is `Transient` (the publish retries); a file that is gone is `Permanent`
(`media_unavailable`). Nothing here holds a whole large file in memory: `open_media` and
`read_chunks` stream, `spool` keeps up to `SPOOL_BYTES` in memory and the rest on disk.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from typing import IO

import httpx

from polypost.platforms.base import MediaInfo, Permanent, Transient

SPOOL_BYTES = 8 * 1024 * 1024
READ_SIZE = 1024 * 1024


@asynccontextmanager
async def open_media(client: httpx.AsyncClient, media: MediaInfo) -> AsyncIterator[httpx.Response]:
    """A streaming GET of the file's download URL, its status already checked (for
    bodies that pass `aiter_bytes()` straight on)."""
    if not media.url:
        raise Permanent(f"Media {media.id} has no download URL", code="media_unavailable")
    try:
        async with client.stream("GET", media.url) as response:
            if response.status_code in (403, 404, 410):
                raise Permanent(f"Media {media.id} is no longer stored", code="media_unavailable")
            if response.status_code >= 400:
                raise Transient(f"Reading media {media.id} failed with HTTP {response.status_code}")
            yield response
    except httpx.HTTPError as exc:
        raise Transient(f"Reading media {media.id} failed: {type(exc).__name__}") from exc


async def read_chunks(
    client: httpx.AsyncClient, media: MediaInfo, chunk_size: int = READ_SIZE
) -> AsyncGenerator[bytes]:
    """The file's bytes in chunks of exactly `chunk_size` (the last may be shorter)."""
    async with open_media(client, media) as response:
        buffer = bytearray()
        async for piece in response.aiter_bytes():
            buffer += piece
            while len(buffer) >= chunk_size:
                yield bytes(buffer[:chunk_size])
                del buffer[:chunk_size]
        if buffer:
            yield bytes(buffer)


@asynccontextmanager
async def spool(client: httpx.AsyncClient, media: MediaInfo) -> AsyncIterator[IO[bytes]]:
    """The whole file as a readable file object (for multipart bodies), removed after."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as sink:
        async for chunk in read_chunks(client, media):
            sink.write(chunk)
        sink.seek(0)
        yield sink


async def file_chunks(source: IO[bytes], chunk_size: int = READ_SIZE) -> AsyncIterator[bytes]:
    """A spooled file as an async request body (httpx streams it without a copy)."""
    while chunk := source.read(chunk_size):
        yield chunk


def filename_of(media: MediaInfo, default_stem: str = "file") -> str:
    """The name platforms show for an attachment: the uploaded name, else one made from
    the id and content type (`md_1.jpg`)."""
    if media.filename:
        return media.filename
    subtype = media.content_type.split("/", 1)[-1].split(";", 1)[0].strip().lower()
    extension = {"jpeg": "jpg", "quicktime": "mov", "svg+xml": "svg"}.get(subtype, subtype)
    stem = media.id or default_stem
    return f"{stem}.{extension}" if extension.isalnum() else stem
