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
