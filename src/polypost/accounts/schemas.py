from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Discriminator, Field, Tag, field_validator

from polypost.core.schemas import ApiInput, ApiModel, UtcTimestamp

SANDBOX_FAILURES = Literal["transient", "rate_limited", "auth_expired", "permanent"]


class SandboxBehavior(ApiInput):
    latency_ms: int = Field(default=0, ge=0, le=60_000)
    fail_with: SANDBOX_FAILURES | None = None
    fail_times: int | None = Field(
        default=None, ge=0, le=1_000_000, description="Fail the first N publishes; null = all."
    )
    retry_after_seconds: int = Field(
        default=60, ge=1, le=86_400, description="Reset time reported with `rate_limited`."
    )
    recovery: Literal["lookup", "idempotent", "none"] = Field(
        default="lookup",
        description="How an interrupted publish is recovered: look the post up (like most "
        "platforms' listing APIs), honour the idempotency key (like Mastodon), or neither "
        "(the target then fails as `outcome_unknown`).",
    )


class SandboxConnect(ApiInput):
    platform: Literal["sandbox"]
    handle: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[\w.-]+$")
    persona: str | None = Field(
        default=None, description="A real platform whose capabilities this account enforces."
    )
    behavior: SandboxBehavior = Field(default_factory=SandboxBehavior)


class AccountRead(ApiModel):
    account_id: str
    platform: str
    handle: str | None
    display_name: str | None
    avatar_url: str | None
    status: str
    connected_at: UtcTimestamp
    token_expires_at: UtcTimestamp | None
    capabilities: dict[str, Any]
    settings: dict[str, Any]


class AccountPage(ApiModel):
    accounts: list[AccountRead]
    next_cursor: str | None


class AccountDisconnected(ApiModel):
    account_id: str
    disconnected: bool
    failed_targets: int


class NativePost(ApiModel):
    platform_post_id: str | None
    caption: str | None
    timestamp: UtcTimestamp
    action: str | None = None
    outcome: str | None = None
    idempotency_key: str | None = None
    in_db: bool
    db_post_id: str | None


class NativePostPage(ApiModel):
    account_id: str
    platform: str
    posts: list[NativePost]
    next_cursor: str | None


# --- connecting real platforms (accounts/connect.py, accounts/oauth.py) ---------------

URL_MAX = 2048


class OAuthConnect(ApiInput):
    """Start an OAuth connect: the answer is the URL to send the user to."""

    platform: str = Field(min_length=1, max_length=32, examples=["x"])
    redirect_uri: str | None = Field(
        default=None,
        min_length=1,
        max_length=URL_MAX,
        description="Where the callback sends the browser afterwards, with `accountId` or "
        "`error`; must be on the workspace's whitelist (/v1/oauth/redirect-uris). Without "
        "it the callback answers JSON.",
    )


class BlueskyConnect(ApiInput):
    platform: Literal["bluesky"]
    identifier: str = Field(
        min_length=3, max_length=253, description="Handle, DID or account email."
    )
    app_password: str = Field(min_length=1, max_length=256, description="An app password.")
    service: str | None = Field(
        default=None,
        max_length=URL_MAX,
        description="The account's PDS URL; resolved from its DID document when omitted.",
    )


class MastodonConnect(ApiInput):
    platform: Literal["mastodon"]
    instance: str = Field(
        min_length=3, max_length=URL_MAX, description="The server, e.g. `mastodon.social`."
    )
    access_token: str | None = Field(
        default=None,
        min_length=1,
        max_length=1024,
        description="A token from Preferences → Development; without it the answer is an "
        "OAuth `authUrl` (an app is registered on the instance for you).",
    )
    redirect_uri: str | None = Field(default=None, min_length=1, max_length=URL_MAX)


class TelegramConnect(ApiInput):
    platform: Literal["telegram"]
    bot_token: str = Field(
        min_length=10, max_length=128, pattern=r"^\d{1,20}:[A-Za-z0-9_-]{20,100}$"
    )
    chat_id: str | int = Field(description="`@channelusername` or the numeric chat id.")

    @field_validator("chat_id")
    @classmethod
    def _chat_id(cls, value: str | int) -> str:
        text = str(value).strip()
        if not re.fullmatch(r"-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31}", text):
            raise ValueError("must be a numeric chat id or @channelusername")
        return text


class DiscordConnect(ApiInput):
    platform: Literal["discord"]
    webhook_url: str = Field(min_length=10, max_length=URL_MAX)


class SlackConnect(ApiInput):
    platform: Literal["slack"]
    bot_token: str = Field(min_length=10, max_length=512, pattern=r"^xox[a-z]-[A-Za-z0-9-]+$")
    channel: str = Field(min_length=1, max_length=80, description="Channel id, e.g. C0123ABCD.")


CREDENTIAL_BODIES: dict[str, type[ApiInput]] = {
    "bluesky": BlueskyConnect,
    "mastodon": MastodonConnect,
    "telegram": TelegramConnect,
    "discord": DiscordConnect,
    "slack": SlackConnect,
}
# Slack and Discord also install through OAuth: a body with only `platform` (and
# `redirectUri`) starts that flow instead.
OAUTH_CAPABLE = frozenset({"slack", "discord"})


def _connect_tag(value: Any) -> str:
    """Which body model a connect request is, from its `platform` (and fields)."""
    if isinstance(value, BaseModel):
        models: dict[str, type[ApiInput]] = {"sandbox": SandboxConnect, **CREDENTIAL_BODIES}
        return next((tag for tag, model in models.items() if isinstance(value, model)), "oauth")
    if not isinstance(value, dict):
        return "oauth"
    raw = value.get("platform")
    name = raw.strip().lower() if isinstance(raw, str) else ""
    if name == "sandbox":
        return "sandbox"
    if name in CREDENTIAL_BODIES:
        if name in OAUTH_CAPABLE and not set(value) - {"platform", "redirectUri"}:
            return "oauth"
        return name
    return "oauth"


ConnectBody = Annotated[
    Annotated[SandboxConnect, Tag("sandbox")]
    | Annotated[BlueskyConnect, Tag("bluesky")]
    | Annotated[MastodonConnect, Tag("mastodon")]
    | Annotated[TelegramConnect, Tag("telegram")]
    | Annotated[DiscordConnect, Tag("discord")]
    | Annotated[SlackConnect, Tag("slack")]
    | Annotated[OAuthConnect, Tag("oauth")],
    Discriminator(_connect_tag),
]


class ConnectStarted(ApiModel):
    """An OAuth connect in progress: send the user to `authUrl` before `expiresAt`."""

    platform: str
    auth_url: str
    state: str
    expires_at: UtcTimestamp


class AccountHealth(ApiModel):
    account_id: str
    platform: str
    status: str
    healthy: bool = Field(description="Connected, and the token is valid or refreshable.")
    needs_reconnect: bool
    token_expires_at: UtcTimestamp | None
    token_expired: bool
    has_refresh_token: bool
    refreshable: bool = Field(description="The token is renewed automatically before expiry.")
    last_refresh_at: UtcTimestamp | None
    last_error: str | None
    last_error_at: UtcTimestamp | None
    granted_scopes: list[str]
    required_scopes: list[str]
    missing_scopes: list[str]
    checked_at: UtcTimestamp
