"""Uploading images, documents and videos to LinkedIn (linkedin.md §3).

Images and documents: `initializeUpload` → one `PUT` of the whole file (with the OAuth
header; chunking would overwrite and corrupt the file). Videos: `initializeUpload` with
the file size → one `PUT` per upload instruction, byte ranges exactly as LinkedIn gave
them, keeping each response's `ETag` → `finalizeUpload` with the ETags in order. The
bytes are streamed from storage, never held whole (a video part is ~4 MB).

Uploading posts nothing, so a lost answer here is plainly transient: the step is simply
tried again (`maybe_sent` is cleared).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import aclosing
from typing import Any

import httpx

from polypost.core.http import Classifier, PlatformHttp
from polypost.platforms.base import MediaInfo, Permanent, Transient
from polypost.platforms.download import read_chunks

# linkedin.md §3: what each upload's initialize action answers with.
URN_FIELDS = {"images": "image", "documents": "document"}
# A video part PUT can take a while on a slow link; parts are ~4 MB.
PART_TIMEOUT = httpx.Timeout(120.0, connect=10.0)
FILE_TIMEOUT = httpx.Timeout(300.0, connect=10.0)


def _value(body: Any, action: str) -> Mapping[str, Any]:
    value = body.get("value") if isinstance(body, dict) else None
    if not isinstance(value, dict):
        raise Transient(f"LinkedIn answered {action} without a value")
    return value


class Uploader:
    """Media uploads for one adapter (its classifier, shared client and API headers)."""

    def __init__(self, classifier: Classifier, http: PlatformHttp, rest: str) -> None:
        self.classifier = classifier
        self.http = http
        self.rest = rest

    async def _upload(self, coroutine: Any) -> Any:
        try:
            return await coroutine
        except Transient as error:
            raise Transient(error.message, code=error.code) from error

    async def file(
        self, headers: dict[str, str], collection: str, owner: str, media: MediaInfo
    ) -> str:
        """An image or document (`collection` "images" or "documents"); its URN."""
        if not media.size:
            raise Permanent(f"Media {media.id} has no measured size", code="media_invalid")
        body = await self._upload(
            self.http.json(
                self.classifier,
                "POST",
                f"{self.rest}/{collection}?action=initializeUpload",
                headers=headers,
                json={"initializeUploadRequest": {"owner": owner}},
            )
        )
        value = _value(body, "initializeUpload")
        urn, upload_url = value.get(URN_FIELDS[collection]), value.get("uploadUrl")
        if not isinstance(urn, str) or not isinstance(upload_url, str):
            raise Transient("LinkedIn answered initializeUpload without an upload URL")
        await self._upload(
            self.http.request(
                self.classifier,
                "PUT",
                upload_url,
                content=read_chunks(self.http.client, media),
                headers={
                    "Authorization": headers["Authorization"],
                    "Content-Type": media.content_type,
                    "Content-Length": str(media.size),
                },
                timeout=FILE_TIMEOUT,
            )
        )
        return urn

    async def video(self, headers: dict[str, str], owner: str, media: MediaInfo) -> str:
        """A video in the parts LinkedIn asks for, then finalized; its URN."""
        if not media.size:
            raise Permanent(f"Media {media.id} has no measured size", code="media_invalid")
        body = await self._upload(
            self.http.json(
                self.classifier,
                "POST",
                f"{self.rest}/videos?action=initializeUpload",
                headers=headers,
                json={
                    "initializeUploadRequest": {
                        "owner": owner,
                        "fileSizeBytes": media.size,
                        "uploadCaptions": False,
                        "uploadThumbnail": False,
                    }
                },
            )
        )
        value = _value(body, "initializeUpload")
        video = value.get("video")
        instructions = value.get("uploadInstructions")
        if not isinstance(video, str) or not isinstance(instructions, list) or not instructions:
            raise Transient("LinkedIn answered initializeUpload without upload instructions")
        steps = sorted(
            (i for i in instructions if isinstance(i, dict)), key=lambda i: int(i["firstByte"])
        )
        sizes = [int(i["lastByte"]) - int(i["firstByte"]) + 1 for i in steps]
        if sum(sizes) != media.size:
            raise Transient("LinkedIn's upload instructions do not cover the file")
        etags: list[str] = []
        buffer = bytearray()
        async with aclosing(read_chunks(self.http.client, media)) as chunks:
            for step, size in zip(steps, sizes, strict=True):
                while len(buffer) < size:
                    chunk = await anext(chunks, None)
                    if chunk is None:
                        raise Permanent(
                            f"Media {media.id} is shorter than its measured size",
                            code="media_invalid",
                        )
                    buffer += chunk
                part = bytes(buffer[:size])
                del buffer[:size]
                etags.append(await self._put_part(str(step["uploadUrl"]), part))
        await self._upload(
            self.http.request(
                self.classifier,
                "POST",
                f"{self.rest}/videos?action=finalizeUpload",
                headers=headers,
                json={
                    "finalizeUploadRequest": {
                        "video": video,
                        "uploadToken": str(value.get("uploadToken") or ""),
                        "uploadedPartIds": etags,
                    }
                },
            )
        )
        return video

    async def _put_part(self, upload_url: str, part: bytes) -> str:
        """One video part; its ETag. linkedin.md §3: this PUT takes no OAuth header."""
        response = await self._upload(
            self.http.request(
                self.classifier,
                "PUT",
                upload_url,
                content=part,
                headers={"Content-Type": "application/octet-stream"},
                timeout=PART_TIMEOUT,
            )
        )
        etag = response.headers.get("etag")
        if not etag:
            raise Transient("LinkedIn accepted a video part without an ETag")
        return str(etag)
