"""Models and migrations agree, on Postgres and on SQLite.

A fresh database migrated with Alembic (`heads`: every branch) must have exactly the
schema `Base.metadata` describes, so a model changed without a migration fails here. The
whole chain must also go down to `base` and up again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, MetaData, String, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from polypost.cli import alembic_config
from polypost.models import Base
from tests.fixtures.services import pg_url, recreate_database, worker_name


@pytest.fixture(params=["postgres", "sqlite"])
async def empty_engine(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[AsyncEngine]:
    """An engine on a database that has never been migrated."""
    if request.param == "postgres":
        name = f"polypost_migrations_{worker_name()}"
        await recreate_database(name)
        url = pg_url(name)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"
    engine = create_async_engine(url)
    yield engine
    await engine.dispose()


def run_alembic(connection: Connection, action: str, target: str) -> None:
    config = alembic_config(str(connection.engine.url))
    config.attributes["connection"] = connection
    getattr(command, action)(config, target)


def differences(connection: Connection, metadata: MetaData = Base.metadata) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "target_metadata": metadata}
    )
    return list(compare_metadata(context, metadata))


def tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


def current_heads(connection: Connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


async def upgrade(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(run_alembic, "upgrade", "heads")


async def test_migrated_schema_matches_the_models(empty_engine: AsyncEngine) -> None:
    await upgrade(empty_engine)
    async with empty_engine.connect() as conn:
        diff = await conn.run_sync(differences)
        present = await conn.run_sync(tables)
        heads = await conn.run_sync(current_heads)
    assert diff == [], (
        "The models and the migrations disagree; write a migration for:\n"
        + "\n".join(map(repr, diff))
    )
    assert present == set(Base.metadata.tables)
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert heads == set(script.get_heads())


async def test_downgrade_to_base_and_upgrade_again(empty_engine: AsyncEngine) -> None:
    await upgrade(empty_engine)
    async with empty_engine.begin() as conn:
        await conn.run_sync(run_alembic, "downgrade", "base")
    async with empty_engine.connect() as conn:
        assert await conn.run_sync(tables) == set()
        assert await conn.run_sync(current_heads) == set()
    await upgrade(empty_engine)
    async with empty_engine.connect() as conn:
        assert await conn.run_sync(differences) == []
        assert await conn.run_sync(tables) == set(Base.metadata.tables)


async def test_a_model_change_without_migration_is_detected(empty_engine: AsyncEngine) -> None:
    """The comparison above is not vacuous: an unmigrated column shows up as a diff."""
    await upgrade(empty_engine)
    changed = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["api_keys"].append_column(Column("nickname", String(20), nullable=True))
    async with empty_engine.connect() as conn:
        diff = await conn.run_sync(differences, changed)
    assert [(d[0], d[2], d[3].name) for d in diff if d[0] == "add_column"] == [
        ("add_column", "api_keys", "nickname")
    ]


def test_every_revision_descends_from_the_initial_one() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    bases = script.get_bases()
    assert bases == ["0001"], f"one root revision expected, found {bases}"
    for revision in script.walk_revisions():
        assert revision.doc, f"revision {revision.revision} has no message"
