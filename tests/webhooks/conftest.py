from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from polypost.core.runtime import Runtime
from polypost.settings import Settings, load_settings
from tests.fixtures.app import TEST_FERNET, TEST_SECRET
from tests.webhooks.receiver import Receiver


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The receiver listens on loopback, which the outbound guard refuses by default."""
    return settings.model_copy(update={"outbound_allow": ["127.0.0.1"]})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def distributed(clean_pg: str, clean_redis: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    """Postgres + Redis only, for what SQLite cannot show: arq itself, and races that
    SQLite's one-writer-at-a-time transactions make impossible."""
    settings = load_settings(
        database_url=clean_pg,
        redis_url=clean_redis,
        data_dir=tmp_path / "data",
        secret_key=TEST_SECRET,
        encryption_keys=[TEST_FERNET],
        outbound_allow=["127.0.0.1"],
    )
    runtime = Runtime.build(settings)
    yield runtime
    await runtime.close()
