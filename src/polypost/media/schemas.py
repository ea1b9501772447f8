from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from polypost.core.schemas import ApiInput, ApiModel, UtcTimestamp
from polypost.media.formats import SUPPORTED_TYPES, normalize_content_type

MAX_FILENAME = 255
MAX_URL = 2048


def _clean_filename(value: str) -> str:
    if any(ord(ch) < 32 or ch == "\x7f" for ch in value):
        raise ValueError("must not contain control characters")
    if value in (".", "..") or "/" in value or "\\" in value:
        raise ValueError("must be a file name, not a path")
    return value


class UploadUrlCreate(ApiInput):
    filename: str = Field(min_length=1, max_length=MAX_FILENAME, examples=["sunset.jpg"])
    content_type: str = Field(
        min_length=1,
        max_length=128,
        examples=["image/jpeg"],
        description="The `Content-Type` the file will be PUT with: "
        + ", ".join(f"`{t}`" for t in sorted(SUPPORTED_TYPES))
        + ".",
    )
    size: int | None = Field(
        default=None,
        ge=1,
        description="Size in bytes. When given, the quota is checked now and the upload "
        "URL accepts exactly this many bytes.",
    )

    _filename = field_validator("filename")(_clean_filename)

    @field_validator("content_type")
    @classmethod
    def _supported(cls, value: str) -> str:
        normalized = normalize_content_type(value)
        if normalized not in SUPPORTED_TYPES:
            raise ValueError(
                "unsupported content type; use one of " + ", ".join(sorted(SUPPORTED_TYPES))
            )
        return normalized


class UploadUrlCreated(ApiModel):
    media_id: str
    upload_url: str = Field(description="PUT the bytes here with the same Content-Type.")
    key: str = Field(description="The object's storage key.")
    expires_at: UtcTimestamp
    method: str = "PUT"
    headers: dict[str, str] = Field(description="Headers the PUT must carry.")


class UploadComplete(ApiInput):
    size: int | None = Field(
        default=None,
        ge=0,
        description="Uploaded size in bytes; a mismatch marks the upload invalid.",
    )


class MediaFromUrl(ApiInput):
    url: str = Field(min_length=1, max_length=MAX_URL, examples=["https://example.com/cat.jpg"])
    filename: str | None = Field(default=None, min_length=1, max_length=MAX_FILENAME)

    _filename = field_validator("filename")(
        lambda value: None if value is None else _clean_filename(value)
    )


class MediaRead(ApiModel):
    media_id: str
    filename: str
    content_type: str
    kind: str | None
    status: str = Field(description="`pending`, `uploaded` or `invalid`.")
    size: int | None
    width: int | None
    height: int | None
    duration_ms: int | None
    page_count: int | None = Field(description="PDF documents only.")
    preview_url: str | None = Field(description="Expiring URL; null until uploaded.")
    error: str | None = Field(description="Why the file is invalid.")
    warnings: list[str] = Field(description="What could not be checked (e.g. no ffprobe).")
    metadata: dict[str, Any] = Field(description="Codecs, frame rate, animation, ...")
    created_at: UtcTimestamp
    completed_at: UtcTimestamp | None
    expires_at: UtcTimestamp | None = Field(
        description="When a pending or invalid item is removed; null once uploaded."
    )


class MediaPage(ApiModel):
    media: list[MediaRead]
    next_cursor: str | None


class MediaDeleted(ApiModel):
    media_id: str
    deleted: bool


class StorageUsage(ApiModel):
    used_bytes: int
    quota_bytes: int
    available_bytes: int
    count: int = Field(description="Media counted in `usedBytes` (pending and uploaded).")
    max_upload_bytes: int
    max_multipart_upload_bytes: int


class FileUploaded(ApiModel):
    media_id: str
    size: int
