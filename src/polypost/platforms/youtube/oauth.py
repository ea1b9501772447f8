"""Google OAuth 2.0 for YouTube (youtube.md §1): authorization code with PKCE, offline
access so a refresh token is issued, and `prompt=consent` so a reconnect issues a new
one. Refreshes usually return no new refresh token; the stored one is kept.

Scopes: `youtube.upload` (videos.insert, thumbnails.set) and `youtube.force-ssl`
(videos.update/delete, commentThreads.insert, listing; it includes `youtube`'s rights).
"""

from __future__ import annotations

from polypost.platforms.connect import OAuthSpec

GOOGLE_OAUTH = "https://oauth2.googleapis.com"
SCOPES = (
    "https://www.googleapis.com/auth/youtube.upload",
    "https://www.googleapis.com/auth/youtube.force-ssl",
)

OAUTH = OAuthSpec(
    authorize_url="https://accounts.google.com/o/oauth2/v2/auth",
    token_url=f"{GOOGLE_OAUTH}/token",
    scopes=SCOPES,
    scope_separator=" ",
    pkce=True,
    client_auth="body",
    extra_authorize_params={
        "access_type": "offline",
        "prompt": "consent",
        "include_granted_scopes": "true",
    },
    revoke_url=f"{GOOGLE_OAUTH}/revoke",
)
