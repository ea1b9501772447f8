from __future__ import annotations

from typing import Any

import httpx

from tests.posts.conftest import Studio


async def ledger(client: httpx.AsyncClient, studio: Studio, account: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        response = await client.get(
            f"/v1/accounts/{studio.accounts[account]}/posts", headers=studio.headers, params=params
        )
        assert response.status_code == 200, response.text
        body = response.json()
        entries += body["posts"]
        cursor = body["nextCursor"]
        if cursor is None:
            return entries
