"""Credential connects (one call), the outbound guard on user-supplied endpoints, and
linking rules, with a platform double and with the real adapters installed."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import select

from polypost.core.runtime import Runtime
from polypost.models import Event, SocialAccount
from tests.accounts.fakes import (
    PUBLIC_IP,
    VERIFY_URL,
    FakeCredentialAdapter,
    load_account,
    query_of,
)
from tests.fixtures.factories import Tenant, make_tenant

TELEGRAM = {"platform": "telegram", "botToken": "123456:" + "A" * 35, "chatId": "@acme_news"}


def verified(member: str = "chat-1", name: str = "Acme News") -> httpx.Response:
    return httpx.Response(
        200, json={"id": member, "handle": "acme_news", "name": name, "token": "tok"}
    )


async def connect(
    client: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any]
) -> httpx.Response:
    return await client.post("/v1/accounts/connect", headers=tenant.headers, json=body)


@pytest.mark.usefixtures("fake_credentials")
class TestCredentialConnect:
    async def test_identity_comes_from_the_platform(
        self, client: httpx.AsyncClient, runtime: Runtime, fake_credentials: list[Any]
    ):
        tenant = await make_tenant(runtime)
        with respx.mock(assert_all_mocked=True) as router:
            route = router.post(VERIFY_URL).mock(return_value=verified())
            response = await connect(client, tenant, TELEGRAM)
        assert response.status_code == 201, response.text
        account = response.json()
        assert account["platform"] == "telegram"
        assert account["handle"] == "acme_news"
        assert account["displayName"] == "Acme News"
        # The adapter got the body as the client sent it, minus `platform`.
        assert fake_credentials == [{"botToken": TELEGRAM["botToken"], "chatId": "@acme_news"}]
        assert json.loads(route.calls.last.request.content) == fake_credentials[0]
        row = await load_account(runtime, account["accountId"])
        assert row.external_id == "chat-1"
        assert runtime.cipher.decrypt(row.access_token_enc or "") == "tok"
        assert row.settings["chatTitle"] == "Acme News"
        async with runtime.sessions() as session:
            event = (
                await session.execute(select(Event).where(Event.resource_id == row.id))
            ).scalar_one()
        assert event.type == "account.connected"
        assert event.data == {
            "accountId": row.id,
            "platform": "telegram",
            "handle": "acme_news",
        }

    async def test_client_cannot_choose_the_identity(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        with respx.mock(assert_all_mocked=True) as router:
            response = await connect(client, tenant, {**TELEGRAM, "externalId": "someone-else"})
            assert router.calls.call_count == 0
        assert response.status_code == 400
        assert response.json()["error"]["details"]["fields"][0]["field"].endswith("externalId")

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"platform": "telegram", "botToken": "not-a-token", "chatId": "1"}, "botToken"),
            ({"platform": "telegram", "botToken": TELEGRAM["botToken"], "chatId": "#x"}, "chatId"),
            ({"platform": "telegram", "chatId": "1"}, "botToken"),
            ({"platform": "slack", "botToken": "xoxb-1-2", "channel": ""}, "channel"),
            ({"platform": "bluesky", "identifier": "alice.test"}, "appPassword"),
            ({"platform": "discord", "webhookUrl": "x" * 3000}, "webhookUrl"),
        ],
    )
    async def test_bodies_are_validated_per_platform(
        self, client: httpx.AsyncClient, runtime: Runtime, body: dict[str, Any], field: str
    ):
        tenant = await make_tenant(runtime)
        response = await connect(client, tenant, body)
        assert response.status_code == 400, response.text
        fields = [f["field"] for f in response.json()["error"]["details"]["fields"]]
        assert any(f.endswith(field) for f in fields), fields

    @pytest.mark.parametrize(
        ("answer", "status", "code"),
        [
            (httpx.Response(401, json={"description": "Unauthorized"}), 422, "credentials_invalid"),
            (
                httpx.Response(400, json={"description": "chat not found"}),
                422,
                "credentials_invalid",
            ),
            (httpx.Response(502, text="bad gateway"), 502, "platform_error"),
            (httpx.Response(429, headers={"Retry-After": "30"}), 429, "rate_limited"),
        ],
    )
    async def test_platform_refusals_become_api_errors(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        answer: httpx.Response,
        status: int,
        code: str,
    ):
        tenant = await make_tenant(runtime)
        with respx.mock(assert_all_mocked=True) as router:
            router.post(VERIFY_URL).mock(return_value=answer)
            response = await connect(client, tenant, TELEGRAM)
        assert response.status_code == status, response.text
        error = response.json()["error"]
        assert error["code"] == code
        assert error["details"]["platform"] == "telegram"
        if status == 429:
            assert 29 <= int(response.headers["retry-after"]) <= 31
        async with runtime.sessions() as session:
            assert (await session.execute(select(SocialAccount))).first() is None

    async def test_same_chat_in_another_workspace_is_already_linked(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        first = await make_tenant(runtime, "first")
        second = await make_tenant(runtime, "second")
        with respx.mock(assert_all_mocked=True) as router:
            router.post(VERIFY_URL).mock(return_value=verified())
            assert (await connect(client, first, TELEGRAM)).status_code == 201
            refused = await connect(client, second, TELEGRAM)
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "already_linked"

    async def test_relinking_in_the_same_workspace_updates_the_row(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        with respx.mock(assert_all_mocked=True) as router:
            route = router.post(VERIFY_URL).mock(return_value=verified())
            one = (await connect(client, tenant, TELEGRAM)).json()
            route.mock(return_value=verified(name="Acme News (renamed)"))
            two = await connect(client, tenant, TELEGRAM)
        assert two.status_code == 201
        assert two.json()["accountId"] == one["accountId"]
        assert two.json()["displayName"] == "Acme News (renamed)"

    async def test_relinking_after_disconnect_is_allowed_elsewhere(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        first = await make_tenant(runtime, "first")
        second = await make_tenant(runtime, "second")
        with respx.mock(assert_all_mocked=True) as router:
            router.post(VERIFY_URL).mock(return_value=verified())
            linked = (await connect(client, first, TELEGRAM)).json()
            await client.delete(f"/v1/accounts/{linked['accountId']}", headers=first.headers)
            moved = await connect(client, second, TELEGRAM)
        assert moved.status_code == 201
        assert moved.json()["accountId"] != linked["accountId"]


REFUSED_ENDPOINTS = [
    ("discord", "webhookUrl", "http://127.0.0.1/api/webhooks/1/abc"),
    ("discord", "webhookUrl", "http://169.254.169.254/latest/meta-data/"),
    ("discord", "webhookUrl", "http://[::1]/api/webhooks/1/abc"),
    ("discord", "webhookUrl", "http://2130706433/api/webhooks/1/abc"),
    ("discord", "webhookUrl", "file:///etc/passwd"),
    ("bluesky", "service", "http://10.0.0.5:2583"),
    ("bluesky", "service", "localhost"),
    ("bluesky", "service", "http://[fd00:ec2::254]"),
    ("mastodon", "instance", "192.168.1.10"),
    ("mastodon", "instance", "http://100.64.0.1"),
    ("mastodon", "instance", "http://[::ffff:127.0.0.1]"),
]


def body_for(platform: str, field: str, url: str) -> dict[str, Any]:
    if platform == "discord":
        return {"platform": "discord", "webhookUrl": url}
    if platform == "bluesky":
        return {
            "platform": "bluesky",
            "identifier": "alice.test",
            "appPassword": "a-b-c-d",
            "service": url,
        }
    return {"platform": "mastodon", "instance": url, "accessToken": "token-123456"}


@pytest.mark.usefixtures("fake_credentials")
class TestOutboundGuard:
    @pytest.mark.parametrize(("platform", "field", "url"), REFUSED_ENDPOINTS)
    async def test_private_endpoints_are_refused_before_any_call(
        self, client: httpx.AsyncClient, runtime: Runtime, platform: str, field: str, url: str
    ):
        tenant = await make_tenant(runtime)
        with respx.mock(assert_all_mocked=True) as router:
            response = await connect(client, tenant, body_for(platform, field, url))
            assert router.calls.call_count == 0
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["details"]["fields"][0]["field"] == field
        assert error["details"]["fields"][0]["type"] in ("url_refused", "url_invalid")

    async def test_name_resolving_to_a_private_address_is_refused(
        self, client: httpx.AsyncClient, runtime: Runtime, public_dns: dict[str, list[str]]
    ):
        public_dns["pds.attacker.example"] = [PUBLIC_IP, "127.0.0.1"]
        tenant = await make_tenant(runtime)
        with respx.mock(assert_all_mocked=True) as router:
            response = await connect(
                client, tenant, body_for("bluesky", "service", "https://pds.attacker.example")
            )
            assert router.calls.call_count == 0
        assert response.status_code == 400
        assert "private address" in response.json()["error"]["message"]

    async def test_allow_list_exempts_an_internal_endpoint(
        self, client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
    ):
        monkeypatch.setattr(runtime.settings, "outbound_allow", ["10.0.0.5"])
        tenant = await make_tenant(runtime)
        with respx.mock(assert_all_mocked=True) as router:
            router.post(VERIFY_URL).mock(return_value=verified())
            response = await connect(
                client, tenant, body_for("bluesky", "service", "http://10.0.0.5:2583")
            )
        assert response.status_code == 201, response.text

    async def test_a_discovered_private_server_is_not_stored(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        monkeypatch: pytest.MonkeyPatch,
        public_dns: dict[str, list[str]],
    ):
        from polypost.platforms.registry import FACTORIES

        monkeypatch.setitem(
            FACTORIES,
            "bluesky",
            lambda rt: FakeCredentialAdapter(rt, "bluesky", base_url="http://10.9.9.9"),
        )
        tenant = await make_tenant(runtime)
        with respx.mock(assert_all_mocked=True) as router:
            router.post(VERIFY_URL).mock(return_value=verified())
            response = await connect(
                client,
                tenant,
                {"platform": "bluesky", "identifier": "alice.test", "appPassword": "a-b-c-d"},
            )
        assert response.status_code == 400
        async with runtime.sessions() as session:
            assert (await session.execute(select(SocialAccount))).first() is None


def jwt(exp: int) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'ES256K'})}.{part({'exp': exp, 'sub': 'did:plc:alice'})}.sig"


class TestRealAdapters:
    """The installed adapters behind the same route (exact requests are their own tests)."""

    async def test_mastodon_access_token(
        self, client: httpx.AsyncClient, runtime: Runtime, public_dns: dict[str, list[str]]
    ):
        tenant = await make_tenant(runtime)
        with respx.mock(assert_all_mocked=True) as router:
            verify = router.get("https://social.example/api/v1/accounts/verify_credentials").mock(
                return_value=httpx.Response(
                    200, json={"id": "109", "acct": "alice", "display_name": "Alice"}
                )
            )
            response = await connect(
                client,
                tenant,
                {
                    "platform": "mastodon",
                    "instance": "Social.Example/",
                    "accessToken": "tok-123456",
                },
            )
        assert response.status_code == 201, response.text
        assert verify.calls.last.request.headers["authorization"] == "Bearer tok-123456"
        row = await load_account(runtime, response.json()["accountId"])
        assert row.external_id == "109@social.example"
        assert row.settings["baseUrl"] == "https://social.example"

    async def test_mastodon_oauth_registers_an_app_on_the_instance(
        self, client: httpx.AsyncClient, runtime: Runtime, public_dns: dict[str, list[str]]
    ):
        tenant = await make_tenant(runtime)
        callback = "http://127.0.0.1:8000/v1/accounts/callback/mastodon"
        with respx.mock(assert_all_mocked=True) as router:
            apps = router.post("https://social.example/api/v1/apps").mock(
                return_value=httpx.Response(
                    200, json={"client_id": "cid", "client_secret": "csecret"}
                )
            )
            token = router.post("https://social.example/oauth/token").mock(
                return_value=httpx.Response(
                    200, json={"access_token": "mat", "scope": "read:accounts write:statuses"}
                )
            )
            router.get("https://social.example/api/v1/accounts/verify_credentials").mock(
                return_value=httpx.Response(200, json={"id": "7", "acct": "bob"})
            )
            started = await connect(
                client, tenant, {"platform": "mastodon", "instance": "social.example"}
            )
            assert started.status_code == 200, started.text
            auth_url = started.json()["authUrl"]
            assert auth_url.startswith("https://social.example/oauth/authorize?")
            assert json.loads(apps.calls.last.request.content)["redirect_uris"] == [callback]
            query = query_of(auth_url)
            assert query["client_id"] == "cid"
            finished = await client.get(
                "/v1/accounts/callback/mastodon",
                params={"code": "mcode", "state": query["state"]},
            )
        assert finished.status_code == 200, finished.text
        sent = query_of("?" + token.calls.last.request.content.decode())
        assert sent["code"] == "mcode"
        assert sent["client_secret"] == "csecret"
        row = await load_account(runtime, finished.json()["accountId"])
        assert row.external_id == "7@social.example"
        assert row.settings["baseUrl"] == "https://social.example"
        assert runtime.cipher.decrypt(row.access_token_enc or "") == "mat"

    async def test_mastodon_oauth_instance_is_guarded(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        with respx.mock(assert_all_mocked=True) as router:
            response = await connect(
                client, tenant, {"platform": "mastodon", "instance": "http://127.0.0.1:3000"}
            )
            assert router.calls.call_count == 0
        assert response.status_code == 400

    async def test_bluesky_app_password_on_a_given_pds(
        self, client: httpx.AsyncClient, runtime: Runtime, public_dns: dict[str, list[str]]
    ):
        tenant = await make_tenant(runtime)
        access = jwt(int(time.time()) + 7200)
        with respx.mock(assert_all_mocked=True) as router:
            login = router.post("https://pds.example/xrpc/com.atproto.server.createSession").mock(
                return_value=httpx.Response(
                    200,
                    json={
                        "accessJwt": access,
                        "refreshJwt": "refresh-jwt",
                        "did": "did:plc:alice",
                        "handle": "alice.test",
                        "active": True,
                    },
                )
            )
            router.get("https://pds.example/xrpc/app.bsky.actor.getProfile").mock(
                return_value=httpx.Response(
                    200, json={"handle": "alice.test", "displayName": "Alice"}
                )
            )
            response = await connect(
                client,
                tenant,
                {
                    "platform": "bluesky",
                    "identifier": "alice.test",
                    "appPassword": "abcd-efgh-ijkl-mnop",
                    "service": "https://pds.example",
                },
            )
        assert response.status_code == 201, response.text
        assert json.loads(login.calls.last.request.content) == {
            "identifier": "alice.test",
            "password": "abcd-efgh-ijkl-mnop",
        }
        linked = response.json()
        assert linked["handle"] == "alice.test"
        assert linked["tokenExpiresAt"] is not None
        row = await load_account(runtime, linked["accountId"])
        assert row.external_id == "did:plc:alice"
        assert runtime.cipher.decrypt(row.refresh_token_enc or "") == "refresh-jwt"
        assert "abcd-efgh-ijkl-mnop" not in json.dumps(row.settings)
        assert "abcd-efgh-ijkl-mnop" not in response.text

    async def test_telegram_bot_token_and_channel(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        token = TELEGRAM["botToken"]
        base = f"https://api.telegram.org/bot{token}"
        with respx.mock(assert_all_mocked=True) as router:
            router.post(f"{base}/getMe").mock(
                return_value=httpx.Response(
                    200,
                    json={
                        "ok": True,
                        "result": {"id": 123456, "is_bot": True, "username": "acme_bot"},
                    },
                )
            )
            get_chat = router.post(f"{base}/getChat").mock(
                return_value=httpx.Response(
                    200,
                    json={
                        "ok": True,
                        "result": {
                            "id": -1001234567890,
                            "type": "channel",
                            "title": "Acme News",
                            "username": "acme_news",
                        },
                    },
                )
            )
            router.post(f"{base}/getChatMember").mock(
                return_value=httpx.Response(
                    200,
                    json={
                        "ok": True,
                        "result": {"status": "administrator", "can_post_messages": True},
                    },
                )
            )
            response = await connect(client, tenant, TELEGRAM)
        assert response.status_code == 201, response.text
        assert json.loads(get_chat.calls.last.request.content) == {"chat_id": "@acme_news"}
        linked = response.json()
        assert linked["handle"] == "@acme_news"
        row = await load_account(runtime, linked["accountId"])
        assert row.external_id == "-1001234567890"
        assert runtime.cipher.decrypt(row.access_token_enc or "") == token
        assert token not in response.text

    async def test_telegram_revoked_bot_token_is_422(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        base = f"https://api.telegram.org/bot{TELEGRAM['botToken']}"
        with respx.mock(assert_all_mocked=True) as router:
            router.post(f"{base}/getMe").mock(
                return_value=httpx.Response(
                    401, json={"ok": False, "error_code": 401, "description": "Unauthorized"}
                )
            )
            response = await connect(client, tenant, TELEGRAM)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "credentials_invalid"

    async def test_discord_webhook(
        self, client: httpx.AsyncClient, runtime: Runtime, public_dns: dict[str, list[str]]
    ):
        tenant = await make_tenant(runtime)
        url = "https://discord.com/api/webhooks/223704706495545344/tok-en_1234567890abcdefXYZ"
        with respx.mock(assert_all_mocked=True) as router:
            fetched = router.get(
                "https://discord.com/api/v10/webhooks/223704706495545344/tok-en_1234567890abcdefXYZ"
            ).mock(
                return_value=httpx.Response(
                    200,
                    json={
                        "id": "223704706495545344",
                        "type": 1,
                        "guild_id": "1",
                        "channel_id": "2",
                        "name": "Announcements",
                        "token": "tok-en_1234567890abcdefXYZ",
                    },
                )
            )
            response = await connect(client, tenant, {"platform": "discord", "webhookUrl": url})
        assert response.status_code == 201, response.text
        assert fetched.call_count == 1
        row = await load_account(runtime, response.json()["accountId"])
        assert row.external_id == "223704706495545344"
        assert row.settings["channelId"] == "2"
        assert "tok-en_1234567890abcdefXYZ" not in response.text

    async def test_slack_bot_token_and_channel(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        with respx.mock(assert_all_mocked=True) as router:
            auth = router.post("https://slack.com/api/auth.test").mock(
                return_value=httpx.Response(
                    200,
                    json={
                        "ok": True,
                        "url": "https://acme.slack.com/",
                        "team": "Acme",
                        "team_id": "T1",
                        "user_id": "U1",
                        "bot_id": "B1",
                    },
                )
            )
            router.get("https://slack.com/api/conversations.info").mock(
                return_value=httpx.Response(
                    200,
                    json={
                        "ok": True,
                        "channel": {"id": "C123", "name": "general", "is_member": True},
                    },
                )
            )
            response = await connect(
                client,
                tenant,
                {"platform": "slack", "botToken": "xoxb-1-2-abc", "channel": "C123"},
            )
        assert response.status_code == 201, response.text
        assert auth.calls.last.request.headers["authorization"] == "Bearer xoxb-1-2-abc"
        linked = response.json()
        assert linked["handle"] == "#general"
        row = await load_account(runtime, linked["accountId"])
        assert row.external_id == "T1:C123"
