"""Facebook end to end: choosing the Page (`GET/PATCH /v1/accounts/{id}/pages`), then
`POST /v1/posts` → publishing job → Graph (respx) → target published with the Page's
post id, permalink and first comment; a reel parked until Facebook finished it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx

from polypost.core.runtime import Runtime
from polypost.models import SocialAccount
from polypost.platforms.registry import adapter_for
from tests.fixtures.factories import connect_sandbox, make_account, make_media, make_tenant
from tests.fixtures.jobs import RunJobs
from tests.platforms.helpers import body, form
from tests.platforms.instagram.graph import graph_error, ok

API = "https://graph.facebook.com/v23.0"
PAGE = "1020000000000001"
POST_ID = f"{PAGE}_3300000000000001"
PERMALINK = f"https://www.facebook.com/{PAGE}/posts/3300000000000001"


@pytest.fixture
def graph() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


async def facebook_account(runtime: Runtime, workspace_id: str) -> str:
    return await make_account(runtime, workspace_id, "facebook", access_token="EAAuser")


async def select(
    client: httpx.AsyncClient, graph: respx.MockRouter, headers: dict[str, str], account_id: str
) -> httpx.Response:
    graph.get(f"{API}/{PAGE}").mock(
        return_value=ok(
            {
                "id": PAGE,
                "name": "Acme",
                "username": "acme",
                "tasks": ["CREATE_CONTENT", "MANAGE"],
                "access_token": "page-token",
                "picture": {"data": {"url": "https://cdn.example.com/acme.jpg"}},
            }
        )
    )
    return await client.patch(
        f"/v1/accounts/{account_id}/pages/{PAGE}", headers=headers, json={"selected": True}
    )


async def status_of(
    client: httpx.AsyncClient, headers: dict[str, str], post_id: str
) -> dict[str, Any]:
    response = await client.get(f"/v1/posts/{post_id}/status", headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


class TestPages:
    async def test_list_then_select_a_page(
        self, client: httpx.AsyncClient, runtime: Runtime, graph: respx.MockRouter
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await facebook_account(runtime, tenant.workspace.id)
        listing = graph.get(f"{API}/me/accounts").mock(
            return_value=ok(
                {
                    "data": [
                        {
                            "id": PAGE,
                            "name": "Acme",
                            "username": "acme",
                            "tasks": ["CREATE_CONTENT"],
                        },
                        {"id": "2", "name": "Reports", "tasks": ["ANALYZE"]},
                    ]
                }
            )
        )
        response = await client.get(f"/v1/accounts/{account_id}/pages", headers=tenant.headers)
        assert response.status_code == 200, response.text
        assert response.json() == {
            "accountId": account_id,
            "platform": "facebook",
            "selectedPageId": None,
            "pages": [
                {
                    "pageId": PAGE,
                    "name": "Acme",
                    "username": "acme",
                    "pictureUrl": None,
                    "tasks": ["CREATE_CONTENT"],
                    "canPublish": True,
                    "selected": False,
                    "extra": {},
                },
                {
                    "pageId": "2",
                    "name": "Reports",
                    "username": None,
                    "pictureUrl": None,
                    "tasks": ["ANALYZE"],
                    "canPublish": False,
                    "selected": False,
                    "extra": {},
                },
            ],
        }
        assert listing.calls.last.request.headers["authorization"] == "Bearer EAAuser"

        selected = await select(client, graph, tenant.headers, account_id)
        assert selected.status_code == 200, selected.text
        assert selected.json()["selected"] is True
        assert selected.json()["name"] == "Acme"

        account = (await client.get(f"/v1/accounts/{account_id}", headers=tenant.headers)).json()
        assert account["settings"] == {"pageId": PAGE, "pageName": "Acme"}
        assert "page-token" not in str(account)
        async with runtime.sessions() as session:
            row = await session.get(SocialAccount, account_id)
            assert row is not None
            assert runtime.cipher.decrypt(row.settings["pageTokenEnc"]) == "page-token"

        again = await client.get(f"/v1/accounts/{account_id}/pages", headers=tenant.headers)
        assert again.json()["selectedPageId"] == PAGE
        assert again.json()["pages"][0]["selected"] is True

    async def test_clear_the_selection(
        self, client: httpx.AsyncClient, runtime: Runtime, graph: respx.MockRouter
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await facebook_account(runtime, tenant.workspace.id)
        assert (await select(client, graph, tenant.headers, account_id)).status_code == 200
        cleared = await client.patch(
            f"/v1/accounts/{account_id}/pages/{PAGE}",
            headers=tenant.headers,
            json={"selected": False},
        )
        assert cleared.status_code == 200, cleared.text
        assert cleared.json()["selected"] is False
        async with runtime.sessions() as session:
            row = await session.get(SocialAccount, account_id)
            assert row is not None
            assert "pageTokenEnc" not in row.settings
            assert "pageId" not in row.settings
        other = await client.patch(
            f"/v1/accounts/{account_id}/pages/{PAGE}",
            headers=tenant.headers,
            json={"selected": False},
        )
        assert other.status_code == 404

    async def test_a_page_the_user_cannot_post_to(
        self, client: httpx.AsyncClient, runtime: Runtime, graph: respx.MockRouter
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await facebook_account(runtime, tenant.workspace.id)
        graph.get(f"{API}/{PAGE}").mock(
            return_value=ok({"id": PAGE, "name": "Acme", "tasks": ["ANALYZE"], "access_token": "t"})
        )
        response = await client.patch(
            f"/v1/accounts/{account_id}/pages/{PAGE}", headers=tenant.headers
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "page_not_publishable"

    async def test_an_expired_user_token(
        self, client: httpx.AsyncClient, runtime: Runtime, graph: respx.MockRouter
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await facebook_account(runtime, tenant.workspace.id)
        graph.get(f"{API}/me/accounts").mock(
            return_value=graph_error(400, 190, 463, message="Session has expired")
        )
        response = await client.get(f"/v1/accounts/{account_id}/pages", headers=tenant.headers)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "credentials_invalid"

    async def test_scopes_and_tenancy(
        self, client: httpx.AsyncClient, runtime: Runtime, graph: respx.MockRouter
    ) -> None:
        owner = await make_tenant(runtime)
        other = await make_tenant(runtime, "other")
        reader = await make_tenant(runtime, "reader", scopes={"accounts:read"})
        account_id = await facebook_account(runtime, owner.workspace.id)
        assert (
            await client.get(f"/v1/accounts/{account_id}/pages", headers=other.headers)
        ).status_code == 404
        assert (
            await client.patch(f"/v1/accounts/{account_id}/pages/{PAGE}", headers=other.headers)
        ).status_code == 404
        reader_account = await facebook_account(runtime, reader.workspace.id)
        forbidden = await client.patch(
            f"/v1/accounts/{reader_account}/pages/{PAGE}", headers=reader.headers
        )
        assert forbidden.status_code == 403
        assert not graph.calls

    async def test_a_platform_without_pages(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await connect_sandbox(client, tenant)
        response = await client.get(f"/v1/accounts/{account_id}/pages", headers=tenant.headers)
        assert response.status_code == 200, response.text
        assert response.json()["pages"] == []
        assert response.json()["selectedPageId"] is None
        chosen = await client.patch(
            f"/v1/accounts/{account_id}/pages/{PAGE}", headers=tenant.headers
        )
        assert chosen.status_code == 404

    async def test_bad_input(self, client: httpx.AsyncClient, runtime: Runtime) -> None:
        tenant = await make_tenant(runtime)
        account_id = await facebook_account(runtime, tenant.workspace.id)
        response = await client.patch(
            f"/v1/accounts/{account_id}/pages/{PAGE}",
            headers=tenant.headers,
            json={"selected": True, "token": "x"},
        )
        assert response.status_code == 400
        bad_id = await client.patch(
            f"/v1/accounts/{account_id}/pages/{'9' * 200}", headers=tenant.headers
        )
        assert bad_id.status_code == 400, bad_id.text


async def test_a_text_post_with_a_first_comment_is_published_to_the_page(
    client: httpx.AsyncClient, runtime: Runtime, run_jobs: RunJobs, graph: respx.MockRouter
) -> None:
    tenant = await make_tenant(runtime)
    account_id = await facebook_account(runtime, tenant.workspace.id)
    assert (await select(client, graph, tenant.headers, account_id)).status_code == 200
    feed = graph.post(f"{API}/{PAGE}/feed").mock(return_value=ok({"id": POST_ID}))
    graph.get(f"{API}/{POST_ID}", params={"fields": "permalink_url"}).mock(
        return_value=ok({"permalink_url": PERMALINK})
    )
    comment = graph.post(f"{API}/{POST_ID}/comments").mock(return_value=ok({"id": f"{POST_ID}_77"}))
    response = await client.post(
        "/v1/posts",
        headers=tenant.headers,
        json={
            "accountIds": [account_id],
            "content": "We are live",
            "link": "https://example.com/launch",
            "firstComment": "Questions welcome",
            "publishNow": True,
        },
    )
    assert response.status_code == 201, response.text
    await run_jobs()
    final = await status_of(client, tenant.headers, response.json()["postId"])
    assert final["status"] == "published", final
    assert final["targets"][0]["platformPostId"] == POST_ID
    assert final["targets"][0]["permalink"] == PERMALINK
    assert body(feed.calls.last.request) == {
        "message": "We are live",
        "link": "https://example.com/launch",
    }
    assert feed.calls.last.request.headers["authorization"] == "Bearer page-token"
    assert form(comment.calls.last.request) == {"message": "Questions welcome"}


async def test_a_reel_is_parked_until_facebook_finished_it(
    client: httpx.AsyncClient, runtime: Runtime, run_jobs: RunJobs, graph: respx.MockRouter
) -> None:
    tenant = await make_tenant(runtime)
    account_id = await facebook_account(runtime, tenant.workspace.id)
    assert (await select(client, graph, tenant.headers, account_id)).status_code == 200
    video = await make_media(
        runtime, tenant.workspace.id, "video", width=1080, height=1920, duration_ms=20_000
    )
    adapter_for(runtime, "facebook").poll_delays = (timedelta(milliseconds=300),)
    reels = graph.post(f"{API}/{PAGE}/video_reels").mock(
        side_effect=[
            ok(
                {
                    "video_id": "r1",
                    "upload_url": "https://rupload.facebook.com/video-upload/v23.0/r1",
                }
            ),
            ok({"success": True}),
        ]
    )
    upload = graph.post("https://rupload.facebook.com/video-upload/v23.0/r1").mock(
        return_value=ok({"success": True})
    )
    polls = graph.get(f"{API}/r1", params={"fields": "status"}).mock(
        side_effect=[
            ok(
                {
                    "status": {
                        "video_status": "processing",
                        "publishing_phase": {"status": "not_started"},
                    }
                }
            ),
            ok(
                {
                    "status": {
                        "video_status": "ready",
                        "publishing_phase": {"status": "complete", "publish_status": "published"},
                    }
                }
            ),
        ]
    )
    response = await client.post(
        "/v1/posts",
        headers=tenant.headers,
        json={
            "accountIds": [account_id],
            "content": "Behind the scenes",
            "mediaIds": [video],
            "platformOptions": {"facebook": {"asReel": True}},
            "publishNow": True,
        },
    )
    assert response.status_code == 201, response.text
    post_id = response.json()["postId"]
    await run_jobs()
    parked = await status_of(client, tenant.headers, post_id)
    assert parked["targets"][0]["status"] == "publishing"
    assert parked["targets"][0]["stage"] == "processing"

    for _ in range(40):
        await asyncio.sleep(0.35)
        await run_jobs()
        if (await status_of(client, tenant.headers, post_id))["status"] != "publishing":
            break
    final = await status_of(client, tenant.headers, post_id)
    assert final["status"] == "published", final
    assert final["targets"][0]["platformPostId"] == "r1"
    assert final["targets"][0]["permalink"] == "https://www.facebook.com/reel/r1"
    assert reels.call_count == 2
    assert upload.call_count == 1
    assert polls.call_count == 2
    assert upload.calls.last.request.headers["file_url"].startswith(
        runtime.settings.public_base_url
    )


async def test_a_post_without_a_selected_page_fails_clearly(
    client: httpx.AsyncClient, runtime: Runtime, run_jobs: RunJobs, graph: respx.MockRouter
) -> None:
    tenant = await make_tenant(runtime)
    account_id = await facebook_account(runtime, tenant.workspace.id)
    response = await client.post(
        "/v1/posts",
        headers=tenant.headers,
        json={"accountIds": [account_id], "content": "Hello", "publishNow": True},
    )
    assert response.status_code == 201, response.text
    await run_jobs()
    final = await status_of(client, tenant.headers, response.json()["postId"])
    assert final["status"] == "failed"
    assert final["targets"][0]["error"]["code"] == "page_not_selected"
    assert not graph.calls
