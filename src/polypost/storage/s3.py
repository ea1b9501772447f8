"""S3-compatible storage (AWS S3, Cloudflare R2, MinIO) through boto3.

boto3 is synchronous, so every network call runs in a worker thread; presigning is a
local computation and runs inline. Presigned PUT URLs sign `Content-Type` (and
`Content-Length` when the size is declared), so S3 itself refuses an upload with another
type or size; verification still compares the stored type, because not every
S3-compatible server enforces signed headers.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from polypost.core.timeutil import utcnow
from polypost.storage.base import (
    DOWNLOAD_URL_TTL_SECONDS,
    UPLOAD_URL_TTL_SECONDS,
    ObjectInfo,
    StorageError,
    UploadTarget,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

_MISSING = {"404", "NoSuchKey", "NotFound"}


def _failure(operation: str, key: str) -> StorageError:
    logger.warning("S3 %s failed", operation, extra={"key": key}, exc_info=True)
    return StorageError()


def _is_missing(error: ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code", "")) in _MISSING


class S3Storage:
    name: ClassVar[str] = "s3"

    def __init__(
        self,
        *,
        bucket: str,
        region: str,
        endpoint_url: str | None = None,
        public_endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> None:
        self.bucket = bucket
        # Custom endpoints (MinIO, R2) are addressed by path: no wildcard DNS needed.
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=10,
            read_timeout=60,
        )
        common: dict[str, Any] = {
            "region_name": region,
            "aws_access_key_id": access_key_id,
            "aws_secret_access_key": secret_access_key,
            "config": config,
        }
        self._client: S3Client = boto3.client("s3", endpoint_url=endpoint_url, **common)
        # URLs handed to clients must name the endpoint *they* can reach.
        public = public_endpoint_url or endpoint_url
        self._presigner: S3Client = (
            self._client
            if public == endpoint_url
            else boto3.client("s3", endpoint_url=public, **common)
        )

    async def upload_target(
        self, key: str, *, content_type: str, size: int | None, media_id: str
    ) -> UploadTarget:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "ContentType": content_type}
        if size is not None:
            params["ContentLength"] = size
        url = self._presigner.generate_presigned_url(
            "put_object", Params=params, ExpiresIn=UPLOAD_URL_TTL_SECONDS, HttpMethod="PUT"
        )
        return UploadTarget(
            url=url,
            expires_at=utcnow() + timedelta(seconds=UPLOAD_URL_TTL_SECONDS),
            headers={"Content-Type": content_type},
        )

    async def download_url(self, key: str, *, content_type: str | None = None) -> str:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if content_type:
            params["ResponseContentType"] = content_type
        return self._presigner.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=DOWNLOAD_URL_TTL_SECONDS
        )

    async def head(self, key: str) -> ObjectInfo | None:
        try:
            response = await asyncio.to_thread(
                self._client.head_object, Bucket=self.bucket, Key=key
            )
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise _failure("HEAD", key) from exc
        except BotoCoreError as exc:
            raise _failure("HEAD", key) from exc
        return ObjectInfo(
            size=int(response["ContentLength"]), content_type=response.get("ContentType")
        )

    @asynccontextmanager
    async def local_copy(self, key: str) -> AsyncIterator[Path]:
        with tempfile.TemporaryDirectory(prefix="polypost-s3-") as directory:
            path = Path(directory) / "object"
            try:
                await asyncio.to_thread(self._client.download_file, self.bucket, key, str(path))
            except ClientError as exc:
                if _is_missing(exc):
                    raise FileNotFoundError(key) from exc
                raise _failure("GET", key) from exc
            except BotoCoreError as exc:
                raise _failure("GET", key) from exc
            yield path

    async def iter_chunks(self, key: str, chunk_size: int = 1024 * 1024) -> AsyncIterator[bytes]:
        try:
            response = await asyncio.to_thread(self._client.get_object, Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _is_missing(exc):
                raise FileNotFoundError(key) from exc
            raise _failure("GET", key) from exc
        body = response["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, chunk_size):
                yield chunk
        finally:
            body.close()

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        try:
            await asyncio.to_thread(
                self._client.upload_file,
                str(path),
                self.bucket,
                key,
                ExtraArgs={"ContentType": content_type},
            )
        except (ClientError, BotoCoreError) as exc:
            raise _failure("PUT", key) from exc

    async def delete(self, key: str) -> None:
        try:
            await asyncio.to_thread(self._client.delete_object, Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if not _is_missing(exc):
                raise _failure("DELETE", key) from exc
        except BotoCoreError as exc:
            raise _failure("DELETE", key) from exc
