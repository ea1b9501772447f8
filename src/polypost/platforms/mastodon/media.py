"""Media attachments: `POST /api/v2/media`, then wait for processing (mastodon.md §3).

v2 answers 200 when the file was processed at once (small images) and 202 with a null
`url` while it processes; `GET /api/v1/media/:id` answers 206 until it is done and 200
with the `url` after. A status that attaches unprocessed media is refused with 422, so
every attachment is ready before the status is created.

Uploads are limited to 30 per 30 minutes per account, so an uploaded id is remembered
per account and file: a retry (processing took longer than one attempt waits, the
status call failed) reuses it. Unattached media live about a day on the instance; the
memory is much shorter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx

from polypost.core.http import Classifier, PlatformHttp
from polypost.core.runtime import Runtime
from polypost.platforms.base import Credentials, MediaInfo, Transient
from polypost.platforms.download import spool
from polypost.platforms.memo import StepMemo

# One attempt waits this long, then the job retries and polls the remembered id again
# (the publish lease is 90 s).
PROCESSING_WAIT_SECONDS = 45.0
POLL_SECONDS = 1.5
MEMO_TTL = timedelta(hours=6)

Sleep = Callable[[float], Awaitable[None]]


class MediaUploader:
    """Turns the files of one status into processed media attachment ids."""

    def __init__(
        self,
        runtime: Runtime,
        classifier: Classifier,
        http: PlatformHttp,
        sleep: Sleep = asyncio.sleep,
        processing_wait: float = PROCESSING_WAIT_SECONDS,
        poll_interval: float = POLL_SECONDS,
    ) -> None:
        self.runtime = runtime
        self.classifier = classifier
        self.http = http
        self.memo = StepMemo(runtime, "mastodon")
        self.sleep = sleep
        self.processing_wait = processing_wait
        self.poll_interval = poll_interval

    @staticmethod
    def memo_key(account: Credentials, media: MediaInfo) -> str:
        return f"media:{account.account_id}:{media.id}"

    async def forget(self, account: Credentials, media: tuple[MediaInfo, ...]) -> None:
        """Drop remembered ids (the instance no longer knows one of them)."""
        for item in media:
            await self.memo.drop(self.memo_key(account, item))

    async def media_ids(
        self, account: Credentials, media: tuple[MediaInfo, ...], alt_texts: dict[str, str]
    ) -> list[str]:
        ids = []
        for item in media:
            key = self.memo_key(account, item)
            remembered = await self.memo.get(key)
            if remembered and remembered.get("id"):
                media_id = str(remembered["id"])
                if not remembered.get("ready"):
                    await self._wait(account, item, media_id)
                    await self.memo.put(key, {"id": media_id, "ready": True}, MEMO_TTL)
            else:
                media_id = await self._upload(account, item, alt_texts.get(item.id))
            ids.append(media_id)
        return ids

    async def _upload(self, account: Credentials, media: MediaInfo, alt: str | None) -> str:
        headers = {"Authorization": f"Bearer {account.access_token}"}
        async with spool(self.runtime.http, media) as sink:
            data = {"description": alt} if alt else None
            response = await self.http.request(
                self.classifier,
                "POST",
                account.url("/api/v2/media"),
                headers=headers,
                data=data,
                files={"file": (media.filename or media.id, sink, media.content_type)},
            )
        attachment = _attachment(response)
        media_id = str(attachment["id"])
        ready = response.status_code == 200 and bool(attachment.get("url"))
        key = self.memo_key(account, media)
        await self.memo.put(key, {"id": media_id, "ready": ready}, MEMO_TTL)
        if not ready:
            await self._wait(account, media, media_id)
            await self.memo.put(key, {"id": media_id, "ready": True}, MEMO_TTL)
        return media_id

    async def _wait(self, account: Credentials, media: MediaInfo, media_id: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.processing_wait
        while True:
            response = await self.http.request(
                self.classifier,
                "GET",
                account.url(f"/api/v1/media/{media_id}"),
                headers={"Authorization": f"Bearer {account.access_token}"},
            )
            if response.status_code == 200 and _attachment(response).get("url"):
                return
            if loop.time() >= deadline:
                raise Transient(
                    f"Media {media.id} is still processing on the instance",
                    code="media_processing",
                )
            await self.sleep(self.poll_interval)


def _attachment(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not body.get("id"):
        raise Transient("The instance answered a media request without an attachment id")
    return body
