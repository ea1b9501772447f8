"""OAuth against any Mastodon instance, with an app registered per instance (mastodon.md §1).

There is no global Mastodon developer app: each instance issues its own client id and
secret through `POST /api/v1/apps`, so the connect flow first asks `register_app` for the
instance's app, then builds the authorize URL on that instance. Registrations are kept
per process (keyed by instance and redirect URI); registering again is harmless (an
instance accepts any number of apps). Tokens never expire and there is no refresh token:
a token is good until the user revokes it.
"""

from __future__ import annotations

from typing import Any

from polypost.core.http import Classifier, PlatformHttp
from polypost.platforms.base import TokenSet, Transient
from polypost.platforms.connect import AppCredentials, OAuthSpec

CLIENT_NAME = "Polypost"
WEBSITE = "https://github.com/polypost"
# mastodon.md §1 granular scopes: identity, reading own statuses (metrics, listing),
# writing statuses and media.
SCOPES = ("read:accounts", "read:statuses", "write:statuses", "write:media")
# Paths on the instance: the connect flow resolves them against the instance's URL.
AUTHORIZE_PATH = "/oauth/authorize"
TOKEN_PATH = "/oauth/token"  # noqa: S105 (a URL path)
REVOKE_PATH = "/oauth/revoke"
INSTANCE_KEY = "instance"

OAUTH = OAuthSpec(
    authorize_url=AUTHORIZE_PATH,
    token_url=TOKEN_PATH,
    scopes=SCOPES,
    pkce=True,  # honoured since Mastodon 4.3; older instances ignore the challenge
    client_auth="body",
    revoke_url=REVOKE_PATH,
    # The app is registered on the fly per instance, never configured by the workspace.
    needs_app_credentials=False,
)


def _cache_key(instance: str, redirect_uri: str) -> str:
    return f"{instance} {redirect_uri}"


async def register_app(
    http: PlatformHttp,
    classifier: Classifier,
    cache: dict[str, AppCredentials],
    instance: str,
    redirect_uri: str,
) -> AppCredentials:
    """The instance's client id and secret for `redirect_uri`, registering if needed.

    `instance` must already be normalized and checked by the outbound guard.
    """
    key = _cache_key(instance, redirect_uri)
    cached = cache.get(key)
    if cached is not None:
        return cached
    body = await http.json(
        classifier,
        "POST",
        f"{instance}/api/v1/apps",
        json={
            "client_name": CLIENT_NAME,
            "redirect_uris": [redirect_uri],
            "scopes": " ".join(SCOPES),
            "website": WEBSITE,
        },
    )
    client_id, secret = body.get("client_id"), body.get("client_secret")
    if not isinstance(client_id, str) or not isinstance(secret, str):
        raise Transient("The instance registered the app without client credentials")
    app = AppCredentials(
        client_id=client_id,
        client_secret=secret,
        extra={INSTANCE_KEY: instance},
    )
    cache[key] = app
    return app


async def exchange_code(
    http: PlatformHttp,
    classifier: Classifier,
    app: AppCredentials,
    code: str,
    redirect_uri: str,
    code_verifier: str | None,
) -> TokenSet:
    """`POST {instance}/oauth/token` with the authorization code."""
    form: dict[str, Any] = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": app.client_id,
        "client_secret": app.client_secret or "",
        "redirect_uri": redirect_uri,
        "scope": " ".join(SCOPES),
    }
    if code_verifier:
        form["code_verifier"] = code_verifier
    token_url = OAUTH.resolve(app.extra[INSTANCE_KEY]).token_url
    body = await http.json(classifier, "POST", token_url, data=form)
    token = body.get("access_token")
    if not isinstance(token, str):
        raise Transient("The instance answered the token request without an access token")
    scope = body.get("scope")
    return TokenSet(
        access_token=token,
        scopes=tuple(str(scope).split()) if scope else SCOPES,
    )
