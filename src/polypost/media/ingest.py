"""Bytes that arrive through the API rather than straight to storage: multipart uploads
and server-side fetches. Both land in a private temporary file with a hard size cap,
are inspected there, and only then are stored and recorded.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from urllib.parse import unquote

import anyio
import httpx
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from polypost.core.errors import BadRequest, MediaInvalid, PayloadTooLarge
from polypost.core.ids import Prefix, new_id
from polypost.core.outbound import OutboundBlocked, guarded_client
from polypost.media import service
from polypost.media.formats import SUPPORTED_TYPES, normalize_content_type
from polypost.media.probe import Inspection, inspect_file
from polypost.models import Media
from polypost.settings import Settings
from polypost.storage import Storage
from polypost.storage.local import FILES_PATH

# Multipart framing (boundaries, part headers) on top of the file itself.
MULTIPART_OVERHEAD = 64 * 1024
FETCH_DEADLINE_SECONDS = 120.0
FETCH_TIMEOUT_SECONDS = 20.0
FETCH_MAX_REDIRECTS = 5
CHUNK = 256 * 1024


def upload_limits(settings: Settings) -> dict[str, int]:
    """Routes whose bodies may exceed the JSON limit, with the most the middleware lets
    through to each (RequestContextMiddleware); the routes enforce exact limits."""
    return {
        "/v1/media/upload": settings.max_multipart_upload_bytes + MULTIPART_OVERHEAD,
        FILES_PATH: settings.max_upload_bytes,
    }


@dataclass(frozen=True)
class Received:
    path: Path
    filename: str
    claimed_type: str | None


@asynccontextmanager
async def scratch_dir() -> AsyncIterator[Path]:
    """A private temporary folder, removed with everything in it."""
    directory = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="polypost-media-"))
    try:
        yield directory
    finally:
        await asyncio.to_thread(shutil.rmtree, directory, True)


def declared_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    return int(value) if value is not None and value.isdigit() else None


async def capped(chunks: AsyncIterator[bytes], limit: int) -> AsyncGenerator[bytes, None]:
    """Pass chunks through until more than `limit` bytes have gone by."""
    total = 0
    async for chunk in chunks:
        total += len(chunk)
        if total > limit:
            raise PayloadTooLarge(
                f"The upload exceeds the {limit}-byte limit.", details={"limitBytes": limit}
            )
        yield chunk


async def receive_multipart(request: Request, settings: Settings, directory: Path) -> Received:
    """Parse a `multipart/form-data` body with one `file` part into `directory`."""
    limit = settings.max_multipart_upload_bytes
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise BadRequest(
            "Send the file as multipart/form-data with a `file` part.",
            details={"fields": [{"field": "file", "in": "body", "message": "required"}]},
        )
    parser = MultiPartParser(
        request.headers,
        capped(request.stream(), limit + MULTIPART_OVERHEAD),
        max_files=1,
        max_fields=4,
        max_part_size=64 * 1024,
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise BadRequest(f"Malformed multipart body: {exc.message}") from exc
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise BadRequest(
                "The multipart body needs a `file` part holding the file.",
                details={"fields": [{"field": "file", "in": "body", "message": "required"}]},
            )
        if upload.size is not None and upload.size > limit:
            raise PayloadTooLarge(
                f"The file exceeds the {limit}-byte multipart upload limit; use "
                "POST /v1/media/upload-url for large files.",
                details={"limitBytes": limit},
            )
        path = directory / "upload"
        await asyncio.to_thread(_spill, upload.file, path)
        name = form.get("filename")
        filename = name if isinstance(name, str) and name.strip() else upload.filename
        return Received(
            path=path,
            filename=PurePosixPath((filename or "upload").replace("\\", "/")).name or "upload",
            claimed_type=upload.content_type,
        )
    finally:
        await form.close()


def _spill(source: BinaryIO, target: Path) -> None:
    source.seek(0)
    with target.open("wb") as handle:
        shutil.copyfileobj(source, handle, CHUNK)


async def fetch_url(
    url: str, settings: Settings, directory: Path, *, usage: service.Usage
) -> Received:
    """Download `url` through the SSRF guard (every redirect hop re-checked), streamed
    into `directory` and aborted as soon as it passes the size limit.

    Raises:
        BadRequest: the URL is not allowed (scheme, private address, credentials).
        MediaInvalid: the server answered with an error or could not be reached.
        PayloadTooLarge: larger than `max_upload_bytes`.
        StorageQuotaExceeded: the announced length does not fit the quota.
    """
    limit = settings.max_upload_bytes
    path = directory / "download"
    try:
        async with (
            asyncio.timeout(FETCH_DEADLINE_SECONDS),
            guarded_client(
                settings.outbound_allow,
                timeout=FETCH_TIMEOUT_SECONDS,
                follow_redirects=True,
                max_redirects=FETCH_MAX_REDIRECTS,
            ) as client,
            client.stream(
                "GET",
                url,
                headers={
                    "Accept": "image/*, video/*, application/pdf;q=0.9, */*;q=0.1",
                    # Identity: the cap then counts the bytes that arrive (no zip bombs).
                    "Accept-Encoding": "identity",
                    "User-Agent": "Polypost media fetcher",
                },
            ) as response,
        ):
            if not response.is_success:
                raise MediaInvalid(
                    f"Fetching the URL returned HTTP {response.status_code}.",
                    details={"url": url, "status": response.status_code},
                )
            announced = response.headers.get("content-length", "")
            if announced.isdigit():
                service.check_upload_size(int(announced), limit)
                if int(announced) > usage.available_bytes:
                    raise service.quota_error(usage, int(announced))
            async with await anyio.open_file(path, "wb") as handle:
                async for chunk in capped(response.aiter_raw(CHUNK), limit):
                    await handle.write(chunk)
            final_url = response.url
            claimed = response.headers.get("content-type")
    except OutboundBlocked as exc:
        raise BadRequest(
            f"The URL is not allowed: {exc}.",
            details={"fields": [{"field": "url", "in": "body", "message": str(exc)}]},
        ) from exc
    except TimeoutError as exc:
        raise MediaInvalid(
            f"Fetching the URL took longer than {int(FETCH_DEADLINE_SECONDS)} s.",
            details={"url": url},
        ) from exc
    except httpx.TooManyRedirects as exc:
        raise MediaInvalid(
            f"The URL redirected more than {FETCH_MAX_REDIRECTS} times.", details={"url": url}
        ) from exc
    except httpx.HTTPError as exc:
        raise MediaInvalid(
            f"The URL could not be fetched ({type(exc).__name__}).", details={"url": url}
        ) from exc
    name = unquote(PurePosixPath(final_url.path).name) or "download"
    return Received(path=path, filename=name, claimed_type=claimed)


async def store_received(
    session: AsyncSession,
    storage: Storage,
    settings: Settings,
    workspace_id: str,
    received: Received,
    *,
    filename: str | None = None,
    source: dict[str, str] | None = None,
    max_bytes: int,
) -> tuple[Media, Inspection]:
    """Inspect a received file, store it and record it as `uploaded`.

    Raises:
        MediaInvalid: the bytes are not a supported, intact file matching its claims.
    """
    inspection = await inspect_file(received.path, ffprobe_path=settings.ffprobe_path)
    name = filename or received.filename
    # Only a claim naming one of our formats counts: servers and browsers often send
    # `application/octet-stream` or `text/plain` for perfectly good files.
    claimed = normalize_content_type(received.claimed_type)
    reason = service.judge(
        inspection,
        claimed_types=[claimed if claimed in SUPPORTED_TYPES else None],
        filename=name,
        max_bytes=max_bytes,
    )
    if reason is not None:
        raise MediaInvalid(
            reason, details={"reason": reason, "detectedContentType": inspection.content_type}
        )
    assert inspection.content_type is not None
    media_id = new_id(Prefix.MEDIA)
    key = service.storage_key(workspace_id, media_id, name, inspection.content_type)
    await storage.put_file(key, received.path, inspection.content_type)
    media = await service.add_verified_file(
        session,
        storage,
        workspace_id,
        media_id=media_id,
        key=key,
        filename=name,
        inspection=inspection,
        source=source or {},
    )
    return media, inspection
