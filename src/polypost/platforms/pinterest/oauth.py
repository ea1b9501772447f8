"""Pinterest OAuth 2.0 (pinterest.md §1): comma-separated scopes, the client
authenticated with HTTP Basic at the token endpoint, no PKCE.

Refreshing returns a new refresh token every time ("continuous refresh", 60 days, then
renewable indefinitely); apps created before 25 Sep 2025 must ask for it with
`continuous_refresh=true` or their refresh tokens hard-expire, so it is always sent.
"""

from __future__ import annotations

from polypost.core.http import PlatformHttp
from polypost.platforms.base import AuthExpired, Credentials, Permanent, TokenSet
from polypost.platforms.connect import OAuthSpec, token_request

HOST = "https://api.pinterest.com"
TOKEN_URL = f"{HOST}/v5/oauth/token"
SCOPES = ("boards:read", "boards:write", "pins:read", "pins:write", "user_accounts:read")

OAUTH = OAuthSpec(
    authorize_url="https://www.pinterest.com/oauth/",
    token_url=TOKEN_URL,
    scopes=SCOPES,
    scope_separator=",",
    pkce=False,
    client_auth="basic",
    revoke_url=f"{HOST}/v5/oauth/token/revoke",
)


async def refresh(http: PlatformHttp, account: Credentials) -> TokenSet:
    """The refresh-token grant with continuous refresh.

    Raises:
        AuthExpired: no refresh token, or Pinterest refused it (expired after 60 idle
            days, or revoked).
    """
    if not account.refresh_token:
        raise AuthExpired("The Pinterest account has no refresh token", code="no_refresh_token")
    if account.app is None:
        raise Permanent(
            "No Pinterest developer app credentials are configured", code="credentials_missing"
        )
    form = {
        "grant_type": "refresh_token",
        "refresh_token": account.refresh_token,
        "continuous_refresh": "true",
    }
    return await token_request(http, "pinterest", OAUTH, account.app, form, refreshing=True)
