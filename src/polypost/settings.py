"""Configuration from `POLYPOST_*` environment variables.

Settings are validated when the process starts, so a typo in a URL or a malformed key
stops `polypost serve` with a readable message instead of failing the first request.
Embedded mode (no `REDIS_URL`) generates missing secrets once and keeps them in the data
dir; distributed mode requires them, because several processes must share them.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SECRETS_FILE = "secrets.json"
JWT_PRIVATE_KEY_FILE = "jwt_ed25519_private.pem"


class MediaStorage(StrEnum):
    LOCAL = "local"
    S3 = "s3"


class SettingsError(Exception):
    """Raised at start-up with a message naming every bad setting."""


def _split_list(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    """Every setting; field name = environment variable minus `POLYPOST_`."""

    model_config = SettingsConfigDict(env_prefix="POLYPOST_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./data/polypost.db"
    redis_url: str | None = None
    data_dir: Path = Path("./data")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

    media_storage: MediaStorage = MediaStorage.LOCAL
    s3_endpoint_url: str | None = None
    s3_bucket: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None

    secret_key: str | None = None
    encryption_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)

    jwt_public_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    jwt_jwks_url: str | None = None
    jwt_issuer: str = "polypost"
    jwt_audience: str = "polypost"

    public_base_url: str = "http://127.0.0.1:8000"
    rate_limit_per_minute: int = Field(default=120, ge=1, le=1_000_000)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    default_storage_quota_bytes: int = Field(default=5 * 1024**3, ge=0)
    outbound_allow: Annotated[list[str], NoDecode] = Field(default_factory=list)
    log_level: str = "INFO"

    _split = field_validator("encryption_keys", "jwt_public_keys", "outbound_allow", mode="before")(
        _split_list
    )

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        for legacy in ("postgres://", "postgresql://"):
            if value.startswith(legacy):
                return "postgresql+asyncpg://" + value[len(legacy) :]
        if not value.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
            raise ValueError("must start with postgresql+asyncpg:// or sqlite+aiosqlite://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if urlsplit(value).scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    @field_validator("public_base_url", "s3_endpoint_url", "jwt_jwks_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an absolute http(s) URL")
        return value.rstrip("/")

    @field_validator("secret_key")
    @classmethod
    def _secret_key(cls, value: str | None) -> str | None:
        if value is not None and len(value) < 32:
            raise ValueError("must be at least 32 characters")
        return value

    @field_validator("encryption_keys")
    @classmethod
    def _fernet_keys(cls, value: list[str]) -> list[str]:
        for index, key in enumerate(value):
            try:
                Fernet(key.encode())
            except (ValueError, TypeError) as exc:
                raise ValueError(
                    f"entry {index + 1} is not a Fernet key (32 url-safe base64 bytes)"
                ) from exc
        return value

    @field_validator("jwt_public_keys")
    @classmethod
    def _jwt_keys(cls, value: list[str]) -> list[str]:
        for index, entry in enumerate(value):
            try:
                load_ed25519_public_key(entry)
            except ValueError as exc:
                raise ValueError(f"entry {index + 1}: {exc}") from exc
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value.upper()

    @model_validator(mode="after")
    def _mode_requirements(self) -> Settings:
        if self.media_storage is MediaStorage.S3 and not self.s3_bucket:
            raise ValueError("POLYPOST_S3_BUCKET is required when POLYPOST_MEDIA_STORAGE=s3")
        if self.distributed:
            missing = [
                name
                for name, present in (
                    ("POLYPOST_SECRET_KEY", self.secret_key),
                    ("POLYPOST_ENCRYPTION_KEYS", self.encryption_keys),
                )
                if not present
            ]
            if missing:
                raise ValueError(
                    "distributed mode (POLYPOST_REDIS_URL set) requires " + ", ".join(missing)
                )
            if self.database_url.startswith("sqlite"):
                raise ValueError(
                    "distributed mode (POLYPOST_REDIS_URL set) needs a Postgres "
                    "POLYPOST_DATABASE_URL: SQLite cannot be shared between hosts"
                )
        return self

    @property
    def distributed(self) -> bool:
        """Redis configured: arq workers run jobs; otherwise the API runs them in-process."""
        return self.redis_url is not None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @cached_property
    def signing_key(self) -> bytes:
        """Pepper for API-key hashes and HMAC key for signed URLs and OAuth state."""
        assert self.secret_key is not None, "secrets are loaded at start-up"
        return self.secret_key.encode()

    @cached_property
    def jwt_private_key(self) -> Ed25519PrivateKey | None:
        """The development signing key kept in the data dir (embedded mode only)."""
        path = self.data_dir / JWT_PRIVATE_KEY_FILE
        if not path.exists():
            return None
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        return key if isinstance(key, Ed25519PrivateKey) else None


def load_ed25519_public_key(entry: str) -> Ed25519PublicKey:
    """Accept an inline PEM, a path to a PEM file, or a raw 32-byte key in base64/base64url."""
    text = entry.strip()
    if not text.startswith("-----BEGIN") and os.path.isfile(text):
        text = Path(text).read_text()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text.encode())
        except ValueError as exc:
            raise ValueError("not a readable PEM public key") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("not an Ed25519 public key (only EdDSA is accepted)")
        return key
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError as exc:
        raise ValueError("neither a PEM, a PEM file path, nor base64 key bytes") from exc
    if len(raw) != 32:
        raise ValueError("neither a PEM, a PEM file path, nor a 32-byte Ed25519 key")
    return Ed25519PublicKey.from_public_bytes(raw)


def validate_timezone(name: str) -> str:
    """Workspaces store IANA names; reject unknown ones before they reach zoneinfo later."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {name!r}") from exc
    return name


def _ensure_embedded_secrets(settings: Settings) -> Settings:
    """Generate secrets once into the data dir so restarts keep keys and hashes valid."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.data_dir / SECRETS_FILE
    stored: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    changed = False
    if not stored.get("secret_key"):
        stored["secret_key"] = secrets.token_urlsafe(48)
        changed = True
    if not stored.get("encryption_keys"):
        stored["encryption_keys"] = [Fernet.generate_key().decode()]
        changed = True
    if changed:
        path.write_text(json.dumps(stored, indent=2))
        path.chmod(0o600)
    key_path = settings.data_dir / JWT_PRIVATE_KEY_FILE
    if not settings.jwt_public_keys and not settings.jwt_jwks_url and not key_path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        key_path.write_bytes(pem)
        key_path.chmod(0o600)
    updates: dict[str, Any] = {}
    if settings.secret_key is None:
        updates["secret_key"] = stored["secret_key"]
    if not settings.encryption_keys:
        updates["encryption_keys"] = stored["encryption_keys"]
    return settings.model_copy(update=updates) if updates else settings


def load_settings(**overrides: Any) -> Settings:
    """Read and validate settings; raise SettingsError listing every problem."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = "_".join(str(part) for part in error["loc"]).upper()
            where = f"POLYPOST_{name}" if name else "settings"
            lines.append(f"  {where}: {error['msg'].removeprefix('Value error, ')}")
        raise SettingsError("Invalid configuration:\n" + "\n".join(lines)) from None
    if not settings.distributed:
        settings = _ensure_embedded_secrets(settings)
    return settings
