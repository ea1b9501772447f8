"""Keyset pagination through a real list route (/v1/keys): complete, without duplicates,
stable while rows are inserted, and strict about its parameters."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import httpx
import pytest

from polypost.auth.scopes import ALL_SCOPES
from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.keys.service import issue_key
from polypost.models import ApiKey
from tests.fixtures.factories import Tenant, make_tenant


async def add_keys(runtime: Runtime, tenant: Tenant, count: int, **kwargs: object) -> list[str]:
    ids = []
    async with runtime.sessions() as session:
        for n in range(count):
            row, _ = await issue_key(
                session,
                runtime.settings.signing_key,
                tenant.workspace.id,
                name=f"k{n}",
                scopes=["posts:read"],
            )
            for name, value in kwargs.items():
                setattr(row, name, value)
            ids.append(row.id)
        await session.commit()
    return ids


async def fetch_all(
    client: httpx.AsyncClient, tenant: Tenant, limit: int, between: object = None
) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = await client.get("/v1/keys", headers=tenant.headers, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append([k["keyId"] for k in body["keys"]])
        cursor = body["nextCursor"]
        if cursor is None:
            return pages
        if callable(between):
            await between()
        assert len(pages) < 20, "pagination does not terminate"


AWARE = "2026-01-01T00:00:00+00:00"


def encode(values: list[object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.fixture
async def tenant(runtime: Runtime) -> Tenant:
    return await make_tenant(runtime)


class TestPages:
    async def test_sixty_rows_in_pages_of_25(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        created = [tenant.key_id, *await add_keys(runtime, tenant, 59)]
        pages = await fetch_all(client, tenant, 25)
        assert [len(p) for p in pages] == [25, 25, 10]
        flat = [key_id for page in pages for key_id in page]
        assert len(flat) == len(set(flat)) == 60
        assert set(flat) == set(created)

    async def test_default_limit_is_25(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        await add_keys(runtime, tenant, 30)
        body = (await client.get("/v1/keys", headers=tenant.headers)).json()
        assert len(body["keys"]) == 25
        assert body["nextCursor"]

    async def test_exact_multiple_has_no_empty_last_page(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        await add_keys(runtime, tenant, 49)
        assert [len(p) for p in await fetch_all(client, tenant, 25)] == [25, 25]

    async def test_identical_timestamps_are_ordered_by_id(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        same = utcnow() - timedelta(hours=1)
        ids = await add_keys(runtime, tenant, 12, created_at=same)
        pages = await fetch_all(client, tenant, 5)
        flat = [key_id for page in pages for key_id in page]
        assert flat[:12] == sorted(ids)
        assert flat[12] == tenant.key_id

    async def test_stable_while_rows_are_inserted(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        original = [tenant.key_id, *await add_keys(runtime, tenant, 59)]
        inserted: list[str] = []

        async def insert_more() -> None:
            inserted.extend(await add_keys(runtime, tenant, 3))
            # Rows that sort before the cursor (backdated) must not shift later pages.
            await add_keys(runtime, tenant, 2, created_at=utcnow() - timedelta(days=1))

        pages = await fetch_all(client, tenant, 25, between=insert_more)
        flat = [key_id for page in pages for key_id in page]
        assert len(flat) == len(set(flat)), "a row was returned twice"
        assert set(original) <= set(flat), "a row was skipped"
        assert set(inserted) <= set(flat), "rows inserted after the cursor are reached"

    async def test_rows_deleted_between_pages_do_not_break_the_cursor(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        await add_keys(runtime, tenant, 9)
        first = (await client.get("/v1/keys", headers=tenant.headers, params={"limit": 5})).json()
        last_id = first["keys"][-1]["keyId"]
        async with runtime.sessions() as session:
            row = await session.get(ApiKey, last_id)
            await session.delete(row)
            await session.commit()
        second = await client.get(
            "/v1/keys", headers=tenant.headers, params={"limit": 5, "cursor": first["nextCursor"]}
        )
        assert second.status_code == 200
        assert len(second.json()["keys"]) == 5


class TestParameters:
    @pytest.mark.parametrize("limit", ["0", "101", "-1", "1.5", "ten", ""])
    async def test_limit_out_of_range(self, client: httpx.AsyncClient, tenant: Tenant, limit: str):
        response = await client.get("/v1/keys", headers=tenant.headers, params={"limit": limit})
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == "bad_request"
        assert error["details"]["fields"][0]["field"] == "limit"

    @pytest.mark.parametrize("limit", [1, 100])
    async def test_limit_bounds_are_inclusive(
        self, client: httpx.AsyncClient, tenant: Tenant, limit: int
    ):
        response = await client.get("/v1/keys", headers=tenant.headers, params={"limit": limit})
        assert response.status_code == 200

    @pytest.mark.parametrize(
        "cursor",
        [
            pytest.param("garbage", id="garbage"),
            pytest.param("!!!not-base64!!!", id="not-base64"),
            pytest.param(encode(["only-one"]), id="too-short"),
            pytest.param(encode({"a": 1}), id="object"),  # type: ignore[arg-type]
            pytest.param(encode(["not-a-date", "key_x"]), id="bad-date"),
            pytest.param(encode([1, 2]), id="numbers"),
            pytest.param(encode([AWARE, {"nested": True}]), id="object-id"),
            pytest.param(encode([AWARE, 5]), id="int-id"),
            pytest.param(encode([AWARE, ["key_x"]]), id="list-id"),
            pytest.param(encode(["2026-01-01T00:00:00", "key_x"]), id="naive-date"),
            pytest.param(encode([None, None]), id="nulls-in-non-null-columns"),
            pytest.param(base64.urlsafe_b64encode(b"\xff\xfe\x00").decode(), id="binary"),
            pytest.param("x" * 600, id="too-long"),
        ],
    )
    async def test_bad_cursor_is_400(self, client: httpx.AsyncClient, tenant: Tenant, cursor: str):
        response = await client.get("/v1/keys", headers=tenant.headers, params={"cursor": cursor})
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == "bad_request"
        assert error["details"]["fields"][0]["field"] == "cursor"

    async def test_cursor_with_other_offset_is_accepted(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        await add_keys(runtime, tenant, 3)
        cursor = encode(["2000-01-01T02:00:00+02:00", "key_"])
        response = await client.get("/v1/keys", headers=tenant.headers, params={"cursor": cursor})
        assert response.status_code == 200
        assert len(response.json()["keys"]) == 4

    async def test_cursor_cannot_reach_another_workspace(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        other = await make_tenant(runtime, "other")
        await add_keys(runtime, other, 5)
        first = (await client.get("/v1/keys", headers=other.headers, params={"limit": 2})).json()
        stolen = await client.get(
            "/v1/keys", headers=tenant.headers, params={"cursor": first["nextCursor"]}
        )
        assert stolen.status_code == 200
        assert {k["keyId"] for k in stolen.json()["keys"]} <= {tenant.key_id}


async def test_full_scope_tenant_sees_its_own_key_first(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    tenant = await make_tenant(runtime, scopes=ALL_SCOPES)
    await add_keys(runtime, tenant, 2)
    body = (await client.get("/v1/keys", headers=tenant.headers, params={"limit": 1})).json()
    assert [k["keyId"] for k in body["keys"]] == [tenant.key_id]
