"""Media library rules: upload grants, verification, quota, listing and deletion.

Long I/O (reading an object back, decoding it) never happens inside a database
transaction: the service ends the transaction before it and re-reads the row after,
so a slow video probe holds no row lock (and, on SQLite, no write lock).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Text, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.core.deps import after_commit
from polypost.core.errors import Conflict, Gone, NotFound, PayloadTooLarge, StorageQuotaExceeded
from polypost.core.ids import Prefix, new_id
from polypost.core.pagination import Page, PageParams, paginate
from polypost.core.timeutil import utcnow
from polypost.events.outbox import record_event
from polypost.media.formats import (
    EXTENSION_BY_TYPE,
    describe,
    kind_of,
    normalize_content_type,
    type_from_filename,
)
from polypost.media.probe import Inspection, inspect_file
from polypost.models import Media, MediaDerivative, MediaStatus, Post, PostStatus, Workspace
from polypost.settings import Settings
from polypost.storage import Storage, UploadTarget

logger = logging.getLogger(__name__)

# After the 15-minute upload URL expires, the client still has this long to complete.
COMPLETE_GRACE = timedelta(hours=1)
# Invalid items stay visible (with their reason) this long, then are cleaned up.
INVALID_RETENTION = timedelta(hours=24)
# Posts in these states will still publish their media, so it must not disappear.
ACTIVE_POST_STATUSES = (PostStatus.DRAFT, PostStatus.SCHEDULED, PostStatus.PUBLISHING)
COUNTED_STATUSES = (MediaStatus.PENDING, MediaStatus.UPLOADED)


@dataclass(frozen=True)
class Usage:
    used_bytes: int
    count: int
    quota_bytes: int

    @property
    def available_bytes(self) -> int:
        return max(0, self.quota_bytes - self.used_bytes)


def display_filename(name: str) -> str:
    """The name as shown back: normalised, without control characters, ≤ 255 chars."""
    cleaned = "".join(ch for ch in unicodedata.normalize("NFC", name) if ch.isprintable())
    return cleaned.strip()[:255] or "file"


def key_filename(name: str, content_type: str | None) -> str:
    """A storage-safe file name; the extension follows the real content type."""
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-")[:80] or "file"
    extension = EXTENSION_BY_TYPE.get(content_type or "")
    if extension is None:
        extension = "." + re.sub(r"[^A-Za-z0-9]", "", ext)[:10] if ext else ""
    return stem + (extension if extension != "." else "")


def storage_key(workspace_id: str, media_id: str, filename: str, content_type: str | None) -> str:
    return f"{workspace_id}/{media_id}/{key_filename(filename, content_type)}"


async def usage(session: AsyncSession, workspace_id: str, *, exclude: str | None = None) -> Usage:
    """Bytes held by pending (declared size) and uploaded media, and the quota."""
    statement = select(
        func.coalesce(func.sum(func.coalesce(Media.size, Media.declared_size, 0)), 0),
        func.count(Media.id),
    ).where(Media.workspace_id == workspace_id, Media.status.in_(COUNTED_STATUSES))
    if exclude is not None:
        statement = statement.where(Media.id != exclude)
    used, count = (await session.execute(statement)).one()
    quota = (
        await session.execute(
            select(Workspace.storage_quota_bytes).where(Workspace.id == workspace_id)
        )
    ).scalar_one()
    return Usage(used_bytes=int(used), count=int(count), quota_bytes=int(quota))


async def ensure_quota(
    session: AsyncSession,
    workspace_id: str,
    adding: int,
    *,
    exclude: str | None = None,
    lock: bool = True,
) -> None:
    """Refuse `adding` more bytes beyond the workspace quota.

    With `lock`, the workspace row is locked (Postgres) until the transaction ends, so
    two concurrent uploads cannot both take the last free bytes.

    Raises:
        StorageQuotaExceeded: 413 `storage_quota_exceeded`.
    """
    if lock:
        await session.execute(
            select(Workspace.id).where(Workspace.id == workspace_id).with_for_update()
        )
    current = await usage(session, workspace_id, exclude=exclude)
    if adding > current.available_bytes:
        raise quota_error(current, adding)


def quota_error(current: Usage, adding: int) -> StorageQuotaExceeded:
    return StorageQuotaExceeded(
        f"Storing {adding} more bytes would exceed the workspace quota "
        f"({current.used_bytes} of {current.quota_bytes} bytes used).",
        details={
            "usedBytes": current.used_bytes,
            "quotaBytes": current.quota_bytes,
            "requestedBytes": adding,
        },
    )


def check_upload_size(size: int, limit: int) -> None:
    if size > limit:
        raise PayloadTooLarge(
            f"The file is {size} bytes; the upload limit is {limit} bytes.",
            details={"size": size, "limitBytes": limit},
        )


async def create_upload(
    session: AsyncSession,
    storage: Storage,
    settings: Settings,
    workspace_id: str,
    *,
    filename: str,
    content_type: str,
    size: int | None,
) -> tuple[Media, UploadTarget]:
    """Step 1: a pending media row and the URL its bytes go to."""
    if size is not None:
        check_upload_size(size, settings.max_upload_bytes)
    await ensure_quota(session, workspace_id, size or 0)
    media_id = new_id(Prefix.MEDIA)
    key = storage_key(workspace_id, media_id, filename, content_type)
    target = await storage.upload_target(
        key, content_type=content_type, size=size, media_id=media_id
    )
    media = Media(
        id=media_id,
        workspace_id=workspace_id,
        filename=display_filename(filename),
        content_type=content_type,
        kind=kind_of(content_type),
        status=MediaStatus.PENDING,
        storage_key=key,
        declared_size=size,
        metadata_={},
        expires_at=target.expires_at + COMPLETE_GRACE,
    )
    session.add(media)
    await session.flush()
    return media, target


async def get_media(
    session: AsyncSession, workspace_id: str, media_id: str, *, for_update: bool = False
) -> Media:
    statement = select(Media).where(Media.id == media_id, Media.workspace_id == workspace_id)
    if for_update:
        statement = statement.with_for_update()
    media = (await session.execute(statement)).scalar_one_or_none()
    if media is None:
        raise NotFound("Media not found.")
    return media


async def get_many(
    session: AsyncSession, workspace_id: str, media_ids: Sequence[str]
) -> dict[str, Media]:
    """The workspace's media among `media_ids` (others' ids are simply absent)."""
    if not media_ids:
        return {}
    rows = await session.execute(
        select(Media).where(Media.workspace_id == workspace_id, Media.id.in_(set(media_ids)))
    )
    return {media.id: media for media in rows.scalars()}


async def list_media(
    session: AsyncSession,
    workspace_id: str,
    params: PageParams,
    *,
    status: str | None = None,
    kind: str | None = None,
) -> Page[Media]:
    statement = select(Media).where(Media.workspace_id == workspace_id)
    if status is not None:
        statement = statement.where(Media.status == status)
    if kind is not None:
        statement = statement.where(Media.kind == kind)
    return await paginate(session, statement, [Media.created_at, Media.id], params, descending=True)


def judge(
    inspection: Inspection,
    *,
    claimed_types: Sequence[str | None],
    filename: str,
    max_bytes: int,
    declared_size: int | None = None,
    reported_size: int | None = None,
) -> str | None:
    """Why the inspected file is unusable given what the client claimed, or None."""
    if inspection.error is not None:
        return inspection.error
    size = inspection.size
    if size > max_bytes:
        return f"The file is {size} bytes; the upload limit is {max_bytes} bytes."
    if declared_size is not None and size != declared_size:
        return f"The upload is {size} bytes but {declared_size} bytes were declared."
    if reported_size is not None and size != reported_size:
        return f"The upload is {size} bytes but completion reported {reported_size} bytes."
    real = inspection.content_type
    for claimed in claimed_types:
        claimed_type = normalize_content_type(claimed)
        if kind_of(claimed_type) is not None and kind_of(claimed_type) != inspection.kind:
            return f"The file is {describe(real)} but was declared as {claimed_type}."
    extension_type = type_from_filename(filename)
    if extension_type is not None and kind_of(extension_type) != inspection.kind:
        return f"The file is {describe(real)} but its name {filename!r} says {extension_type}."
    return None


def _mark_uploaded(media: Media, inspection: Inspection) -> None:
    now = utcnow()
    metadata: dict[str, Any] = dict(inspection.metadata)
    if inspection.content_type != media.content_type:
        metadata["declaredContentType"] = media.content_type
    if inspection.warnings:
        metadata["warnings"] = list(inspection.warnings)
    media.status = MediaStatus.UPLOADED
    media.content_type = inspection.content_type or media.content_type
    media.kind = inspection.kind
    media.size = inspection.size
    media.width = inspection.width
    media.height = inspection.height
    media.duration_ms = inspection.duration_ms
    media.metadata_ = metadata
    media.completed_at = now
    media.expires_at = None


def _mark_invalid(media: Media, inspection: Inspection, reason: str) -> None:
    media.status = MediaStatus.INVALID
    media.size = inspection.size
    media.kind = inspection.kind or media.kind
    media.metadata_ = {"error": reason, "detectedContentType": inspection.content_type}
    media.completed_at = None
    media.expires_at = utcnow() + INVALID_RETENTION


def event_data(media: Media) -> dict[str, Any]:
    data: dict[str, Any] = {
        "mediaId": media.id,
        "status": media.status,
        "kind": media.kind,
        "contentType": media.content_type,
        "filename": media.filename,
        "size": media.size,
    }
    if media.status == MediaStatus.INVALID:
        data["error"] = media.metadata_.get("error")
    else:
        data.update(width=media.width, height=media.height, durationMs=media.duration_ms)
    return data


def record_outcome(session: AsyncSession, media: Media) -> None:
    """`media.ready` or `media.invalid`, in the caller's transaction."""
    event = "media.ready" if media.status == MediaStatus.UPLOADED else "media.invalid"
    record_event(session, media.workspace_id, event, event_data(media), resource_id=media.id)


def _check_not_expired(media: Media) -> None:
    if media.expires_at is not None and media.expires_at <= utcnow():
        raise Gone(
            "This upload expired before it was completed; request a new upload URL.",
            details={"mediaId": media.id},
        )


async def complete_upload(
    session: AsyncSession,
    storage: Storage,
    settings: Settings,
    workspace_id: str,
    media_id: str,
    *,
    reported_size: int | None = None,
) -> Media:
    """Step 3: check the uploaded object and mark the media `uploaded` or `invalid`.

    Raises:
        NotFound: no such media in this workspace.
        Conflict: nothing has been uploaded yet.
        Gone: the upload (or an invalid result) expired.
        StorageQuotaExceeded: the upload (size undeclared) does not fit the quota; the
            object is removed and the media stays pending.
    """
    media = await get_media(session, workspace_id, media_id)
    if media.status == MediaStatus.UPLOADED:
        return media  # completing twice is harmless
    _check_not_expired(media)
    key, claimed, declared_size = media.storage_key, media.content_type, media.declared_size
    filename = media.filename
    await session.rollback()  # no transaction is held while the object is read back

    info = await storage.head(key)
    if info is None:
        raise Conflict(
            "Nothing has been uploaded for this media yet: PUT the file to its uploadUrl first.",
            details={"mediaId": media_id},
        )
    reason: str | None = None
    if info.size > settings.max_upload_bytes:
        inspection = Inspection(content_type=None, kind=None, size=info.size)
        reason = f"The file is {info.size} bytes; the upload limit is {settings.max_upload_bytes}."
    else:
        stored_type = normalize_content_type(info.content_type)
        if stored_type is not None and stored_type != claimed:
            inspection = Inspection(content_type=None, kind=None, size=info.size)
            reason = f"The file was uploaded as {stored_type} but {claimed} was declared."
        else:
            try:
                await ensure_quota(session, workspace_id, info.size, exclude=media_id, lock=False)
            except StorageQuotaExceeded:
                await storage.delete(key)
                raise
            await session.rollback()
            try:
                async with storage.local_copy(key) as path:
                    inspection = await inspect_file(path, ffprobe_path=settings.ffprobe_path)
            except FileNotFoundError as exc:
                raise Conflict("The uploaded object disappeared; upload it again.") from exc
            reason = judge(
                inspection,
                claimed_types=[claimed],
                filename=filename,
                max_bytes=settings.max_upload_bytes,
                declared_size=declared_size,
                reported_size=reported_size,
            )

    media = await get_media(session, workspace_id, media_id, for_update=True)
    if media.status == MediaStatus.UPLOADED:
        return media  # a concurrent completion won
    _check_not_expired(media)  # the cleanup job may be removing its file right now
    if reason is None:
        try:
            await ensure_quota(session, workspace_id, inspection.size, exclude=media_id)
        except StorageQuotaExceeded:
            await storage.delete(key)
            raise
        _mark_uploaded(media, inspection)
    else:
        _mark_invalid(media, inspection, reason)
        # Unusable bytes are not kept (nor served); the row explains why for a while.
        after_commit(session, lambda: storage.delete(key))
    record_outcome(session, media)
    await session.flush()
    return media


async def add_verified_file(
    session: AsyncSession,
    storage: Storage,
    workspace_id: str,
    *,
    media_id: str,
    key: str,
    filename: str,
    inspection: Inspection,
    source: dict[str, Any],
) -> Media:
    """Record a file already stored under `key` and inspected (direct uploads, fetches).

    Raises:
        StorageQuotaExceeded: the object is removed again.
    """
    try:
        await ensure_quota(session, workspace_id, inspection.size)
    except StorageQuotaExceeded:
        await storage.delete(key)
        raise
    assert inspection.content_type is not None
    media = Media(
        id=media_id,
        workspace_id=workspace_id,
        filename=display_filename(filename),
        content_type=inspection.content_type,
        kind=inspection.kind,
        status=MediaStatus.PENDING,
        storage_key=key,
        declared_size=None,
        metadata_={},
    )
    _mark_uploaded(media, inspection)
    media.metadata_.update(source)
    session.add(media)
    record_outcome(session, media)
    await session.flush()
    return media


async def posts_using(session: AsyncSession, workspace_id: str, media_id: str) -> list[str]:
    """Ids of draft/scheduled/publishing posts that reference the media anywhere
    (`mediaIds`, thread segments, cover, alt text). Media ids are fixed-length random
    strings, so a substring match on the stored JSON is an exact match."""
    rows = await session.execute(
        select(Post.id)
        .where(
            Post.workspace_id == workspace_id,
            Post.status.in_(ACTIVE_POST_STATUSES),
            or_(
                cast(Post.media_ids, Text).contains(media_id, autoescape=True),
                cast(Post.options, Text).contains(media_id, autoescape=True),
            ),
        )
        .order_by(Post.id)
        .limit(20)
    )
    return list(rows.scalars())


async def delete_media(
    session: AsyncSession, storage: Storage, workspace_id: str, media_id: str
) -> None:
    """Delete the media row now and its objects once that commits.

    Raises:
        NotFound: no such media in this workspace.
        Conflict: a post that will still publish uses it.
    """
    media = await get_media(session, workspace_id, media_id, for_update=True)
    in_use = await posts_using(session, workspace_id, media_id)
    if in_use:
        raise Conflict(
            "The media is attached to posts that have not been published yet; remove it "
            "from them (or cancel them) first.",
            details={"postIds": in_use},
        )
    keys = [media.storage_key]
    keys += (
        await session.execute(
            select(MediaDerivative.storage_key).where(MediaDerivative.media_id == media_id)
        )
    ).scalars()
    await session.delete(media)
    await session.flush()

    async def remove_objects() -> None:
        for key in keys:
            await storage.delete(key)

    after_commit(session, remove_objects)
