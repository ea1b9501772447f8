"""Facebook Login: authorization code → short-lived user token → long-lived (≈60 d).

There is no refresh token: a still-valid long-lived token is exchanged again
(`fb_exchange_token`) for a new one, which is what a "refresh" means here
(facebook.md §1, instagram.md §1a). Page tokens fetched with a long-lived user token
do not expire. The app secret goes in the query, as the endpoint documents; PKCE is
not used (state protects the flow).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from polypost.core.http import Classifier, PlatformHttp
from polypost.core.timeutil import utcnow
from polypost.platforms.base import Permanent, TokenSet, Transient
from polypost.platforms.connect import AppCredentials
from polypost.platforms.meta.graph import FACEBOOK_GRAPH, bearer, data


def authorize_url(version: str) -> str:
    return f"https://www.facebook.com/{version}/dialog/oauth"


def token_url(version: str) -> str:
    return f"{FACEBOOK_GRAPH}/{version}/oauth/access_token"


def _secret(app: AppCredentials | None, label: str) -> AppCredentials:
    if app is None or not app.client_secret:
        raise Permanent(
            f"{label} needs the Meta app id and secret (BYOK or POLYPOST_OAUTH_APPS)",
            code="credentials_missing",
        )
    return app


def token_set(body: Any, label: str, scopes: tuple[str, ...] = ()) -> TokenSet:
    if not isinstance(body, dict) or not body.get("access_token"):
        raise Transient(f"{label} answered the token exchange without an access token")
    expires_in = body.get("expires_in")
    expires_at = None
    if isinstance(expires_in, int | str) and str(expires_in).isdigit() and int(expires_in) > 0:
        expires_at = utcnow() + timedelta(seconds=int(expires_in))
    return TokenSet(access_token=str(body["access_token"]), expires_at=expires_at, scopes=scopes)


async def exchange_code(
    http: PlatformHttp,
    classifier: Classifier,
    version: str,
    app: AppCredentials,
    code: str,
    redirect_uri: str,
    label: str,
) -> TokenSet:
    """The code for a short-lived user token, at once exchanged for a long-lived one
    (an expired short-lived token can no longer be exchanged)."""
    app = _secret(app, label)
    short = await http.json(
        classifier,
        "GET",
        token_url(version),
        params={
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "redirect_uri": redirect_uri,
            "code": code,
        },
    )
    first = token_set(short, label)
    return await extend(http, classifier, version, app, first.access_token, label)


async def extend(
    http: PlatformHttp,
    classifier: Classifier,
    version: str,
    app: AppCredentials | None,
    token: str,
    label: str,
) -> TokenSet:
    """`fb_exchange_token`: a long-lived user token for a valid user token.

    Raises:
        AuthExpired: the token is already expired or revoked (Graph code 190).
        Permanent: `credentials_missing`, no app secret to exchange with.
    """
    app = _secret(app, label)
    body = await http.json(
        classifier,
        "GET",
        token_url(version),
        params={
            "grant_type": "fb_exchange_token",
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "fb_exchange_token": token,
        },
    )
    return token_set(body, label)


async def granted_permissions(
    http: PlatformHttp, classifier: Classifier, version: str, token: str, label: str
) -> tuple[str, ...]:
    """The permissions the user left ticked in the login dialog (`GET /me/permissions`)."""
    body = await http.json(
        classifier,
        "GET",
        f"{FACEBOOK_GRAPH}/{version}/me/permissions",
        headers=bearer(token, label),
    )
    return tuple(
        str(item["permission"])
        for item in data(body)
        if item.get("status") == "granted" and item.get("permission")
    )


def require_permissions(granted: tuple[str, ...], required: tuple[str, ...], label: str) -> None:
    """Users can untick permissions; refuse the connect rather than fail every post.

    Raises:
        Permanent: `permission_declined`, naming what is missing.
    """
    missing = [p for p in required if p not in granted]
    if missing:
        raise Permanent(
            f"{label} was connected without the permission(s) {', '.join(missing)}; "
            "connect again and keep them ticked",
            code="permission_declined",
        )
