"""`/v1/oauth/redirect-uris`: the whitelist connect flows redirect to."""

from __future__ import annotations

import httpx
import pytest

from polypost.core.runtime import Runtime
from tests.accounts.fakes import whitelist
from tests.fixtures.factories import make_tenant

URI = "https://app.example.com/oauth/done"


class TestRedirectUris:
    async def test_add_list_delete(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        created = await client.post(
            "/v1/oauth/redirect-uris", headers=tenant.headers, json={"uri": URI}
        )
        assert created.status_code == 201
        body = created.json()
        assert body["uri"] == URI
        assert body["redirectUriId"].startswith("rdu_")
        assert body["createdAt"].endswith("Z")
        listed = await client.get("/v1/oauth/redirect-uris", headers=tenant.headers)
        assert listed.json() == {"redirectUris": [body], "nextCursor": None}
        deleted = await client.delete(
            f"/v1/oauth/redirect-uris/{body['redirectUriId']}", headers=tenant.headers
        )
        assert deleted.status_code == 200
        assert deleted.json() == {"redirectUriId": body["redirectUriId"], "deleted": True}
        listed = await client.get("/v1/oauth/redirect-uris", headers=tenant.headers)
        assert listed.json()["redirectUris"] == []

    async def test_pages_with_a_cursor(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        ids = [await whitelist(client, tenant.headers, f"{URI}/{n}") for n in range(5)]
        first = (await client.get("/v1/oauth/redirect-uris?limit=3", headers=tenant.headers)).json()
        second = (
            await client.get(
                f"/v1/oauth/redirect-uris?limit=3&cursor={first['nextCursor']}",
                headers=tenant.headers,
            )
        ).json()
        seen = [r["redirectUriId"] for r in first["redirectUris"] + second["redirectUris"]]
        assert sorted(seen) == sorted(ids)
        assert second["nextCursor"] is None

    @pytest.mark.parametrize(
        "uri",
        [
            "http://app.example.com/done",  # http only for loopback
            "https://app.example.com/done#frag",
            "https://user:pass@app.example.com/done",
            "ftp://app.example.com/done",
            "/relative/path",
            "https://" + "a" * 2050 + ".example",
        ],
    )
    async def test_unsafe_uris_are_400(self, client: httpx.AsyncClient, runtime: Runtime, uri: str):
        tenant = await make_tenant(runtime)
        response = await client.post(
            "/v1/oauth/redirect-uris", headers=tenant.headers, json={"uri": uri}
        )
        assert response.status_code == 400, uri
        assert response.json()["error"]["details"]["fields"][0]["field"] == "uri"

    @pytest.mark.parametrize(
        "uri", ["http://localhost:3000/cb", "http://127.0.0.1:8080/cb", "http://[::1]/cb"]
    )
    async def test_loopback_http_is_allowed(
        self, client: httpx.AsyncClient, runtime: Runtime, uri: str
    ):
        tenant = await make_tenant(runtime)
        response = await client.post(
            "/v1/oauth/redirect-uris", headers=tenant.headers, json={"uri": uri}
        )
        assert response.status_code == 201, response.text

    async def test_duplicate_is_409(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        first_id = await whitelist(client, tenant.headers, URI)
        again = await client.post(
            "/v1/oauth/redirect-uris", headers=tenant.headers, json={"uri": URI}
        )
        assert again.status_code == 409
        assert again.json()["error"]["details"]["redirectUriId"] == first_id

    async def test_workspaces_are_isolated(self, client: httpx.AsyncClient, runtime: Runtime):
        owner = await make_tenant(runtime, "owner")
        other = await make_tenant(runtime, "other")
        uri_id = await whitelist(client, owner.headers, URI)
        assert (await client.get("/v1/oauth/redirect-uris", headers=other.headers)).json()[
            "redirectUris"
        ] == []
        response = await client.delete(f"/v1/oauth/redirect-uris/{uri_id}", headers=other.headers)
        assert response.status_code == 404
        # The same URI may be whitelisted by several workspaces.
        assert await whitelist(client, other.headers, URI)

    async def test_needs_workspace_admin(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime, scopes={"accounts:read", "accounts:write"})
        listed = await client.get("/v1/oauth/redirect-uris", headers=tenant.headers)
        created = await client.post(
            "/v1/oauth/redirect-uris", headers=tenant.headers, json={"uri": URI}
        )
        assert listed.status_code == created.status_code == 403
        assert created.json()["error"]["details"]["requiredScope"] == "workspace:admin"
