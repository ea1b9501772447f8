"""Uploading media to X with the v2 media endpoints (x.md §3).

Images go in one request (`POST /2/media/upload`, multipart). GIFs and videos use the
chunked flow: `initialize` (JSON) → `append` per chunk (multipart, `segment_index`) →
`finalize` → `GET /2/media/upload?command=STATUS` until `processing_info.state` is
`succeeded`. The bytes are streamed from the media's download URL, never held whole.

Processing is waited for briefly; a video still processing after that raises `Pending`
with the uploaded ids, so the worker is freed and the resumed step only polls STATUS.
X media ids stay valid for `expires_after_secs` (a day), so an id is also remembered per
account and file: a publish retried after a 5xx on the post reuses it instead of
uploading again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextlib import aclosing
from datetime import datetime, timedelta
from typing import Any

import httpx

from polypost.core.http import Classifier, PlatformHttp
from polypost.core.timeutil import isoformat, utcnow
from polypost.platforms.base import (
    Credentials,
    MediaInfo,
    MediaKind,
    Pending,
    Permanent,
    Transient,
)
from polypost.platforms.memo import StepMemo

API = "https://api.x.com"
# x.md §3: twitter-api-v2, Postiz and the xdk samples append 1 MiB; an APPEND may carry
# up to 5 MB and a file at most 1000 segments. 4 MiB keeps a 512 MB video at 128 calls.
CHUNK_SIZE = 4 * 1024 * 1024
MAX_SEGMENTS = 1000
CATEGORIES = {
    MediaKind.IMAGE: "tweet_image",
    MediaKind.GIF: "tweet_gif",
    MediaKind.VIDEO: "tweet_video",
}
# How long one call waits for X to process a video before handing the worker back
# (`Pending`); and how long processing may take in all (Postiz gives up after 7-8 min).
PROCESSING_WAIT_SECONDS = 10.0
PROCESSING_DEADLINE = timedelta(minutes=15)
# An id is reused only well before X forgets it.
EXPIRY_MARGIN = timedelta(hours=1)
DEFAULT_EXPIRY = timedelta(hours=24)

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], datetime]


async def read_chunks(
    client: httpx.AsyncClient, media: MediaInfo, chunk_size: int
) -> AsyncGenerator[bytes]:
    """The file's bytes from its download URL, in chunks of `chunk_size` (the last may
    be shorter). Our own storage failing is transient; a missing file is not."""
    if not media.url:
        raise Permanent(f"Media {media.id} has no download URL", code="media_unavailable")
    try:
        async with client.stream("GET", media.url) as response:
            if response.status_code in (404, 410):
                raise Permanent(f"Media {media.id} is no longer stored", code="media_unavailable")
            if response.status_code >= 400:
                raise Transient(
                    f"Downloading media {media.id} failed with HTTP {response.status_code}"
                )
            buffer = bytearray()
            async for piece in response.aiter_bytes():
                buffer += piece
                while len(buffer) >= chunk_size:
                    yield bytes(buffer[:chunk_size])
                    del buffer[:chunk_size]
            if buffer:
                yield bytes(buffer)
    except httpx.HTTPError as exc:
        raise Transient(f"Downloading media {media.id} failed: {type(exc).__name__}") from exc


def _data(body: Any) -> dict[str, Any]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or not data.get("id"):
        raise Transient("X answered a media upload without a media id")
    return data


class MediaUploader:
    """Turns the files of one post into X media ids, ready to attach."""

    def __init__(
        self,
        classifier: Classifier,
        http: PlatformHttp,
        client: httpx.AsyncClient,
        memo: StepMemo,
        sleep: Sleep = asyncio.sleep,
        now: Clock = utcnow,
        processing_wait: float = PROCESSING_WAIT_SECONDS,
    ) -> None:
        self.classifier = classifier
        self.http = http
        self.client = client
        self.memo = memo
        self.sleep = sleep
        self.now = now
        self.processing_wait = processing_wait

    async def media_ids(
        self,
        account: Credentials,
        media: tuple[MediaInfo, ...],
        alt_texts: Mapping[str, str],
        resume: Mapping[str, Any] | None = None,
    ) -> list[str]:
        """X media ids for the post's files, in order.

        Raises:
            Pending: a video is still processing; `state` holds the ids uploaded so far
                (`{"media": {our id: X id}, "since": …}`), handed back as `resume`.
        """
        known = {str(k): str(v) for k, v in dict((resume or {}).get("media") or {}).items()}
        since = (resume or {}).get("since")
        ids = []
        for item in media:
            media_id = await self.ready_id(account, item, known, since)
            alt = alt_texts.get(item.id)
            if alt and item.kind in (MediaKind.IMAGE, MediaKind.GIF):
                await self.set_alt_text(account, media_id, alt)
            ids.append(media_id)
        return ids

    async def remembered(self, account: Credentials, media: MediaInfo) -> str | None:
        entry = await self.memo.get(_memo_key(account, media))
        return str(entry["id"]) if entry and entry.get("id") else None

    async def ready_id(
        self, account: Credentials, media: MediaInfo, known: dict[str, str], since: str | None
    ) -> str:
        """An uploaded, processed media id for this file (`known` maps the files
        uploaded earlier in this step and gains this one)."""
        media_id = known.get(media.id) or await self.remembered(account, media)
        info = None
        if media_id is not None and media.kind is not MediaKind.IMAGE:
            try:
                info = await self._status(account, media_id)
            except Permanent:
                # X no longer knows the id (expired early): upload again.
                await self.memo.drop(_memo_key(account, media))
                media_id = None
        if media_id is None:
            if media.kind is MediaKind.IMAGE:
                media_id = await self._upload_image(account, media)
            else:
                media_id, info = await self._upload_chunked(account, media)
        known[media.id] = media_id
        await self._wait(account, media, media_id, info, {"media": known, "since": since})
        return media_id

    def _auth(self, account: Credentials) -> dict[str, str]:
        return {"Authorization": f"Bearer {account.access_token}"}

    async def _remember(self, account: Credentials, media: MediaInfo, data: dict[str, Any]) -> None:
        expires = data.get("expires_after_secs")
        lifetime = timedelta(seconds=int(expires)) if expires else DEFAULT_EXPIRY
        ttl = min(lifetime, DEFAULT_EXPIRY) - EXPIRY_MARGIN
        if ttl > timedelta(0):
            await self.memo.put(_memo_key(account, media), {"id": str(data["id"])}, ttl)

    async def _upload_image(self, account: Credentials, media: MediaInfo) -> str:
        parts = []
        async with aclosing(read_chunks(self.client, media, CHUNK_SIZE)) as chunks:
            async for chunk in chunks:
                parts.append(chunk)
        body = await self.http.json(
            self.classifier,
            "POST",
            f"{API}/2/media/upload",
            headers=self._auth(account),
            data={"media_category": CATEGORIES[media.kind], "media_type": media.content_type},
            files={"media": (media.filename or media.id, b"".join(parts), media.content_type)},
        )
        data = _data(body)
        await self._remember(account, media, data)
        return str(data["id"])

    async def _upload_chunked(
        self, account: Credentials, media: MediaInfo
    ) -> tuple[str, dict[str, Any] | None]:
        if not media.size:
            raise Permanent(f"Media {media.id} has no verified size", code="media_unavailable")
        if -(-media.size // CHUNK_SIZE) > MAX_SEGMENTS:
            raise Permanent(f"Media {media.id} is too large for X", code="media_too_large")
        auth = self._auth(account)
        init = _data(
            await self.http.json(
                self.classifier,
                "POST",
                f"{API}/2/media/upload/initialize",
                headers=auth,
                json={
                    "media_type": media.content_type,
                    "total_bytes": media.size,
                    "media_category": CATEGORIES[media.kind],
                },
            )
        )
        media_id = str(init["id"])
        async with aclosing(read_chunks(self.client, media, CHUNK_SIZE)) as chunks:
            index = 0
            async for chunk in chunks:
                await self.http.request(
                    self.classifier,
                    "POST",
                    f"{API}/2/media/upload/{media_id}/append",
                    headers=auth,
                    data={"segment_index": str(index)},
                    files={"media": ("blob", chunk, "application/octet-stream")},
                )
                index += 1
        final = _data(
            await self.http.json(
                self.classifier, "POST", f"{API}/2/media/upload/{media_id}/finalize", headers=auth
            )
        )
        await self._remember(account, media, final)
        info = final.get("processing_info")
        return media_id, info if isinstance(info, dict) else None

    async def _status(self, account: Credentials, media_id: str) -> dict[str, Any] | None:
        body = await self.http.json(
            self.classifier,
            "GET",
            f"{API}/2/media/upload",
            params={"command": "STATUS", "media_id": media_id},
            headers=self._auth(account),
        )
        info = _data(body).get("processing_info")
        return info if isinstance(info, dict) else None

    async def _wait(
        self,
        account: Credentials,
        media: MediaInfo,
        media_id: str,
        info: dict[str, Any] | None,
        pending: dict[str, Any],
    ) -> None:
        """Poll STATUS as X asks (`check_after_secs`) for a few seconds, then hand the
        wait back to the job (`Pending`) until the deadline.

        No `processing_info` means the media is ready (x.md §3)."""
        waited = 0.0
        while info is not None:
            state = info.get("state")
            if state == "succeeded":
                return
            if state == "failed":
                await self.memo.drop(_memo_key(account, media))
                error = info.get("error") if isinstance(info.get("error"), dict) else {}
                reason = (error or {}).get("message") or "X could not process the media"
                raise Permanent(f"{reason} (media {media.id})", code="media_processing_failed")
            delay = float(min(max(int(info.get("check_after_secs") or 1), 1), 10))
            if waited + delay > self.processing_wait:
                started = _parse(pending.get("since")) or self.now()
                if self.now() - started > PROCESSING_DEADLINE:
                    await self.memo.drop(_memo_key(account, media))
                    raise Permanent(
                        f"X was still processing media {media.id} after {PROCESSING_DEADLINE}",
                        code="media_processing_timeout",
                    )
                state = {**pending, "since": isoformat(started)}
                raise Pending("processing media", state, timedelta(seconds=delay))
            await self.sleep(delay)
            waited += delay
            info = await self._status(account, media_id)

    async def set_alt_text(self, account: Credentials, media_id: str, text: str) -> None:
        await self.http.request(
            self.classifier,
            "POST",
            f"{API}/2/media/metadata",
            headers=self._auth(account),
            json={"id": media_id, "metadata": {"alt_text": {"text": text}}},
        )


def _memo_key(account: Credentials, media: MediaInfo) -> str:
    return f"media:{account.account_id}:{media.id}"


def _parse(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
