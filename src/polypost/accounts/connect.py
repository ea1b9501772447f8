"""Linking platform accounts to a workspace, and the one-call credential connects.

The identity stored (external id, handle, name) always comes from the platform's answer
(`connect_with_credentials`, `whoami`), never from the client. One platform identity is
live in one workspace at a time: linking it elsewhere is 409 `already_linked` (a partial
unique index backs this up under races), while relinking in the same workspace updates
the existing row and keeps its stored refresh token when the platform sends no new one.

User-supplied endpoints (a Bluesky PDS, a Mastodon instance, a Discord webhook URL) pass
the outbound guard before anything contacts them, and the server an account is stored
with is checked again, since publishing will call it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.accounts.schemas import MastodonConnect
from polypost.core.errors import (
    AlreadyLinked,
    ApiError,
    BadRequest,
    CredentialsInvalid,
    PlatformFailed,
    RateLimited,
)
from polypost.core.ids import Prefix, new_id
from polypost.core.outbound import OutboundBlocked, check_url
from polypost.core.runtime import Runtime
from polypost.core.schemas import ApiInput
from polypost.core.timeutil import utcnow
from polypost.events.outbox import record_event
from polypost.models import AccountStatus, SocialAccount
from polypost.platforms.base import PlatformError
from polypost.platforms.connect import Connection
from polypost.platforms.registry import PlatformUnavailable, adapter_for

# Body fields holding an endpoint the server will contact, per platform.
ENDPOINT_FIELDS: dict[str, tuple[str, ...]] = {
    "bluesky": ("service",),
    "mastodon": ("instance",),
    "discord": ("webhook_url",),
}


def api_error(error: PlatformError, platform: str) -> ApiError:
    """A platform's refusal during a connect, as the API error the client gets."""
    details = {"platform": platform, "platformCode": error.code}
    if error.code == "unsupported":
        return PlatformUnavailable(error.message, details=details)
    if error.code == "endpoint_refused":
        return BadRequest(error.message, details=details)
    if error.kind == "rate_limited":
        headers = {}
        if error.retry_at is not None:
            seconds = max(1, int((error.retry_at - utcnow()).total_seconds()) + 1)
            headers["Retry-After"] = str(seconds)
        return RateLimited(
            f"{platform} rate limit: {error.message}", details=details, headers=headers
        )
    if error.kind == "transient":
        return PlatformFailed(f"{platform} could not be reached: {error.message}", details=details)
    return CredentialsInvalid(f"{platform} refused: {error.message}", details=details)


def normalize_base_url(value: str, field: str) -> str:
    """`mastodon.social`, `https://mastodon.social/`, `@alice@mastodon.social` (as
    `instance`) → `https://mastodon.social`.

    Raises:
        BadRequest: not an http(s) URL with a host.
    """
    text = value.strip()
    if field == "instance" and text.startswith("@") and text.count("@") == 2:
        text = text.rsplit("@", 1)[1]  # a full handle (@alice@mastodon.social) names its server
    if "://" not in text:
        text = "https://" + text
    try:
        url = httpx.URL(text)
    except (httpx.InvalidURL, ValueError):
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host or url.userinfo:
        raise _field_error(field, "must be an http(s) URL or a host name", "url_invalid")
    port = f":{url.port}" if url.port else ""
    path = url.path.rstrip("/")
    return f"{url.scheme}://{url.host}{port}{path}"


def _field_error(field: str, message: str, kind: str) -> BadRequest:
    return BadRequest(
        f"{field}: {message}.",
        details={"fields": [{"field": field, "in": "body", "message": message, "type": kind}]},
    )


async def guard_url(runtime: Runtime, url: str, field: str) -> None:
    """The outbound (SSRF) guard for a URL a client chose.

    Raises:
        BadRequest: the URL points at a private, loopback, link-local or metadata address.
    """
    try:
        await check_url(url, runtime.settings.outbound_allow)
    except OutboundBlocked as exc:
        raise _field_error(field, f"not allowed: {exc}", "url_refused") from exc


async def connect_with_credentials(
    session: AsyncSession, runtime: Runtime, workspace_id: str, body: ApiInput
) -> SocialAccount:
    """Verify client-supplied credentials with the platform, then link the account."""
    platform = str(body.platform)  # type: ignore[attr-defined]
    adapter = adapter_for(runtime, platform)
    connect = getattr(adapter, "connect_with_credentials", None)
    if connect is None:
        raise PlatformUnavailable(f"{platform} accounts cannot connect with credentials here.")
    payload = body.model_dump(by_alias=True, exclude_none=True, exclude={"platform"})
    if isinstance(body, MastodonConnect):
        payload.pop("redirectUri", None)
    for name in ENDPOINT_FIELDS.get(platform, ()):
        value = getattr(body, name, None)
        if value is None:
            continue
        alias = type(body).model_fields[name].alias or name
        url = value if name == "webhook_url" else normalize_base_url(value, alias)
        await guard_url(runtime, url, alias)
        payload[alias] = url
    try:
        connection: Connection = await connect(payload)
    except PlatformError as error:
        raise api_error(error, platform) from error
    if connection.base_url:
        await guard_url(runtime, connection.base_url, ENDPOINT_FIELDS.get(platform, ("url",))[0])
    return await link_account(session, workspace_id, platform, connection, runtime=runtime)


async def link_account(
    session: AsyncSession,
    workspace_id: str,
    platform: str,
    connection: Connection,
    *,
    runtime: Runtime,
    granted_scopes: tuple[str, ...] = (),
) -> SocialAccount:
    """Create or update the workspace's account for this platform identity.

    Raises:
        AlreadyLinked: 409; the identity is live in another workspace.
        PlatformFailed: the platform gave no account id.
    """
    identity = connection.identity
    if not identity.external_id:
        raise PlatformFailed(f"{platform} did not say which account this is.")
    existing = await _live_identity(session, platform, identity.external_id)
    if existing is not None and existing.workspace_id != workspace_id:
        raise AlreadyLinked(
            f"This {platform} account is already linked to another workspace; disconnect "
            "it there first.",
            details={"platform": platform},
        )
    relinked = existing is not None
    account = existing
    if account is None:
        account = SocialAccount(
            id=new_id(Prefix.ACCOUNT),
            workspace_id=workspace_id,
            platform=platform,
            external_id=identity.external_id,
            settings={},
            granted_scopes=[],
            connected_at=utcnow(),
        )
    _apply(runtime, account, connection, granted_scopes)
    if not relinked:
        try:
            async with session.begin_nested():
                session.add(account)
        except IntegrityError:
            # A concurrent connect of the same identity won the unique index.
            raise AlreadyLinked(
                f"This {platform} account was just linked by another request.",
                details={"platform": platform},
            ) from None
    await session.flush()
    record_event(
        session,
        workspace_id,
        "account.connected",
        {"accountId": account.id, "platform": account.platform, "handle": account.handle},
        resource_id=account.id,
    )
    return account


async def _live_identity(
    session: AsyncSession, platform: str, external_id: str
) -> SocialAccount | None:
    return (
        await session.execute(
            select(SocialAccount).where(
                SocialAccount.platform == platform,
                SocialAccount.external_id == external_id,
                SocialAccount.disconnected_at.is_(None),
            )
        )
    ).scalar_one_or_none()


def _apply(
    runtime: Runtime,
    account: SocialAccount,
    connection: Connection,
    granted_scopes: tuple[str, ...],
) -> None:
    cipher = runtime.cipher
    identity = connection.identity
    tokens = connection.tokens
    account.handle = identity.handle or account.handle
    account.display_name = identity.display_name or account.display_name
    account.avatar_url = identity.avatar_url or account.avatar_url
    account.status = AccountStatus.CONNECTED
    account.last_error = None
    account.last_error_at = None
    settings: dict[str, Any] = dict(account.settings or {})
    settings.update(_plain(connection.settings))
    if connection.base_url:
        settings["baseUrl"] = connection.base_url
    account.settings = settings
    if tokens is not None:
        account.access_token_enc = cipher.encrypt(tokens.access_token)
        if tokens.refresh_token:
            account.refresh_token_enc = cipher.encrypt(tokens.refresh_token)
        # Otherwise the stored refresh token (if any) stays: platforms often omit it.
        account.token_expires_at = connection.token_expires_at or tokens.expires_at
        scopes = tokens.scopes or granted_scopes
        if scopes:
            account.granted_scopes = list(scopes)
    elif connection.token_expires_at is not None:
        account.token_expires_at = connection.token_expires_at


def _plain(settings: Mapping[str, Any]) -> dict[str, Any]:
    return {str(key): value for key, value in settings.items()}
