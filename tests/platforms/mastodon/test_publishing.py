"""Mastodon through the whole stack: `POST /v1/posts` to a Mastodon account, the publish
job and a respx instance; listing the account's statuses."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
import respx

from polypost.core.ids import Prefix, new_id
from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.models import AccountStatus, SocialAccount
from tests.fixtures.factories import Tenant, make_tenant
from tests.fixtures.jobs import RunJobs
from tests.platforms.mastodon.conftest import ACCOUNT_ID, INSTANCE

API = f"{INSTANCE}/api"


async def mastodon_account(runtime: Runtime, tenant: Tenant, *, settings: bool = True) -> str:
    """An account as the connect flows store it (the OAuth flow stores no accountId)."""
    async with runtime.sessions() as session:
        account = SocialAccount(
            id=new_id(Prefix.ACCOUNT),
            workspace_id=tenant.workspace.id,
            platform="mastodon",
            external_id=f"{ACCOUNT_ID}@social.example.org",
            handle="alice@social.example.org",
            display_name="Alice",
            status=AccountStatus.CONNECTED,
            access_token_enc=runtime.cipher.encrypt("user-token"),
            granted_scopes=[],
            settings={"baseUrl": INSTANCE, **({"accountId": ACCOUNT_ID} if settings else {})},
            connected_at=utcnow(),
        )
        session.add(account)
        await session.commit()
        return account.id


class Instance:
    """Creates statuses, answering a repeated Idempotency-Key with the first status."""

    def __init__(self, router: respx.MockRouter) -> None:
        self.router = router
        self.statuses: dict[str, dict[str, object]] = {}
        self.keys: dict[str, str] = {}

    def create(self, request: httpx.Request) -> httpx.Response:
        key = request.headers["idempotency-key"]
        if key not in self.keys:
            status_id = str(110000 + len(self.statuses))
            self.keys[key] = status_id
            self.statuses[status_id] = {
                "id": status_id,
                "url": f"{INSTANCE}/@alice/{status_id}",
                "body": json.loads(request.content),
                "authorization": request.headers["authorization"],
            }
        status = self.statuses[self.keys[key]]
        return httpx.Response(200, json={"id": status["id"], "url": status["url"]})


@pytest.fixture
def instance() -> Iterator[Instance]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        fake = Instance(router)
        router.post(f"{API}/v1/statuses").mock(side_effect=fake.create)
        yield fake


class TestEndToEnd:
    async def test_a_post_with_options_is_published_with_its_url(
        self, client: httpx.AsyncClient, runtime: Runtime, run_jobs: RunJobs, instance: Instance
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await mastodon_account(runtime, tenant)

        response = await client.post(
            "/v1/posts",
            headers=tenant.headers,
            json={
                "accountIds": [account_id],
                "content": "Hello fediverse",
                "platformOptions": {"mastodon": {"visibility": "unlisted", "language": "en"}},
            },
        )
        assert response.status_code == 201, response.text
        target_id = response.json()["targets"][0]["targetId"]
        await run_jobs()

        post = (
            await client.get(f"/v1/posts/{response.json()['postId']}", headers=tenant.headers)
        ).json()
        target = post["targets"][0]
        assert target["status"] == "published", target
        assert target["platformPostId"] == "110000"
        assert target["permalink"] == f"{INSTANCE}/@alice/110000"
        assert instance.keys == {f"{target_id}:main": "110000"}
        status = instance.statuses["110000"]
        assert status["body"] == {
            "status": "Hello fediverse",
            "visibility": "unlisted",
            "language": "en",
        }
        assert status["authorization"] == "Bearer user-token"

    async def test_a_thread_replies_to_each_previous_status(
        self, client: httpx.AsyncClient, runtime: Runtime, run_jobs: RunJobs, instance: Instance
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await mastodon_account(runtime, tenant)

        response = await client.post(
            "/v1/posts",
            headers=tenant.headers,
            json={
                "accountIds": [account_id],
                "postType": "thread",
                "thread": [{"text": "1/"}, {"text": "2/"}, {"text": "3/"}],
                "firstComment": "Sources below",
            },
        )
        assert response.status_code == 201, response.text
        target_id = response.json()["targets"][0]["targetId"]
        await run_jobs()

        bodies = {key: instance.statuses[sid]["body"] for key, sid in instance.keys.items()}
        assert bodies == {
            f"{target_id}:main": {"status": "1/"},
            f"{target_id}:segment:1": {"status": "2/", "in_reply_to_id": "110000"},
            f"{target_id}:segment:2": {"status": "3/", "in_reply_to_id": "110001"},
            f"{target_id}:comment": {"status": "Sources below", "in_reply_to_id": "110000"},
        }
        post = (
            await client.get(f"/v1/posts/{response.json()['postId']}", headers=tenant.headers)
        ).json()
        assert post["targets"][0]["status"] == "published"
        assert post["targets"][0]["platformPostId"] == "110000"


class TestListPosts:
    async def test_statuses_page_by_max_id_and_mark_what_polypost_published(
        self, client: httpx.AsyncClient, runtime: Runtime, run_jobs: RunJobs, instance: Instance
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await mastodon_account(runtime, tenant, settings=False)
        created = await client.post(
            "/v1/posts",
            headers=tenant.headers,
            json={"accountIds": [account_id], "content": "Mine"},
        )
        await run_jobs()
        listing = instance.router.get(f"{API}/v1/accounts/{ACCOUNT_ID}/statuses").respond(
            200,
            json=[
                {
                    "id": "110000",
                    "content": "<p>Mine</p>",
                    "created_at": "2026-01-02T10:00:00.000Z",
                    "in_reply_to_id": None,
                },
                {
                    "id": "109999",
                    "content": "<p>Older &amp; <br>wiser</p>",
                    "created_at": "2026-01-01T10:00:00.000Z",
                    "in_reply_to_id": "1",
                },
            ],
        )

        response = await client.get(
            f"/v1/accounts/{account_id}/posts",
            headers=tenant.headers,
            params={"limit": 2, "cursor": "110500"},
        )

        assert response.status_code == 200, response.text
        request = listing.calls.last.request
        assert dict(request.url.params) == {
            "limit": "2",
            "exclude_reblogs": "true",
            "max_id": "110500",
        }
        assert request.headers["authorization"] == "Bearer user-token"
        body = response.json()
        assert body["nextCursor"] == "109999"
        assert [
            (p["platformPostId"], p["caption"], p["inDb"], p["dbPostId"], p["action"])
            for p in body["posts"]
        ] == [
            ("110000", "Mine", True, created.json()["postId"], "publish"),
            ("109999", "Older & wiser", False, None, "reply"),
        ]

    async def test_a_forged_cursor_is_a_400(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await mastodon_account(runtime, tenant)
        with respx.mock(assert_all_mocked=True):
            response = await client.get(
                f"/v1/accounts/{account_id}/posts",
                headers=tenant.headers,
                params={"cursor": "1/../../x"},
            )
        assert response.status_code == 400
        assert response.json()["error"]["details"]["fields"][0]["field"] == "cursor"

    async def test_a_revoked_token_is_a_422_envelope(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await mastodon_account(runtime, tenant)
        with respx.mock(assert_all_mocked=True) as router:
            router.get(f"{API}/v1/accounts/{ACCOUNT_ID}/statuses").respond(
                401, json={"error": "The access token was revoked"}
            )
            response = await client.get(f"/v1/accounts/{account_id}/posts", headers=tenant.headers)
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "platform_error"
        assert error["details"] == {"kind": "auth_expired", "platformCode": "401"}
