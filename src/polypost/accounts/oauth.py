"""The generic OAuth 2.0 connect flow: authorization code + PKCE (RFC 6749, RFC 7636).

`start` checks the client's redirect URI against the workspace whitelist, picks the
developer app (workspace BYOK, the server's, or one registered on the fly on a Mastodon
instance), stores a row holding the flow's secrets (PKCE verifier, app), and answers
the platform's authorize URL. The `state` in that URL is a short HMAC-signed token
naming that row, the workspace and the platform, valid for `STATE_TTL`.

`finish` runs on the public callback: it checks the signature and expiry, consumes the
row with a conditional UPDATE (so a state works exactly once, on every backend and
across replicas), exchanges the code (the adapter's `exchange_code` hook or the spec's
token endpoint), asks the adapter `whoami`, and links the account.

No database transaction is held open across a platform call: with SQLite every
transaction holds the write lock.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.accounts.connect import api_error, guard_url, link_account, normalize_base_url
from polypost.accounts.redirect_uris import ensure_allowed
from polypost.core.crypto import sign_payload, verify_payload
from polypost.core.errors import ApiError, BadRequest
from polypost.core.http import PlatformHttp
from polypost.core.ids import new_id
from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.models import OAuthState, SocialAccount
from polypost.platforms.base import Credentials, Platform, PlatformError, TokenSet
from polypost.platforms.byok import require_app
from polypost.platforms.connect import (
    AppCredentials,
    Connection,
    Identity,
    OAuthSpec,
    callback_url,
    exchange_code_with_spec,
    pkce_pair,
)
from polypost.platforms.registry import PlatformUnavailable, adapter_for
from polypost.worker.context import JobContext

logger = logging.getLogger(__name__)

STATE_TTL = timedelta(minutes=10)
# Consumed and expired rows are kept a day for support, then purged.
STATE_RETENTION = timedelta(days=1)


def state_error(code: str, message: str) -> BadRequest:
    return BadRequest(message, code=code)


@dataclass(frozen=True)
class Started:
    platform: str
    auth_url: str
    state: str
    expires_at: datetime


@dataclass
class Finished:
    """The callback's result: the linked account, or the error, and where to send the
    browser (None: answer JSON)."""

    platform: str
    state: str | None
    redirect_uri: str | None = None
    account: SocialAccount | None = None
    error: ApiError | None = None


def parse_platform(value: str, where: str = "body") -> Platform:
    try:
        return Platform(value)
    except ValueError:
        raise BadRequest(
            f"Unknown platform '{value[:40]}'.",
            details={"fields": [{"field": "platform", "in": where, "message": "unknown platform"}]},
        ) from None


def oauth_adapter(runtime: Runtime, platform: Platform) -> tuple[Any, OAuthSpec]:
    """The platform's adapter and its OAuth spec.

    Raises:
        PlatformUnavailable: 422 `unsupported`; no adapter, or it connects otherwise.
    """
    adapter = adapter_for(runtime, platform.value)
    spec = getattr(adapter, "oauth", None)
    if not isinstance(spec, OAuthSpec):
        raise PlatformUnavailable(
            f"{platform.value} does not connect through OAuth; send its credentials instead "
            "(see POST /v1/accounts/connect).",
            details={"platform": platform.value},
        )
    return adapter, spec


async def start(
    session: AsyncSession,
    runtime: Runtime,
    workspace_id: str,
    platform_name: str,
    redirect_uri: str | None,
    *,
    instance: str | None = None,
) -> Started:
    """Begin a connect: the URL to send the user to, and the state that identifies it.

    Raises:
        BadRequest: unknown platform, redirect URI not whitelisted, refused instance.
        CredentialsMissing: 412; the platform needs a developer app and none is set.
        PlatformUnavailable: 422 `unsupported`.
    """
    platform = parse_platform(platform_name)
    adapter, spec = oauth_adapter(runtime, platform)
    callback = callback_url(runtime.settings.public_base_url, platform.value)
    register = getattr(adapter, "register_app", None)
    base_url: str | None = None
    app: AppCredentials | None = None
    async with runtime.sessions() as reads:
        if redirect_uri is not None:
            await ensure_allowed(reads, workspace_id, redirect_uri)
        if register is None:
            app = (await require_app(reads, runtime, workspace_id, platform.value)).app
    if register is not None:
        if not instance:
            raise BadRequest(
                "instance is required.",
                details={"fields": [{"field": "instance", "in": "body", "message": "required"}]},
            )
        base_url = normalize_base_url(instance, "instance")
        await guard_url(runtime, base_url, "instance")
        try:
            app = await register(base_url, callback)
        except PlatformError as error:
            raise api_error(error, platform.value) from error
        spec = spec.resolve(base_url)
    assert app is not None
    verifier, challenge = pkce_pair() if spec.pkce else (None, None)
    now = utcnow()
    row = OAuthState(
        id=new_id("ost"),
        workspace_id=workspace_id,
        platform=platform.value,
        redirect_uri=redirect_uri,
        data_enc=runtime.cipher.encrypt(
            json.dumps(
                {
                    "codeVerifier": verifier,
                    "clientId": app.client_id,
                    "clientSecret": app.client_secret,
                    "extra": dict(app.extra),
                    "baseUrl": base_url,
                    "callbackUrl": callback,
                }
            )
        ),
        created_at=now,
        expires_at=now + STATE_TTL,
    )
    session.add(row)
    await session.flush()
    state = sign_payload(
        runtime.settings.signing_key,
        {"sid": row.id, "ws": workspace_id, "p": platform.value},
        int(STATE_TTL.total_seconds()),
    )
    params: dict[str, str] = {
        "response_type": "code",
        spec.client_id_param: app.client_id,
        "redirect_uri": callback,
        "state": state,
    }
    if spec.scopes:
        params["scope"] = spec.scope_separator.join(spec.scopes)
    if challenge is not None:
        params["code_challenge"] = challenge
        params["code_challenge_method"] = "S256"
    params.update(spec.extra_authorize_params)
    separator = "&" if "?" in spec.authorize_url else "?"
    auth_url = spec.authorize_url + separator + urlencode(params, quote_via=quote)
    return Started(platform.value, auth_url, state, row.expires_at)


async def _consume(runtime: Runtime, platform: str, state: str | None) -> OAuthState:
    """Verify the state and mark its row used, exactly once.

    Raises:
        BadRequest: `state_invalid` (missing, forged, other platform), `state_expired`,
            `state_used` (replayed).
    """
    payload = verify_payload(runtime.settings.signing_key, state) if state else None
    if payload is None:
        raise state_error(
            "state_invalid",
            "The OAuth state is missing, forged or expired; start the connect again.",
        )
    if payload.get("p") != platform or not isinstance(payload.get("sid"), str):
        raise state_error("state_invalid", "The OAuth state belongs to another platform.")
    now = utcnow()
    async with runtime.sessions() as session, session.begin():
        result = await session.execute(
            update(OAuthState)
            .where(
                OAuthState.id == payload["sid"],
                OAuthState.workspace_id == payload.get("ws"),
                OAuthState.platform == platform,
                OAuthState.used_at.is_(None),
                OAuthState.expires_at > now,
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        row = await session.get(OAuthState, payload["sid"], populate_existing=True)
        if getattr(result, "rowcount", 0) == 1 and row is not None:
            return row
    if row is None or row.workspace_id != payload.get("ws"):
        raise state_error("state_invalid", "Unknown OAuth state; start the connect again.")
    if row.used_at is not None:
        raise state_error("state_used", "This OAuth state was already used; start again.")
    raise state_error("state_expired", "The OAuth state expired; start the connect again.")


async def finish(
    runtime: Runtime,
    platform_name: str,
    *,
    code: str | None,
    state: str | None,
    error: str | None,
    error_description: str | None,
) -> Finished:
    """Complete a connect from the platform's redirect.

    Errors before the state is known are raised (the browser cannot be sent anywhere
    safe); errors after it are returned with the whitelisted redirect URI.

    Raises:
        BadRequest: unknown platform or a bad state.
    """
    platform = parse_platform(platform_name, "path")
    row = await _consume(runtime, platform.value, state)
    finished = Finished(platform=platform.value, state=state, redirect_uri=row.redirect_uri)
    try:
        finished.account = await _complete(runtime, row, code, error, error_description)
    except ApiError as exc:
        finished.error = exc
    return finished


async def _complete(
    runtime: Runtime,
    row: OAuthState,
    code: str | None,
    error: str | None,
    error_description: str | None,
) -> SocialAccount:
    platform = Platform(row.platform)
    if error:
        # RFC 6749 §4.1.2.1: the user denied, or the platform refused the request.
        raise BadRequest(
            error_description or "The authorization was not granted.",
            code=error if error.replace("_", "").isalnum() and len(error) <= 64 else "oauth_error",
        )
    if not code:
        raise BadRequest("The platform sent no authorization code.", code="oauth_error")
    data = json.loads(runtime.cipher.decrypt(row.data_enc))
    app = AppCredentials(
        client_id=data["clientId"],
        client_secret=data.get("clientSecret"),
        extra=data.get("extra") or {},
    )
    adapter, spec = oauth_adapter(runtime, platform)
    base_url: str | None = data.get("baseUrl")
    try:
        tokens = await _exchange(
            runtime, adapter, spec.resolve(base_url), platform, app, code, data
        )
        identity: Identity = await adapter.whoami(
            Credentials(
                account_id="",
                platform=platform,
                external_id="",
                access_token=tokens.access_token,
                refresh_token=tokens.refresh_token,
                token_expires_at=tokens.expires_at,
                base_url=base_url,
                app=app,
            )
        )
    except PlatformError as exc:
        raise api_error(exc, platform.value) from exc
    async with runtime.sessions() as session, session.begin():
        return await link_account(
            session,
            row.workspace_id,
            platform.value,
            Connection(identity=identity, tokens=tokens, base_url=base_url),
            runtime=runtime,
            granted_scopes=spec.scopes,
        )


async def _exchange(
    runtime: Runtime,
    adapter: Any,
    spec: OAuthSpec,
    platform: Platform,
    app: AppCredentials,
    code: str,
    data: dict[str, Any],
) -> TokenSet:
    hook = getattr(adapter, "exchange_code", None)
    if hook is not None:
        tokens: TokenSet = await hook(app, code, data["callbackUrl"], data.get("codeVerifier"))
        return tokens
    return await exchange_code_with_spec(
        PlatformHttp(runtime.http),
        platform.value,
        spec,
        app,
        code,
        data["callbackUrl"],
        data.get("codeVerifier"),
    )


def redirect_target(finished: Finished) -> str:
    """The whitelisted redirect URI with the outcome added to its query string."""
    assert finished.redirect_uri is not None
    parts = urlsplit(finished.redirect_uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if finished.account is not None:
        query += [("accountId", finished.account.id), ("platform", finished.platform)]
    else:
        assert finished.error is not None
        query += [
            ("error", finished.error.code),
            ("errorDescription", finished.error.message[:300]),
            ("platform", finished.platform),
        ]
    if finished.state:
        query.append(("state", finished.state))
    return urlunsplit(parts._replace(query=urlencode(query)))


async def purge_oauth_states(ctx: JobContext) -> int:
    """Drop connect flows that ended or expired more than a day ago."""
    cutoff = utcnow() - STATE_RETENTION
    async with ctx["runtime"].sessions() as session, session.begin():
        result = await session.execute(delete(OAuthState).where(OAuthState.expires_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
