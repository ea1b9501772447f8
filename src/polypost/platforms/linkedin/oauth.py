"""LinkedIn OAuth 2.0: the 3-legged authorization code flow (linkedin.md §1).

Standard web apps authenticate with their client secret in the form body; LinkedIn
enables PKCE only for native apps on request (learn.microsoft.com/linkedin/shared/
authentication/authorization-code-flow-native), so no PKCE here. Access tokens last 60
days; refresh tokens exist only for apps LinkedIn approved for them ("programmatic
refresh tokens"), and a refresh keeps the refresh token's original 365-day clock.

The scopes are the self-serve products' ("Sign In with LinkedIn using OpenID Connect"
and "Share on LinkedIn"): requesting a scope the app's products lack fails the whole
authorization (`unauthorized_scope_error`). Posting as an organization needs the
Community Management product (`w_organization_social`).
"""

from __future__ import annotations

from polypost.platforms.connect import OAuthSpec

OAUTH_BASE = "https://www.linkedin.com/oauth/v2"
AUTHORIZE_URL = f"{OAUTH_BASE}/authorization"
TOKEN_URL = f"{OAUTH_BASE}/accessToken"
REVOKE_URL = f"{OAUTH_BASE}/revoke"
SCOPES = ("openid", "profile", "w_member_social")

OAUTH = OAuthSpec(
    authorize_url=AUTHORIZE_URL,
    token_url=TOKEN_URL,
    scopes=SCOPES,
    scope_separator=" ",
    pkce=False,
    client_auth="body",
    revoke_url=REVOKE_URL,
)
