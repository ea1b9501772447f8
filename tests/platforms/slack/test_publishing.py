"""Slack through the whole stack: `POST /v1/posts` to a Slack account, the publish job and
a respx Web API; then the channel's messages through `GET /v1/accounts/{id}/posts`."""

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

API = "https://slack.com/api"
TOKEN = "xoxb-1111-2222-abcdef"
CHANNEL = "C0123ABCD"


async def slack_account(runtime: Runtime, tenant: Tenant) -> str:
    """An account as `connect_with_credentials` stores it."""
    async with runtime.sessions() as session:
        account = SocialAccount(
            id=new_id(Prefix.ACCOUNT),
            workspace_id=tenant.workspace.id,
            platform="slack",
            external_id=f"T0001:{CHANNEL}",
            handle="#launches",
            display_name="#launches (Acme)",
            status=AccountStatus.CONNECTED,
            access_token_enc=runtime.cipher.encrypt(TOKEN),
            granted_scopes=[],
            settings={
                "channelId": CHANNEL,
                "teamUrl": "https://acme.slack.com/",
                "botId": "B0001",
                "botUserId": "U0BOT",
            },
            connected_at=utcnow(),
        )
        session.add(account)
        await session.commit()
        return account.id


class Workspace:
    """Posts messages with increasing timestamps and answers permalinks."""

    def __init__(self) -> None:
        self.posted: list[dict[str, object]] = []

    def post(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        payload = json.loads(request.content)
        self.posted.append(payload)
        ts = f"1700000000.{len(self.posted):06d}"
        return httpx.Response(200, json={"ok": True, "channel": CHANNEL, "ts": ts})

    def permalink(self, request: httpx.Request) -> httpx.Response:
        ts = request.url.params["message_ts"]
        link = f"https://acme.slack.com/archives/{CHANNEL}/p{ts.replace('.', '')}"
        return httpx.Response(200, json={"ok": True, "permalink": link})


@pytest.fixture
def workspace() -> Iterator[tuple[Workspace, respx.MockRouter]]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        fake = Workspace()
        router.post(f"{API}/chat.postMessage").mock(side_effect=fake.post)
        router.get(f"{API}/chat.getPermalink").mock(side_effect=fake.permalink)
        yield fake, router


class TestEndToEnd:
    async def test_a_thread_with_a_first_comment(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        run_jobs: RunJobs,
        workspace: tuple[Workspace, respx.MockRouter],
    ) -> None:
        fake, _ = workspace
        tenant = await make_tenant(runtime)
        account_id = await slack_account(runtime, tenant)

        response = await client.post(
            "/v1/posts",
            headers=tenant.headers,
            json={
                "accountIds": [account_id],
                "postType": "thread",
                "thread": [{"text": "Release 2.0"}, {"text": "Changelog"}, {"text": "Thanks"}],
                "firstComment": "Questions here",
                "platformOptions": {"slack": {"unfurlLinks": False}},
            },
        )
        assert response.status_code == 201, response.text
        await run_jobs()

        assert fake.posted == [
            {"channel": CHANNEL, "text": "Release 2.0", "unfurl_links": False},
            {
                "channel": CHANNEL,
                "text": "Changelog",
                "thread_ts": "1700000000.000001",
                "unfurl_links": False,
            },
            {
                "channel": CHANNEL,
                "text": "Thanks",
                "thread_ts": "1700000000.000001",
                "unfurl_links": False,
            },
            {
                "channel": CHANNEL,
                "text": "Questions here",
                "thread_ts": "1700000000.000001",
                "unfurl_links": False,
            },
        ]
        post = (
            await client.get(f"/v1/posts/{response.json()['postId']}", headers=tenant.headers)
        ).json()
        target = post["targets"][0]
        assert target["status"] == "published", target
        assert target["platformPostId"] == "1700000000.000001"
        assert target["permalink"] == (
            f"https://acme.slack.com/archives/{CHANNEL}/p1700000000000001"
        )

    async def test_listing_shows_the_bots_messages(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        run_jobs: RunJobs,
        workspace: tuple[Workspace, respx.MockRouter],
    ) -> None:
        _, router = workspace
        tenant = await make_tenant(runtime)
        account_id = await slack_account(runtime, tenant)
        created = await client.post(
            "/v1/posts", headers=tenant.headers, json={"accountIds": [account_id], "content": "Hi"}
        )
        await run_jobs()
        history = router.get(f"{API}/conversations.history").respond(
            200,
            json={
                "ok": True,
                "messages": [
                    {"user": "U0HUMAN", "text": "Not ours", "ts": "1700000000.000009"},
                    {"bot_id": "B0001", "text": "Hi", "ts": "1700000000.000001"},
                    {
                        "bot_id": "B0001",
                        "text": "Older &amp; wiser",
                        "ts": "1699999999.000001",
                        "thread_ts": "1699999990.000001",
                    },
                ],
                "response_metadata": {"next_cursor": "bmV4dF90czoxNjk5"},
            },
        )

        response = await client.get(
            f"/v1/accounts/{account_id}/posts",
            headers=tenant.headers,
            params={"limit": 3, "cursor": "dXNlcjpVMDYx"},
        )

        assert response.status_code == 200, response.text
        assert dict(history.calls.last.request.url.params) == {
            "channel": CHANNEL,
            "limit": "3",
            "cursor": "dXNlcjpVMDYx",
        }
        listing = response.json()
        assert listing["nextCursor"] == "bmV4dF90czoxNjk5"
        assert [
            (p["platformPostId"], p["caption"], p["action"], p["inDb"], p["dbPostId"])
            for p in listing["posts"]
        ] == [
            ("1700000000.000001", "Hi", "publish", True, created.json()["postId"]),
            ("1699999999.000001", "Older & wiser", "reply", False, None),
        ]

    async def test_a_forged_cursor_is_a_400(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await slack_account(runtime, tenant)
        response = await client.get(
            f"/v1/accounts/{account_id}/posts",
            headers=tenant.headers,
            params={"cursor": "../../etc"},
        )
        assert response.status_code == 400
