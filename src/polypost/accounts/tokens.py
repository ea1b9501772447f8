"""The token lifecycle of connected accounts.

- At rest tokens are MultiFernet ciphertext (`runtime.cipher`). A ciphertext made with
  an older key of POLYPOST_ENCRYPTION_KEYS is re-encrypted under the newest one when it
  is read for a publish or rewritten by a refresh (lazy rotation); the write is
  conditional on the old ciphertext so it can never overwrite a newer token.
- Refreshes happen ahead of expiry (the periodic `refresh_expiring_tokens`, and before a
  publish whose token is about to expire) and after a platform answered 401 with a
  token that looked valid. Many platforms rotate refresh tokens and accept each only
  once (X, Bluesky, Slack), so two concurrent refreshes would log the user out: one
  refresh per account runs at a time across every worker, claimed with a conditional
  UPDATE on the account row (`refresh_lock_owner` until `refresh_lock_expires_at`).
  Whoever waits re-reads the row and uses the token the winner stored.
- A refresh token the platform refuses marks the account `expired`, records
  `account.token_expired`, and fails its pending targets with a reconnect message.
- A platform that omits a new refresh token keeps the stored one.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import uuid
import weakref
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.accounts.service import fail_pending_targets
from polypost.core.crypto import TokenCipher
from polypost.core.http import PlatformHttp
from polypost.core.runtime import Runtime
from polypost.core.timeutil import isoformat, utcnow
from polypost.events.outbox import record_event
from polypost.models import AccountStatus, SocialAccount
from polypost.platforms.base import (
    AuthExpired,
    Credentials,
    Permanent,
    PlatformError,
    TokenSet,
    Transient,
)
from polypost.platforms.byok import resolve_app
from polypost.platforms.connect import OAuthSpec, TokenEndpoint, client_auth
from polypost.platforms.credentials import load_credentials
from polypost.platforms.registry import FACTORIES, adapter_for
from polypost.worker.context import JobContext

logger = logging.getLogger(__name__)

# Refresh before publishing when the token expires within this.
PUBLISH_SKEW = timedelta(minutes=5)
# The periodic job refreshes tokens with a refresh token expiring within this window...
REFRESH_AHEAD = timedelta(minutes=15)
# ...and long-lived tokens that renew themselves (no refresh token) well ahead: they can
# only be exchanged while still valid, so a worker outage near expiry must not cost them.
LONG_LIVED_AHEAD = timedelta(days=7)
# Platforms whose long-lived access token is itself exchanged for a new one: Threads
# (`th_refresh_token`, threads.md §1), Instagram (`ig_refresh_token`) and Facebook
# (`fb_exchange_token`, facebook.md §1).
SELF_REFRESHING = frozenset({"threads", "instagram", "facebook"})
# ...but not one it refreshed this recently (a platform issuing very short tokens).
MIN_REFRESH_INTERVAL = timedelta(minutes=5)
# A refresh claim outlives the longest token call (HTTP timeouts are 30 s).
LOCK_TTL = timedelta(seconds=60)
LOCK_WAIT_SECONDS = 45.0
LOCK_POLL_SECONDS = 0.05
REFRESH_BATCH = 100
# Stay well inside the worker's job timeout; what is left waits for the next run.
REFRESH_BUDGET_SECONDS = 90.0
TOKEN_COLUMNS = ("access_token_enc", "refresh_token_enc")


def reconnect_message(platform: str) -> str:
    return (
        f"The {platform} account's authorization expired or was revoked; reconnect it "
        "(POST /v1/accounts/connect), then retry the post."
    )


def refresh_supported(adapter: Any) -> bool:
    return callable(getattr(adapter, "refresh", None))


def renewable(platform: str, has_refresh_token: bool) -> bool:
    """Whether the stored token can be renewed without the user: a refresh token, or a
    platform whose long-lived access token is exchanged for a new one itself."""
    return has_refresh_token or platform in SELF_REFRESHING


def can_refresh(adapter: Any, credentials: Credentials) -> bool:
    """A refresh is possible: a renewable token and an adapter that refreshes."""
    return refresh_supported(adapter) and renewable(
        credentials.platform.value, bool(credentials.refresh_token)
    )


def _call_refresh(adapter: Any, credentials: Credentials) -> Any:
    """`adapter.refresh(credentials)`, also handing the app as `app=` to adapters whose
    signature asks for it (`credentials.app` carries it too)."""
    method = adapter.refresh
    try:
        parameters = inspect.signature(method).parameters
    except (TypeError, ValueError):
        parameters = {}  # type: ignore[assignment]
    if "app" in parameters:
        return method(credentials, app=credentials.app)
    return method(credentials)


# --- lazy key rotation ------------------------------------------------------------------


def stale_ciphertexts(cipher: TokenCipher, account: SocialAccount) -> dict[str, str]:
    """Token columns encrypted with an older key, by column name."""
    return {
        column: value
        for column in TOKEN_COLUMNS
        if (value := getattr(account, column)) and cipher.needs_rotation(value)
    }


async def rotate_tokens(session: AsyncSession, cipher: TokenCipher, account: SocialAccount) -> int:
    """Re-encrypt the account's tokens made with an older key under the newest one.

    Each column is rewritten only if it still holds the ciphertext that was read, so a
    refresh that stored a new token meanwhile is never overwritten with the old one.
    """
    rotated = 0
    for column, old in stale_ciphertexts(cipher, account).items():
        new = cipher.rotate(old)
        result = await session.execute(
            update(SocialAccount)
            .where(SocialAccount.id == account.id, getattr(SocialAccount, column) == old)
            .values({column: new})
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) == 1:
            rotated += 1
    return rotated


async def current_credentials(runtime: Runtime, account_id: str) -> Credentials:
    """The account's decrypted tokens as stored now, rotating old ciphertext on the way."""
    async with runtime.sessions() as session, session.begin():
        account = await _load(session, account_id)
        return await credentials_of(session, runtime, account)


async def credentials_of(
    session: AsyncSession, runtime: Runtime, account: SocialAccount
) -> Credentials:
    """Decrypt an account row loaded in this (write) session, rotating old ciphertext."""
    if stale_ciphertexts(runtime.cipher, account):
        await rotate_tokens(session, runtime.cipher, account)
    return load_credentials(runtime, account)


def needs_refresh(credentials: Credentials) -> bool:
    """The token expires within `PUBLISH_SKEW`: refresh before publishing with it."""
    expires = credentials.token_expires_at
    return expires is not None and expires <= utcnow() + PUBLISH_SKEW


async def _load(session: AsyncSession, account_id: str) -> SocialAccount:
    account = (
        await session.execute(
            select(SocialAccount)
            .where(SocialAccount.id == account_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if account is None or account.disconnected_at is not None:
        raise Permanent("The account was disconnected.", code="account_disconnected")
    return account


# --- refreshing -----------------------------------------------------------------------


async def publish_credentials(runtime: Runtime, account_id: str) -> Credentials:
    """Credentials for a publish: rotated, and refreshed first when the token expires
    within `PUBLISH_SKEW`.

    Raises:
        AuthExpired: the token expired and cannot be refreshed, or the refresh was refused.
        PlatformError: the refresh failed otherwise (retry later).
    """
    return await ready_credentials(runtime, await current_credentials(runtime, account_id))


async def ready_credentials(runtime: Runtime, credentials: Credentials) -> Credentials:
    """`credentials`, or fresh ones when they expire within `PUBLISH_SKEW` (see
    `publish_credentials` for what it raises)."""
    if not needs_refresh(credentials):
        return credentials
    expires = credentials.token_expires_at
    assert expires is not None
    now = utcnow()
    account_id = credentials.account_id
    adapter = adapter_for(runtime, credentials.platform.value)
    if can_refresh(adapter, credentials):
        return await refresh_account(runtime, account_id, valid_until=now + PUBLISH_SKEW)
    if expires <= now:
        raise AuthExpired(
            "The access token expired and the platform gave no refresh token.",
            code="token_expired",
        )
    return credentials


def _local_lock(runtime: Runtime, account_id: str) -> asyncio.Lock:
    """One in-process lock per account, so a process's own callers queue without polling."""
    locks: weakref.WeakValueDictionary[str, asyncio.Lock] = runtime.extras.setdefault(
        "refresh_locks", weakref.WeakValueDictionary()
    )
    lock = locks.get(account_id)
    if lock is None:
        lock = locks[account_id] = asyncio.Lock()
    return lock


def _is_fresh(
    credentials: Credentials, stale_token: str | None, valid_until: datetime | None
) -> bool:
    """Someone else refreshed already: the failing token was replaced, or the stored
    one is now valid long enough."""
    if stale_token is not None and credentials.access_token != stale_token:
        return True
    if valid_until is not None:
        expires = credentials.token_expires_at
        return expires is None or expires > valid_until
    return False


async def refresh_account(
    runtime: Runtime,
    account_id: str,
    *,
    stale_token: str | None = None,
    valid_until: datetime | None = None,
) -> Credentials:
    """Refresh the account's tokens, at most one refresh per account at a time.

    `stale_token` is the access token the platform just refused (a 401): if the stored
    token differs, another worker refreshed already and that one is returned. Likewise
    when the stored token is valid beyond `valid_until`. Without either, refresh always.

    Raises:
        AuthExpired: the platform refused the refresh token (the account is now expired)
            or the account already needs reconnecting.
        PlatformError: the refresh failed otherwise, or another worker's refresh did not
            finish in time (Transient).
    """
    owner = uuid.uuid4().hex
    async with _local_lock(runtime, account_id):
        claimed = await _claim_refresh(runtime, account_id, owner, stale_token, valid_until)
        if isinstance(claimed, Credentials):
            return claimed
        account, credentials = claimed
        adapter = adapter_for(runtime, account.platform)
        try:
            async with runtime.sessions() as session, session.begin():
                resolved = await resolve_app(
                    session, runtime, account.workspace_id, account.platform
                )
            tokens: TokenSet = await _call_refresh(
                adapter, replace(credentials, app=resolved.app if resolved else None)
            )
        except PlatformError as error:
            await _release(runtime, account_id, owner, error)
            if error.kind == "auth_expired":
                await expire_account(runtime, account_id, f"Token refresh refused: {error}")
            raise
        except BaseException:
            await _release(runtime, account_id, owner, None)
            raise
        return await _store(runtime, account_id, owner, tokens)


async def _claim_refresh(
    runtime: Runtime,
    account_id: str,
    owner: str,
    stale_token: str | None,
    valid_until: datetime | None,
) -> Credentials | tuple[SocialAccount, Credentials]:
    """Claim the account's refresh (conditional UPDATE), or return the token another
    worker's refresh produced."""
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        now = utcnow()
        async with runtime.sessions() as session, session.begin():
            result = await session.execute(
                update(SocialAccount)
                .where(
                    SocialAccount.id == account_id,
                    or_(
                        SocialAccount.refresh_lock_expires_at.is_(None),
                        SocialAccount.refresh_lock_expires_at < now,
                    ),
                )
                .values(refresh_lock_owner=owner, refresh_lock_expires_at=now + LOCK_TTL)
                .execution_options(synchronize_session=False)
            )
            claimed = getattr(result, "rowcount", 0) == 1
            # Read after the UPDATE: under READ COMMITTED this sees the tokens a refresh
            # that just released the claim committed, never an older snapshot.
            account = await _load(session, account_id)
            if account.status != AccountStatus.CONNECTED:
                # Raising rolls the claim back with the transaction.
                raise AuthExpired(reconnect_message(account.platform), code="account_expired")
            credentials = load_credentials(runtime, account)
            if _is_fresh(credentials, stale_token, valid_until):
                if claimed:
                    _clear_claim(account)
                return credentials
            if claimed:
                return account, credentials
        if time.monotonic() > deadline:
            raise Transient(
                "Another worker is refreshing this account's token; try again shortly.",
                code="refresh_in_progress",
            )
        await asyncio.sleep(LOCK_POLL_SECONDS)


def _clear_claim(account: SocialAccount) -> None:
    account.refresh_lock_owner = None
    account.refresh_lock_expires_at = None


async def _release(
    runtime: Runtime, account_id: str, owner: str, error: PlatformError | None
) -> None:
    values: dict[str, Any] = {"refresh_lock_owner": None, "refresh_lock_expires_at": None}
    if error is not None:
        values |= {"last_error": f"Token refresh failed: {error}"[:2000], "last_error_at": utcnow()}
    async with runtime.sessions() as session, session.begin():
        await session.execute(
            update(SocialAccount)
            .where(SocialAccount.id == account_id, SocialAccount.refresh_lock_owner == owner)
            .values(**values)
            .execution_options(synchronize_session=False)
        )


async def _store(runtime: Runtime, account_id: str, owner: str, tokens: TokenSet) -> Credentials:
    """Persist a refresh's tokens. They are written even if the claim lapsed: with
    single-use refresh tokens the new pair is the only one that still works."""
    cipher = runtime.cipher
    async with runtime.sessions() as session, session.begin():
        account = await _load(session, account_id)
        account.access_token_enc = cipher.encrypt(tokens.access_token)
        if tokens.refresh_token:
            account.refresh_token_enc = cipher.encrypt(tokens.refresh_token)
        elif account.refresh_token_enc and cipher.needs_rotation(account.refresh_token_enc):
            account.refresh_token_enc = cipher.rotate(account.refresh_token_enc)
        account.token_expires_at = tokens.expires_at
        if tokens.scopes:
            account.granted_scopes = list(tokens.scopes)
        account.last_refresh_at = utcnow()
        account.last_error = None
        account.last_error_at = None
        if account.refresh_lock_owner == owner:
            _clear_claim(account)
        return load_credentials(runtime, account)


# --- revocation ------------------------------------------------------------------------

REVOKE_TIMEOUT_SECONDS = 10.0


async def revoke_tokens(runtime: Runtime, workspace_id: str, credentials: Credentials) -> bool:
    """Best effort, after a disconnect: revoke the account's tokens with the platform.

    The adapter's `revoke(credentials)` hook if it has one, else RFC 7009 at the spec's
    `revoke_url` (the refresh token, which also ends its access tokens on most platforms).
    Failures are logged, never raised: the account is already disconnected here.
    """
    platform = credentials.platform.value
    if platform not in FACTORIES or not (credentials.refresh_token or credentials.access_token):
        return False
    adapter = adapter_for(runtime, platform)
    try:
        hook = getattr(adapter, "revoke", None)
        if callable(hook):
            await hook(credentials)
            return True
        spec = getattr(adapter, "oauth", None)
        if not isinstance(spec, OAuthSpec) or not spec.revoke_url:
            return False
        async with runtime.sessions() as session:
            resolved = await resolve_app(session, runtime, workspace_id, platform)
        if resolved is None:
            return False
        spec = spec.resolve(credentials.base_url)
        assert spec.revoke_url is not None
        token, hint = (
            (credentials.refresh_token, "refresh_token")
            if credentials.refresh_token
            else (credentials.access_token, "access_token")
        )
        form = {"token": token or "", "token_type_hint": hint}
        headers = client_auth(spec, resolved.app, form)
        await PlatformHttp(runtime.http).request(
            TokenEndpoint(platform, refreshing=False),
            "POST",
            spec.revoke_url,
            data=form,
            headers=headers,
            timeout=REVOKE_TIMEOUT_SECONDS,
        )
    except PlatformError as error:
        logger.warning(
            "token revocation failed",
            extra={"accountId": credentials.account_id, "platform": platform, "kind": error.kind},
        )
        return False
    return True


# --- expiry ----------------------------------------------------------------------------


async def expire_account(runtime: Runtime, account_id: str, reason: str) -> int:
    """Mark the account `expired` (once: one `account.token_expired` event) and fail its
    pending targets with a reconnect message. Returns how many targets failed.

    Posts are locked before the account row, the order disconnecting uses too.
    """
    async with runtime.sessions() as session, session.begin():
        account = await session.get(SocialAccount, account_id)
        if account is None or account.disconnected_at is not None:
            return 0
        failed = await fail_pending_targets(
            session, account_id, "auth_expired", reconnect_message(account.platform)
        )
        now = utcnow()
        result = await session.execute(
            update(SocialAccount)
            .where(
                SocialAccount.id == account_id,
                SocialAccount.status != AccountStatus.EXPIRED,
                SocialAccount.disconnected_at.is_(None),
            )
            .values(
                status=AccountStatus.EXPIRED,
                last_error=reason[:2000],
                last_error_at=now,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) == 1:
            record_event(
                session,
                account.workspace_id,
                "account.token_expired",
                {
                    "accountId": account.id,
                    "platform": account.platform,
                    "handle": account.handle,
                    "status": AccountStatus.EXPIRED.value,
                    "tokenExpiresAt": isoformat(account.token_expires_at),
                    "reason": reason[:500],
                    "failedTargets": failed,
                },
                resource_id=account.id,
            )
        return failed


# --- the periodic job -------------------------------------------------------------------


async def refresh_expiring_tokens(ctx: JobContext) -> dict[str, int]:
    """Refresh connected accounts whose token expires soon: within `REFRESH_AHEAD` with a
    refresh token, within `LONG_LIVED_AHEAD` for self-renewing long-lived tokens.

    Safe on every worker at once: each account's refresh is claimed, and an account
    another worker just refreshed is seen as fresh and skipped.
    """
    runtime = ctx["runtime"]
    now = utcnow()
    has_refresh = SocialAccount.refresh_token_enc.is_not(None)
    async with runtime.sessions() as session:
        rows = (
            await session.execute(
                select(SocialAccount.id, SocialAccount.platform, has_refresh.label("rotating"))
                .where(
                    SocialAccount.disconnected_at.is_(None),
                    SocialAccount.status == AccountStatus.CONNECTED,
                    or_(
                        and_(has_refresh, SocialAccount.token_expires_at < now + REFRESH_AHEAD),
                        and_(
                            SocialAccount.refresh_token_enc.is_(None),
                            SocialAccount.platform.in_(sorted(SELF_REFRESHING)),
                            SocialAccount.token_expires_at < now + LONG_LIVED_AHEAD,
                        ),
                    ),
                    or_(
                        SocialAccount.last_refresh_at.is_(None),
                        SocialAccount.last_refresh_at < now - MIN_REFRESH_INTERVAL,
                    ),
                    or_(
                        SocialAccount.refresh_lock_expires_at.is_(None),
                        SocialAccount.refresh_lock_expires_at < now,
                    ),
                )
                .order_by(SocialAccount.token_expires_at)
                .limit(REFRESH_BATCH)
            )
        ).all()
    counts = {"refreshed": 0, "expired": 0, "failed": 0}
    deadline = time.monotonic() + REFRESH_BUDGET_SECONDS
    for row in rows:
        if time.monotonic() > deadline:
            break
        if row.platform not in FACTORIES or not refresh_supported(
            adapter_for(runtime, row.platform)
        ):
            continue
        ahead = REFRESH_AHEAD if row.rotating else LONG_LIVED_AHEAD
        try:
            await refresh_account(runtime, row.id, valid_until=now + ahead)
        except PlatformError as error:
            counts["expired" if error.kind == "auth_expired" else "failed"] += 1
            logger.warning(
                "token refresh failed",
                extra={"accountId": row.id, "platform": row.platform, "kind": error.kind},
            )
            continue
        counts["refreshed"] += 1
    return counts
