from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select, update

from polypost.core.crypto import keyed_hash
from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.models import Invite, Membership
from tests.fixtures.factories import make_key, make_member, make_tenant
from tests.workspaces.people import bearer, make_user, oauth_bearer


async def invite(
    client: httpx.AsyncClient, headers: dict[str, str], **body: object
) -> dict[str, object]:
    response = await client.post("/v1/invites", headers=headers, json={"role": "editor"} | body)
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


async def role_in(runtime: Runtime, user_id: str, workspace_id: str) -> str | None:
    async with runtime.sessions() as session:
        return await session.scalar(
            select(Membership.role).where(
                Membership.user_id == user_id, Membership.workspace_id == workspace_id
            )
        )


class TestCreateInvite:
    async def test_token_shown_once_and_only_hash_stored(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        before = utcnow()
        response = await client.post(
            "/v1/invites",
            headers=tenant.headers,
            json={"email": "Bob@Example.com", "role": "viewer"},
        )
        assert response.status_code == 201
        created = response.json()
        token = created["token"]
        assert created["inviteId"].startswith("inv_")
        assert created["brandId"] == tenant.workspace.id
        assert (created["email"], created["role"], created["status"]) == (
            "bob@example.com",
            "viewer",
            "pending",
        )
        assert created["acceptUrl"] == (
            f"{runtime.settings.public_base_url}/v1/invites/{token}/accept"
        )
        expires = datetime.fromisoformat(created["expiresAt"])
        assert timedelta(hours=167) < expires - before <= timedelta(hours=168, seconds=5)
        async with runtime.sessions() as session:
            row = await session.get(Invite, created["inviteId"])
            assert row is not None
            assert row.token_hash == keyed_hash(runtime.settings.signing_key, token)
            assert token not in repr(vars(row))
        listed = await client.get("/v1/invites", headers=tenant.headers)
        assert token not in listed.text

    async def test_custom_expiry(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        created = await invite(client, tenant.headers, expiresInHours=1)
        expires = datetime.fromisoformat(str(created["expiresAt"]))
        assert expires - utcnow() < timedelta(hours=1, seconds=5)

    async def test_invalid_bodies_are_400(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        cases = [
            ({"role": "editor", "expiresInHours": 0}, "expiresInHours"),
            ({"role": "editor", "expiresInHours": 721}, "expiresInHours"),
            ({"role": "superuser"}, "role"),
            ({}, "role"),
            ({"role": "editor", "email": "not-an-email"}, "email"),
            ({"role": "editor", "email": "a@b.c" + "c" * 320}, "email"),
            ({"role": "editor", "token": "mine"}, "token"),
        ]
        for body, field in cases:
            response = await client.post("/v1/invites", headers=tenant.headers, json=body)
            assert response.status_code == 400, body
            assert response.json()["error"]["details"]["fields"][0]["field"] == field, body

    async def test_api_key_may_invite_up_to_admin(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        await invite(client, tenant.headers, role="admin")
        response = await client.post("/v1/invites", headers=tenant.headers, json={"role": "owner"})
        assert response.status_code == 403
        assert response.json()["error"]["details"] == {
            "role": "owner",
            "highestGrantable": "admin",
        }

    async def test_admin_user_cannot_invite_owner(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        admin = await make_member(runtime, "adm@example.com", tenant.workspace.id, "admin")
        headers = bearer(runtime, admin.id)
        response = await client.post("/v1/invites", headers=headers, json={"role": "owner"})
        assert response.status_code == 403
        assert (
            await client.post("/v1/invites", headers=headers, json={"role": "admin"})
        ).is_success

    async def test_owner_user_can_invite_owner(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        owner = await make_member(runtime, "own@example.com", tenant.workspace.id, "owner")
        created = await invite(client, bearer(runtime, owner.id), role="owner")
        assert created["role"] == "owner"

    async def test_editor_and_viewer_are_403(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        for role in ("editor", "viewer"):
            user = await make_member(runtime, f"{role}@example.com", tenant.workspace.id, role)
            response = await client.post(
                "/v1/invites", headers=bearer(runtime, user.id), json={"role": "viewer"}
            )
            assert response.status_code == 403, role

    async def test_key_without_scope_is_403(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        key = await make_key(runtime, tenant.workspace.id, {"keys:write", "posts:write"})
        response = await client.post(
            "/v1/invites", headers={"X-Api-Key": key}, json={"role": "viewer"}
        )
        assert response.status_code == 403
        assert response.json()["error"]["details"] == {"requiredScope": "workspace:admin"}


class TestListInvites:
    async def test_lists_own_invites_with_status(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime, "mine")
        other = await make_tenant(runtime, "other")
        pending = await invite(client, tenant.headers)
        expired = await invite(client, tenant.headers)
        foreign = await invite(client, other.headers)
        async with runtime.sessions() as session:
            await session.execute(
                update(Invite)
                .where(Invite.id == expired["inviteId"])
                .values(expires_at=utcnow() - timedelta(minutes=1))
            )
            await session.commit()
        response = await client.get("/v1/invites", headers=tenant.headers)
        assert response.status_code == 200
        body = response.json()
        assert [(i["inviteId"], i["status"]) for i in body["invites"]] == [
            (pending["inviteId"], "pending"),
            (expired["inviteId"], "expired"),
        ]
        assert str(foreign["inviteId"]) not in response.text
        assert "token" not in body["invites"][0]

    async def test_pages_with_cursor(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        ids = [(await invite(client, tenant.headers))["inviteId"] for _ in range(3)]
        first = (await client.get("/v1/invites?limit=2", headers=tenant.headers)).json()
        second = (
            await client.get(
                "/v1/invites", headers=tenant.headers, params={"cursor": first["nextCursor"]}
            )
        ).json()
        assert [i["inviteId"] for i in first["invites"] + second["invites"]] == ids
        assert second["nextCursor"] is None

    async def test_viewer_is_403(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        viewer = await make_member(runtime, "v@example.com", tenant.workspace.id, "viewer")
        response = await client.get("/v1/invites", headers=bearer(runtime, viewer.id))
        assert response.status_code == 403


class TestDeleteInvite:
    async def test_deleted_token_stops_working(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        created = await invite(client, tenant.headers)
        response = await client.delete(f"/v1/invites/{created['inviteId']}", headers=tenant.headers)
        assert response.status_code == 200
        assert response.json() == {"inviteId": created["inviteId"], "deleted": True}
        user = await make_user(runtime, "bob@example.com")
        accept = await client.post(
            f"/v1/invites/{created['token']}/accept", headers=bearer(runtime, user.id)
        )
        assert accept.status_code == 404
        listed = (await client.get("/v1/invites", headers=tenant.headers)).json()
        assert listed["invites"] == []

    async def test_other_workspace_invite_is_404(self, client: httpx.AsyncClient, runtime: Runtime):
        first = await make_tenant(runtime, "first")
        second = await make_tenant(runtime, "second")
        created = await invite(client, first.headers)
        for invite_id in (created["inviteId"], "inv_unknown"):
            response = await client.delete(f"/v1/invites/{invite_id}", headers=second.headers)
            assert response.status_code == 404
        still = (await client.get("/v1/invites", headers=first.headers)).json()
        assert len(still["invites"]) == 1

    async def test_editor_is_403(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        created = await invite(client, tenant.headers)
        editor = await make_member(runtime, "e@example.com", tenant.workspace.id, "editor")
        response = await client.delete(
            f"/v1/invites/{created['inviteId']}", headers=bearer(runtime, editor.id)
        )
        assert response.status_code == 403


class TestAcceptInvite:
    async def test_new_user_joins_once(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        created = await invite(client, tenant.headers, role="editor")
        user = await make_user(runtime, "bob@example.com")
        url = f"/v1/invites/{created['token']}/accept"
        response = await client.post(url, headers=bearer(runtime, user.id))
        assert response.status_code == 200
        brand = response.json()
        assert (brand["brandId"], brand["name"], brand["role"]) == (
            tenant.workspace.id,
            "acme",
            "editor",
        )
        # The membership applies at once, with an editor's scopes (no keys:write).
        assert (await client.get("/v1/usage", headers=bearer(runtime, user.id))).status_code == 200
        assert (await client.get("/v1/keys", headers=bearer(runtime, user.id))).status_code == 403
        again = await client.post(url, headers=bearer(runtime, user.id))
        assert again.status_code == 410
        assert again.json()["error"]["code"] == "gone"
        listed = (await client.get("/v1/invites", headers=tenant.headers)).json()["invites"]
        assert listed[0]["status"] == "accepted"
        assert listed[0]["acceptedByUserId"] == user.id

    async def test_used_by_someone_else_is_410(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        created = await invite(client, tenant.headers)
        url = f"/v1/invites/{created['token']}/accept"
        first = await make_user(runtime, "first@example.com")
        second = await make_user(runtime, "second@example.com")
        assert (await client.post(url, headers=bearer(runtime, first.id))).status_code == 200
        response = await client.post(url, headers=bearer(runtime, second.id))
        assert response.status_code == 410
        assert await role_in(runtime, second.id, tenant.workspace.id) is None

    async def test_concurrent_accepts_admit_one(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        created = await invite(client, tenant.headers)
        url = f"/v1/invites/{created['token']}/accept"
        users = [await make_user(runtime, f"u{i}@example.com") for i in range(3)]
        responses = await asyncio.gather(
            *(client.post(url, headers=bearer(runtime, u.id)) for u in users)
        )
        assert sorted(r.status_code for r in responses) == [200, 410, 410]
        roles = [await role_in(runtime, u.id, tenant.workspace.id) for u in users]
        assert sorted(roles, key=lambda role: role or "") == [None, None, "editor"]

    async def test_expired_is_410(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        created = await invite(client, tenant.headers)
        async with runtime.sessions() as session:
            await session.execute(
                update(Invite)
                .where(Invite.id == created["inviteId"])
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
            await session.commit()
        user = await make_user(runtime, "bob@example.com")
        response = await client.post(
            f"/v1/invites/{created['token']}/accept", headers=bearer(runtime, user.id)
        )
        assert response.status_code == 410
        assert "expired" in response.json()["error"]["message"]
        assert await role_in(runtime, user.id, tenant.workspace.id) is None

    async def test_unknown_token_is_404(self, client: httpx.AsyncClient, runtime: Runtime):
        user = await make_user(runtime, "bob@example.com")
        for token in ("pinv_nope", "x" * 128):
            response = await client.post(
                f"/v1/invites/{token}/accept", headers=bearer(runtime, user.id)
            )
            assert response.status_code == 404
        too_long = await client.post(
            "/v1/invites/" + "x" * 129 + "/accept", headers=bearer(runtime, user.id)
        )
        assert too_long.status_code == 400

    async def test_email_bound_invite(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        created = await invite(client, tenant.headers, email="Bob@Example.com")
        url = f"/v1/invites/{created['token']}/accept"
        mallory = await make_user(runtime, "mallory@example.com")
        refused = await client.post(url, headers=bearer(runtime, mallory.id))
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden"
        bob = await make_user(runtime, "BOB@example.com")
        assert (await client.post(url, headers=bearer(runtime, bob.id))).status_code == 200

    async def test_raises_but_never_lowers_a_role(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        viewer = await make_member(runtime, "v@example.com", tenant.workspace.id, "viewer")
        admin = await make_member(runtime, "a@example.com", tenant.workspace.id, "admin")
        for user, expected in ((viewer, "editor"), (admin, "admin")):
            created = await invite(client, tenant.headers, role="editor")
            response = await client.post(
                f"/v1/invites/{created['token']}/accept", headers=bearer(runtime, user.id)
            )
            assert response.status_code == 200
            assert response.json()["role"] == expected
            assert await role_in(runtime, user.id, tenant.workspace.id) == expected

    async def test_api_key_and_oauth_token_are_403(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        other = await make_tenant(runtime, "other")
        created = await invite(client, tenant.headers)
        url = f"/v1/invites/{created['token']}/accept"
        assert (await client.post(url, headers=other.headers)).status_code == 403
        member = await make_member(runtime, "m@example.com", other.workspace.id, "owner")
        oauth = await client.post(url, headers=oauth_bearer(runtime, member.id, "posts:read"))
        assert oauth.status_code == 403
        pending = (await client.get("/v1/invites", headers=tenant.headers)).json()["invites"]
        assert pending[0]["status"] == "pending"

    async def test_missing_or_invalid_credential_is_401(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        created = await invite(client, tenant.headers)
        url = f"/v1/invites/{created['token']}/accept"
        assert (await client.post(url)).status_code == 401
        bad = await client.post(url, headers={"Authorization": "Bearer a.b.c"})
        assert bad.status_code == 401
        ghost = await client.post(url, headers=bearer(runtime, "usr_ghost"))
        assert ghost.status_code == 401
        expired = await client.post(
            url, headers=bearer(runtime, (await make_user(runtime, "e@x.io")).id, ttl_seconds=-60)
        )
        assert expired.status_code == 401
