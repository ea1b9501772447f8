from __future__ import annotations

import httpx

from polypost.core.runtime import Runtime
from tests.fixtures.factories import make_key, make_tenant


class TestListKeys:
    async def test_lists_keys_without_secrets(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        response = await client.get("/v1/keys", headers=tenant.headers)
        assert response.status_code == 200
        body = response.json()
        assert [k["keyId"] for k in body["keys"]] == [tenant.key_id]
        assert tenant.key not in response.text
        assert body["nextCursor"] is None

    async def test_other_workspace_keys_are_invisible(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        first = await make_tenant(runtime, "first")
        second = await make_tenant(runtime, "second")
        response = await client.get("/v1/keys", headers=second.headers)
        assert first.key_id not in response.text


class TestCreateKey:
    async def test_created_key_is_shown_once_and_works(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        response = await client.post(
            "/v1/keys", headers=tenant.headers, json={"name": "ci", "scopes": ["posts:read"]}
        )
        assert response.status_code == 201
        created = response.json()
        assert created["key"].startswith("sk_live_")
        assert created["scopes"] == ["posts:read"]
        listed = await client.get("/v1/keys", headers=tenant.headers)
        assert created["key"] not in listed.text
        forbidden = await client.get("/v1/keys", headers={"X-Api-Key": created["key"]})
        assert forbidden.status_code == 403
        assert forbidden.json()["error"]["code"] == "forbidden"

    async def test_test_mode_key(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        response = await client.post(
            "/v1/keys", headers=tenant.headers, json={"name": "sandbox", "mode": "test"}
        )
        assert response.json()["key"].startswith("sk_test_")

    async def test_unknown_scope_is_400(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        response = await client.post(
            "/v1/keys", headers=tenant.headers, json={"name": "x", "scopes": ["posts:delete"]}
        )
        assert response.status_code == 400
        assert response.json()["error"]["details"]["fields"][0]["field"] == "scopes"

    async def test_cannot_grant_more_than_held(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        limited = await make_key(runtime, tenant.workspace.id, {"keys:write"})
        response = await client.post(
            "/v1/keys",
            headers={"X-Api-Key": limited},
            json={"name": "x", "scopes": ["posts:write"]},
        )
        assert response.status_code == 403


class TestRevokeKey:
    async def test_revocation_is_immediate(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        other = await make_key(runtime, tenant.workspace.id, {"posts:read", "keys:write"})
        assert (await client.get("/v1/keys", headers={"X-Api-Key": other})).status_code == 200
        listed = (await client.get("/v1/keys", headers=tenant.headers)).json()["keys"]
        other_id = next(k["keyId"] for k in listed if k["keyId"] != tenant.key_id)
        revoked = await client.delete(f"/v1/keys/{other_id}", headers=tenant.headers)
        assert revoked.status_code == 200
        after = await client.get("/v1/keys", headers={"X-Api-Key": other})
        assert after.status_code == 401
        assert "revoked" in after.json()["error"]["message"]

    async def test_other_workspace_key_is_404(self, client: httpx.AsyncClient, runtime: Runtime):
        first = await make_tenant(runtime, "first")
        second = await make_tenant(runtime, "second")
        response = await client.delete(f"/v1/keys/{first.key_id}", headers=second.headers)
        assert response.status_code == 404
        still = await client.get("/v1/keys", headers=first.headers)
        assert still.status_code == 200
