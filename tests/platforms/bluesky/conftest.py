"""A Bluesky adapter on a runtime stand-in, with DNS answered by the test."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
import pytest
from cryptography.fernet import Fernet

from polypost.core import outbound
from polypost.core.crypto import TokenCipher
from polypost.core.runtime import Runtime
from polypost.platforms.base import Credentials, Platform
from polypost.platforms.bluesky.adapter import BlueskyAdapter

PDS = "https://pds.example.com"
DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
HANDLE = "alice.example.com"
PUBLIC_IP = "93.184.216.34"


def jwt(exp: int, subject: str = DID) -> str:
    """A JWT shaped like the PDS's (only `exp` is read by Polypost)."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256', 'typ': 'at+jwt'})}.{part({'sub': subject, 'exp': exp})}.c2ln"


@dataclass
class Settings:
    outbound_allow: list[str] = field(default_factory=list)


@dataclass
class StubRuntime:
    """What the adapter touches outside DB-backed paths: the shared client, settings,
    the token cipher, and `extras` (memo entries, no Redis)."""

    http: httpx.AsyncClient
    settings: Settings = field(default_factory=Settings)
    cipher: TokenCipher = field(
        default_factory=lambda: TokenCipher([Fernet.generate_key().decode()])
    )
    redis: None = None
    extras: dict[str, Any] = field(default_factory=dict)


class Sleeps(list[float]):
    """Stands in for `asyncio.sleep`: records each wait instead of waiting."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(autouse=True)
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Host → address answers; every other host resolves to a public address."""
    answers: dict[str, str] = {}

    async def resolve(host: str, port: int) -> list[str]:
        return [answers.get(host, PUBLIC_IP)]

    monkeypatch.setattr(outbound, "resolve", resolve)
    return answers


@pytest.fixture
async def stub() -> AsyncIterator[StubRuntime]:
    async with httpx.AsyncClient() as client:
        yield StubRuntime(http=client)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def adapter(stub: StubRuntime, sleeps: Sleeps) -> BlueskyAdapter:
    adapter = BlueskyAdapter(cast(Runtime, stub))
    adapter.blobs.sleep = sleeps
    return adapter


@pytest.fixture
def account() -> Credentials:
    return Credentials(
        account_id="acc_test",
        platform=Platform.BLUESKY,
        external_id=DID,
        access_token="access-jwt",
        refresh_token="refresh-jwt",
        handle=HANDLE,
        base_url=PDS,
        settings={"baseUrl": PDS, "did": DID},
    )
