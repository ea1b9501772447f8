"""Tokens verified against a JWKS document (`POLYPOST_JWT_JWKS_URL`).

pyjwt's `PyJWKClient` fetches with urllib, which respx cannot intercept, so the JWKS is
served by a real HTTP server on 127.0.0.1 in a thread.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt import jwks_client

from polypost.core.runtime import Runtime
from polypost.settings import Settings
from tests.auth.tokens import b64url, claims_for, sign_eddsa
from tests.fixtures.factories import make_member, make_tenant


def jwk(key: Ed25519PrivateKey, kid: str) -> dict[str, str]:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw), "kid": kid, "alg": "EdDSA"}


@dataclass
class JwksServer:
    url: str
    keys: list[dict[str, str]] = field(default_factory=list)
    body: bytes | None = None  # when set, served verbatim instead of the key set
    hits: int = 0


@pytest.fixture
def jwks() -> Iterator[JwksServer]:
    server_state = JwksServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server_state.hits += 1
            body = server_state.body
            if body is None:
                body = json.dumps({"keys": server_state.keys}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.url = f"http://127.0.0.1:{httpd.server_address[1]}/.well-known/jwks.json"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def settings(settings: Settings, jwks: JwksServer) -> Settings:
    return settings.model_copy(update={"jwt_jwks_url": jwks.url, "jwt_public_keys": []})


@pytest.fixture
async def member(runtime: Runtime) -> tuple[str, str]:
    tenant = await make_tenant(runtime)
    user = await make_member(runtime, "jwks@example.com", tenant.workspace.id, "owner")
    return user.id, tenant.workspace.id


def headers(token: str, workspace_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "X-Workspace-Id": workspace_id}


class TestJwks:
    async def test_token_signed_by_published_key(
        self,
        client: httpx.AsyncClient,
        settings: Settings,
        jwks: JwksServer,
        member: tuple[str, str],
    ):
        key = Ed25519PrivateKey.generate()
        jwks.keys.append(jwk(key, "k1"))
        user_id, workspace = member
        token = sign_eddsa(key, claims_for(settings, user_id), {"kid": "k1"})
        response = await client.get("/v1/keys", headers=headers(token, workspace))
        assert response.status_code == 200, response.text
        assert jwks.hits >= 1

    async def test_unknown_kid_is_401(
        self,
        client: httpx.AsyncClient,
        settings: Settings,
        jwks: JwksServer,
        member: tuple[str, str],
    ):
        jwks.keys.append(jwk(Ed25519PrivateKey.generate(), "k1"))
        user_id, workspace = member
        stranger = Ed25519PrivateKey.generate()
        token = sign_eddsa(stranger, claims_for(settings, user_id), {"kid": "k-unknown"})
        response = await client.get("/v1/keys", headers=headers(token, workspace))
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"

    async def test_known_kid_but_other_signer_is_401(
        self,
        client: httpx.AsyncClient,
        settings: Settings,
        jwks: JwksServer,
        member: tuple[str, str],
    ):
        jwks.keys.append(jwk(Ed25519PrivateKey.generate(), "k1"))
        user_id, workspace = member
        forger = Ed25519PrivateKey.generate()
        token = sign_eddsa(forger, claims_for(settings, user_id), {"kid": "k1"})
        response = await client.get("/v1/keys", headers=headers(token, workspace))
        assert response.status_code == 401

    async def test_every_published_key_is_accepted(
        self,
        client: httpx.AsyncClient,
        settings: Settings,
        jwks: JwksServer,
        member: tuple[str, str],
    ):
        old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
        jwks.keys.extend([jwk(old, "old"), jwk(new, "new")])
        user_id, workspace = member
        for key, kid in ((old, "old"), (new, "new")):
            token = sign_eddsa(key, claims_for(settings, user_id), {"kid": kid})
            response = await client.get("/v1/keys", headers=headers(token, workspace))
            assert response.status_code == 200, (kid, response.text)

    async def test_key_published_later_is_picked_up_after_the_refresh_cooldown(
        self,
        client: httpx.AsyncClient,
        settings: Settings,
        jwks: JwksServer,
        member: tuple[str, str],
        monkeypatch: pytest.MonkeyPatch,
    ):
        old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
        jwks.keys.append(jwk(old, "old"))
        user_id, workspace = member
        first = sign_eddsa(old, claims_for(settings, user_id), {"kid": "old"})
        assert (await client.get("/v1/keys", headers=headers(first, workspace))).status_code == 200
        jwks.keys.append(jwk(new, "new"))
        # pyjwt refetches for an unknown kid at most once per cooldown (anti-DoS); move the
        # JWKS client's clock past it rather than sleeping.
        later = SimpleNamespace(monotonic=lambda: time.monotonic() + 3600, time=time.time)
        monkeypatch.setattr(jwks_client, "time", later)
        second = sign_eddsa(new, claims_for(settings, user_id), {"kid": "new"})
        response = await client.get("/v1/keys", headers=headers(second, workspace))
        assert response.status_code == 200, response.text

    async def test_unknown_kids_do_not_hammer_the_issuer(
        self,
        client: httpx.AsyncClient,
        settings: Settings,
        jwks: JwksServer,
        member: tuple[str, str],
    ):
        jwks.keys.append(jwk(Ed25519PrivateKey.generate(), "k1"))
        user_id, workspace = member
        stranger = Ed25519PrivateKey.generate()
        for n in range(5):
            token = sign_eddsa(stranger, claims_for(settings, user_id), {"kid": f"x{n}"})
            response = await client.get("/v1/keys", headers=headers(token, workspace))
            assert response.status_code == 401
        assert jwks.hits <= 2

    async def test_broken_jwks_document_is_401_not_500(
        self,
        client: httpx.AsyncClient,
        settings: Settings,
        jwks: JwksServer,
        member: tuple[str, str],
    ):
        jwks.body = b"<html>not json</html>"
        user_id, workspace = member
        key = Ed25519PrivateKey.generate()
        token = sign_eddsa(key, claims_for(settings, user_id), {"kid": "k1"})
        response = await client.get("/v1/keys", headers=headers(token, workspace))
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
