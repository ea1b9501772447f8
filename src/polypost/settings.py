"""Configuration from `POLYPOST_*` environment variables.

Settings are validated when the process starts, so a typo in a URL or a malformed key
stops `polypost serve` with a readable message instead of failing the first request.
Embedded mode (no `REDIS_URL`) generates missing secrets once and keeps them in the data
dir; distributed mode requires them, because several processes must share them.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import re
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
from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

SECRETS_FILE = "secrets.json"
JWT_PRIVATE_KEY_FILE = "jwt_ed25519_private.pem"
# One DNS name (labels of letters, digits, `-`, `_`), compared exactly by the SSRF guard.
HOSTNAME = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)(\.(?!-)[a-z0-9_-]{1,63}(?<!-))*$")


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
    # Where clients reach S3 when it differs from the API's view (MinIO in compose).
    s3_public_endpoint_url: str | None = None
    max_upload_bytes: int = Field(default=1024**3, ge=1024)
    max_multipart_upload_bytes: int = Field(default=100 * 1024**2, ge=1024)
    ffprobe_path: str = "ffprobe"

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
    # Server-wide developer apps, JSON {"linkedin": {"clientId": …, "clientSecret": …}};
    # a workspace's own (BYOK, /v1/platforms/{platform}/credentials) take precedence.
    oauth_apps: dict[str, dict[str, str]] = Field(default_factory=dict)
    # How long a worker owns a target mid-publish before the reconciler recovers it. The
    # worker renews it every third of this while a platform call runs, so it bounds how
    # long a dead worker's target waits, not how long a call may take.
    publish_lease_seconds: float = Field(default=30.0, ge=1.0, le=3600.0)
    # Meta Graph API version for Facebook and Instagram calls (docs/platforms/facebook.md).
    meta_graph_version: str = Field(default="v23.0", pattern=r"^v\d{1,3}\.\d$")
    # `polypost worker` serves its own Prometheus metrics (job outcomes, publish lag) here.
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # The `LinkedIn-Version` header (YYYYMM). LinkedIn sunsets each version after about a
    # year (HTTP 426), so it is bumped here rather than in code.
    linkedin_version: str = Field(default="202607", pattern=r"^20[0-9]{2}(0[1-9]|1[0-2])$")
    log_level: str = "INFO"

    _split = field_validator("encryption_keys", "jwt_public_keys", "outbound_allow", mode="before")(
        _split_list
    )

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        for legacy in ("postgres://", "postgresql://"):
            if value.startswith(legacy):
                value = "postgresql+asyncpg://" + value[len(legacy) :]
        if not value.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
            raise ValueError("must start with postgresql+asyncpg:// or sqlite+aiosqlite://")
        try:
            make_url(value)
        except (ArgumentError, ValueError):
            raise ValueError("is not a valid database URL") from None
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if urlsplit(value).scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    @field_validator("public_base_url", "s3_endpoint_url", "s3_public_endpoint_url", "jwt_jwks_url")
    @classmethod
    def _http_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value in (None, ""):
            if info.field_name == "public_base_url":
                raise ValueError("must be an absolute http(s) URL")
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

    @field_validator("outbound_allow")
    @classmethod
    def _outbound_allow(cls, value: list[str]) -> list[str]:
        # The SSRF guard compares host names exactly and addresses by network; an entry
        # it cannot read (a URL, a host:port, a bad CIDR) would silently exempt nothing.
        for index, entry in enumerate(value):
            normalized = entry.strip().lower().rstrip(".")
            try:
                ipaddress.ip_network(normalized.strip("[]"), strict=False)
            except ValueError:
                if not HOSTNAME.match(normalized):
                    raise ValueError(
                        f"entry {index + 1} ({entry!r}) is neither a host name nor an IP "
                        "address or CIDR (no scheme, port or path)"
                    ) from None
        return value

    @field_validator("oauth_apps")
    @classmethod
    def _oauth_apps(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        apps: dict[str, dict[str, str]] = {}
        for name, app in value.items():
            key = "x" if name.strip().lower() == "twitter" else name.strip().lower()
            if not app.get("clientId"):
                raise ValueError(f"{name!r} needs a clientId")
            apps[key] = app
        return apps

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


def _write_private(path: Path, data: bytes) -> None:
    """Create the file readable by its owner only, from the first byte on."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    path.chmod(0o600)


def _read_stored_secrets(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        stored = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise SettingsError(
            f"Invalid configuration:\n  POLYPOST_DATA_DIR: {path} is not valid JSON ({exc}); "
            "restore it from a backup (deleting it invalidates every API key and stored token)"
        ) from None
    if not isinstance(stored, dict):
        raise SettingsError(
            f"Invalid configuration:\n  POLYPOST_DATA_DIR: {path} is not a JSON object"
        )
    return stored


def _ensure_embedded_secrets(settings: Settings) -> Settings:
    """Generate secrets once into the data dir so restarts keep keys and hashes valid."""
    try:
        return _embedded_secrets(settings)
    except OSError as exc:
        raise SettingsError(
            f"Invalid configuration:\n  POLYPOST_DATA_DIR: cannot keep generated secrets in "
            f"{settings.data_dir}: {exc.strerror or exc}"
        ) from None


def _embedded_secrets(settings: Settings) -> Settings:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.data_dir / SECRETS_FILE
    stored = _read_stored_secrets(path)
    changed = False
    if not stored.get("secret_key"):
        stored["secret_key"] = secrets.token_urlsafe(48)
        changed = True
    if not stored.get("encryption_keys"):
        stored["encryption_keys"] = [Fernet.generate_key().decode()]
        changed = True
    if changed:
        _write_private(path, json.dumps(stored, indent=2).encode())
    key_path = settings.data_dir / JWT_PRIVATE_KEY_FILE
    if not settings.jwt_public_keys and not settings.jwt_jwks_url and not key_path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_private(key_path, pem)
    updates: dict[str, Any] = {}
    if settings.secret_key is None:
        updates["secret_key"] = stored["secret_key"]
    if not settings.encryption_keys:
        updates["encryption_keys"] = stored["encryption_keys"]
    return settings.model_copy(update=updates) if updates else settings


def _ensure_sqlite_directory(settings: Settings) -> None:
    """SQLite creates the file but not its folder; `migrate` is often the first to open it."""
    database = make_url(settings.database_url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    try:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingsError(
            f"Invalid configuration:\n  POLYPOST_DATABASE_URL: cannot create the folder of "
            f"{database}: {exc.strerror or exc}"
        ) from None


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
    if settings.is_sqlite:
        _ensure_sqlite_directory(settings)
    if not settings.distributed:
        settings = _ensure_embedded_secrets(settings)
    return settings
