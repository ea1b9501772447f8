from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest

from polypost.core.runtime import Runtime
from tests.fixtures.factories import Tenant, connect_sandbox, make_media, make_tenant


@dataclass
class Studio:
    """A workspace with one sandbox account per persona and some verified media."""

    tenant: Tenant
    accounts: dict[str, str]
    media: dict[str, str]

    @property
    def headers(self) -> dict[str, str]:
        return self.tenant.headers


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries of the publishing jobs wait no backoff (the jitter still applies to 0)."""
    from polypost.posts import jobs

    monkeypatch.setattr(jobs, "BACKOFF_BASE", timedelta(0))


@pytest.fixture
async def tenant(runtime: Runtime) -> Tenant:
    return await make_tenant(runtime)


@pytest.fixture
async def studio(client: httpx.AsyncClient, runtime: Runtime) -> Studio:
    tenant = await make_tenant(runtime)
    accounts = {
        "acc_x": await connect_sandbox(client, tenant, "x"),
        "acc_ig": await connect_sandbox(client, tenant, "instagram"),
        "acc_li": await connect_sandbox(client, tenant, "linkedin"),
        "acc_pin": await connect_sandbox(client, tenant, "pinterest"),
    }
    ws = tenant.workspace.id
    media = {
        "md_1a2b": await make_media(runtime, ws),
        "md_1": await make_media(runtime, ws),
        "md_2": await make_media(runtime, ws),
        "md_3": await make_media(runtime, ws),
        "md_video": await make_media(runtime, ws, "video", width=1080, height=1920),
        "md_cover": await make_media(runtime, ws, width=1080, height=1920),
        "md_pdf": await make_media(runtime, ws, "document"),
    }
    return Studio(tenant=tenant, accounts=accounts, media=media)
