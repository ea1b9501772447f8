"""Instagram connects with Business Login for Instagram (instagram.md §1b): no Facebook
Page needed, the token works on graph.instagram.com.

code → short-lived token (1 h, form POST to api.instagram.com) → long-lived token (60 d,
`ig_exchange_token`); "refreshing" exchanges the long-lived token for a new one
(`ig_refresh_token`, only once it is ≥24 h old). PKCE is not documented; `state`
protects the flow. Accounts on the Facebook Login flavour (a Facebook user token on
graph.facebook.com) renew with `fb_exchange_token` instead (platforms/meta/oauth.py).
"""

from __future__ import annotations

from typing import Any

from polypost.core.http import Classifier, PlatformHttp
from polypost.platforms.base import Permanent, TokenSet, Transient
from polypost.platforms.connect import AppCredentials, OAuthSpec
from polypost.platforms.meta.graph import INSTAGRAM_GRAPH
from polypost.platforms.meta.oauth import token_set

AUTHORIZE_URL = "https://www.instagram.com/oauth/authorize"
TOKEN_URL = "https://api.instagram.com/oauth/access_token"  # noqa: S105 (a URL)
EXCHANGE_URL = f"{INSTAGRAM_GRAPH}/access_token"
REFRESH_URL = f"{INSTAGRAM_GRAPH}/refresh_access_token"
# instagram.md §1b (the `business_*` names were retired on 27 Jan 2025): publishing,
# first comments and the inbox's comments, insights for metrics.
SCOPES = (
    "instagram_business_basic",
    "instagram_business_content_publish",
    "instagram_business_manage_comments",
    "instagram_business_manage_insights",
)
LABEL = "Instagram"

OAUTH = OAuthSpec(
    authorize_url=AUTHORIZE_URL,
    token_url=TOKEN_URL,
    scopes=SCOPES,
    scope_separator=",",
    pkce=False,
    client_auth="body",
)


def _short_token(body: Any) -> tuple[str, tuple[str, ...]]:
    """`{access_token, user_id, permissions}`, or the same wrapped in `{"data": [...]}`."""
    if isinstance(body, dict) and isinstance(body.get("data"), list) and body["data"]:
        body = body["data"][0]
    if not isinstance(body, dict) or not body.get("access_token"):
        raise Transient("Instagram answered the code exchange without an access token")
    permissions = body.get("permissions") or ()
    if isinstance(permissions, str):
        permissions = [p for p in permissions.split(",") if p]
    return str(body["access_token"]), tuple(str(p).strip() for p in permissions)


async def exchange_code(
    http: PlatformHttp, classifier: Classifier, app: AppCredentials, code: str, redirect_uri: str
) -> TokenSet:
    """The code for a short-lived token, at once exchanged for a long-lived one."""
    if not app.client_secret:
        raise Permanent(
            "Connecting Instagram needs the Instagram app secret", code="credentials_missing"
        )
    short = await http.json(
        classifier,
        "POST",
        TOKEN_URL,
        data={
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "grant_type": "authorization_code",
            "redirect_uri": redirect_uri,
            # The redirect appends `#_` to the code (instagram.md §1b).
            "code": code.removesuffix("#_"),
        },
    )
    token, scopes = _short_token(short)
    body = await http.json(
        classifier,
        "GET",
        EXCHANGE_URL,
        params={
            "grant_type": "ig_exchange_token",
            "client_secret": app.client_secret,
            "access_token": token,
        },
    )
    long_lived = token_set(body, LABEL)
    return TokenSet(
        access_token=long_lived.access_token, expires_at=long_lived.expires_at, scopes=scopes
    )


async def refresh(http: PlatformHttp, classifier: Classifier, access_token: str) -> TokenSet:
    body = await http.json(
        classifier,
        "GET",
        REFRESH_URL,
        params={"grant_type": "ig_refresh_token", "access_token": access_token},
    )
    return token_set(body, LABEL)
