"""`polypost users create` and `polypost token`, end to end on an embedded install."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from polypost.app import create_app
from polypost.cli import main
from polypost.core.runtime import Runtime
from polypost.settings import load_settings


@pytest.fixture
def embedded_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh embedded install: SQLite and data dir in tmp_path, migrated by the CLI."""
    monkeypatch.setenv("POLYPOST_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("POLYPOST_DATA_DIR", str(tmp_path / "data"))
    for name in ("POLYPOST_REDIS_URL", "POLYPOST_SECRET_KEY", "POLYPOST_JWT_PUBLIC_KEYS"):
        monkeypatch.delenv(name, raising=False)
    assert main(["migrate"]) == 0
    return tmp_path


def mint(email: str, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(["token", "--user", email]) == 0
    token = capsys.readouterr().out.strip()
    assert token.count(".") == 2
    return token


async def get_me(token: str, workspace_id: str | None = None) -> httpx.Response:
    """Ask an app built from the same environment who the token belongs to."""
    runtime = Runtime.build(load_settings())
    try:
        app = create_app(runtime=runtime, run_jobs=False)
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {token}"}
        if workspace_id is not None:
            headers["X-Workspace-Id"] = workspace_id
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.get("/v1/users/me", headers=headers)
    finally:
        await runtime.close()


def test_created_user_token_authenticates(
    embedded_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["users", "create", "Ann@Example.com", "--workspace", "acme", "--role", "admin"]) == 0
    )
    out = capsys.readouterr().out
    assert "ann@example.com" in out
    assert "admin of acme" in out

    token = mint("ann@example.com", capsys)
    response = asyncio.run(get_me(token))
    assert response.status_code == 200
    me = response.json()
    assert me["email"] == "ann@example.com"
    assert [(m["name"], m["role"]) for m in me["memberships"]] == [("acme", "admin")]


def test_second_workspace_and_role_change(
    embedded_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["users", "create", "ann@example.com", "--workspace", "acme"]) == 0
    assert (
        main(["users", "create", "ann@example.com", "--workspace", "beta", "--role", "viewer"]) == 0
    )
    assert (
        main(["users", "create", "ann@example.com", "--workspace", "acme", "--role", "editor"]) == 0
    )
    token = mint("ann@example.com", capsys)
    me = asyncio.run(get_me(token)).json()
    assert sorted((m["name"], m["role"]) for m in me["memberships"]) == [
        ("acme", "editor"),
        ("beta", "viewer"),
    ]
    beta = next(m["brandId"] for m in me["memberships"] if m["name"] == "beta")
    assert asyncio.run(get_me(token, beta)).status_code == 200


def test_token_for_unknown_user_fails(
    embedded_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "--user", "ghost@example.com"]) == 2
    assert "no user ghost@example.com" in capsys.readouterr().err


def test_invalid_role_is_refused(embedded_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["users", "create", "ann@example.com", "--workspace", "acme", "--role", "god"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_token_from_another_install_is_rejected(
    embedded_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["users", "create", "ann@example.com", "--workspace", "acme"]) == 0
    token = mint("ann@example.com", capsys)
    # Same database, but a data dir with a different signing key.
    monkeypatch.setenv("POLYPOST_DATA_DIR", str(embedded_env / "other-data"))
    response = asyncio.run(get_me(token))
    assert response.status_code == 401
