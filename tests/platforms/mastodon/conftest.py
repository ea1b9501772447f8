"""A Mastodon adapter on a runtime stand-in, with DNS answered by the test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

import httpx
import pytest

from polypost.core import outbound
from polypost.core.runtime import Runtime
from polypost.platforms.base import Credentials, Platform
from polypost.platforms.mastodon.adapter import MastodonAdapter
from tests.platforms.bluesky.conftest import PUBLIC_IP, Sleeps, StubRuntime

INSTANCE = "https://social.example.org"
ACCOUNT_ID = "109348912384"


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
def adapter(stub: StubRuntime, sleeps: Sleeps) -> MastodonAdapter:
    adapter = MastodonAdapter(cast(Runtime, stub))
    adapter.uploader.sleep = sleeps
    return adapter


@pytest.fixture
def account() -> Credentials:
    return Credentials(
        account_id="acc_test",
        platform=Platform.MASTODON,
        external_id=f"{ACCOUNT_ID}@social.example.org",
        access_token="user-token",
        handle="alice@social.example.org",
        base_url=INSTANCE,
        settings={"baseUrl": INSTANCE, "accountId": ACCOUNT_ID},
    )
