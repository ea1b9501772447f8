"""Telegram through the whole stack: `POST /v1/posts` to a Telegram account, the publish
job, and a respx Bot API."""

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

TOKEN = "123456:" + "B" * 35
BOT = f"https://api.telegram.org/bot{TOKEN}"
CHAT = -1001234567890


async def telegram_account(runtime: Runtime, tenant: Tenant) -> str:
    """An account as `connect_with_credentials` stores it."""
    async with runtime.sessions() as session:
        account = SocialAccount(
            id=new_id(Prefix.ACCOUNT),
            workspace_id=tenant.workspace.id,
            platform="telegram",
            external_id=str(CHAT),
            handle="@acme_news",
            display_name="Acme News",
            status=AccountStatus.CONNECTED,
            access_token_enc=runtime.cipher.encrypt(TOKEN),
            granted_scopes=[],
            settings={"chatId": str(CHAT), "chatType": "channel", "chatUsername": "acme_news"},
            connected_at=utcnow(),
        )
        session.add(account)
        await session.commit()
        return account.id


class Chat:
    """Accepts sendMessage calls and numbers the messages."""

    def __init__(self) -> None:
        self.sent: list[dict[str, object]] = []

    def send(self, request: httpx.Request) -> httpx.Response:
        payload = json.loads(request.content)
        self.sent.append(payload)
        message_id = 100 + len(self.sent)
        return httpx.Response(
            200,
            json={
                "ok": True,
                "result": {
                    "message_id": message_id,
                    "chat": {"id": CHAT, "type": "channel", "username": "acme_news"},
                    "date": 1760000000,
                    "text": payload["text"],
                },
            },
        )


@pytest.fixture
def chat() -> Iterator[Chat]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        fake = Chat()
        router.post(f"{BOT}/sendMessage").mock(side_effect=fake.send)
        yield fake


class TestEndToEnd:
    async def test_a_post_is_published_with_its_link(
        self, client: httpx.AsyncClient, runtime: Runtime, run_jobs: RunJobs, chat: Chat
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await telegram_account(runtime, tenant)

        response = await client.post(
            "/v1/posts",
            headers=tenant.headers,
            json={
                "accountIds": [account_id],
                "content": "<b>Launch</b> day",
                "platformOptions": {"telegram": {"parseMode": "HTML", "disableNotification": True}},
            },
        )
        assert response.status_code == 201, response.text
        await run_jobs()

        post = (
            await client.get(f"/v1/posts/{response.json()['postId']}", headers=tenant.headers)
        ).json()
        target = post["targets"][0]
        assert target["status"] == "published", target
        assert target["platformPostId"] == "101"
        assert target["permalink"] == "https://t.me/acme_news/101"
        assert chat.sent == [
            {
                "chat_id": CHAT,
                "disable_notification": True,
                "text": "<b>Launch</b> day",
                "parse_mode": "HTML",
            }
        ]

    async def test_a_thread_replies_to_each_previous_message(
        self, client: httpx.AsyncClient, runtime: Runtime, run_jobs: RunJobs, chat: Chat
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await telegram_account(runtime, tenant)

        response = await client.post(
            "/v1/posts",
            headers=tenant.headers,
            json={
                "accountIds": [account_id],
                "postType": "thread",
                "thread": [{"text": "1/"}, {"text": "2/"}],
                "firstComment": "Sources",
            },
        )
        assert response.status_code == 201, response.text
        await run_jobs()

        assert [(m["text"], m.get("reply_parameters")) for m in chat.sent] == [
            ("1/", None),
            ("2/", {"message_id": 101, "allow_sending_without_reply": True}),
            ("Sources", {"message_id": 101, "allow_sending_without_reply": True}),
        ]
        post = (
            await client.get(f"/v1/posts/{response.json()['postId']}", headers=tenant.headers)
        ).json()
        assert post["targets"][0]["status"] == "published"
        assert post["targets"][0]["platformPostId"] == "101"
