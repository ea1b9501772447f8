from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import FileResponse, Response

from polypost.auth.deps import MediaRead as MediaReadScope
from polypost.auth.deps import MediaWrite
from polypost.core.deps import ReadSession, RuntimeDep, WriteSession
from polypost.core.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    MediaInvalid,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    StorageQuotaExceeded,
    responses,
)
from polypost.core.pagination import PageParams, page_params
from polypost.media import ingest, service
from polypost.media.formats import normalize_content_type
from polypost.media.schemas import (
    FileUploaded,
    MediaDeleted,
    MediaFromUrl,
    MediaPage,
    MediaRead,
    StorageUsage,
    UploadComplete,
    UploadUrlCreate,
    UploadUrlCreated,
)
from polypost.models import Media, MediaKind, MediaStatus
from polypost.storage import LocalStorage, Storage, get_storage
from polypost.storage.local import UploadTooLarge

router = APIRouter(prefix="/media", tags=["media"])


def _storage(runtime: RuntimeDep) -> Storage:
    return get_storage(runtime)


StorageDep = Annotated[Storage, Depends(_storage)]

MULTIPART_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "filename": {"type": "string", "maxLength": 255},
                    },
                }
            }
        },
    }
}
RAW_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
    }
}
# Served files are user content: never let a browser run or re-interpret them.
SERVED_FILE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, max-age=3600",
}
BAD_SIGNED_URL = "The media URL is invalid or has expired."


async def read_model(storage: Storage, media: Media) -> MediaRead:
    metadata = dict(media.metadata_ or {})
    warnings = metadata.pop("warnings", [])
    error = metadata.pop("error", None)
    uploaded = media.status == MediaStatus.UPLOADED
    preview = (
        await storage.download_url(media.storage_key, content_type=media.content_type)
        if uploaded
        else None
    )
    return MediaRead(
        media_id=media.id,
        filename=media.filename,
        content_type=media.content_type,
        kind=media.kind,
        status=media.status,
        size=media.size if media.size is not None else media.declared_size,
        width=media.width,
        height=media.height,
        duration_ms=media.duration_ms,
        page_count=metadata.get("pageCount"),
        preview_url=preview,
        error=error,
        warnings=list(warnings),
        metadata=metadata,
        created_at=media.created_at,
        completed_at=media.completed_at,
        expires_at=media.expires_at,
    )


@router.post(
    "/upload-url",
    status_code=201,
    response_model=UploadUrlCreated,
    responses=responses(PayloadTooLarge, StorageQuotaExceeded),
)
async def create_upload_url(
    body: UploadUrlCreate,
    auth: MediaWrite,
    session: WriteSession,
    runtime: RuntimeDep,
    storage: StorageDep,
) -> UploadUrlCreated:
    """Step 1 of an upload: a media id and a 15-minute URL to PUT the bytes to."""
    media, target = await service.create_upload(
        session,
        storage,
        runtime.settings,
        auth.workspace_id,
        filename=body.filename,
        content_type=body.content_type,
        size=body.size,
    )
    return UploadUrlCreated(
        media_id=media.id,
        upload_url=target.url,
        key=media.storage_key,
        expires_at=target.expires_at,
        method=target.method,
        headers=target.headers,
    )


@router.put(
    "/files/{token}/{name}",
    response_model=FileUploaded,
    responses=responses(BadRequest, Forbidden, NotFound, Conflict, PayloadTooLarge, public=True),
    openapi_extra=RAW_BODY,
)
async def put_media_file(
    token: str,
    name: str,
    request: Request,
    session: ReadSession,
    storage: StorageDep,
    runtime: RuntimeDep,
) -> FileUploaded:
    """Step 2 with local storage: the signed upload URL (authenticated by its signature)."""
    if not isinstance(storage, LocalStorage):
        raise NotFound("Uploads go to the storage's own presigned URL.")
    grant = storage.read_grant(token)
    if grant is None or grant.op != "put" or grant.media_id is None:
        raise Forbidden(BAD_SIGNED_URL)
    sent_type = normalize_content_type(request.headers.get("content-type"))
    if sent_type != grant.content_type:
        raise BadRequest(
            f"The upload must be sent with Content-Type: {grant.content_type} "
            f"(got {sent_type or 'none'}).",
            details={"fields": [{"field": "Content-Type", "in": "header", "message": "mismatch"}]},
        )
    media = await session.get(Media, grant.media_id)
    if media is None or media.storage_key != grant.key:
        raise NotFound("Media not found.")
    if media.status == MediaStatus.UPLOADED:
        raise Conflict("This media is already complete; request a new upload URL.")
    await session.close()  # no connection is held while the body streams in
    limit = grant.max_size if grant.max_size is not None else runtime.settings.max_upload_bytes
    announced = ingest.declared_length(request)
    if announced is not None and announced > limit:
        raise PayloadTooLarge(
            f"The upload exceeds the {limit} bytes this URL allows.",
            details={"limitBytes": limit},
        )
    try:
        written = await storage.write_stream(grant.key, request.stream(), limit)
    except UploadTooLarge as exc:
        raise PayloadTooLarge(
            f"The upload exceeds the {exc.limit} bytes this URL allows.",
            details={"limitBytes": exc.limit},
        ) from exc
    if grant.max_size is not None and written != grant.max_size:
        await storage.delete(grant.key)
        raise BadRequest(
            f"Received {written} bytes but {grant.max_size} were declared.",
            details={"fields": [{"field": "body", "in": "body", "message": "size mismatch"}]},
        )
    return FileUploaded(media_id=grant.media_id, size=written)


@router.get(
    "/files/{token}/{name}",
    response_class=FileResponse,
    responses={200: {"content": {"*/*": {}}}, **responses(Forbidden, NotFound, public=True)},
)
@router.head("/files/{token}/{name}", response_class=FileResponse, include_in_schema=False)
async def get_media_file(token: str, name: str, storage: StorageDep) -> Response:
    """A signed media URL (previews, platforms pulling media), authenticated by its signature."""
    if not isinstance(storage, LocalStorage):
        raise NotFound("Media is served from the storage's own presigned URLs.")
    grant = storage.read_grant(token)
    if grant is None or grant.op != "get":
        raise Forbidden(BAD_SIGNED_URL)
    path = storage.path_for(grant.key)
    if not await anyio.Path(path).is_file():
        raise NotFound("Media not found.")
    return FileResponse(
        path,
        media_type=grant.content_type or "application/octet-stream",
        headers=SERVED_FILE_HEADERS,
        content_disposition_type="inline",
        filename=name,
    )


@router.post(
    "/{media_id}/complete",
    response_model=MediaRead,
    responses=responses(NotFound, Conflict, Gone, StorageQuotaExceeded, ServiceUnavailable),
)
@router.post(
    "/{media_id}/verify",
    response_model=MediaRead,
    responses=responses(NotFound, Conflict, Gone, StorageQuotaExceeded, ServiceUnavailable),
)
async def complete_upload(
    media_id: str,
    auth: MediaWrite,
    session: WriteSession,
    runtime: RuntimeDep,
    storage: StorageDep,
    body: Annotated[UploadComplete | None, Body()] = None,
) -> MediaRead:
    """Step 3: verify the uploaded bytes; the media becomes `uploaded` or `invalid`."""
    media = await service.complete_upload(
        session,
        storage,
        runtime.settings,
        auth.workspace_id,
        media_id,
        reported_size=body.size if body is not None else None,
    )
    return await read_model(storage, media)


@router.post(
    "/upload",
    status_code=201,
    response_model=MediaRead,
    responses=responses(MediaInvalid, PayloadTooLarge, StorageQuotaExceeded, ServiceUnavailable),
    openapi_extra=MULTIPART_BODY,
)
async def upload_media(
    request: Request,
    auth: MediaWrite,
    session: WriteSession,
    runtime: RuntimeDep,
    storage: StorageDep,
) -> MediaRead:
    """Upload a file in one multipart request (`file` part) up to the multipart limit."""
    settings = runtime.settings
    announced = ingest.declared_length(request)
    if announced is not None:
        ceiling = settings.max_multipart_upload_bytes + ingest.MULTIPART_OVERHEAD
        if announced > ceiling:
            raise PayloadTooLarge(
                f"The body exceeds the {settings.max_multipart_upload_bytes}-byte multipart "
                "limit; use POST /v1/media/upload-url for large files.",
                details={"limitBytes": settings.max_multipart_upload_bytes},
            )
        current = await service.usage(session, auth.workspace_id)
        if announced > current.available_bytes:
            raise service.quota_error(current, announced)
        await session.rollback()
    async with ingest.scratch_dir() as directory:
        received = await ingest.receive_multipart(request, settings, directory)
        media, _ = await ingest.store_received(
            session,
            storage,
            settings,
            auth.workspace_id,
            received,
            source={"source": "upload"},
            max_bytes=settings.max_multipart_upload_bytes,
        )
    return await read_model(storage, media)


@router.post(
    "/from-url",
    status_code=201,
    response_model=MediaRead,
    responses=responses(MediaInvalid, PayloadTooLarge, StorageQuotaExceeded, ServiceUnavailable),
)
async def create_media_from_url(
    body: MediaFromUrl,
    auth: MediaWrite,
    session: WriteSession,
    runtime: RuntimeDep,
    storage: StorageDep,
) -> MediaRead:
    """Fetch a public http(s) URL server-side (private and internal addresses refused)."""
    settings = runtime.settings
    current = await service.usage(session, auth.workspace_id)
    await session.rollback()
    async with ingest.scratch_dir() as directory:
        received = await ingest.fetch_url(body.url, settings, directory, usage=current)
        media, _ = await ingest.store_received(
            session,
            storage,
            settings,
            auth.workspace_id,
            received,
            filename=body.filename,
            source={"source": "url", "sourceUrl": body.url},
            max_bytes=settings.max_upload_bytes,
        )
    return await read_model(storage, media)


@router.get("", response_model=MediaPage, responses=responses())
async def list_media(
    auth: MediaReadScope,
    session: ReadSession,
    storage: StorageDep,
    params: Annotated[PageParams, Depends(page_params)],
    status: Annotated[MediaStatus | None, Query(description="Only this status.")] = None,
    kind: Annotated[MediaKind | None, Query(description="Only this kind.")] = None,
) -> MediaPage:
    """List the workspace's media, newest first, each with an expiring `previewUrl`."""
    page = await service.list_media(session, auth.workspace_id, params, status=status, kind=kind)
    return MediaPage(
        media=[await read_model(storage, m) for m in page.items], next_cursor=page.next_cursor
    )


@router.get("/storage", response_model=StorageUsage, responses=responses())
async def get_media_storage(
    auth: MediaReadScope, session: ReadSession, runtime: RuntimeDep
) -> StorageUsage:
    """Bytes used by the workspace's media against its quota."""
    current = await service.usage(session, auth.workspace_id)
    return StorageUsage(
        used_bytes=current.used_bytes,
        quota_bytes=current.quota_bytes,
        available_bytes=current.available_bytes,
        count=current.count,
        max_upload_bytes=runtime.settings.max_upload_bytes,
        max_multipart_upload_bytes=runtime.settings.max_multipart_upload_bytes,
    )


@router.get("/{media_id}", response_model=MediaRead, responses=responses(NotFound))
async def get_media(
    media_id: str, auth: MediaReadScope, session: ReadSession, storage: StorageDep
) -> MediaRead:
    """One media item."""
    return await read_model(storage, await service.get_media(session, auth.workspace_id, media_id))


@router.delete("/{media_id}", response_model=MediaDeleted, responses=responses(NotFound, Conflict))
async def delete_media(
    media_id: str, auth: MediaWrite, session: WriteSession, storage: StorageDep
) -> MediaDeleted:
    """Delete a media item and its files; refused while an unpublished post uses it."""
    await service.delete_media(session, storage, auth.workspace_id, media_id)
    return MediaDeleted(media_id=media_id, deleted=True)
