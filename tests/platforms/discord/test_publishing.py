"""Discord through the whole stack: `POST /v1/posts` to a webhook account, the publish job
and a respx Discord; then editing and deleting the published message through the API."""

from __future__ import annotations

import json

import httpx
import respx

from polypost.core.ids import Prefix, new_id
from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.models import AccountStatus, SocialAccount
from tests.fixtures.factories import Tenant, make_tenant
from tests.fixtures.jobs import RunJobs

WEBHOOK_ID = "112233445566778899"
TOKEN = "tok_" + "y" * 60
GUILD = "900000000000000001"
CHANNEL = "800000000000000002"
HOOK = f"https://discord.com/api/v10/webhooks/{WEBHOOK_ID}/{TOKEN}"
MESSAGE = "1300000000000000001"


async def discord_account(runtime: Runtime, tenant: Tenant) -> str:
    """An account as `connect_with_credentials` stores it."""
    async with runtime.sessions() as session:
        account = SocialAccount(
            id=new_id(Prefix.ACCOUNT),
            workspace_id=tenant.workspace.id,
            platform="discord",
            external_id=WEBHOOK_ID,
            handle="Announcements",
            display_name="Announcements",
            status=AccountStatus.CONNECTED,
            access_token_enc=runtime.cipher.encrypt(TOKEN),
            granted_scopes=[],
            settings={"webhookId": WEBHOOK_ID, "channelId": CHANNEL, "guildId": GUILD},
            connected_at=utcnow(),
        )
        session.add(account)
        await session.commit()
        return account.id


class TestEndToEnd:
    async def test_a_post_is_published_edited_and_deleted(
        self, client: httpx.AsyncClient, runtime: Runtime, run_jobs: RunJobs
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await discord_account(runtime, tenant)

        with respx.mock(assert_all_mocked=True) as discord:
            execute = discord.post(HOOK).respond(
                200, json={"id": MESSAGE, "channel_id": CHANNEL, "webhook_id": WEBHOOK_ID}
            )
            response = await client.post(
                "/v1/posts",
                headers=tenant.headers,
                json={
                    "accountIds": [account_id],
                    "content": "Version 2.0 is out",
                    "platformOptions": {"discord": {"username": "Release bot", "silent": True}},
                },
            )
            assert response.status_code == 201, response.text
            post_id = response.json()["postId"]
            await run_jobs()

            post = (await client.get(f"/v1/posts/{post_id}", headers=tenant.headers)).json()
            target = post["targets"][0]
            assert target["status"] == "published", target
            assert target["platformPostId"] == MESSAGE
            assert target["permalink"] == (
                f"https://discord.com/channels/{GUILD}/{CHANNEL}/{MESSAGE}"
            )
            request = execute.calls.last.request
            assert dict(request.url.params) == {"wait": "true"}
            assert json.loads(request.content) == {
                "content": "Version 2.0 is out",
                "username": "Release bot",
                "flags": 4096,
            }

            edit = discord.patch(f"{HOOK}/messages/{MESSAGE}").respond(
                200, json={"id": MESSAGE, "channel_id": CHANNEL}
            )
            edited = await client.patch(
                f"/v1/posts/{post_id}",
                headers=tenant.headers,
                json={"content": "Version 2.0.1 is out"},
            )
            assert edited.status_code == 200, edited.text
            assert json.loads(edit.calls.last.request.content) == {
                "content": "Version 2.0.1 is out"
            }

            delete = discord.delete(f"{HOOK}/messages/{MESSAGE}").respond(204)
            deleted = await client.delete(f"/v1/posts/{post_id}", headers=tenant.headers)
            assert deleted.status_code == 200, deleted.text
            assert delete.called
