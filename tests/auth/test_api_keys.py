"""API-key authentication as a client sees it: every accepted form and every bad one."""

from __future__ import annotations

import secrets
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from polypost.auth.scopes import ALL_SCOPES
from polypost.core.crypto import keyed_hash
from polypost.core.ids import Prefix, new_id
from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.keys.service import issue_key
from polypost.models import ApiKey
from tests.fixtures.factories import make_key, make_tenant


async def import_legacy_key(runtime: Runtime, workspace_id: str) -> str:
    """`sapi_key_…` keys are never issued, only imported: store the hash directly."""
    plaintext = "sapi_key_" + secrets.token_urlsafe(32)
    async with runtime.sessions() as session:
        session.add(
            ApiKey(
                id=new_id(Prefix.API_KEY),
                workspace_id=workspace_id,
                name="imported",
                prefix=plaintext[:13],
                last_four=plaintext[-4:],
                key_hash=keyed_hash(runtime.settings.signing_key, plaintext),
                scopes=sorted(ALL_SCOPES),
                mode="live",
            )
        )
        await session.commit()
    return plaintext


def assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["code"] == "unauthorized"
    assert error["requestId"] == response.headers["X-Request-Id"]
    assert error["message"]


class TestAcceptedKeys:
    @pytest.mark.parametrize("test_mode", [False, True], ids=["sk_live", "sk_test"])
    @pytest.mark.parametrize("header", ["X-Api-Key", "Authorization"])
    async def test_issued_key_in_either_header(
        self, client: httpx.AsyncClient, runtime: Runtime, header: str, test_mode: bool
    ):
        tenant = await make_tenant(runtime, test=test_mode)
        assert tenant.key.startswith("sk_test_" if test_mode else "sk_live_")
        value = tenant.key if header == "X-Api-Key" else f"Bearer {tenant.key}"
        response = await client.get("/v1/keys", headers={header: value})
        assert response.status_code == 200, response.text
        assert [k["keyId"] for k in response.json()["keys"]] == [tenant.key_id]

    @pytest.mark.parametrize("header", ["X-Api-Key", "Authorization"])
    async def test_imported_sapi_key(
        self, client: httpx.AsyncClient, runtime: Runtime, header: str
    ):
        tenant = await make_tenant(runtime)
        legacy = await import_legacy_key(runtime, tenant.workspace.id)
        value = legacy if header == "X-Api-Key" else f"Bearer {legacy}"
        response = await client.get("/v1/keys", headers={header: value})
        assert response.status_code == 200, response.text
        assert len(response.json()["keys"]) == 2

    async def test_bearer_scheme_is_case_insensitive(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        response = await client.get("/v1/keys", headers={"Authorization": f"bearer {tenant.key}"})
        assert response.status_code == 200

    async def test_last_used_at_is_recorded(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        before = utcnow()
        response = await client.get("/v1/keys", headers=tenant.headers)
        listed = response.json()["keys"][0]
        assert listed["lastUsedAt"] is not None
        async with runtime.sessions() as session:
            row = await session.get(ApiKey, tenant.key_id)
            assert row is not None
            assert row.last_used_at is not None
            assert row.last_used_at >= before - timedelta(seconds=1)

    async def test_unused_key_has_no_last_used_at(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        await make_key(runtime, tenant.workspace.id, {"posts:read"})
        keys = (await client.get("/v1/keys", headers=tenant.headers)).json()["keys"]
        unused = [k for k in keys if k["keyId"] != tenant.key_id]
        assert [k["lastUsedAt"] for k in unused] == [None]


class TestRejectedCredentials:
    async def test_no_credential(self, client: httpx.AsyncClient, runtime: Runtime):
        assert_unauthorized(await client.get("/v1/keys"))

    async def test_bad_checksum(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        last = tenant.key[-1]
        tampered = tenant.key[:-1] + ("A" if last != "A" else "B")
        response = await client.get("/v1/keys", headers={"X-Api-Key": tampered})
        assert_unauthorized(response)
        assert "malformed" in response.json()["error"]["message"].lower()

    @pytest.mark.parametrize(
        "credential",
        ["sk_live_", "sk_live_short", "sapi_key_x", "sapi_key_has spaces in it!!", "sk_live_" * 40],
    )
    async def test_malformed_keys(
        self, client: httpx.AsyncClient, runtime: Runtime, credential: str
    ):
        await make_tenant(runtime)
        assert_unauthorized(await client.get("/v1/keys", headers={"X-Api-Key": credential}))

    async def test_well_formed_but_unknown_key(self, client: httpx.AsyncClient, runtime: Runtime):
        other = await make_tenant(runtime)
        async with runtime.sessions() as session:
            # A real key for this server, then deleted: checksum valid, hash unknown.
            row, plaintext = await issue_key(
                session, runtime.settings.signing_key, other.workspace.id, name="x", scopes=[]
            )
            await session.delete(row)
            await session.commit()
        response = await client.get("/v1/keys", headers={"X-Api-Key": plaintext})
        assert_unauthorized(response)
        assert "unknown" in response.json()["error"]["message"].lower()

    async def test_unknown_legacy_key(self, client: httpx.AsyncClient, runtime: Runtime):
        response = await client.get(
            "/v1/keys", headers={"X-Api-Key": "sapi_key_" + secrets.token_urlsafe(32)}
        )
        assert_unauthorized(response)

    async def test_key_hashed_with_another_pepper_is_unknown(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        async with runtime.sessions() as session:
            row = await session.get(ApiKey, tenant.key_id)
            assert row is not None
            row.key_hash = keyed_hash(b"another-server-pepper-0123456789abcdef", tenant.key)
            await session.commit()
        assert_unauthorized(await client.get("/v1/keys", headers=tenant.headers))

    async def test_revoked_key(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        async with runtime.sessions() as session:
            row = await session.get(ApiKey, tenant.key_id)
            assert row is not None
            row.revoked_at = utcnow()
            await session.commit()
        response = await client.get("/v1/keys", headers=tenant.headers)
        assert_unauthorized(response)
        assert "revoked" in response.json()["error"]["message"]

    async def test_expired_key(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        async with runtime.sessions() as session:
            _, expired = await issue_key(
                session,
                runtime.settings.signing_key,
                tenant.workspace.id,
                name="old",
                scopes=sorted(ALL_SCOPES),
                expires_at=utcnow() - timedelta(minutes=1),
            )
            _, valid = await issue_key(
                session,
                runtime.settings.signing_key,
                tenant.workspace.id,
                name="new",
                scopes=sorted(ALL_SCOPES),
                expires_at=utcnow() + timedelta(hours=1),
            )
            await session.commit()
        response = await client.get("/v1/keys", headers={"X-Api-Key": expired})
        assert_unauthorized(response)
        assert "expired" in response.json()["error"]["message"]
        assert (await client.get("/v1/keys", headers={"X-Api-Key": valid})).status_code == 200

    async def test_rejected_key_is_not_marked_used(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        async with runtime.sessions() as session:
            row = await session.get(ApiKey, tenant.key_id)
            assert row is not None
            row.revoked_at = utcnow()
            await session.commit()
        await client.get("/v1/keys", headers=tenant.headers)
        async with runtime.sessions() as session:
            last_used = (
                await session.execute(select(ApiKey.last_used_at).where(ApiKey.id == tenant.key_id))
            ).scalar_one()
        assert last_used is None

    @pytest.mark.parametrize(
        "authorization",
        [
            "Basic dXNlcjpwYXNz",
            "Token {key}",
            "{key}",
            "Bearer",
            "Bearer ",
            "Bearer    ",
            "Digest username=x",
        ],
    )
    async def test_bad_authorization_header(
        self, client: httpx.AsyncClient, runtime: Runtime, authorization: str
    ):
        tenant = await make_tenant(runtime)
        response = await client.get(
            "/v1/keys", headers={"Authorization": authorization.format(key=tenant.key)}
        )
        assert_unauthorized(response)

    async def test_garbage_bearer_token(self, client: httpx.AsyncClient, runtime: Runtime):
        response = await client.get("/v1/keys", headers={"Authorization": "Bearer not-a-token"})
        assert_unauthorized(response)

    async def test_rejected_credential_on_write_route_changes_nothing(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        response = await client.post(
            "/v1/keys", headers={"X-Api-Key": tenant.key[:-1] + "0"}, json={"name": "x"}
        )
        assert_unauthorized(response)
        keys = (await client.get("/v1/keys", headers=tenant.headers)).json()["keys"]
        assert len(keys) == 1

    async def test_401_names_the_schemes(self, client: httpx.AsyncClient, runtime: Runtime):
        response = await client.get("/v1/keys")
        assert_unauthorized(response)
        assert "Bearer" in response.headers.get("WWW-Authenticate", "")
