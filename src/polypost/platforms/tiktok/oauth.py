"""TikTok Login Kit (OAuth 2.0 v2) for web apps (tiktok.md §1).

The client id is called `client_key` everywhere (authorize URL and token form). Web
apps authenticate with the client secret in the form; PKCE is required only of
desktop and mobile apps (and TikTok's desktop flow wants a hex SHA-256 challenge, not
RFC 7636's base64url), so the web flow here sends none. Scopes are comma-separated.

Token endpoint errors are flat (`{"error": "invalid_grant", "error_description"}`) and
may come with HTTP 200, so a 2xx body is checked too. Refresh tokens rotate: the
newest one is returned and must replace the stored one.
"""

from __future__ import annotations

from typing import Any

from polypost.core.http import PlatformHttp
from polypost.platforms.base import AuthExpired, Permanent, PlatformError, RateLimited, TokenSet
from polypost.platforms.connect import (
    AppCredentials,
    OAuthSpec,
    TokenEndpoint,
    parse_token_response,
)

API = "https://open.tiktokapis.com"
TOKEN_URL = f"{API}/v2/oauth/token/"
REVOKE_URL = f"{API}/v2/oauth/revoke/"
# tiktok.md §1 scopes: profile (username), stats, Direct Post (video.publish, photos
# too), inbox drafts (video.upload, `postMode: MEDIA_UPLOAD`), own videos (video.list).
SCOPES = (
    "user.info.basic",
    "user.info.profile",
    "user.info.stats",
    "video.publish",
    "video.upload",
    "video.list",
)

OAUTH = OAuthSpec(
    authorize_url="https://www.tiktok.com/v2/auth/authorize/",
    token_url=TOKEN_URL,
    scopes=SCOPES,
    scope_separator=",",
    pkce=False,
    client_auth="body",
    client_id_param="client_key",
    revoke_url=REVOKE_URL,
)

# RFC 6749 §5.2 codes that mean the grant itself (code or refresh token) is dead.
DEAD_GRANT = frozenset({"invalid_grant", "invalid_request", "invalid_token"})


def token_error(body: dict[str, Any], *, refreshing: bool) -> PlatformError:
    """A flat OAuth error that TikTok answered with HTTP 200."""
    error = str(body.get("error") or "oauth_error")
    message = f"tiktok token endpoint: {body.get('error_description') or error}"
    if error in ("invalid_client", "unauthorized_client"):
        return Permanent(message, code="invalid_client")
    if error in ("rate_limit_exceeded", "slow_down"):
        return RateLimited(message, code=error)
    if refreshing and error in DEAD_GRANT:
        return AuthExpired(message, code=error)
    return Permanent(message, code=error)


async def request_tokens(
    http: PlatformHttp, app: AppCredentials, form: dict[str, str], *, refreshing: bool
) -> TokenSet:
    """POST the form to the token endpoint with `client_key`/`client_secret`."""
    data = {"client_key": app.client_id, **form}
    if app.client_secret:
        data["client_secret"] = app.client_secret
    body = await http.json(
        TokenEndpoint("tiktok", refreshing=refreshing),
        "POST",
        TOKEN_URL,
        data=data,
        headers={"Accept": "application/json", "Cache-Control": "no-cache"},
    )
    if isinstance(body, dict) and body.get("error") and not body.get("access_token"):
        raise token_error(body, refreshing=refreshing)
    return parse_token_response(body, "tiktok")
