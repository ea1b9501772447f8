"""Dashboard and OAuth 2.1 tokens (EdDSA JWTs): who gets in, into which workspace, with
which scopes, and every forgery or stale token that must not."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete

from polypost.app import create_app
from polypost.core.runtime import Runtime
from polypost.models import Membership, User
from polypost.settings import Settings, load_settings
from tests.auth.conftest import Signer
from tests.auth.tokens import (
    claims_for,
    flip_signature_bit,
    hs256_with,
    public_pem,
    sign_eddsa,
    unsigned,
)
from tests.fixtures.factories import dev_jwt, make_member, make_tenant


def bearer(token: str, workspace_id: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if workspace_id is not None:
        headers["X-Workspace-Id"] = workspace_id
    return headers


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["requestId"] == response.headers["X-Request-Id"]


class TestValidToken:
    async def test_owner_token_with_workspace_header(
        self, client: httpx.AsyncClient, runtime: Runtime, sign: Signer
    ):
        tenant = await make_tenant(runtime)
        user = await make_member(runtime, "owner@example.com", tenant.workspace.id, "owner")
        response = await client.get("/v1/keys", headers=bearer(sign(user.id), tenant.workspace.id))
        assert response.status_code == 200, response.text
        assert [k["keyId"] for k in response.json()["keys"]] == [tenant.key_id]

    async def test_only_workspace_is_used_without_header(
        self, client: httpx.AsyncClient, runtime: Runtime, sign: Signer
    ):
        tenant = await make_tenant(runtime)
        user = await make_member(runtime, "solo@example.com", tenant.workspace.id, "admin")
        response = await client.get("/v1/keys", headers=bearer(sign(user.id)))
        assert response.status_code == 200
        assert [k["keyId"] for k in response.json()["keys"]] == [tenant.key_id]

    async def test_default_workspace_is_used_without_header(
        self, client: httpx.AsyncClient, runtime: Runtime, sign: Signer
    ):
        first = await make_tenant(runtime, "first")
        second = await make_tenant(runtime, "second")
        user = await make_member(runtime, "two@example.com", first.workspace.id, "owner")
        await make_member(runtime, "two@example.com", second.workspace.id, "owner")
        token = sign(user.id)
        default = await client.get("/v1/keys", headers=bearer(token))
        assert [k["keyId"] for k in default.json()["keys"]] == [first.key_id]
        chosen = await client.get("/v1/keys", headers=bearer(token, second.workspace.id))
        assert [k["keyId"] for k in chosen.json()["keys"]] == [second.key_id]

    async def test_key_created_with_a_token_works(
        self, client: httpx.AsyncClient, runtime: Runtime, sign: Signer
    ):
        tenant = await make_tenant(runtime)
        user = await make_member(runtime, "admin@example.com", tenant.workspace.id, "admin")
        created = await client.post(
            "/v1/keys",
            headers=bearer(sign(user.id), tenant.workspace.id),
            json={"name": "from dashboard", "scopes": ["keys:write"]},
        )
        assert created.status_code == 201, created.text
        listed = await client.get("/v1/keys", headers={"X-Api-Key": created.json()["key"]})
        assert listed.status_code == 200

    async def test_clock_skew_within_leeway_is_tolerated(
        self, client: httpx.AsyncClient, runtime: Runtime, sign: Signer
    ):
        tenant = await make_tenant(runtime)
        user = await make_member(runtime, "skew@example.com", tenant.workspace.id, "owner")
        token = sign(user.id, nbf=int(time.time()) + 5)
        response = await client.get("/v1/keys", headers=bearer(token))
        assert response.status_code == 200


class TestRoles:
    async def test_viewer_cannot_write(
        self, client: httpx.AsyncClient, runtime: Runtime, sign: Signer
    ):
        tenant = await make_tenant(runtime)
        user = await make_member(runtime, "viewer@example.com", tenant.workspace.id, "viewer")
        response = await client.post(
            "/v1/keys", headers=bearer(sign(user.id)), json={"name": "nope"}
        )
        assert_error(response, 403, "forbidden")
        assert response.json()["error"]["details"]["requiredScope"] == "keys:write"

    async def test_editor_lacks_keys_write(
        self, client: httpx.AsyncClient, runtime: Runtime, sign: Signer
    ):
        tenant = await make_tenant(runtime)
        user = await make_member(runtime, "editor@example.com", tenant.workspace.id, "editor")
        token = sign(user.id)
        listed = await client.get("/v1/keys", headers=bearer(token))
        assert_error(listed, 403, "forbidden")
        assert listed.json()["error"]["details"]["requiredScope"] == "keys:write"
        created = await client.post("/v1/keys", headers=bearer(token), json={"name": "nope"})
        assert_error(created, 403, "forbidden")

    @pytest.mark.parametrize("role", ["owner", "admin"])
    async def test_owner_and_admin_manage_keys(
        self, client: httpx.AsyncClient, runtime: Runtime, sign: Signer, role: str
    ):
        tenant = await make_tenant(runtime)
        user = await make_member(runtime, f"{role}@example.com", tenant.workspace.id, role)
        response = await client.post("/v1/keys", headers=bearer(sign(user.id)), json={"name": role})
        assert response.status_code == 201, response.text

    async def test_role_is_per_workspace(
        self, client: httpx.AsyncClient, runtime: Runtime, sign: Signer
    ):
        first = await make_tenant(runtime, "first")
        second = await make_tenant(runtime, "second")
        user = await make_member(runtime, "mixed@example.com", first.workspace.id, "owner")
        await make_member(runtime, "mixed@example.com", second.workspace.id, "viewer")
        token = sign(user.id)
        owner = await client.get("/v1/keys", headers=bearer(token, first.workspace.id))
        viewer = await client.get("/v1/keys", headers=bearer(token, second.workspace.id))
        assert owner.status_code == 200
        assert_error(viewer, 403, "forbidden")


class TestOAuthScopeClaim:
    async def test_scope_claim_narrows_role(
        self, client: httpx.AsyncClient, runtime: Runtime, sign: Signer
    ):
        tenant = await make_tenant(runtime)
        user = await make_member(runtime, "mcp@example.com", tenant.workspace.id, "owner")
        narrowed = sign(user.id, scope="posts:read accounts:read")
        response = await client.get("/v1/keys", headers=bearer(narrowed))
        assert_error(response, 403, "forbidden")
        assert response.json()["error"]["details"]["requiredScope"] == "keys:write"

    async def test_granted_scope_works_but_grants_nothing_more(
        self, client: httpx.AsyncClient, runtime: Runtime, sign: Signer
    ):
        tenant = await make_tenant(runtime)
        user = await make_member(runtime, "mcp@example.com", tenant.workspace.id, "owner")
        token = sign(user.id, scope="keys:write")
        assert (await client.get("/v1/keys", headers=bearer(token))).status_code == 200
        wider = await client.post(
            "/v1/keys", headers=bearer(token), json={"name": "x", "scopes": ["posts:read"]}
        )
        assert_error(wider, 403, "forbidden")

    async def test_scope_claim_as_a_list_narrows_too(
        self, client: httpx.AsyncClient, runtime: Runtime, sign: Signer
    ):
        tenant = await make_tenant(runtime)
        user = await make_member(runtime, "mcp@example.com", tenant.workspace.id, "owner")
        narrowed = sign(user.id, scope=["posts:read"])
        assert_error(await client.get("/v1/keys", headers=bearer(narrowed)), 403, "forbidden")
        granted = sign(user.id, scope=["keys:write"])
        assert (await client.get("/v1/keys", headers=bearer(granted))).status_code == 200

    @pytest.mark.parametrize("scope", [5, {"keys:write": True}, ["keys:write", 1]])
    async def test_malformed_scope_claim_is_refused(
        self, client: httpx.AsyncClient, runtime: Runtime, sign: Signer, scope: object
    ):
        tenant = await make_tenant(runtime)
        user = await make_member(runtime, "mcp@example.com", tenant.workspace.id, "owner")
        response = await client.get("/v1/keys", headers=bearer(sign(user.id, scope=scope)))
        assert_error(response, 401, "unauthorized")

    async def test_empty_scope_grants_nothing(
        self, client: httpx.AsyncClient, runtime: Runtime, sign: Signer
    ):
        tenant = await make_tenant(runtime)
        user = await make_member(runtime, "mcp@example.com", tenant.workspace.id, "owner")
        response = await client.get("/v1/keys", headers=bearer(sign(user.id, scope="")))
        assert_error(response, 403, "forbidden")

    async def test_scope_claim_cannot_widen_role(
        self, client: httpx.AsyncClient, runtime: Runtime, sign: Signer
    ):
        tenant = await make_tenant(runtime)
        user = await make_member(runtime, "viewer@example.com", tenant.workspace.id, "viewer")
        token = sign(user.id, scope="keys:write workspace:admin")
        assert_error(await client.get("/v1/keys", headers=bearer(token)), 403, "forbidden")


class TestWorkspaceSelection:
    async def test_workspace_the_user_is_not_in_is_404(
        self, client: httpx.AsyncClient, runtime: Runtime, sign: Signer
    ):
        mine = await make_tenant(runtime, "mine")
        theirs = await make_tenant(runtime, "theirs")
        user = await make_member(runtime, "me@example.com", mine.workspace.id, "owner")
        response = await client.get("/v1/keys", headers=bearer(sign(user.id), theirs.workspace.id))
        assert_error(response, 404, "not_found")
        assert theirs.key_id not in response.text

    async def test_nonexistent_workspace_is_404(
        self, client: httpx.AsyncClient, runtime: Runtime, sign: Signer
    ):
        mine = await make_tenant(runtime, "mine")
        user = await make_member(runtime, "me@example.com", mine.workspace.id, "owner")
        response = await client.get("/v1/keys", headers=bearer(sign(user.id), "ws_nothing"))
        assert_error(response, 404, "not_found")

    async def test_several_workspaces_without_header_or_default_is_400(
        self, client: httpx.AsyncClient, runtime: Runtime, sign: Signer
    ):
        first = await make_tenant(runtime, "first")
        second = await make_tenant(runtime, "second")
        user = await make_member(runtime, "many@example.com", first.workspace.id, "owner")
        await make_member(runtime, "many@example.com", second.workspace.id, "owner")
        async with runtime.sessions() as session:
            row = await session.get(User, user.id)
            assert row is not None
            row.default_workspace_id = None
            await session.commit()
        response = await client.get("/v1/keys", headers=bearer(sign(user.id)))
        assert_error(response, 400, "bad_request")
        assert "X-Workspace-Id" in response.json()["error"]["message"]

    async def test_user_without_workspace_is_refused(
        self, client: httpx.AsyncClient, runtime: Runtime, sign: Signer
    ):
        tenant = await make_tenant(runtime)
        user = await make_member(runtime, "gone@example.com", tenant.workspace.id, "owner")
        async with runtime.sessions() as session:
            await session.execute(delete(Membership).where(Membership.user_id == user.id))
            await session.commit()
        response = await client.get("/v1/keys", headers=bearer(sign(user.id)))
        assert_error(response, 404, "not_found")
        assert tenant.key_id not in response.text


class TestRejectedTokens:
    @pytest.fixture
    async def member(self, runtime: Runtime) -> tuple[str, str]:
        tenant = await make_tenant(runtime)
        user = await make_member(runtime, "target@example.com", tenant.workspace.id, "owner")
        return user.id, tenant.workspace.id

    async def assert_rejected(self, client: httpx.AsyncClient, token: str, workspace: str) -> None:
        response = await client.get("/v1/keys", headers=bearer(token, workspace))
        assert_error(response, 401, "unauthorized")
        assert "Traceback" not in response.text

    async def test_control_token_is_accepted(
        self, client: httpx.AsyncClient, sign: Signer, member: tuple[str, str]
    ):
        user_id, workspace = member
        response = await client.get("/v1/keys", headers=bearer(sign(user_id), workspace))
        assert response.status_code == 200

    async def test_alg_none(
        self, client: httpx.AsyncClient, settings: Settings, member: tuple[str, str]
    ):
        user_id, workspace = member
        await self.assert_rejected(client, unsigned(claims_for(settings, user_id)), workspace)

    async def test_hs256_signed_with_public_key(
        self,
        client: httpx.AsyncClient,
        settings: Settings,
        signing_key: Ed25519PrivateKey,
        member: tuple[str, str],
    ):
        user_id, workspace = member
        claims = claims_for(settings, user_id)
        pem = public_pem(signing_key).encode()
        raw = signing_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        for secret in (pem, raw):
            await self.assert_rejected(client, hs256_with(secret, claims), workspace)

    async def test_expired(self, client: httpx.AsyncClient, sign: Signer, member: tuple[str, str]):
        user_id, workspace = member
        now = int(time.time())
        token = sign(user_id, iat=now - 7200, exp=now - 3600)
        await self.assert_rejected(client, token, workspace)

    async def test_not_yet_valid(
        self, client: httpx.AsyncClient, sign: Signer, member: tuple[str, str]
    ):
        user_id, workspace = member
        await self.assert_rejected(client, sign(user_id, nbf=int(time.time()) + 3600), workspace)

    async def test_wrong_audience(
        self, client: httpx.AsyncClient, sign: Signer, member: tuple[str, str]
    ):
        user_id, workspace = member
        await self.assert_rejected(client, sign(user_id, aud="someone-else"), workspace)

    async def test_wrong_issuer(
        self, client: httpx.AsyncClient, sign: Signer, member: tuple[str, str]
    ):
        user_id, workspace = member
        await self.assert_rejected(client, sign(user_id, iss="https://evil.example"), workspace)

    @pytest.mark.parametrize("claim", ["exp", "aud", "iss", "sub"])
    async def test_missing_required_claim(
        self, client: httpx.AsyncClient, sign: Signer, member: tuple[str, str], claim: str
    ):
        user_id, workspace = member
        await self.assert_rejected(client, sign(user_id, **{claim: None}), workspace)

    async def test_flipped_signature_bit(
        self, client: httpx.AsyncClient, sign: Signer, member: tuple[str, str]
    ):
        user_id, workspace = member
        await self.assert_rejected(client, flip_signature_bit(sign(user_id)), workspace)

    async def test_tampered_payload(
        self,
        client: httpx.AsyncClient,
        settings: Settings,
        sign: Signer,
        member: tuple[str, str],
    ):
        user_id, workspace = member
        genuine = sign("usr_someone_else")
        forged = unsigned(claims_for(settings, user_id)).split(".")[1]
        head, _, signature = genuine.split(".")
        await self.assert_rejected(client, f"{head}.{forged}.{signature}", workspace)

    async def test_signed_by_an_untrusted_key(
        self, client: httpx.AsyncClient, settings: Settings, member: tuple[str, str]
    ):
        user_id, workspace = member
        stranger = Ed25519PrivateKey.generate()
        token = sign_eddsa(stranger, claims_for(settings, user_id))
        await self.assert_rejected(client, token, workspace)

    async def test_unknown_user(
        self, client: httpx.AsyncClient, sign: Signer, member: tuple[str, str]
    ):
        _, workspace = member
        await self.assert_rejected(client, sign("usr_doesnotexist"), workspace)

    @pytest.mark.parametrize("token", ["a.b.c", "..", "eyJhbGciOiJFZERTQSJ9.e30.", "x" * 5000])
    async def test_garbage(self, client: httpx.AsyncClient, member: tuple[str, str], token: str):
        _, workspace = member
        await self.assert_rejected(client, token, workspace)


async def test_dev_token_from_embedded_data_dir(clean_sqlite: str, tmp_path: Path) -> None:
    """`polypost token` tokens (the data-dir key) work in embedded mode with no config."""
    settings = load_settings(database_url=clean_sqlite, redis_url=None, data_dir=tmp_path / "d")
    assert settings.jwt_private_key is not None
    runtime = Runtime.build(settings)
    try:
        app = create_app(runtime=runtime, run_jobs=False)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            tenant = await make_tenant(runtime)
            user = await make_member(runtime, "dev@example.com", tenant.workspace.id, "owner")
            response = await client.get("/v1/keys", headers=bearer(dev_jwt(runtime, user.id)))
            assert response.status_code == 200, response.text
            expired = dev_jwt(runtime, user.id, ttl_seconds=-120)
            assert_error(await client.get("/v1/keys", headers=bearer(expired)), 401, "unauthorized")
    finally:
        await runtime.close()
