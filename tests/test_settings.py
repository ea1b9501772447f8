from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key

from polypost.settings import (
    JWT_PRIVATE_KEY_FILE,
    SECRETS_FILE,
    MediaStorage,
    Settings,
    SettingsError,
    load_settings,
)

SECRET = "s" * 40
FERNET = Fernet.generate_key().decode()
PG_URL = "postgresql+asyncpg://polypost@db.internal:5432/polypost"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only what a test sets reaches Settings; relative defaults land in tmp_path."""
    for name in list(os.environ):
        if name.startswith("POLYPOST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def settings_error(**overrides: object) -> str:
    with pytest.raises(SettingsError) as caught:
        load_settings(**overrides)
    return str(caught.value)


def ed25519_public_pem() -> str:
    key = Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


class TestInvalidSettings:
    def test_database_url_scheme(self, monkeypatch: pytest.MonkeyPatch):
        monkeypatch.setenv("POLYPOST_DATABASE_URL", "mysql://root@localhost/polypost")
        message = settings_error()
        assert message.startswith("Invalid configuration:")
        assert "POLYPOST_DATABASE_URL: must start with postgresql+asyncpg://" in message

    def test_database_url_that_does_not_parse(self, monkeypatch: pytest.MonkeyPatch):
        monkeypatch.setenv("POLYPOST_DATABASE_URL", "postgresql+asyncpg://u:p@db:port/polypost")
        assert "POLYPOST_DATABASE_URL: is not a valid database URL" in settings_error()

    def test_legacy_postgres_url_is_upgraded_to_asyncpg(self, tmp_path: Path):
        settings = load_settings(
            database_url="postgres://u:p@db/polypost", data_dir=tmp_path / "data"
        )
        assert settings.database_url == "postgresql+asyncpg://u:p@db/polypost"

    def test_redis_url(self, monkeypatch: pytest.MonkeyPatch):
        monkeypatch.setenv("POLYPOST_REDIS_URL", "http://127.0.0.1:6379")
        assert "POLYPOST_REDIS_URL: must be a redis://" in settings_error()

    def test_short_secret_key(self, monkeypatch: pytest.MonkeyPatch):
        monkeypatch.setenv("POLYPOST_SECRET_KEY", "too-short")
        assert "POLYPOST_SECRET_KEY: must be at least 32 characters" in settings_error()

    def test_bad_encryption_keys_entry_is_named(self, monkeypatch: pytest.MonkeyPatch):
        monkeypatch.setenv("POLYPOST_ENCRYPTION_KEYS", f"{FERNET}, not-a-fernet-key")
        message = settings_error()
        assert "POLYPOST_ENCRYPTION_KEYS: entry 2 is not a Fernet key" in message
        assert FERNET not in message

    def test_rsa_jwt_key_is_refused(self, monkeypatch: pytest.MonkeyPatch):
        rsa_pem = (
            generate_private_key(public_exponent=65537, key_size=2048)
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        monkeypatch.setenv("POLYPOST_JWT_PUBLIC_KEYS", rsa_pem)
        message = settings_error()
        assert "POLYPOST_JWT_PUBLIC_KEYS: entry 1: not an Ed25519 public key" in message

    def test_jwt_key_that_is_no_key(self):
        message = settings_error(jwt_public_keys=["c2hvcnQ"])
        assert "POLYPOST_JWT_PUBLIC_KEYS: entry 1: neither a PEM" in message

    def test_ed25519_keys_inline_from_file_and_raw(self, tmp_path: Path):
        pem_file = tmp_path / "issuer.pem"
        pem_file.write_text(ed25519_public_pem())
        raw = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
        raw_b64 = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        entries = [ed25519_public_pem(), str(pem_file), raw_b64]
        settings = load_settings(jwt_public_keys=entries, data_dir=tmp_path / "data")
        assert settings.jwt_public_keys == entries

    def test_distributed_without_secrets(self, monkeypatch: pytest.MonkeyPatch):
        monkeypatch.setenv("POLYPOST_REDIS_URL", "redis://127.0.0.1:6379/0")
        monkeypatch.setenv("POLYPOST_DATABASE_URL", PG_URL)
        message = settings_error()
        assert "requires POLYPOST_SECRET_KEY, POLYPOST_ENCRYPTION_KEYS" in message
        monkeypatch.setenv("POLYPOST_SECRET_KEY", SECRET)
        message = settings_error()
        assert "requires POLYPOST_ENCRYPTION_KEYS" in message
        assert "POLYPOST_SECRET_KEY," not in message

    def test_distributed_with_sqlite(self, monkeypatch: pytest.MonkeyPatch):
        monkeypatch.setenv("POLYPOST_REDIS_URL", "redis://127.0.0.1:6379/0")
        monkeypatch.setenv("POLYPOST_SECRET_KEY", SECRET)
        monkeypatch.setenv("POLYPOST_ENCRYPTION_KEYS", FERNET)
        message = settings_error()
        assert "needs a Postgres POLYPOST_DATABASE_URL" in message

    def test_distributed_never_writes_secrets(self, tmp_path: Path):
        data_dir = tmp_path / "data"
        settings = load_settings(
            redis_url="redis://127.0.0.1:6379/0",
            database_url=PG_URL,
            secret_key=SECRET,
            encryption_keys=[FERNET],
            data_dir=data_dir,
        )
        assert settings.distributed
        assert not (data_dir / SECRETS_FILE).exists()

    def test_s3_without_bucket(self, monkeypatch: pytest.MonkeyPatch):
        monkeypatch.setenv("POLYPOST_MEDIA_STORAGE", "s3")
        assert "POLYPOST_S3_BUCKET is required when POLYPOST_MEDIA_STORAGE=s3" in (settings_error())

    def test_unknown_media_storage(self, monkeypatch: pytest.MonkeyPatch):
        monkeypatch.setenv("POLYPOST_MEDIA_STORAGE", "gcs")
        assert "POLYPOST_MEDIA_STORAGE:" in settings_error()

    @pytest.mark.parametrize("value", ["localhost:8000", "ftp://files.example", ""])
    def test_public_base_url(self, monkeypatch: pytest.MonkeyPatch, value: str):
        monkeypatch.setenv("POLYPOST_PUBLIC_BASE_URL", value)
        assert "POLYPOST_PUBLIC_BASE_URL: must be an absolute http(s) URL" in settings_error()

    def test_public_base_url_loses_its_trailing_slash(self, tmp_path: Path):
        settings = load_settings(
            public_base_url="https://api.example.com/", data_dir=tmp_path / "data"
        )
        assert settings.public_base_url == "https://api.example.com"

    @pytest.mark.parametrize(
        "entry", ["http://127.0.0.1:9000", "localhost:8080", "10.0.0.0/33", "hooks example"]
    )
    def test_outbound_allow_entries_must_be_hosts_or_networks(
        self, monkeypatch: pytest.MonkeyPatch, entry: str
    ):
        monkeypatch.setenv("POLYPOST_OUTBOUND_ALLOW", f"127.0.0.1,{entry}")
        message = settings_error()
        assert f"POLYPOST_OUTBOUND_ALLOW: entry 2 ({entry!r}) is neither" in message

    def test_outbound_allow_accepts_hosts_addresses_and_cidrs(
        self, monkeypatch: pytest.MonkeyPatch
    ):
        monkeypatch.setenv(
            "POLYPOST_OUTBOUND_ALLOW", "127.0.0.1, ::1,10.0.0.0/8,receiver.internal,[fd00::1]"
        )
        settings = load_settings()
        assert settings.outbound_allow == [
            "127.0.0.1",
            "::1",
            "10.0.0.0/8",
            "receiver.internal",
            "[fd00::1]",
        ]

    def test_every_problem_is_listed_at_once(self, monkeypatch: pytest.MonkeyPatch):
        monkeypatch.setenv("POLYPOST_PORT", "0")
        monkeypatch.setenv("POLYPOST_LOG_LEVEL", "chatty")
        monkeypatch.setenv("POLYPOST_SECRET_KEY", "short")
        message = settings_error()
        for name in ("POLYPOST_PORT", "POLYPOST_LOG_LEVEL", "POLYPOST_SECRET_KEY"):
            assert f"  {name}: " in message

    def test_secret_values_are_not_echoed(self, monkeypatch: pytest.MonkeyPatch):
        monkeypatch.setenv("POLYPOST_SECRET_KEY", "hunter2-hunter2")
        assert "hunter2" not in settings_error()


class TestEmbeddedSecrets:
    def test_generated_once_private_and_reused(self, tmp_path: Path):
        data_dir = tmp_path / "data"
        first = load_settings(data_dir=data_dir)
        secrets_path = data_dir / SECRETS_FILE
        key_path = data_dir / JWT_PRIVATE_KEY_FILE
        for path in (secrets_path, key_path):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
        stored = json.loads(secrets_path.read_text())
        assert first.secret_key == stored["secret_key"]
        assert len(first.secret_key) >= 32
        assert first.encryption_keys == stored["encryption_keys"]
        Fernet(first.encryption_keys[0].encode())
        assert first.jwt_private_key is not None
        pem_before = key_path.read_bytes()

        second = load_settings(data_dir=data_dir)
        assert second.secret_key == first.secret_key
        assert second.encryption_keys == first.encryption_keys
        assert key_path.read_bytes() == pem_before
        assert second.signing_key == first.signing_key

    def test_configured_secrets_win_over_stored_ones(self, tmp_path: Path):
        data_dir = tmp_path / "data"
        load_settings(data_dir=data_dir)
        settings = load_settings(data_dir=data_dir, secret_key=SECRET, encryption_keys=[FERNET])
        assert settings.secret_key == SECRET
        assert settings.encryption_keys == [FERNET]

    def test_no_development_jwt_key_when_an_issuer_is_configured(self, tmp_path: Path):
        data_dir = tmp_path / "data"
        settings = load_settings(data_dir=data_dir, jwt_public_keys=[ed25519_public_pem()])
        assert not (data_dir / JWT_PRIVATE_KEY_FILE).exists()
        assert settings.jwt_private_key is None

    def test_corrupt_secrets_file_is_a_clear_error(self, tmp_path: Path):
        data_dir = tmp_path / "data"
        data_dir.mkdir()
        (data_dir / SECRETS_FILE).write_text("{not json")
        message = settings_error(data_dir=data_dir)
        assert "POLYPOST_DATA_DIR:" in message
        assert "not valid JSON" in message

    def test_unwritable_data_dir_is_a_clear_error(self, tmp_path: Path):
        blocker = tmp_path / "a-file"
        blocker.write_text("")
        message = settings_error(data_dir=blocker / "data")
        assert "POLYPOST_DATA_DIR: cannot keep generated secrets in" in message

    def test_sqlite_folder_is_created(self, tmp_path: Path):
        database = tmp_path / "nested" / "dir" / "polypost.db"
        load_settings(database_url=f"sqlite+aiosqlite:///{database}", data_dir=tmp_path / "data")
        assert database.parent.is_dir()

    def test_defaults_are_embedded_local_mode(self):
        settings = load_settings()
        assert not settings.distributed
        assert settings.is_sqlite
        assert settings.media_storage is MediaStorage.LOCAL
        assert (Path("data") / SECRETS_FILE).exists()


class TestFieldsAreEnvironmentVariables:
    def test_every_field_reads_its_prefixed_variable(self, monkeypatch: pytest.MonkeyPatch):
        monkeypatch.setenv("POLYPOST_RATE_LIMIT_PER_MINUTE", "7")
        monkeypatch.setenv("POLYPOST_ENCRYPTION_KEYS", f"{FERNET},{Fernet.generate_key().decode()}")
        settings = load_settings()
        assert settings.rate_limit_per_minute == 7
        assert len(settings.encryption_keys) == 2
        assert Settings.model_config["env_prefix"] == "POLYPOST_"


def polypost_script() -> str:
    script = Path(sys.executable).with_name("polypost")
    assert script.exists(), f"the polypost console script is missing next to {sys.executable}"
    return str(script)


class TestStartupFailure:
    def test_serve_with_a_bad_setting_exits_non_zero_naming_it(self, tmp_path: Path):
        env = {k: v for k, v in os.environ.items() if not k.startswith("POLYPOST_")}
        env["POLYPOST_DATA_DIR"] = str(tmp_path / "data")
        env["POLYPOST_DATABASE_URL"] = "mysql://root@localhost/polypost"
        env["POLYPOST_PORT"] = "70000"
        result = subprocess.run(
            [polypost_script(), "serve"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2
        assert "Invalid configuration:" in result.stderr
        assert "POLYPOST_DATABASE_URL: must start with postgresql+asyncpg://" in result.stderr
        assert "POLYPOST_PORT:" in result.stderr
        assert "Traceback" not in result.stderr
        assert "serving" not in result.stdout

    def test_worker_without_redis_refuses_to_start(self, tmp_path: Path):
        env = {k: v for k, v in os.environ.items() if not k.startswith("POLYPOST_")}
        env["POLYPOST_DATA_DIR"] = str(tmp_path / "data")
        result = subprocess.run(
            [polypost_script(), "worker"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode != 0
        assert "POLYPOST_REDIS_URL" in result.stderr
