"""Platform failures during a request come back in the envelope, never as a 500."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.platforms import registry
from polypost.platforms.base import Permanent, PlatformError, RateLimited, Transient
from polypost.platforms.sandbox.adapter import SandboxAdapter
from tests.fixtures.factories import connect_sandbox, make_tenant
from tests.fixtures.jobs import RunJobs


def failing_with(error: PlatformError) -> type[SandboxAdapter]:
    class Failing(SandboxAdapter):
        async def list_posts(self, *args: Any, **kwargs: Any) -> Any:
            raise error

    return Failing


@pytest.mark.parametrize(
    ("make_error", "status", "code"),
    [
        (
            lambda: RateLimited("slow", retry_at=utcnow() + timedelta(seconds=90)),
            429,
            "rate_limited",
        ),
        (lambda: Permanent("no listing here", code="unsupported"), 501, "unsupported"),
        (lambda: Transient("upstream 503"), 502, "platform_error"),
    ],
)
async def test_platform_errors_map_to_the_envelope(
    client: httpx.AsyncClient,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    make_error: Callable[[], PlatformError],
    status: int,
    code: str,
) -> None:
    error = make_error()
    tenant = await make_tenant(runtime)
    account = await connect_sandbox(client, tenant)
    monkeypatch.setitem(registry.FACTORIES, "sandbox", failing_with(error))
    runtime.extras.pop("adapters", None)
    response = await client.get(f"/v1/accounts/{account}/posts", headers=tenant.headers)
    assert response.status_code == status
    body = response.json()["error"]
    assert body["code"] == code
    assert body["details"]["kind"] == error.kind
    if status == 429:
        assert 80 <= int(response.headers["Retry-After"]) <= 90


async def test_the_sandbox_ledger_is_its_native_post_list(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime)
    account = await connect_sandbox(client, tenant)
    other = await make_tenant(runtime, "other")
    response = await client.get(f"/v1/accounts/{account}/posts", headers=other.headers)
    assert response.status_code == 404
    response = await client.get(f"/v1/accounts/{account}/posts", headers=tenant.headers)
    assert response.json() == {
        "accountId": account,
        "platform": "sandbox",
        "posts": [],
        "nextCursor": None,
    }


class TestDeleteNativePost:
    async def test_deletes_on_the_platform_and_cancels_the_tracked_target(
        self, client: httpx.AsyncClient, runtime: Runtime, run_jobs: RunJobs
    ) -> None:
        tenant = await make_tenant(runtime)
        account = await connect_sandbox(client, tenant, "x")
        created = await client.post(
            "/v1/posts", headers=tenant.headers, json={"accountIds": [account], "content": "hi"}
        )
        await run_jobs()
        post_id = created.json()["postId"]
        target = (await client.get(f"/v1/posts/{post_id}", headers=tenant.headers)).json()
        platform_id = target["targets"][0]["platformPostId"]
        response = await client.delete(
            f"/v1/accounts/{account}/posts/{platform_id}", headers=tenant.headers
        )
        assert response.status_code == 200, response.text
        assert response.json() == {
            "accountId": account,
            "platform": "sandbox",
            "platformPostId": platform_id,
            "deleted": True,
            "dbPostId": post_id,
            "reason": None,
        }
        ledger = (await client.get(f"/v1/accounts/{account}/posts", headers=tenant.headers)).json()
        assert [e["action"] for e in ledger["posts"]] == ["publish", "delete"]
        post = (await client.get(f"/v1/posts/{post_id}", headers=tenant.headers)).json()
        assert post["status"] == "canceled"

    async def test_untracked_posts_and_platforms_without_delete(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        tenant = await make_tenant(runtime)
        plain = await connect_sandbox(client, tenant)
        response = await client.delete(
            f"/v1/accounts/{plain}/posts/native-123", headers=tenant.headers
        )
        assert response.json()["deleted"] is True
        assert response.json()["dbPostId"] is None
        tiktok = await connect_sandbox(client, tenant, "tiktok")
        response = await client.delete(
            f"/v1/accounts/{tiktok}/posts/native-123", headers=tenant.headers
        )
        assert response.status_code == 200
        assert response.json()["deleted"] is False
        assert "no delete API" in response.json()["reason"]

    async def test_another_workspace_gets_404(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        tenant = await make_tenant(runtime)
        account = await connect_sandbox(client, tenant)
        other = await make_tenant(runtime, "other")
        response = await client.delete(
            f"/v1/accounts/{account}/posts/native-1", headers=other.headers
        )
        assert response.status_code == 404
