"""X OAuth 2.0 (authorization code + PKCE): the spec and the token endpoint calls.

X wants the developer app's id and secret as HTTP Basic auth on the token endpoint for
a confidential client ("Missing valid authorization header" otherwise) and the client id
in the form body for a public client (x.md §1). Refresh tokens rotate and are single use:
every refresh returns a new pair, and the caller must store it before using it.
"""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import httpx

from polypost.core.http import PlatformHttp, retry_at_from_headers
from polypost.core.timeutil import utcnow
from polypost.platforms.base import (
    AuthExpired,
    Permanent,
    PlatformError,
    RateLimited,
    TokenSet,
    Transient,
)
from polypost.platforms.connect import AppCredentials, OAuthSpec

API = "https://api.x.com"
TOKEN_URL = f"{API}/2/oauth2/token"
REVOKE_URL = f"{API}/2/oauth2/revoke"
AUTHORIZE_URL = "https://x.com/i/oauth2/authorize"
# x.md §1: posting, reading the timeline, uploading media, and a refresh token.
SCOPES = ("tweet.read", "tweet.write", "users.read", "media.write", "offline.access")

OAUTH = OAuthSpec(
    authorize_url=AUTHORIZE_URL,
    token_url=TOKEN_URL,
    scopes=SCOPES,
    scope_separator=" ",
    pkce=True,
    client_auth="basic",
    revoke_url=REVOKE_URL,
)


class TokenEndpoint:
    """Classifies token endpoint answers (RFC 6749 error bodies, not v2 problems).

    When refreshing, 400 `invalid_request`/`invalid_grant` means the refresh token is
    dead (used already, revoked): the user must reconnect. A 401 means the app's own
    credentials were refused, which reconnecting cannot fix.
    """

    def __init__(self, *, refreshing: bool) -> None:
        self.refreshing = refreshing

    def classify(self, response: httpx.Response) -> PlatformError:
        try:
            body: Any = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        error = str(body.get("error") or response.status_code)
        description = str(body.get("error_description") or body.get("detail") or error)
        message = f"X token endpoint: {description}"
        status = response.status_code
        if status == 429:
            return RateLimited(
                message, code="rate_limited", retry_at=retry_at_from_headers(response.headers)
            )
        if status >= 500:
            return Transient(message, code=str(status))
        if self.refreshing and status == 400:
            return AuthExpired(message, code=error)
        return Permanent(message, code=error)


def client_auth(app: AppCredentials, form: dict[str, str]) -> dict[str, str]:
    """Basic auth headers for a confidential client; a public one sends `client_id`."""
    if app.client_secret:
        raw = f"{app.client_id}:{app.client_secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
    form["client_id"] = app.client_id
    return {}


def token_set(body: Any) -> TokenSet:
    """The token endpoint's JSON as a `TokenSet` (X rotates the refresh token)."""
    if not isinstance(body, dict) or not body.get("access_token"):
        raise Transient("X token endpoint answered without an access token")
    expires_in = body.get("expires_in")
    scope = str(body.get("scope") or "")
    return TokenSet(
        access_token=str(body["access_token"]),
        refresh_token=str(body["refresh_token"]) if body.get("refresh_token") else None,
        expires_at=utcnow() + timedelta(seconds=int(expires_in)) if expires_in else None,
        scopes=tuple(scope.split()),
    )


async def request_tokens(
    http: PlatformHttp, app: AppCredentials, form: dict[str, str], *, refreshing: bool
) -> TokenSet:
    form = dict(form)
    headers = client_auth(app, form)
    body = await http.json(
        TokenEndpoint(refreshing=refreshing), "POST", TOKEN_URL, data=form, headers=headers
    )
    return token_set(body)
