from __future__ import annotations

from typing import Any, Protocol

import httpx

from tests.posts.conftest import Studio


class HasHeaders(Protocol):
    @property
    def headers(self) -> dict[str, str]: ...


async def ledger_of(
    client: httpx.AsyncClient, owner: HasHeaders, account_id: str
) -> list[dict[str, Any]]:
    """Every entry of a sandbox account's ledger, oldest first."""
    entries: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        response = await client.get(
            f"/v1/accounts/{account_id}/posts", headers=owner.headers, params=params
        )
        assert response.status_code == 200, response.text
        body = response.json()
        entries += body["posts"]
        cursor = body["nextCursor"]
        if cursor is None:
            return entries


async def ledger(client: httpx.AsyncClient, studio: Studio, account: str) -> list[dict[str, Any]]:
    return await ledger_of(client, studio, studio.accounts[account])
