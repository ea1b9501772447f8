"""Media storage backends behind one interface (`Storage`): `local` and `s3`."""

from __future__ import annotations

from polypost.core.runtime import Runtime
from polypost.settings import MediaStorage, Settings
from polypost.storage.base import ObjectInfo, Storage, StorageError, UploadTarget
from polypost.storage.local import LocalStorage

__all__ = [
    "LocalStorage",
    "ObjectInfo",
    "Storage",
    "StorageError",
    "UploadTarget",
    "build_storage",
    "get_storage",
]

_EXTRAS_KEY = "storage"


def build_storage(settings: Settings) -> Storage:
    """The backend `POLYPOST_MEDIA_STORAGE` selects."""
    if settings.media_storage is MediaStorage.S3:
        # boto3 costs tens of MB of memory: only processes that use S3 load it.
        from polypost.storage.s3 import S3Storage

        assert settings.s3_bucket is not None, "validated by Settings"
        return S3Storage(
            bucket=settings.s3_bucket,
            region=settings.s3_region,
            endpoint_url=settings.s3_endpoint_url,
            public_endpoint_url=settings.s3_public_endpoint_url,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
        )
    return LocalStorage(
        settings.data_dir / "media",
        base_url=settings.public_base_url,
        signing_key=settings.signing_key,
    )


def get_storage(runtime: Runtime) -> Storage:
    """The process's backend, built once (boto3 clients are costly to create)."""
    storage: Storage | None = runtime.extras.get(_EXTRAS_KEY)
    if storage is None:
        storage = build_storage(runtime.settings)
        runtime.extras[_EXTRAS_KEY] = storage
    return storage
