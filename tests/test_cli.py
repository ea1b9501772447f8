from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from polypost.auth.scopes import ALL_SCOPES
from polypost.cli import alembic_config, main
from polypost.core.runtime import Runtime
from polypost.models import SocialAccount, Workspace
from polypost.settings import Settings
from polypost.workspaces.demo import DEMO_PERSONAS

KEY_LINE = re.compile(r"^API key: (sk_(?:live|test)_\S+)$", re.MULTILINE)


def clear_polypost_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("POLYPOST_"):
            monkeypatch.delenv(name)


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Point the CLI, through the environment only, at the test's database."""
    clear_polypost_env(monkeypatch)
    monkeypatch.setenv("POLYPOST_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("POLYPOST_DATA_DIR", str(settings.data_dir))
    if settings.distributed:
        assert settings.redis_url is not None
        assert settings.secret_key is not None
        monkeypatch.setenv("POLYPOST_REDIS_URL", settings.redis_url)
        monkeypatch.setenv("POLYPOST_SECRET_KEY", settings.secret_key)
        monkeypatch.setenv("POLYPOST_ENCRYPTION_KEYS", ",".join(settings.encryption_keys))
    return settings


async def run_cli(*argv: str) -> int:
    """The CLI runs its own event loop, so it gets a thread of its own."""
    return await asyncio.to_thread(main, list(argv))


def printed_key(output: str) -> str:
    match = KEY_LINE.search(output)
    assert match is not None, output
    return match.group(1)


async def workspaces_named(runtime: Runtime, name: str) -> list[Workspace]:
    async with runtime.sessions() as session:
        rows = await session.execute(select(Workspace).where(Workspace.name == name))
        return list(rows.scalars())


@pytest.mark.usefixtures("cli_env")
class TestKeysCreate:
    async def test_creates_the_workspace_and_a_working_key(
        self, client: httpx.AsyncClient, runtime: Runtime, capsys: pytest.CaptureFixture[str]
    ):
        code = await run_cli(
            "keys", "create", "--workspace", "newco", "--scopes", "posts:read,keys:write", "--test"
        )
        out = capsys.readouterr().out
        assert code == 0
        assert "Created workspace newco" in out
        assert "Scopes: keys:write,posts:read" in out
        key = printed_key(out)
        assert key.startswith("sk_test_")
        assert out.count(key) == 1
        [workspace] = await workspaces_named(runtime, "newco")
        assert f"Workspace: {workspace.id}" in out

        response = await client.get("/v1/keys", headers={"X-Api-Key": key})
        assert response.status_code == 200
        [listed] = response.json()["keys"]
        assert listed["scopes"] == ["keys:write", "posts:read"]
        assert key not in response.text

    async def test_an_existing_workspace_is_reused(
        self, client: httpx.AsyncClient, runtime: Runtime, capsys: pytest.CaptureFixture[str]
    ):
        assert await run_cli("keys", "create", "--workspace", "acme", "--name", "first") == 0
        first = printed_key(capsys.readouterr().out)
        assert await run_cli("keys", "create", "--workspace", "acme", "--name", "second") == 0
        out = capsys.readouterr().out
        second = printed_key(out)
        assert "Created workspace" not in out
        assert f"Scopes: {','.join(sorted(ALL_SCOPES))}" in out
        assert second.startswith("sk_live_")
        assert len(await workspaces_named(runtime, "acme")) == 1
        listed = await client.get("/v1/keys", headers={"X-Api-Key": first})
        assert sorted(k["name"] for k in listed.json()["keys"]) == ["first", "second"]

    async def test_unknown_scope_exits_2_and_creates_nothing(
        self, runtime: Runtime, capsys: pytest.CaptureFixture[str]
    ):
        code = await run_cli(
            "keys", "create", "--workspace", "ghost", "--scopes", "posts:read,posts:delete"
        )
        captured = capsys.readouterr()
        assert code == 2
        assert "unknown scopes: posts:delete" in captured.err
        assert "API key" not in captured.out
        assert await workspaces_named(runtime, "ghost") == []


@pytest.mark.usefixtures("cli_env")
class TestDemo:
    async def test_rerunning_reuses_the_workspace_with_a_fresh_key(
        self, client: httpx.AsyncClient, runtime: Runtime, capsys: pytest.CaptureFixture[str]
    ):
        assert await run_cli("demo") == 0
        first_out = capsys.readouterr().out
        first = printed_key(first_out)
        assert first.startswith("sk_live_")
        assert first_out.count("Sandbox account: sandbox-") == len(DEMO_PERSONAS)

        assert await run_cli("demo") == 0
        second = printed_key(capsys.readouterr().out)
        assert second != first

        [workspace] = await workspaces_named(runtime, "demo")
        async with runtime.sessions() as session:
            handles = (
                await session.execute(
                    select(SocialAccount.handle).where(SocialAccount.workspace_id == workspace.id)
                )
            ).scalars()
            assert sorted(handles) == sorted(f"sandbox-{p}" for p in DEMO_PERSONAS)
        for key in (first, second):
            response = await client.get("/v1/keys", headers={"X-Api-Key": key})
            assert response.status_code == 200
            assert len(response.json()["keys"]) == 2


class TestOpenapi:
    @pytest.mark.parametrize("backend", ["sqlite"])
    async def test_writes_the_spec(
        self, cli_env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ):
        target = tmp_path / "spec" / "openapi.json"
        target.parent.mkdir()
        assert await run_cli("openapi", "--output", str(target)) == 0
        assert f"Wrote {target}" in capsys.readouterr().out
        spec = json.loads(target.read_text())
        assert spec["openapi"].startswith("3.")
        assert {"/v1/keys", "/healthz", "/readyz"} <= set(spec["paths"])

        assert await run_cli("openapi", "--output", "-") == 0
        assert json.loads(capsys.readouterr().out) == spec


def database_revisions(url: str) -> set[str]:
    async def read() -> set[str]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
                return {row[0] for row in rows}
        finally:
            await engine.dispose()

    return asyncio.run(read())


class TestMigrate:
    def test_fresh_sqlite_then_again(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ):
        clear_polypost_env(monkeypatch)
        url = f"sqlite+aiosqlite:///{tmp_path / 'fresh' / 'polypost.db'}"
        monkeypatch.setenv("POLYPOST_DATABASE_URL", url)
        monkeypatch.setenv("POLYPOST_DATA_DIR", str(tmp_path / "data"))
        heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
        assert main(["migrate"]) == 0
        assert database_revisions(url) == heads
        assert main(["migrate"]) == 0
        assert database_revisions(url) == heads
        assert capsys.readouterr().out.count("Database is at the latest revision.") == 2

    async def test_an_up_to_date_database_is_left_as_is(
        self, cli_env: Settings, runtime: Runtime, capsys: pytest.CaptureFixture[str]
    ):
        async with runtime.sessions() as session:
            before = (await session.execute(select(func.count()).select_from(Workspace))).one()
        assert await run_cli("migrate") == 0
        assert "latest revision" in capsys.readouterr().out
        async with runtime.sessions() as session:
            after = (await session.execute(select(func.count()).select_from(Workspace))).one()
        assert after == before


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def polypost_script() -> str:
    script = Path(sys.executable).with_name("polypost")
    assert script.exists(), f"the polypost console script is missing next to {sys.executable}"
    return str(script)


class TestServe:
    def test_make_run_serves_the_demo_key(self, tmp_path: Path):
        """What `make run` does, with the README's promise checked over real HTTP."""
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("POLYPOST_")}
        env |= {"POLYPOST_HOST": "127.0.0.1", "POLYPOST_PORT": str(port)}

        def run(*argv: str) -> str:
            result = subprocess.run(
                [polypost_script(), *argv],
                env=env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert result.returncode == 0, result.stderr
            return result.stdout

        run("migrate")
        key = printed_key(run("demo"))
        assert (tmp_path / "data" / "polypost.db").exists()

        log = tmp_path / "serve.log"
        with log.open("w") as sink:
            process = subprocess.Popen(
                [polypost_script(), "serve"],
                env=env,
                cwd=tmp_path,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        try:
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, timeout=5) as http:
                deadline = time.monotonic() + 60
                while True:
                    assert process.poll() is None, log.read_text()
                    try:
                        if http.get("/healthz").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.2)

                response = http.get("/v1/keys", headers={"X-Api-Key": key})
                assert response.status_code == 200, response.text
                assert [k["name"] for k in response.json()["keys"]] == ["demo"]

                ready = http.get("/readyz")
                while ready.status_code != 200 and time.monotonic() < deadline:
                    time.sleep(0.2)
                    ready = http.get("/readyz")
                assert ready.status_code == 200, ready.text
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        assert f"Polypost serving on {base} in embedded" in log.read_text()
