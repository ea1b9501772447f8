"""The deployment files agree with the code: compose validates, every command is a real
`polypost` subcommand, every variable a real setting, and the wheel carries migrations.

No Docker engine is needed: Debian's `docker-compose` validates and resolves the file.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.fernet import Fernet

from polypost.cli import build_parser
from polypost.ops.router import router as ops_router
from polypost.settings import MediaStorage, Settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
POLYPOST_IMAGE = "polypost:latest"
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - a container must listen beyond its loopback
REQUIRED_SECRETS = {
    "POLYPOST_SECRET_KEY": "compose-test-secret-0123456789-abcdefghij",
    "POLYPOST_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
}


def compose_binary() -> str:
    path = shutil.which("docker-compose")
    if path is None:
        pytest.fail(
            "docker-compose is not installed: run `make test-tools` "
            "(apt-get install docker-compose)",
            pytrace=False,
        )
    return path


def run_compose(
    tmp_path: Path, *args: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Only `env` reaches interpolation: an empty --env-file hides a developer's `.env`."""
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    return subprocess.run(
        [
            compose_binary(),
            "--project-directory",
            str(ROOT),
            "--env-file",
            str(env_file),
            "-f",
            str(COMPOSE_FILE),
            *args,
        ],
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The compose file as Compose resolves it, variables interpolated."""
    result = run_compose(tmp_path_factory.mktemp("compose"), "config", env=REQUIRED_SECRETS)
    assert result.returncode == 0, result.stderr
    resolved: dict[str, dict[str, Any]] = yaml.safe_load(result.stdout)["services"]
    return resolved


def polypost_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in services.items() if s.get("image") == POLYPOST_IMAGE}


def parse_polypost_command(command: list[str]) -> Any:
    assert command[0] == "polypost", command
    try:
        return build_parser().parse_args(command[1:])
    except SystemExit:
        pytest.fail(f"{shlex.join(command)!r} is not a valid polypost command")


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, rest = (pending + line).partition(" ")
        instructions.append((keyword.upper(), " ".join(rest.split())))
        pending = ""
    return instructions


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in dockerfile_instructions():
        if keyword == "ENV":
            for item in shlex.split(rest):
                name, _, value = item.partition("=")
                env[name] = value
    return env


def dockerfile_cmd() -> list[str]:
    commands = [rest for keyword, rest in dockerfile_instructions() if keyword == "CMD"]
    assert len(commands) == 1
    command: list[str] = json.loads(commands[0])
    return command


class TestComposeFile:
    def test_validates(self, tmp_path: Path):
        result = run_compose(tmp_path, "config", "-q", env=REQUIRED_SECRETS)
        assert result.returncode == 0, result.stderr

    @pytest.mark.parametrize("missing", sorted(REQUIRED_SECRETS))
    def test_secrets_are_required(self, tmp_path: Path, missing: str):
        env = {k: v for k, v in REQUIRED_SECRETS.items() if k != missing}
        result = run_compose(tmp_path, "config", "-q", env=env)
        assert result.returncode != 0
        assert f"set {missing}" in result.stderr

    def test_has_every_service(self, services: dict[str, dict[str, Any]]):
        assert {"api", "worker", "migrate", "postgres", "redis", "minio", "createbucket"} <= set(
            services
        )
        assert services["postgres"]["image"] == "postgres:16"
        assert services["redis"]["image"] == "redis:7"
        assert services["minio"]["image"].startswith("minio/minio")
        assert services["createbucket"]["image"].startswith("minio/mc")
        for name in ("api", "worker", "migrate"):
            assert services[name]["build"]["context"] == str(ROOT)

    def test_commands_are_real_polypost_subcommands(self, services: dict[str, dict[str, Any]]):
        roles = {
            name: parse_polypost_command(service["command"]).command
            for name, service in polypost_services(services).items()
        }
        assert roles == {"api": "serve", "worker": "worker", "migrate": "migrate"}
        api = parse_polypost_command(services["api"]["command"])
        assert api.host == ALL_INTERFACES
        published = {str(p["target"]) for p in services["api"]["ports"]}
        assert str(api.port or 8000) in published

    def test_variables_are_settings_fields(self, services: dict[str, dict[str, Any]]):
        fields = {f"POLYPOST_{name.upper()}" for name in Settings.model_fields}
        for name, service in polypost_services(services).items():
            names = set(service["environment"])
            assert names <= fields, (name, names - fields)

    def test_resolved_environment_is_a_valid_distributed_configuration(
        self, services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
    ):
        for name in list(os.environ):
            if name.startswith("POLYPOST_"):
                monkeypatch.delenv(name)
        for service in polypost_services(services).values():
            environment = dockerfile_env() | service["environment"]
            for name, value in environment.items():
                monkeypatch.setenv(name, str(value))
            settings = Settings()
            assert settings.distributed
            assert settings.database_url.startswith("postgresql+asyncpg://")
            assert "@postgres:5432/" in settings.database_url
            assert settings.redis_url == "redis://redis:6379/0"
            assert settings.media_storage is MediaStorage.S3
            assert settings.s3_endpoint_url == "http://minio:9000"

    def test_bucket_and_credentials_match_minio(self, services: dict[str, dict[str, Any]]):
        api_env = services["api"]["environment"]
        bucket_env = services["createbucket"]["environment"]
        minio_env = services["minio"]["environment"]
        assert bucket_env["BUCKET"] == api_env["POLYPOST_S3_BUCKET"]
        assert minio_env["MINIO_ROOT_USER"] == api_env["POLYPOST_S3_ACCESS_KEY_ID"]
        assert minio_env["MINIO_ROOT_PASSWORD"] == api_env["POLYPOST_S3_SECRET_ACCESS_KEY"]
        assert bucket_env["MINIO_ROOT_USER"] == minio_env["MINIO_ROOT_USER"]
        script = " ".join(services["createbucket"]["command"])
        assert "mc mb --ignore-existing" in script
        assert "$$BUCKET" in script or "$BUCKET" in script

    def test_start_order_waits_for_health_and_migrations(self, services: dict[str, dict[str, Any]]):
        for name in ("api", "worker"):
            depends = services[name]["depends_on"]
            assert depends["migrate"]["condition"] == "service_completed_successfully"
            assert depends["redis"]["condition"] == "service_healthy"
            assert depends["createbucket"]["condition"] == "service_completed_successfully"
        assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
        for name, service in services.items():
            for dependency, rule in service.get("depends_on", {}).items():
                if rule["condition"] == "service_healthy":
                    assert "healthcheck" in services[dependency], (name, dependency)
                if rule["condition"] == "service_completed_successfully":
                    assert services[dependency]["restart"] == "no", (name, dependency)

    def test_healthchecks(self, services: dict[str, dict[str, Any]]):
        api_check = " ".join(services["api"]["healthcheck"]["test"])
        assert "http://127.0.0.1:8000/healthz" in api_check
        assert "/healthz" in {getattr(route, "path", None) for route in ops_router.routes}
        assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
        assert services["redis"]["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]

    def test_state_lives_in_volumes(self, services: dict[str, dict[str, Any]]):
        expected = {
            "postgres": "/var/lib/postgresql/data",
            "redis": "/data",
            "minio": "/data",
        }
        for name, target in expected.items():
            mounts = services[name]["volumes"]
            assert any(
                (m["target"] if isinstance(m, dict) else m.split(":")[1]) == target for m in mounts
            ), (name, mounts)


class TestDockerfile:
    def test_base_image_and_package_install(self):
        instructions = dockerfile_instructions()
        assert instructions[0] == ("FROM", "python:3.11-slim")
        runs = [rest for keyword, rest in instructions if keyword == "RUN"]
        assert any(re.search(r"\bpip install \.(\s|$)", run) for run in runs)
        assert any("apt-get install" in run and "ffmpeg" in run for run in runs)
        copied = " ".join(rest for keyword, rest in instructions if keyword == "COPY")
        for needed in ("pyproject.toml", "README.md", "src", "migrations"):
            assert needed in copied

    def test_runs_unprivileged_and_exposes_8000(self):
        instructions = dockerfile_instructions()
        users = [rest for keyword, rest in instructions if keyword == "USER"]
        assert users
        assert users[-1].split(":")[0] not in ("root", "0")
        install_at = next(i for i, (k, r) in enumerate(instructions) if "pip install" in r)
        user_at = max(i for i, (k, _) in enumerate(instructions) if k == "USER")
        assert user_at > install_at
        assert ("EXPOSE", "8000") in instructions

    def test_default_command_is_what_the_readme_documents(self):
        command = dockerfile_cmd()
        assert command == ["polypost", "serve", "--host", ALL_INTERFACES]
        args = parse_polypost_command(command)
        assert (args.command, args.host) == ("serve", ALL_INTERFACES)
        readme = (ROOT / "README.md").read_text()
        assert f"`{shlex.join(command)}`" in readme
        assert "docker compose up" in readme

    def test_image_environment_is_valid_embedded_configuration(
        self, monkeypatch: pytest.MonkeyPatch
    ):
        for name in list(os.environ):
            if name.startswith("POLYPOST_"):
                monkeypatch.delenv(name)
        env = dockerfile_env()
        for name, value in env.items():
            if name.startswith("POLYPOST_"):
                assert name.lower().removeprefix("polypost_") in Settings.model_fields
                monkeypatch.setenv(name, value)
        settings = Settings()
        assert not settings.distributed
        assert settings.is_sqlite
        assert str(settings.data_dir) in settings.database_url

    def test_dockerignore_keeps_local_state_out(self):
        ignored = set((ROOT / ".dockerignore").read_text().split())
        assert {".git", ".venv", ".env", "data"} <= ignored


class TestReadme:
    def test_two_setup_commands(self):
        readme = (ROOT / "README.md").read_text()
        assert "make run" in readme
        assert "make test" in readme
        assert "API key: sk_live_" in readme

    def test_every_setting_is_documented(self):
        readme = (ROOT / "README.md").read_text()
        missing = [
            f"POLYPOST_{name.upper()}"
            for name in Settings.model_fields
            if f"`POLYPOST_{name.upper()}`" not in readme
        ]
        assert missing == []

    def test_every_cli_command_is_documented(self):
        readme = (ROOT / "README.md").read_text()
        parser = build_parser()
        commands = next(
            action.choices
            for action in parser._actions
            if isinstance(action.choices, dict) and "serve" in action.choices
        )
        for name in commands:
            assert f"polypost {name}" in readme, name

    def test_linked_docs_exist(self):
        readme = (ROOT / "README.md").read_text()
        links = re.findall(r"\]\((docs/[^)#]+)", readme)
        assert links
        for link in links:
            assert (ROOT / link).is_file(), link


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    [built] = out.glob("polypost-*.whl")
    return built


class TestWheel:
    def test_contains_the_migrations(self, wheel: Path):
        names = set(zipfile.ZipFile(wheel).namelist())
        assert "polypost/_migrations/env.py" in names
        assert "polypost/_migrations/script.py.mako" in names
        for revision in (ROOT / "migrations" / "versions").glob("*.py"):
            assert f"polypost/_migrations/versions/{revision.name}" in names
        assert "polypost/cli.py" in names
        assert not [n for n in names if "__pycache__" in n]

    def test_installed_wheel_migrates_from_its_own_copy(self, wheel: Path, tmp_path: Path):
        site = tmp_path / "site"
        zipfile.ZipFile(wheel).extractall(site)
        env = {k: v for k, v in os.environ.items() if not k.startswith("POLYPOST_")}
        env |= {
            "PYTHONPATH": str(site),
            "POLYPOST_DATA_DIR": str(tmp_path / "data"),
            "POLYPOST_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db' / 'polypost.db'}",
        }
        where = subprocess.run(
            [sys.executable, "-c", "import polypost.cli as c; print(c.migrations_dir())"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert where.stdout.strip() == str(site / "polypost" / "_migrations"), where.stderr
        migrated = subprocess.run(
            [sys.executable, "-m", "polypost.cli", "migrate"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert migrated.returncode == 0, migrated.stderr
        assert "latest revision" in migrated.stdout
        assert (tmp_path / "db" / "polypost.db").stat().st_size > 0
