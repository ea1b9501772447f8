"""BYOK: a workspace's own developer-app credentials per platform.

X in particular bills API access per developer app, so each workspace brings its own;
other OAuth platforms may use the server-wide app from `POLYPOST_OAUTH_APPS`. The
workspace's app wins over the server's. Secrets are encrypted at rest (MultiFernet) and
re-encrypted under the newest key whenever they are read with an older one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.core.errors import CredentialsMissing, NotFound, Unprocessable
from polypost.core.ids import new_id
from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.models import PlatformCredential
from polypost.platforms.base import Platform
from polypost.platforms.connect import AppCredentials, OAuthSpec
from polypost.platforms.registry import FACTORIES, adapter_for

# Platforms that connect through a developer app (API.md "Accounts"), whether or not
# their adapter is installed yet: credentials can be stored ahead of it. Bluesky,
# Telegram and the sandbox need none; Mastodon registers an app per instance itself.
APP_PLATFORMS = frozenset(
    {
        Platform.X,
        Platform.INSTAGRAM,
        Platform.FACEBOOK,
        Platform.LINKEDIN,
        Platform.TIKTOK,
        Platform.THREADS,
        Platform.PINTEREST,
        Platform.YOUTUBE,
        Platform.SLACK,
        Platform.DISCORD,
    }
)

Source = Literal["workspace", "server"]


class UnsupportedPlatform(Unprocessable):
    code = "unsupported"
    default_message = "This platform does not use developer-app credentials."


@dataclass(frozen=True)
class ResolvedApp:
    app: AppCredentials
    source: Source
    row: PlatformCredential | None = None


def parse_platform(value: str) -> Platform:
    """A path's platform name ("twitter" is x).

    Raises:
        NotFound: no such platform.
    """
    try:
        return Platform(value)
    except ValueError:
        raise NotFound(f"Unknown platform '{value[:40]}'.") from None


def app_platform(value: str) -> Platform:
    """A platform that connects through a developer app.

    Raises:
        NotFound: unknown platform.
        UnsupportedPlatform: the platform needs no developer app.
    """
    platform = parse_platform(value)
    if platform in APP_PLATFORMS:
        return platform
    raise UnsupportedPlatform(
        f"{platform.value} connects without developer-app credentials.",
        details={"platform": platform.value},
    )


def oauth_spec(runtime: Runtime, platform: str) -> OAuthSpec | None:
    """The adapter's OAuth spec, or None when no installed adapter declares one."""
    if platform not in FACTORIES:
        return None
    spec = getattr(adapter_for(runtime, platform), "oauth", None)
    return spec if isinstance(spec, OAuthSpec) else None


class CredentialRepository:
    def __init__(self, session: AsyncSession, workspace_id: str) -> None:
        self.session = session
        self.workspace_id = workspace_id

    async def get(self, platform: str) -> PlatformCredential | None:
        return (
            await self.session.execute(
                select(PlatformCredential).where(
                    PlatformCredential.workspace_id == self.workspace_id,
                    PlatformCredential.platform == platform,
                )
            )
        ).scalar_one_or_none()


def _decrypt(runtime: Runtime, row: PlatformCredential) -> AppCredentials:
    """Decrypt the row, re-encrypting any value made with an older key (lazy rotation)."""
    cipher = runtime.cipher
    for column in ("client_secret_enc", "extra_enc"):
        value = getattr(row, column)
        if value and cipher.needs_rotation(value):
            setattr(row, column, cipher.rotate(value))
    extra: dict[str, str] = {}
    if row.extra_enc:
        loaded = json.loads(cipher.decrypt(row.extra_enc))
        extra = {str(k): str(v) for k, v in loaded.items()}
    return AppCredentials(
        client_id=row.client_id,
        client_secret=cipher.decrypt(row.client_secret_enc) if row.client_secret_enc else None,
        extra=extra,
    )


def server_app(runtime: Runtime, platform: str) -> AppCredentials | None:
    configured = runtime.settings.oauth_apps.get(platform)
    if not configured:
        return None
    return AppCredentials(
        client_id=configured["clientId"],
        client_secret=configured.get("clientSecret"),
        extra={k: v for k, v in configured.items() if k not in ("clientId", "clientSecret")},
    )


async def resolve_app(
    session: AsyncSession, runtime: Runtime, workspace_id: str, platform: str
) -> ResolvedApp | None:
    """The developer app a workspace connects `platform` accounts with, if any."""
    row = await CredentialRepository(session, workspace_id).get(platform)
    if row is not None:
        return ResolvedApp(_decrypt(runtime, row), "workspace", row)
    app = server_app(runtime, platform)
    return ResolvedApp(app, "server") if app is not None else None


async def require_app(
    session: AsyncSession, runtime: Runtime, workspace_id: str, platform: str
) -> ResolvedApp:
    """Like `resolve_app`, for a platform that cannot work without one.

    Raises:
        CredentialsMissing: 412; neither the workspace nor the server has an app.
    """
    resolved = await resolve_app(session, runtime, workspace_id, platform)
    if resolved is None:
        raise CredentialsMissing(
            f"Set this workspace's {platform} developer app first: "
            f"PUT /v1/platforms/{platform}/credentials.",
            details={"platform": platform},
        )
    return resolved


async def put_credentials(
    session: AsyncSession,
    runtime: Runtime,
    workspace_id: str,
    platform: str,
    *,
    client_id: str,
    client_secret: str | None,
    extra: dict[str, str],
) -> PlatformCredential:
    """Create or replace the workspace's app for `platform` (one per platform)."""
    cipher = runtime.cipher
    repository = CredentialRepository(session, workspace_id)
    row = await repository.get(platform)
    if row is None:
        row = PlatformCredential(id=new_id("pcr"), workspace_id=workspace_id, platform=platform)
        session.add(row)
    row.client_id = client_id
    row.client_secret_enc = cipher.encrypt(client_secret) if client_secret else None
    row.extra_enc = cipher.encrypt(json.dumps(extra, sort_keys=True)) if extra else None
    row.last_tested_at = None
    row.last_test_ok = None
    row.updated_at = utcnow()
    await session.flush()
    return row


async def delete_credentials(session: AsyncSession, workspace_id: str, platform: str) -> None:
    row = await CredentialRepository(session, workspace_id).get(platform)
    if row is None:
        raise NotFound(f"This workspace has no {platform} developer app credentials.")
    await session.delete(row)
    await session.flush()


def describe(platform: str, resolved: ResolvedApp | None) -> dict[str, Any]:
    """What the API may show: never a secret, only whether one is set."""
    row = resolved.row if resolved else None
    app = resolved.app if resolved else None
    return {
        "platform": platform,
        "configured": resolved is not None,
        "source": resolved.source if resolved else None,
        "client_id": app.client_id if app else None,
        "client_secret_set": bool(app and app.client_secret),
        "extra_keys": sorted(app.extra) if app else [],
        "created_at": row.created_at if row else None,
        "updated_at": row.updated_at if row else None,
        "last_tested_at": row.last_tested_at if row else None,
        "last_test_ok": row.last_test_ok if row else None,
    }


async def record_test(session: AsyncSession, row_id: str, ok: bool, when: datetime) -> None:
    await session.execute(
        update(PlatformCredential)
        .where(PlatformCredential.id == row_id)
        .values(last_tested_at=when, last_test_ok=ok)
        .execution_options(synchronize_session=False)
    )
