"""What adapter tests share: a runtime stand-in, a recorded sleep, request decoding."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes
from email.message import Message
from typing import Any
from urllib.parse import parse_qs

import httpx

from polypost.core.ids import Prefix, new_id
from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.models import AccountStatus, SocialAccount


@dataclass
class StubRuntime:
    """The parts of `Runtime` an adapter touches outside listing: the shared HTTP
    client, no Redis (memo entries stay in `extras`), `extras`."""

    http: httpx.AsyncClient
    redis: None = None
    extras: dict[str, Any] = field(default_factory=dict)


class Sleeps(list[float]):
    """Stands in for `asyncio.sleep`: records each wait instead of waiting."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def form(request: httpx.Request) -> dict[str, str]:
    """An urlencoded body as a flat dict (every field appears once)."""
    parsed = parse_qs(request.content.decode(), keep_blank_values=True)
    assert all(len(v) == 1 for v in parsed.values()), parsed
    return {k: v[0] for k, v in parsed.items()}


def body(request: httpx.Request) -> Any:
    return json.loads(request.content)


def multipart(request: httpx.Request) -> dict[str, tuple[bytes, Message]]:
    """A multipart/form-data body as {field name: (bytes, part headers)}."""
    content_type = request.headers["content-type"]
    assert content_type.startswith("multipart/form-data; boundary="), content_type
    raw = b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + request.content
    parsed = message_from_bytes(raw)
    parts: dict[str, tuple[bytes, Message]] = {}
    for part in parsed.get_payload():
        assert isinstance(part, Message)
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        assert isinstance(name, str)
        assert isinstance(payload, bytes)
        parts[name] = (payload, part)
    return parts


async def make_account(
    runtime: Runtime,
    workspace_id: str,
    platform: str,
    *,
    external_id: str,
    handle: str,
    access_token: str = "user-token",
    refresh_token: str | None = None,
) -> str:
    """A connected account row with encrypted tokens, as the OAuth flow stores it."""
    async with runtime.sessions() as session:
        account = SocialAccount(
            id=new_id(Prefix.ACCOUNT),
            workspace_id=workspace_id,
            platform=platform,
            external_id=external_id,
            handle=handle,
            display_name=handle,
            status=AccountStatus.CONNECTED,
            access_token_enc=runtime.cipher.encrypt(access_token),
            refresh_token_enc=runtime.cipher.encrypt(refresh_token) if refresh_token else None,
            token_expires_at=utcnow() + timedelta(days=1),
            granted_scopes=[],
            settings={},
            connected_at=utcnow(),
        )
        session.add(account)
        await session.commit()
        return account.id
