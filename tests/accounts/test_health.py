"""`GET /v1/accounts/{id}/health`: what the token lifecycle knows about an account."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.models import SocialAccount
from tests.accounts.fakes import make_account
from tests.fixtures.factories import make_tenant


@pytest.mark.usefixtures("fake_oauth")
class TestAccountHealth:
    async def test_a_refreshable_account_is_healthy(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        expires = utcnow() + timedelta(minutes=30)
        account_id = await make_account(runtime, tenant.workspace.id, expires_at=expires)
        refreshed_at = utcnow() - timedelta(hours=1)
        async with runtime.sessions() as session:
            await session.execute(
                update(SocialAccount).values(
                    last_refresh_at=refreshed_at,
                    granted_scopes=["w_member_social", "openid"],
                )
            )
            await session.commit()
        response = await client.get(f"/v1/accounts/{account_id}/health", headers=tenant.headers)
        assert response.status_code == 200
        health = response.json()
        assert health["accountId"] == account_id
        assert health["platform"] == "linkedin"
        assert health["status"] == "connected"
        assert health["healthy"] is True
        assert health["needsReconnect"] is False
        assert health["tokenExpired"] is False
        assert health["hasRefreshToken"] is True
        assert health["refreshable"] is True
        assert health["tokenExpiresAt"].endswith("Z")
        assert health["lastRefreshAt"].endswith("Z")
        assert health["lastError"] is None
        assert health["grantedScopes"] == ["w_member_social", "openid"]
        assert health["requiredScopes"] == ["w_member_social", "openid"]
        assert health["missingScopes"] == []
        assert "refresh-1" not in response.text
        assert "old-access" not in response.text

    async def test_expired_token_without_refresh_needs_reconnect(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        account_id = await make_account(
            runtime,
            tenant.workspace.id,
            refresh_token=None,
            expires_at=utcnow() - timedelta(minutes=1),
        )
        health = (
            await client.get(f"/v1/accounts/{account_id}/health", headers=tenant.headers)
        ).json()
        assert health["tokenExpired"] is True
        assert health["refreshable"] is False
        assert health["healthy"] is False
        assert health["needsReconnect"] is True

    async def test_expired_account_reports_its_last_error_and_missing_scopes(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        account_id = await make_account(runtime, tenant.workspace.id, status="expired")
        failed_at = utcnow()
        async with runtime.sessions() as session:
            await session.execute(
                update(SocialAccount).values(
                    last_error="Token refresh refused: invalid_grant", last_error_at=failed_at
                )
            )
            await session.commit()
        health = (
            await client.get(f"/v1/accounts/{account_id}/health", headers=tenant.headers)
        ).json()
        assert health["status"] == "expired"
        assert health["healthy"] is False
        assert health["needsReconnect"] is True
        assert health["lastError"] == "Token refresh refused: invalid_grant"
        assert health["lastErrorAt"] is not None
        assert health["missingScopes"] == ["openid"]

    async def test_another_workspaces_account_is_404(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        owner = await make_tenant(runtime, "owner")
        other = await make_tenant(runtime, "other")
        account_id = await make_account(runtime, owner.workspace.id)
        response = await client.get(f"/v1/accounts/{account_id}/health", headers=other.headers)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"

    async def test_needs_accounts_read(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime, scopes={"posts:read"})
        account_id = await make_account(runtime, tenant.workspace.id)
        response = await client.get(f"/v1/accounts/{account_id}/health", headers=tenant.headers)
        assert response.status_code == 403
