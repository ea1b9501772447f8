"""How an adapter takes part in connecting an account (contract for accounts/connect).

Two ways in:
- OAuth platforms declare `oauth: ClassVar[OAuthSpec]`; the generic flow in
  `accounts/oauth.py` builds the authorize URL (PKCE, signed single-use `state`),
  exchanges the code at `token_url`, then asks the adapter `whoami` for the identity.
  Quirks (X wants HTTP Basic client auth, TikTok names the id `client_key`, Threads and
  Instagram exchange short- for long-lived tokens) are hooks on the adapter.
- Credential platforms (Bluesky app password, Mastodon access token, Telegram bot
  token, Discord webhook URL, Slack bot token) implement `connect_with_credentials`,
  which verifies what the client sent against the platform and returns the tokens and
  identity to store.
The identity always comes from the platform, never from the client.

Optional hooks an adapter may define (the flow checks with `getattr`):
- `async def exchange_code(self, spec_app: AppCredentials, code: str, redirect_uri: str,
  code_verifier: str | None) -> TokenSet`: replaces the generic code exchange
  (`exchange_code_with_spec`).
- `async def register_app(self, instance: str, redirect_uri: str) -> AppCredentials`:
  dynamic client registration on a user-chosen server (Mastodon). `instance` is the
  normalized base URL (`https://host`), already through the outbound guard; relative
  `authorize_url`/`token_url` in the spec are resolved against it.
- `async def test_app_credentials(self, app: AppCredentials) -> None`: proves developer
  app credentials (BYOK `…/credentials/test`); raises `PlatformError` when refused.
  Without it the token endpoint is probed (`probe_app_credentials`).

Token refreshes: `accounts/tokens.py` calls `adapter.refresh(credentials)` with
`credentials.app` set to the developer app (workspace BYOK, else the server's
`POLYPOST_OAUTH_APPS`), one refresh per account at a time across workers; adapters can
delegate to `refresh_with_spec`.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol
from urllib.parse import urljoin

import httpx

from polypost.core.http import PlatformHttp, json_object, retry_at_from_headers
from polypost.core.outbound import OutboundBlocked, check_url
from polypost.core.timeutil import utcnow
from polypost.platforms.base import (
    AuthExpired,
    Credentials,
    Permanent,
    PlatformError,
    RateLimited,
    TokenSet,
    Transient,
)


@dataclass(frozen=True)
class OAuthSpec:
    authorize_url: str
    token_url: str
    scopes: tuple[str, ...]
    scope_separator: str = " "
    pkce: bool = True
    # "basic": client id/secret in an Authorization header; "body": in the form body.
    client_auth: Literal["basic", "body"] = "body"
    client_id_param: str = "client_id"
    extra_authorize_params: Mapping[str, str] = field(default_factory=dict)
    revoke_url: str | None = None
    # Developer-app credentials (BYOK) are per workspace where the platform needs them.
    needs_app_credentials: bool = True

    def resolve(self, base_url: str | None) -> OAuthSpec:
        """The spec with relative endpoint paths joined to a server's base URL."""
        if not base_url:
            return self
        base = base_url.rstrip("/") + "/"
        return OAuthSpec(
            authorize_url=urljoin(base, self.authorize_url.lstrip("/")),
            token_url=urljoin(base, self.token_url.lstrip("/")),
            scopes=self.scopes,
            scope_separator=self.scope_separator,
            pkce=self.pkce,
            client_auth=self.client_auth,
            client_id_param=self.client_id_param,
            extra_authorize_params=self.extra_authorize_params,
            revoke_url=urljoin(base, self.revoke_url.lstrip("/")) if self.revoke_url else None,
            needs_app_credentials=self.needs_app_credentials,
        )


@dataclass(frozen=True)
class AppCredentials:
    """A developer app's id and secret (per workspace BYOK, or server-wide settings)."""

    client_id: str
    client_secret: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Identity:
    """Who the connected account is, as the platform says."""

    external_id: str
    handle: str | None = None
    display_name: str | None = None
    avatar_url: str | None = None


@dataclass(frozen=True)
class Connection:
    """What to store after a successful connect."""

    identity: Identity
    tokens: TokenSet | None = None
    base_url: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    token_expires_at: datetime | None = None


class ConnectingAdapter(Protocol):
    async def whoami(self, account: Credentials) -> Identity:
        """The identity behind the credentials (raises AuthExpired when they are bad)."""
        ...

    async def connect_with_credentials(self, body: Mapping[str, Any]) -> Connection:
        """Verify client-supplied credentials with the platform and describe the account.

        `body` is the validated request body as the client sent it, camelCase keys and
        without `platform` (bluesky `identifier`, `appPassword`, `service`; mastodon
        `instance`, `accessToken`; telegram `botToken`, `chatId`; discord `webhookUrl`;
        slack `botToken`, `channel`). User-supplied URLs in it already passed the
        outbound guard; an endpoint the adapter discovers itself (a PDS from a DID
        document) must pass `guard_endpoint` before it is contacted.

        Raises:
            PlatformError: the platform refused them (AuthExpired for bad credentials).
        """
        ...


# --- helpers adapters and the flow share ----------------------------------------------


def callback_url(public_base_url: str, platform: str) -> str:
    """Where platforms send the browser back: register this in the developer app."""
    return f"{public_base_url.rstrip('/')}/v1/accounts/callback/{platform}"


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge), RFC 7636 §4.1-4.2."""
    verifier = secrets.token_urlsafe(64)[:96]
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    challenge = base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")
    return verifier, challenge


async def guard_endpoint(url: str, allow: list[str]) -> None:
    """Refuse a user-supplied or discovered endpoint on a private network.

    Raises:
        Permanent: code `endpoint_refused`, with the outbound guard's reason.
    """
    try:
        await check_url(url, allow)
    except OutboundBlocked as exc:
        raise Permanent(f"Refused endpoint {url}: {exc}", code="endpoint_refused") from exc


class TokenEndpoint:
    """Classifies RFC 6749 §5.2 token endpoint errors.

    Refreshing: 400 `invalid_grant`/`invalid_request`/`invalid_token` means the refresh
    token is dead and the user must reconnect. `invalid_client` (usually 401) means the
    developer app was refused, which reconnecting cannot fix.
    """

    def __init__(self, platform: str, *, refreshing: bool) -> None:
        self.platform = platform
        self.refreshing = refreshing

    def classify(self, response: httpx.Response) -> PlatformError:
        body = json_object(response)
        error = str(body.get("error") or response.status_code)
        description = str(body.get("error_description") or body.get("message") or error)
        message = f"{self.platform} token endpoint: {description}"
        status = response.status_code
        if status == 429:
            return RateLimited(
                message, code=error, retry_at=retry_at_from_headers(response.headers)
            )
        if status >= 500:
            return Transient(message, code=str(status))
        if error in ("invalid_client", "unauthorized_client"):
            return Permanent(message, code="invalid_client")
        if self.refreshing and status in (400, 401):
            return AuthExpired(message, code=error)
        return Permanent(message, code=error)


def parse_token_response(body: Any, platform: str, *, now: datetime | None = None) -> TokenSet:
    """A standard token response (`access_token`, `refresh_token`, `expires_in`,
    `scope` as a space- or comma-separated string or a list) as a `TokenSet`.

    Raises:
        Permanent: no access token in a 2xx answer (a Slack-style `ok: false` body).
    """
    if not isinstance(body, dict) or not body.get("access_token"):
        detail = body.get("error") if isinstance(body, dict) else None
        raise Permanent(
            f"{platform} token endpoint answered without an access token"
            + (f" ({detail})" if detail else ""),
            code=str(detail) if detail else "no_access_token",
        )
    expires_in = body.get("expires_in")
    scope = body.get("scope") or ()
    if isinstance(scope, str):
        scopes = tuple(s for s in scope.replace(",", " ").split() if s)
    else:
        scopes = tuple(str(s) for s in scope)
    expires_at = None
    if isinstance(expires_in, int | float | str) and str(expires_in).isdigit():
        expires_at = (now or utcnow()) + timedelta(seconds=int(expires_in))
    return TokenSet(
        access_token=str(body["access_token"]),
        refresh_token=str(body["refresh_token"]) if body.get("refresh_token") else None,
        expires_at=expires_at,
        scopes=scopes,
    )


def client_auth(spec: OAuthSpec, app: AppCredentials, form: dict[str, str]) -> dict[str, str]:
    """Add the client authentication the spec asks for; returns extra headers."""
    if spec.client_auth == "basic" and app.client_secret:
        raw = f"{app.client_id}:{app.client_secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
    form[spec.client_id_param] = app.client_id
    if app.client_secret:
        form["client_secret"] = app.client_secret
    return {}


async def token_request(
    http: PlatformHttp,
    platform: str,
    spec: OAuthSpec,
    app: AppCredentials,
    form: dict[str, str],
    *,
    refreshing: bool,
) -> TokenSet:
    """POST `form` to the spec's token endpoint with client authentication."""
    data = dict(form)
    headers = {"Accept": "application/json", **client_auth(spec, app, data)}
    body = await http.json(
        TokenEndpoint(platform, refreshing=refreshing),
        "POST",
        spec.token_url,
        data=data,
        headers=headers,
    )
    return parse_token_response(body, platform)


async def exchange_code_with_spec(
    http: PlatformHttp,
    platform: str,
    spec: OAuthSpec,
    app: AppCredentials,
    code: str,
    redirect_uri: str,
    code_verifier: str | None,
) -> TokenSet:
    """The generic authorization-code exchange (RFC 6749 §4.1.3 + RFC 7636 §4.5)."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if code_verifier:
        form["code_verifier"] = code_verifier
    return await token_request(http, platform, spec, app, form, refreshing=False)


async def refresh_with_spec(
    http: PlatformHttp, platform: str, spec: OAuthSpec, account: Credentials
) -> TokenSet:
    """The generic refresh-token grant (RFC 6749 §6) with `account.app`.

    Raises:
        AuthExpired: no refresh token, or the platform refused it.
        Permanent: code `credentials_missing` when no developer app is configured.
    """
    if not account.refresh_token:
        raise AuthExpired(f"The {platform} account has no refresh token", code="no_refresh_token")
    if account.app is None:
        raise Permanent(
            f"No {platform} developer app credentials are configured", code="credentials_missing"
        )
    form = {"grant_type": "refresh_token", "refresh_token": account.refresh_token}
    return await token_request(
        http, platform, spec.resolve(account.base_url), account.app, form, refreshing=True
    )


PROBE_CODE = "polypost-credentials-test"


async def probe_app_credentials(
    http: PlatformHttp, platform: str, spec: OAuthSpec, app: AppCredentials, redirect_uri: str
) -> None:
    """Prove an app's credentials with a deliberately bogus authorization code.

    RFC 6749 §5.2 separates the answers: a refused client is `invalid_client` (or a
    401); a client that authenticated gets `invalid_grant`/`invalid_request` for the
    bogus code. No token is ever issued by this call.

    Raises:
        Permanent: code `invalid_client` when the platform refused the app.
        RateLimited, Transient: the probe could not tell.
    """
    try:
        await exchange_code_with_spec(
            http, platform, spec, app, PROBE_CODE, redirect_uri, "v" * 43 if spec.pkce else None
        )
    except PlatformError as error:
        if error.kind in ("rate_limited", "transient"):
            raise
        if error.code == "invalid_client" or (error.code or "").isdigit():
            raise Permanent(
                f"{platform} refused the developer app credentials: {error.message}",
                code="invalid_client",
            ) from error
