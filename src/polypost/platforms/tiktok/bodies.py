"""What TikTok's publish calls send (tiktok.md §2, §3): the `post_info` of a video,
the `content/init` body of a photo post, and the chunk plan of a file upload."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from polypost.platforms.base import MediaInfo, Outgoing, Permanent
from polypost.platforms.options import TikTokOptions
from polypost.platforms.tiktok.creator import CreatorInfo, interaction_flags

MIB = 1024 * 1024
# tiktok.md §3: chunks of 5-64 MB, the last one carrying the remainder (≤128 MB),
# `total_chunk_count = floor(size / chunk_size)`; a file under one chunk goes whole.
CHUNK_SIZE = 10 * MIB
MAX_CHUNKS = 1000


def chunk_plan(size: int, chunk_size: int = CHUNK_SIZE) -> tuple[int, int]:
    """(chunk_size, total_chunk_count) for a file of `size` bytes (tiktok.md §3)."""
    if size <= chunk_size:
        return size, 1
    return chunk_size, min(size // chunk_size, MAX_CHUNKS)


def chunk_range(index: int, size: int, chunk_size: int, count: int) -> tuple[int, int]:
    """First and last byte of chunk `index`; the last chunk runs to the end."""
    first = index * chunk_size
    last = size - 1 if index == count - 1 else first + chunk_size - 1
    return first, last


async def take(reader: AsyncGenerator[bytes], length: int, media: MediaInfo) -> bytes:
    """Exactly `length` bytes from the chunk reader (the last TikTok chunk spans more
    than one read)."""
    data = bytearray()
    while len(data) < length:
        try:
            data += await anext(reader)
        except StopAsyncIteration:
            raise Permanent(
                f"Media {media.id} is shorter than its recorded size", code="media_unavailable"
            ) from None
    if len(data) > length:
        raise Permanent(
            f"Media {media.id} is longer than its recorded size", code="media_unavailable"
        )
    return bytes(data)


def video_post_info(post: Outgoing, options: TikTokOptions, info: CreatorInfo) -> dict[str, Any]:
    """`post_info` of a Direct Post video (tiktok.md §2); the caption is the `title`."""
    flags = interaction_flags(info, options)
    body: dict[str, Any] = {
        "title": post.text,
        "privacy_level": options.privacy_level,
        **flags,
        "brand_content_toggle": bool(options.brand_content_toggle),
        "brand_organic_toggle": bool(options.brand_organic_toggle),
        "is_aigc": bool(options.is_aigc),
    }
    cover = options.video_cover_timestamp_ms
    if cover is None:
        cover = post.cover_offset_ms
    if cover is not None:
        body["video_cover_timestamp_ms"] = cover
    return body


def photo_body(post: Outgoing, options: TikTokOptions, info: CreatorInfo) -> dict[str, Any]:
    """`content/init` of a photo post: the text is the `description` (≤4,000), the
    optional `title` ≤90; photos are always pulled from their URLs (tiktok.md §2)."""
    urls = [item.url for item in post.media]
    if not all(urls):
        raise Permanent("A TikTok photo needs a fetchable URL", code="media_unavailable")
    post_info: dict[str, Any] = {
        "description": post.text,
        "disable_comment": interaction_flags(info, options)["disable_comment"],
        "auto_add_music": bool(options.auto_add_music),
        "brand_content_toggle": bool(options.brand_content_toggle),
        "brand_organic_toggle": bool(options.brand_organic_toggle),
    }
    if options.title:
        post_info["title"] = options.title
    if options.privacy_level is not None:
        post_info["privacy_level"] = options.privacy_level
    cover = min(options.photo_cover_index or 0, len(urls) - 1)
    return {
        "media_type": "PHOTO",
        "post_mode": options.post_mode or "DIRECT_POST",
        "post_info": post_info,
        "source_info": {
            "source": "PULL_FROM_URL",
            "photo_cover_index": cover,
            "photo_images": urls,
        },
    }
