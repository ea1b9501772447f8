"""Mastodon instances as users name them, and the connect body for an access token.

An instance is whatever server the user is on (mastodon.social, a company's own), so its
URL is user-supplied and goes through the outbound guard before Polypost talks to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import httpx
from pydantic import Field, ValidationError

from polypost.core.errors import BadRequest
from polypost.core.outbound import OutboundBlocked, check_url
from polypost.core.schemas import ApiInput


class MastodonConnect(ApiInput):
    """`POST /v1/accounts/connect` body for an access token created on the instance
    (Preferences → Development → New application, scopes `read write`)."""

    platform: Literal["mastodon"] = "mastodon"
    instance: str = Field(min_length=3, max_length=2048, description="e.g. mastodon.social")
    access_token: str = Field(min_length=8, max_length=512)


def field_error(field: str, message: str) -> BadRequest:
    return BadRequest(message, details={"fields": [{"field": field, "message": message}]})


def parse_connect(body: Mapping[str, Any]) -> MastodonConnect:
    try:
        return MastodonConnect.model_validate(dict(body))
    except ValidationError as exc:
        fields = [
            {"field": ".".join(str(p) for p in error["loc"]), "message": error["msg"]}
            for error in exc.errors()
        ]
        raise BadRequest("Invalid Mastodon credentials body.", details={"fields": fields}) from exc


def normalize_instance(value: str) -> str:
    """`https://host[:port]` for "mastodon.social", "@alice@mastodon.social" or a URL."""
    candidate = value.strip()
    if candidate.startswith("@") and candidate.count("@") == 2:
        candidate = candidate.rsplit("@", 1)[1]  # a full handle names its instance
    if "://" not in candidate:
        candidate = f"https://{candidate}"
    try:
        url = httpx.URL(candidate)
    except (httpx.InvalidURL, ValueError) as exc:
        raise field_error("instance", "Not a valid instance address.") from exc
    if url.scheme not in ("http", "https") or not url.host or url.userinfo:
        raise field_error("instance", "Use the instance's https address, e.g. mastodon.social.")
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host.lower()}{port}"


async def checked_instance(value: str, allow: Sequence[str]) -> str:
    """The normalized instance URL, refused when it points at a private address."""
    base = normalize_instance(value)
    try:
        await check_url(base, allow)
    except OutboundBlocked as exc:
        raise field_error("instance", f"{base} is not reachable from this server: {exc}") from exc
    return base


def host_of(base_url: str) -> str:
    return httpx.URL(base_url).host
