from __future__ import annotations

import httpx
from sqlalchemy import func, select

from polypost.core.runtime import Runtime
from polypost.models import Membership, User
from tests.fixtures.factories import make_member, make_tenant
from tests.workspaces.people import bearer, make_user, oauth_bearer


class TestGetMe:
    async def test_profile_with_memberships(self, client: httpx.AsyncClient, runtime: Runtime):
        first = await make_tenant(runtime, "first")
        second = await make_tenant(runtime, "second")
        await make_tenant(runtime, "stranger")
        user = await make_member(runtime, "Ann@Example.com", first.workspace.id, "owner")
        await make_member(runtime, "ann@example.com", second.workspace.id, "viewer")
        response = await client.get("/v1/users/me", headers=bearer(runtime, user.id))
        assert response.status_code == 200
        me = response.json()
        assert (me["userId"], me["email"], me["name"]) == (user.id, "ann@example.com", None)
        assert me["defaultBrandId"] == first.workspace.id
        assert me["createdAt"].endswith("Z")
        assert [(m["brandId"], m["name"], m["role"]) for m in me["memberships"]] == [
            (first.workspace.id, "first", "owner"),
            (second.workspace.id, "second", "viewer"),
        ]

    async def test_user_without_workspace(self, client: httpx.AsyncClient, runtime: Runtime):
        user = await make_user(runtime, "new@example.com", name="New")
        response = await client.get("/v1/users/me", headers=bearer(runtime, user.id))
        assert response.status_code == 200
        me = response.json()
        assert (me["name"], me["memberships"], me["defaultBrandId"]) == ("New", [], None)

    async def test_oauth_access_token_may_read(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        user = await make_member(runtime, "ann@example.com", tenant.workspace.id, "editor")
        response = await client.get(
            "/v1/users/me", headers=oauth_bearer(runtime, user.id, "posts:read")
        )
        assert response.status_code == 200
        assert response.json()["userId"] == user.id

    async def test_api_key_is_403_with_reason(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        response = await client.get("/v1/users/me", headers=tenant.headers)
        assert response.status_code == 403
        error = response.json()["error"]
        assert error["code"] == "forbidden"
        assert "API keys act for a workspace" in error["message"]

    async def test_bad_credentials_are_401(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        for headers in (
            {},
            {"Authorization": "Bearer not-a-token"},
            {"Authorization": "Basic abc"},
            {"X-Api-Key": tenant.key[:-1] + ("A" if tenant.key[-1] != "A" else "B")},
            bearer(runtime, "usr_nobody"),
        ):
            response = await client.get("/v1/users/me", headers=headers)
            assert response.status_code == 401, headers
            assert response.json()["error"]["code"] == "unauthorized"


class TestUpdateMe:
    async def test_sets_and_clears_name(self, client: httpx.AsyncClient, runtime: Runtime):
        user = await make_user(runtime, "ann@example.com")
        headers = bearer(runtime, user.id)
        response = await client.patch("/v1/users/me", headers=headers, json={"name": " Ann "})
        assert response.status_code == 200
        assert response.json()["name"] == "Ann"
        assert (await client.get("/v1/users/me", headers=headers)).json()["name"] == "Ann"
        untouched = await client.patch("/v1/users/me", headers=headers, json={})
        assert untouched.json()["name"] == "Ann"
        cleared = await client.patch("/v1/users/me", headers=headers, json={"name": None})
        assert cleared.json()["name"] is None

    async def test_invalid_bodies_are_400(self, client: httpx.AsyncClient, runtime: Runtime):
        user = await make_user(runtime, "ann@example.com", name="Ann")
        headers = bearer(runtime, user.id)
        for body, field in (
            ({"name": ""}, "name"),
            ({"name": "x" * 201}, "name"),
            ({"name": 5}, "name"),
            ({"email": "evil@example.com"}, "email"),
        ):
            response = await client.patch("/v1/users/me", headers=headers, json=body)
            assert response.status_code == 400, body
            assert response.json()["error"]["details"]["fields"][0]["field"] == field
        assert (await client.get("/v1/users/me", headers=headers)).json()["name"] == "Ann"

    async def test_api_key_and_oauth_token_are_403(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        user = await make_member(runtime, "ann@example.com", tenant.workspace.id, "owner")
        for headers in (tenant.headers, oauth_bearer(runtime, user.id, "workspace:admin")):
            response = await client.patch("/v1/users/me", headers=headers, json={"name": "x"})
            assert response.status_code == 403


class TestDeleteMe:
    async def test_deletes_user_and_memberships_keeps_brand(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        user = await make_member(runtime, "ann@example.com", tenant.workspace.id, "owner")
        headers = bearer(runtime, user.id)
        response = await client.delete("/v1/users/me", headers=headers)
        assert response.status_code == 200
        assert response.json() == {"userId": user.id, "deleted": True}
        assert (await client.get("/v1/users/me", headers=headers)).status_code == 401
        async with runtime.sessions() as session:
            assert await session.get(User, user.id) is None
            left = await session.scalar(
                select(func.count()).select_from(Membership).where(Membership.user_id == user.id)
            )
            assert left == 0
        # The brand and its API keys outlive the user.
        assert (await client.get("/v1/brands", headers=tenant.headers)).status_code == 200

    async def test_sole_owner_of_shared_brand_is_409(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        shared = await make_tenant(runtime, "shared")
        solo = await make_tenant(runtime, "solo")
        owner = await make_member(runtime, "own@example.com", shared.workspace.id, "owner")
        await make_member(runtime, owner.email, solo.workspace.id, "owner")
        await make_member(runtime, "ed@example.com", shared.workspace.id, "editor")
        headers = bearer(runtime, owner.id)
        response = await client.delete("/v1/users/me", headers=headers)
        assert response.status_code == 409
        error = response.json()["error"]
        assert error["code"] == "conflict"
        assert error["details"] == {"brandIds": [shared.workspace.id]}
        assert (await client.get("/v1/users/me", headers=headers)).status_code == 200
        # A second owner lifts the block.
        await make_member(runtime, "co@example.com", shared.workspace.id, "owner")
        assert (await client.delete("/v1/users/me", headers=headers)).status_code == 200

    async def test_non_owner_member_may_leave(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        await make_member(runtime, "own@example.com", tenant.workspace.id, "owner")
        editor = await make_member(runtime, "ed@example.com", tenant.workspace.id, "editor")
        response = await client.delete("/v1/users/me", headers=bearer(runtime, editor.id))
        assert response.status_code == 200

    async def test_api_key_and_oauth_token_are_403(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        user = await make_member(runtime, "ann@example.com", tenant.workspace.id, "owner")
        for headers in (tenant.headers, oauth_bearer(runtime, user.id, "workspace:admin")):
            response = await client.delete("/v1/users/me", headers=headers)
            assert response.status_code == 403
        assert (await client.get("/v1/users/me", headers=bearer(runtime, user.id))).is_success
