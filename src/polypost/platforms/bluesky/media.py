"""Blobs for Bluesky embeds: images, videos and link-card thumbnails (bluesky.md §3).

Images go to the account's PDS with `com.atproto.repo.uploadBlob` (raw bytes, real
MIME type). The `app.bsky.embed.images` lexicon accepts 2,000,000 bytes since April 2026
but PDSes and AppViews older than that refuse more than 1,000,000, so a larger image is
re-encoded once to fit 1,000,000 (media/fitting.py keeps the derivative for reuse).

Videos go through Bluesky's video service (`app.bsky.video.uploadVideo` with a service
token minted by the PDS), which processes them before the post exists, so nobody sees a
"video unavailable" placeholder. The job id is remembered per account and file: a retry
after a processing timeout polls the same job instead of uploading again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from polypost.core.http import Classifier, PlatformHttp
from polypost.core.runtime import Runtime
from polypost.media.fitting import MediaLimits, MediaUnfit, fit_media
from polypost.models import Media
from polypost.platforms.base import Credentials, MediaInfo, MediaKind, Permanent, Transient
from polypost.platforms.download import open_media
from polypost.platforms.memo import StepMemo
from polypost.storage import get_storage

# bluesky.md §3: embed.images maxSize 2,000,000 since Apr 2026, 1,000,000 before; link
# card thumbnails stay at 1,000,000.
IMAGE_MAX_BYTES = 1_000_000
THUMB_MAX_BYTES = 1_000_000
VIDEO_SERVICE = "https://video.bsky.app"
VIDEO_SERVICE_DID = "did:web:video.bsky.app"
# One attempt waits this long for the video service, then the job retries and resumes
# polling the remembered job (the publish lease is 90 s).
VIDEO_WAIT_SECONDS = 45.0
VIDEO_POLL_SECONDS = 2.0
JOB_MEMO_TTL = timedelta(hours=6)
FAILED = "JOB_STATE_FAILED"

Sleep = Callable[[float], Awaitable[None]]


async def read_capped(response: httpx.Response, limit: int, what: str) -> bytes:
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            raise Permanent(f"{what} is larger than {limit} bytes", code="media_too_large")
    return bytes(body)


def pds_service_did(base_url: str) -> str:
    """The `aud` of a service token for the user's PDS: `did:web:{PDS host}`."""
    return f"did:web:{urlsplit(base_url).hostname}"


class BlobUploader:
    """Uploads the files of one post and returns blob objects to embed verbatim."""

    def __init__(
        self,
        runtime: Runtime,
        classifier: Classifier,
        http: PlatformHttp,
        sleep: Sleep = asyncio.sleep,
        video_wait: float = VIDEO_WAIT_SECONDS,
        video_poll: float = VIDEO_POLL_SECONDS,
    ) -> None:
        self.runtime = runtime
        self.classifier = classifier
        self.http = http
        self.memo = StepMemo(runtime, "bluesky")
        self.sleep = sleep
        self.video_wait = video_wait
        self.video_poll = video_poll

    @staticmethod
    def _auth(account: Credentials) -> dict[str, str]:
        return {"Authorization": f"Bearer {account.access_token}"}

    async def upload_blob(
        self, account: Credentials, data: bytes, content_type: str
    ) -> dict[str, Any]:
        body = await self.http.json(
            self.classifier,
            "POST",
            account.url("/xrpc/com.atproto.repo.uploadBlob"),
            headers={**self._auth(account), "Content-Type": content_type},
            content=data,
        )
        blob = body.get("blob") if isinstance(body, dict) else None
        if not isinstance(blob, dict):
            raise Transient("The PDS answered uploadBlob without a blob")
        return blob

    async def image(
        self, account: Credentials, media: MediaInfo
    ) -> tuple[dict[str, Any], MediaInfo]:
        """The uploaded blob of one image (re-encoded first when over the limit) and the
        facts of the file actually sent (for `aspectRatio`)."""
        if media.size is not None and media.size > IMAGE_MAX_BYTES:
            return await self._fitted_image(account, media)
        async with open_media(self.runtime.http, media) as response:
            data = await read_capped(response, IMAGE_MAX_BYTES, f"Image {media.id}")
        return await self.upload_blob(account, data, media.content_type), media

    async def _fitted_image(
        self, account: Credentials, media: MediaInfo
    ) -> tuple[dict[str, Any], MediaInfo]:
        storage = get_storage(self.runtime)
        async with self.runtime.sessions() as session:
            row = await session.get(Media, media.id)
            if row is None:
                raise Permanent(f"Media {media.id} no longer exists", code="media_unavailable")
            try:
                fitted = await fit_media(
                    session, storage, row, MediaLimits(max_bytes=IMAGE_MAX_BYTES)
                )
            except MediaUnfit as exc:
                raise Permanent(exc.message, code="media_unfit") from exc
            await session.commit()
        data = bytearray()
        try:
            async for chunk in storage.iter_chunks(fitted.storage_key):
                data += chunk
        except FileNotFoundError as exc:
            raise Permanent(
                f"Media {media.id} is no longer stored", code="media_unavailable"
            ) from exc
        sent = MediaInfo(
            id=media.id,
            kind=MediaKind.IMAGE,
            content_type=fitted.content_type,
            size=len(data),
            width=fitted.width,
            height=fitted.height,
        )
        return await self.upload_blob(account, bytes(data), fitted.content_type), sent

    # --- video ------------------------------------------------------------------------

    def _job_key(self, account: Credentials, media: MediaInfo) -> str:
        return f"video-job:{account.account_id}:{media.id}"

    async def video(self, account: Credentials, media: MediaInfo) -> dict[str, Any]:
        """The processed video blob, uploading the file unless a job already exists."""
        key = self._job_key(account, media)
        remembered = await self.memo.get(key)
        job: dict[str, Any] | None = None
        if remembered and remembered.get("jobId"):
            try:
                job = await self._status(str(remembered["jobId"]))
            except Permanent:
                await self.memo.drop(key)  # the service forgot the job: upload again
        if job is None:
            job = await self._upload_video(account, media)
        return await self._wait(account, media, job)

    async def _service_token(self, account: Credentials, lxm: str, audience: str) -> str:
        body = await self.http.json(
            self.classifier,
            "GET",
            account.url("/xrpc/com.atproto.server.getServiceAuth"),
            headers=self._auth(account),
            params={"aud": audience, "lxm": lxm, "exp": str(int(time.time()) + 30 * 60)},
        )
        token = body.get("token") if isinstance(body, dict) else None
        if not isinstance(token, str):
            raise Transient("The PDS answered getServiceAuth without a token")
        return token

    async def _upload_video(self, account: Credentials, media: MediaInfo) -> dict[str, Any]:
        if not media.size:
            raise Permanent(f"Media {media.id} has no verified size", code="media_unavailable")
        # The service uploads the processed blob to the PDS in the user's name, so the
        # token's audience is the PDS and its method uploadBlob (bsky-docs video.mdx).
        token = await self._service_token(
            account, "com.atproto.repo.uploadBlob", pds_service_did(account.base_url or "")
        )
        async with open_media(self.runtime.http, media) as source:
            response = await self.http.request(
                self.classifier,
                "POST",
                f"{VIDEO_SERVICE}/xrpc/app.bsky.video.uploadVideo",
                params={"did": account.external_id, "name": media.filename or f"{media.id}.mp4"},
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": media.content_type,
                    "Content-Length": str(media.size),
                },
                content=source.aiter_bytes(),
                # A file the service already processed answers 409 `already_exists`
                # with the existing job (and its blob).
                ok_statuses=frozenset({409}),
            )
        job = _job(response)
        if job is None:
            raise self.classifier.classify(response)
        if job.get("jobId"):
            await self.memo.put(
                self._job_key(account, media), {"jobId": job["jobId"]}, JOB_MEMO_TTL
            )
        return job

    async def _wait(
        self, account: Credentials, media: MediaInfo, job: dict[str, Any]
    ) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.video_wait
        while True:
            blob = job.get("blob")
            if isinstance(blob, dict):
                return blob
            if job.get("state") == FAILED:
                await self.memo.drop(self._job_key(account, media))
                reason = job.get("message") or job.get("error") or "processing failed"
                raise Permanent(
                    f"Bluesky could not process video {media.id}: {reason}",
                    code=str(job.get("failureCode") or job.get("error") or "video_failed"),
                )
            if not job.get("jobId"):
                raise Transient("The video service answered without a job id")
            if loop.time() >= deadline:
                raise Transient(
                    f"Video {media.id} is still processing on Bluesky", code="media_processing"
                )
            await self.sleep(self.video_poll)
            job = await self._status(str(job["jobId"]))

    async def _status(self, job_id: str) -> dict[str, Any]:
        response = await self.http.request(
            self.classifier,
            "GET",
            f"{VIDEO_SERVICE}/xrpc/app.bsky.video.getJobStatus",
            params={"jobId": job_id},
        )
        polled = _job(response)
        if polled is None:
            raise Transient("The video service answered getJobStatus without a status")
        return {"jobId": job_id, **polled}


def _job(response: httpx.Response) -> dict[str, Any] | None:
    """The job status in an uploadVideo/getJobStatus answer (bare or under `jobStatus`)."""
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    inner = body.get("jobStatus")
    job = inner if isinstance(inner, dict) else body
    if not (job.get("jobId") or isinstance(job.get("blob"), dict)):
        return None
    return job
