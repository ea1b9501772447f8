"""A LinkedIn adapter on a runtime stand-in that carries the API version setting."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
import respx

from polypost.core.runtime import Runtime
from polypost.platforms.base import Credentials, Platform
from polypost.platforms.linkedin.adapter import LinkedInAdapter
from tests.platforms.helpers import StubRuntime

VERSION = "202607"
MEMBER = "aBcD123_-x"
PERSON = f"urn:li:person:{MEMBER}"
ORGANIZATION = "urn:li:organization:5515715"


@dataclass
class LinkedInRuntime(StubRuntime):
    settings: Any = field(default_factory=lambda: SimpleNamespace(linkedin_version=VERSION))


@pytest.fixture
async def stub() -> AsyncIterator[LinkedInRuntime]:
    async with httpx.AsyncClient() as client:
        yield LinkedInRuntime(http=client)


@pytest.fixture
def adapter(stub: LinkedInRuntime) -> LinkedInAdapter:
    return LinkedInAdapter(cast(Runtime, stub))


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=True) as router:
        yield router


@pytest.fixture
def member() -> Credentials:
    return Credentials(
        account_id="acc_li",
        platform=Platform.LINKEDIN,
        external_id=MEMBER,
        access_token="li-token",
        handle="Ada Lovelace",
    )


@pytest.fixture
def organization() -> Credentials:
    return Credentials(
        account_id="acc_lio",
        platform=Platform.LINKEDIN,
        external_id=MEMBER,
        access_token="li-token",
        handle="Acme",
        settings={"organizationUrn": ORGANIZATION},
    )
