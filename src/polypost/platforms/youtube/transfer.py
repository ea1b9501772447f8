"""Reading a media file from a byte offset, for uploads that resume mid-file.

YouTube's resumable sessions and TikTok's chunked uploads continue where the platform
says its copy ends, possibly in a later job. The bytes are fetched from the media's
download URL with `Range: bytes=<start>-`; a server that ignores ranges (200) is read
from the beginning and the first `start` bytes are skipped, so either works. Nothing is
held in memory beyond one chunk.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import httpx

from polypost.platforms.base import MediaInfo, Permanent, Transient


async def read_from(
    client: httpx.AsyncClient, media: MediaInfo, start: int, chunk_size: int
) -> AsyncGenerator[bytes]:
    """The file's bytes from `start`, in chunks of `chunk_size` (the last may be
    shorter).

    Raises:
        Permanent: `media_unavailable`, the file is gone from our storage.
        Transient: our storage failed; the upload continues on the next attempt.
    """
    if not media.url:
        raise Permanent(f"Media {media.id} has no download URL", code="media_unavailable")
    headers = {"Range": f"bytes={start}-"} if start > 0 else {}
    try:
        async with client.stream("GET", media.url, headers=headers) as response:
            if response.status_code in (403, 404, 410):
                raise Permanent(f"Media {media.id} is no longer stored", code="media_unavailable")
            if response.status_code >= 400:
                raise Transient(f"Reading media {media.id} failed with HTTP {response.status_code}")
            skip = start if response.status_code != 206 else 0
            buffer = bytearray()
            async for piece in response.aiter_bytes():
                if skip:
                    dropped = min(skip, len(piece))
                    piece = piece[dropped:]
                    skip -= dropped
                buffer += piece
                while len(buffer) >= chunk_size:
                    yield bytes(buffer[:chunk_size])
                    del buffer[:chunk_size]
            if buffer:
                yield bytes(buffer)
    except httpx.HTTPError as exc:
        raise Transient(f"Reading media {media.id} failed: {type(exc).__name__}") from exc


async def read_all(client: httpx.AsyncClient, media: MediaInfo, max_bytes: int) -> bytes:
    """A small file whole (a thumbnail, an image sent inline).

    Raises:
        Permanent: `media_too_large` past `max_bytes`, or `media_unavailable`.
    """
    data = bytearray()
    async for chunk in read_from(client, media, 0, 1024 * 1024):
        data += chunk
        if len(data) > max_bytes:
            raise Permanent(
                f"Media {media.id} is larger than {max_bytes} bytes", code="media_too_large"
            )
    return bytes(data)
