from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import func, select

from polypost.core.ids import Prefix, new_id
from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.models import (
    ApiKey,
    Event,
    Invite,
    Media,
    Membership,
    Post,
    PostTarget,
    SocialAccount,
    User,
    Webhook,
    WebhookDelivery,
    Workspace,
)
from tests.fixtures.factories import make_key, make_member, make_tenant
from tests.workspaces.people import bearer, make_user, oauth_bearer


class TestListBrands:
    async def test_api_key_sees_its_own_brand(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime, "acme")
        await make_tenant(runtime, "other")
        response = await client.get("/v1/brands", headers=tenant.headers)
        assert response.status_code == 200
        body = response.json()
        assert body["nextCursor"] is None
        assert body["brands"] == [
            {
                "brandId": tenant.workspace.id,
                "name": "acme",
                "timezone": "UTC",
                "storageQuotaBytes": runtime.settings.default_storage_quota_bytes,
                "rateLimitPerMinute": runtime.settings.rate_limit_per_minute,
                "createdAt": body["brands"][0]["createdAt"],
                "role": None,
            }
        ]
        assert body["brands"][0]["createdAt"].endswith("Z")

    async def test_user_sees_every_membership_with_role(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        first = await make_tenant(runtime, "first")
        second = await make_tenant(runtime, "second")
        stranger = await make_tenant(runtime, "stranger")
        user = await make_member(runtime, "ann@example.com", first.workspace.id, "editor")
        await make_member(runtime, "ann@example.com", second.workspace.id, "owner")
        response = await client.get("/v1/brands", headers=bearer(runtime, user.id))
        assert response.status_code == 200
        brands = response.json()["brands"]
        assert {(b["brandId"], b["role"]) for b in brands} == {
            (first.workspace.id, "editor"),
            (second.workspace.id, "owner"),
        }
        assert stranger.workspace.id not in response.text

    async def test_pages_with_cursor(self, client: httpx.AsyncClient, runtime: Runtime):
        user = await make_user(runtime, "ann@example.com")
        ids = []
        for name in ("a", "b", "c"):
            tenant = await make_tenant(runtime, name)
            await make_member(runtime, user.email, tenant.workspace.id, "viewer")
            ids.append(tenant.workspace.id)
        headers = bearer(runtime, user.id, ids[0])
        seen: list[str] = []
        cursor = None
        for _ in range(3):
            params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
            page = (await client.get("/v1/brands", headers=headers, params=params)).json()
            seen += [b["brandId"] for b in page["brands"]]
            cursor = page["nextCursor"]
            if cursor is None:
                break
        assert seen == ids

    async def test_user_without_workspace_gets_empty_list(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        user = await make_user(runtime, "new@example.com")
        response = await client.get("/v1/brands", headers=bearer(runtime, user.id))
        assert response.status_code == 200
        assert response.json() == {"brands": [], "nextCursor": None}
        assert "RateLimit-Limit" in response.headers

    async def test_missing_credential_is_401(self, client: httpx.AsyncClient):
        response = await client.get("/v1/brands")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"

    async def test_bad_limit_is_400(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        response = await client.get("/v1/brands", headers=tenant.headers, params={"limit": 0})
        assert response.status_code == 400
        assert response.json()["error"]["details"]["fields"][0]["field"] == "limit"


class TestCreateBrand:
    async def test_first_brand_of_a_new_user(self, client: httpx.AsyncClient, runtime: Runtime):
        user = await make_user(runtime, "new@example.com")
        response = await client.post(
            "/v1/brands",
            headers=bearer(runtime, user.id),
            json={"name": "Café Lune", "timezone": "Europe/Paris"},
        )
        assert response.status_code == 201
        brand = response.json()
        assert brand["brandId"].startswith("ws_")
        assert (brand["name"], brand["timezone"], brand["role"]) == (
            "Café Lune",
            "Europe/Paris",
            "owner",
        )
        # The creator's token now resolves to the new brand with full rights.
        keys = await client.post(
            "/v1/keys", headers=bearer(runtime, user.id), json={"name": "first"}
        )
        assert keys.status_code == 201
        listed = (await client.get("/v1/brands", headers=bearer(runtime, user.id))).json()
        assert [b["brandId"] for b in listed["brands"]] == [brand["brandId"]]

    async def test_timezone_defaults_to_utc(self, client: httpx.AsyncClient, runtime: Runtime):
        user = await make_user(runtime, "new@example.com")
        response = await client.post(
            "/v1/brands", headers=bearer(runtime, user.id), json={"name": "x"}
        )
        assert response.json()["timezone"] == "UTC"

    async def test_api_key_is_403(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        response = await client.post("/v1/brands", headers=tenant.headers, json={"name": "x"})
        assert response.status_code == 403
        error = response.json()["error"]
        assert error["code"] == "forbidden"
        assert "API keys" in error["message"]

    async def test_oauth_access_token_is_403(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        user = await make_member(runtime, "ann@example.com", tenant.workspace.id, "owner")
        response = await client.post(
            "/v1/brands",
            headers=oauth_bearer(runtime, user.id, "workspace:admin"),
            json={"name": "x"},
        )
        assert response.status_code == 403
        assert "OAuth" in response.json()["error"]["message"]

    async def test_invalid_bodies_are_400(self, client: httpx.AsyncClient, runtime: Runtime):
        user = await make_user(runtime, "new@example.com")
        headers = bearer(runtime, user.id)
        cases = [
            ({"name": "x", "timezone": "Mars/Olympus"}, "timezone"),
            ({"name": "x", "timezone": None}, "timezone"),
            ({"name": "   "}, "name"),
            ({"name": "x" * 201}, "name"),
            ({}, "name"),
            ({"name": "x", "storageQuotaBytes": 1}, "storageQuotaBytes"),
        ]
        for body, field in cases:
            response = await client.post("/v1/brands", headers=headers, json=body)
            assert response.status_code == 400, body
            fields = response.json()["error"]["details"]["fields"]
            assert fields[0]["field"] == field, body
        listed = (await client.get("/v1/brands", headers=headers)).json()
        assert listed["brands"] == []


class TestUpdateBrand:
    async def test_admin_key_updates_and_limit_applies(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        response = await client.patch(
            f"/v1/brands/{tenant.workspace.id}",
            headers=tenant.headers,
            json={"name": "Renamed", "timezone": "America/New_York", "rateLimitPerMinute": 7},
        )
        assert response.status_code == 200
        brand = response.json()
        assert (brand["name"], brand["timezone"], brand["rateLimitPerMinute"]) == (
            "Renamed",
            "America/New_York",
            7,
        )
        after = await client.get("/v1/brands", headers=tenant.headers)
        assert after.headers["RateLimit-Limit"] == "7"
        assert after.json()["brands"][0]["name"] == "Renamed"

    async def test_null_rate_limit_restores_default(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        url = f"/v1/brands/{tenant.workspace.id}"
        await client.patch(url, headers=tenant.headers, json={"rateLimitPerMinute": 50})
        response = await client.patch(
            url, headers=tenant.headers, json={"rateLimitPerMinute": None}
        )
        assert response.json()["rateLimitPerMinute"] == runtime.settings.rate_limit_per_minute
        assert response.json()["name"] == "acme"

    async def test_admin_user_updates_with_role(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        admin = await make_member(runtime, "adm@example.com", tenant.workspace.id, "admin")
        response = await client.patch(
            f"/v1/brands/{tenant.workspace.id}",
            headers=bearer(runtime, admin.id),
            json={"name": "By admin"},
        )
        assert response.status_code == 200
        assert response.json()["role"] == "admin"

    async def test_editor_and_viewer_are_403(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        for role in ("editor", "viewer"):
            user = await make_member(runtime, f"{role}@example.com", tenant.workspace.id, role)
            response = await client.patch(
                f"/v1/brands/{tenant.workspace.id}",
                headers=bearer(runtime, user.id),
                json={"name": "nope"},
            )
            assert response.status_code == 403, role
            assert response.json()["error"]["details"] == {"requiredScope": "workspace:admin"}

    async def test_key_without_scope_is_403(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        key = await make_key(runtime, tenant.workspace.id, {"posts:write"})
        response = await client.patch(
            f"/v1/brands/{tenant.workspace.id}", headers={"X-Api-Key": key}, json={"name": "n"}
        )
        assert response.status_code == 403

    async def test_other_workspace_is_404(self, client: httpx.AsyncClient, runtime: Runtime):
        first = await make_tenant(runtime, "first")
        second = await make_tenant(runtime, "second")
        response = await client.patch(
            f"/v1/brands/{first.workspace.id}", headers=second.headers, json={"name": "hijack"}
        )
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
        listed = (await client.get("/v1/brands", headers=first.headers)).json()
        assert listed["brands"][0]["name"] == "first"

    async def test_invalid_bodies_are_400(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        url = f"/v1/brands/{tenant.workspace.id}"
        cases = [
            ({"timezone": "Nowhere/Land"}, "timezone"),
            ({"rateLimitPerMinute": 0}, "rateLimitPerMinute"),
            ({"rateLimitPerMinute": 100_001}, "rateLimitPerMinute"),
            ({"name": None}, "name"),
            ({"name": ""}, "name"),
            ({"storageQuotaBytes": 10}, "storageQuotaBytes"),
        ]
        for body, field in cases:
            response = await client.patch(url, headers=tenant.headers, json=body)
            assert response.status_code == 400, body
            assert response.json()["error"]["details"]["fields"][0]["field"] == field, body

    async def test_overlong_id_is_400(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        response = await client.patch(
            "/v1/brands/" + "w" * 41, headers=tenant.headers, json={"name": "x"}
        )
        assert response.status_code == 400


async def fill_workspace(runtime: Runtime, workspace_id: str) -> None:
    """One row in every table that hangs off a workspace."""
    now = utcnow()
    async with runtime.sessions() as session:
        account = SocialAccount(
            id=new_id(Prefix.ACCOUNT),
            workspace_id=workspace_id,
            platform="sandbox",
            external_id=new_id("ext"),
            connected_at=now,
        )
        post = Post(
            id=new_id(Prefix.POST), workspace_id=workspace_id, post_type="text", status="draft"
        )
        session.add_all([account, post])
        await session.flush()
        session.add(
            PostTarget(
                id=new_id(Prefix.TARGET),
                post_id=post.id,
                workspace_id=workspace_id,
                account_id=account.id,
                platform="sandbox",
                status="draft",
            )
        )
        session.add(
            Media(
                id=new_id(Prefix.MEDIA),
                workspace_id=workspace_id,
                filename="a.png",
                content_type="image/png",
                storage_key="k",
            )
        )
        webhook = Webhook(
            id=new_id(Prefix.WEBHOOK), workspace_id=workspace_id, url="https://e.x", secret_enc="s"
        )
        event = Event(id=new_id(Prefix.EVENT), workspace_id=workspace_id, type="t", data={})
        session.add_all([webhook, event])
        await session.flush()
        session.add(
            WebhookDelivery(
                id=new_id(Prefix.DELIVERY),
                webhook_id=webhook.id,
                workspace_id=workspace_id,
                event_id=event.id,
                event_type="t",
                status="pending",
            )
        )
        session.add(
            Invite(
                id=new_id(Prefix.INVITE),
                workspace_id=workspace_id,
                role="viewer",
                token_hash=new_id("h"),
                expires_at=now + timedelta(days=1),
            )
        )
        await session.commit()


async def rows_of(runtime: Runtime, workspace_id: str) -> dict[str, int]:
    models = (
        ApiKey,
        Event,
        Invite,
        Media,
        Membership,
        Post,
        PostTarget,
        SocialAccount,
        Webhook,
        WebhookDelivery,
    )
    async with runtime.sessions() as session:
        counts = {
            model.__tablename__: (
                await session.scalar(
                    select(func.count())
                    .select_from(model)
                    .where(model.workspace_id == workspace_id)  # type: ignore[attr-defined]
                )
            )
            or 0
            for model in models
        }
        counts["workspaces"] = (
            await session.scalar(
                select(func.count()).select_from(Workspace).where(Workspace.id == workspace_id)
            )
        ) or 0
        return counts


class TestDeleteBrand:
    async def test_owner_deletes_everything_in_it(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        doomed = await make_tenant(runtime, "doomed")
        kept = await make_tenant(runtime, "kept")
        owner = await make_member(runtime, "own@example.com", doomed.workspace.id, "owner")
        await make_member(runtime, "ed@example.com", doomed.workspace.id, "editor")
        await fill_workspace(runtime, doomed.workspace.id)
        await fill_workspace(runtime, kept.workspace.id)
        before = await rows_of(runtime, doomed.workspace.id)
        assert all(count >= 1 for count in before.values()), before

        response = await client.delete(
            f"/v1/brands/{doomed.workspace.id}", headers=bearer(runtime, owner.id)
        )
        assert response.status_code == 200
        assert response.json() == {"brandId": doomed.workspace.id, "deleted": True}
        assert set((await rows_of(runtime, doomed.workspace.id)).values()) == {0}
        assert (await rows_of(runtime, kept.workspace.id)) == before | {"memberships": 0}
        gone_key = await client.get("/v1/brands", headers=doomed.headers)
        assert gone_key.status_code == 401
        assert (await client.get("/v1/brands", headers=kept.headers)).status_code == 200

    async def test_default_brand_falls_back_to_remaining_membership(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        first = await make_tenant(runtime, "first")
        second = await make_tenant(runtime, "second")
        third = await make_tenant(runtime, "third")
        owner = await make_member(runtime, "own@example.com", first.workspace.id, "owner")
        await make_member(runtime, owner.email, second.workspace.id, "viewer")
        await make_member(runtime, owner.email, third.workspace.id, "viewer")
        response = await client.delete(
            f"/v1/brands/{first.workspace.id}", headers=bearer(runtime, owner.id)
        )
        assert response.status_code == 200
        async with runtime.sessions() as session:
            user = await session.get(User, owner.id)
            assert user is not None
            assert user.default_workspace_id == second.workspace.id
        # Without X-Workspace-Id the token still resolves (to the new default).
        me = await client.get("/v1/usage", headers=bearer(runtime, owner.id))
        assert me.status_code == 200

    async def test_admin_is_403(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        admin = await make_member(runtime, "adm@example.com", tenant.workspace.id, "admin")
        response = await client.delete(
            f"/v1/brands/{tenant.workspace.id}", headers=bearer(runtime, admin.id)
        )
        assert response.status_code == 403
        assert response.json()["error"]["details"]["requiredRole"] == "owner"
        assert (await client.get("/v1/brands", headers=tenant.headers)).status_code == 200

    async def test_other_users_brand_is_404(self, client: httpx.AsyncClient, runtime: Runtime):
        mine = await make_tenant(runtime, "mine")
        theirs = await make_tenant(runtime, "theirs")
        owner = await make_member(runtime, "own@example.com", mine.workspace.id, "owner")
        for brand_id in (theirs.workspace.id, "ws_doesnotexist"):
            response = await client.delete(
                f"/v1/brands/{brand_id}", headers=bearer(runtime, owner.id)
            )
            assert response.status_code == 404
        assert (await client.get("/v1/brands", headers=theirs.headers)).status_code == 200

    async def test_api_key_is_403(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        response = await client.delete(f"/v1/brands/{tenant.workspace.id}", headers=tenant.headers)
        assert response.status_code == 403
        assert (await client.get("/v1/brands", headers=tenant.headers)).status_code == 200
