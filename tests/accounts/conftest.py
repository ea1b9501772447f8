"""Fixtures of the connect and token tests: platform doubles and a public DNS."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from polypost.core import outbound
from polypost.platforms.registry import FACTORIES
from tests.accounts.fakes import PUBLIC_IP, FakeCredentialAdapter, FakeOAuthAdapter


@pytest.fixture
def fake_oauth(monkeypatch: pytest.MonkeyPatch) -> type[FakeOAuthAdapter]:
    monkeypatch.setitem(FACTORIES, "linkedin", FakeOAuthAdapter)
    return FakeOAuthAdapter


@pytest.fixture
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Mapping[str, Any]]]:
    for name in ("telegram", "discord", "slack", "bluesky"):
        monkeypatch.setitem(
            FACTORIES, name, lambda runtime, n=name: FakeCredentialAdapter(runtime, n)
        )
    FakeCredentialAdapter.calls.clear()
    yield FakeCredentialAdapter.calls
    FakeCredentialAdapter.calls.clear()


@pytest.fixture
def public_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Every host name resolves to a public address unless the test maps it."""
    names: dict[str, list[str]] = {}

    async def resolve(host: str, port: int) -> list[str]:
        return names.get(host, [PUBLIC_IP])

    monkeypatch.setattr(outbound, "resolve", resolve)
    return names
