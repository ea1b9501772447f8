"""App-password sessions: connect, refresh, who-am-I (bluesky.md §1).

`createSession` is rate limited hard (30 per 5 min, 300 per day per account; 100 per day
at the bsky.social entryway; over that, logins lock for up to 24 h), so Polypost logs in
once at connect, then keeps the session alive with `refreshSession` (access JWT 2 h,
refresh JWT 90 days, rotated on every refresh). The app password is kept encrypted only
to log in again when the refresh token itself has died.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, ValidationError

from polypost.core.errors import BadRequest
from polypost.core.schemas import ApiInput
from polypost.platforms.base import TokenSet, Transient

# A handle (≤253 chars), a DID (≤2048) or an account email.
Identifier = Annotated[str, StringConstraints(min_length=3, max_length=2048, pattern=r"^[^\s]+$")]
APP_PASSWORD_SETTING = "appPasswordEnc"  # noqa: S105 (a settings key, not a secret)


class BlueskyConnect(ApiInput):
    """`POST /v1/accounts/connect` body for Bluesky: handle or DID plus an app password
    (Settings → Privacy and security → App passwords), and the PDS URL for accounts
    hosted outside Bluesky when discovery should be skipped."""

    platform: Literal["bluesky"] = "bluesky"
    identifier: Identifier = Field(description="Handle (alice.bsky.social), DID or email.")
    app_password: str = Field(min_length=1, max_length=256)
    service: str | None = Field(
        default=None, max_length=2048, description="PDS URL; discovered from the DID if omitted."
    )


def parse_connect(body: Mapping[str, Any]) -> BlueskyConnect:
    try:
        return BlueskyConnect.model_validate(dict(body))
    except ValidationError as exc:
        fields = [
            {"field": ".".join(str(p) for p in error["loc"]), "message": error["msg"]}
            for error in exc.errors()
        ]
        raise BadRequest("Invalid Bluesky credentials body.", details={"fields": fields}) from exc


def jwt_expiry(token: str) -> datetime | None:
    """The `exp` of a JWT, read without verifying it (the PDS verifies its own tokens;
    Polypost only needs to know when to refresh)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        return datetime.fromtimestamp(int(payload["exp"]), UTC)
    except (ValueError, KeyError, TypeError, OverflowError):
        return None


def token_set(session: Any) -> TokenSet:
    if not isinstance(session, Mapping):
        raise Transient("The PDS answered without a session")
    access = session.get("accessJwt")
    refresh = session.get("refreshJwt")
    if not isinstance(access, str) or not isinstance(refresh, str):
        raise Transient("The PDS answered without session tokens")
    return TokenSet(access_token=access, refresh_token=refresh, expires_at=jwt_expiry(access))
