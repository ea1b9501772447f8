"""Threads login: authorization code → short-lived token (1 h) → long-lived token (60 d).

Threads has no refresh token: the long-lived access token itself is refreshed
(`th_refresh_token`) while it is still valid and at least a day old (threads.md §1).
PKCE is not documented; the app secret goes in the request.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from polypost.core.http import Classifier, PlatformHttp
from polypost.core.timeutil import utcnow
from polypost.platforms.base import Permanent, TokenSet, Transient
from polypost.platforms.connect import AppCredentials, OAuthSpec

GRAPH = "https://graph.threads.net"
AUTHORIZE_URL = "https://threads.net/oauth/authorize"
TOKEN_URL = f"{GRAPH}/oauth/access_token"
EXCHANGE_URL = f"{GRAPH}/access_token"
REFRESH_URL = f"{GRAPH}/refresh_access_token"
# threads.md §1: publishing, replies (thread segments and first comments), insights
# (metrics) and delete.
SCOPES = (
    "threads_basic",
    "threads_content_publish",
    "threads_manage_replies",
    "threads_read_replies",
    "threads_manage_insights",
    "threads_delete",
)

OAUTH = OAuthSpec(
    authorize_url=AUTHORIZE_URL,
    token_url=TOKEN_URL,
    scopes=SCOPES,
    scope_separator=",",
    pkce=False,
    client_auth="body",
)


def long_lived(body: Any) -> TokenSet:
    if not isinstance(body, dict) or not body.get("access_token"):
        raise Transient("Threads answered without an access token")
    expires_in = body.get("expires_in")
    return TokenSet(
        access_token=str(body["access_token"]),
        expires_at=utcnow() + timedelta(seconds=int(expires_in)) if expires_in else None,
    )


async def exchange_code(
    http: PlatformHttp,
    classifier: Classifier,
    app: AppCredentials,
    code: str,
    redirect_uri: str,
) -> TokenSet:
    """The code for a short-lived token, at once exchanged for a long-lived one."""
    if not app.client_secret:
        raise Permanent(
            "Connecting Threads needs the Threads app secret", code="credentials_missing"
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
            # The redirect carries `#_` after the code (threads.md §1).
            "code": code.removesuffix("#_"),
        },
    )
    if not isinstance(short, dict) or not short.get("access_token"):
        raise Transient("Threads answered the code exchange without an access token")
    body = await http.json(
        classifier,
        "GET",
        EXCHANGE_URL,
        params={
            "grant_type": "th_exchange_token",
            "client_secret": app.client_secret,
            "access_token": str(short["access_token"]),
        },
    )
    return long_lived(body)


async def refresh(http: PlatformHttp, classifier: Classifier, access_token: str) -> TokenSet:
    body = await http.json(
        classifier,
        "GET",
        REFRESH_URL,
        params={"grant_type": "th_refresh_token", "access_token": access_token},
    )
    return long_lived(body)
