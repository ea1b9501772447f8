from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from polypost.core import outbound
from polypost.core.runtime import Runtime
from polypost.events.catalog import EventType
from polypost.models import WebhookDelivery
from polypost.webhooks import delivery as engine
from polypost.webhooks import service
from polypost.webhooks.dispatch import dispatch_events
from polypost.worker.queue import ArqQueue, EmbeddedQueue
from tests.fixtures.factories import Tenant, make_key, make_tenant
from tests.webhooks.receiver import Plan, Receiver, create_endpoint, record

API_MD_EVENTS = {
    "post.scheduled",
    "post.publishing",
    "post.published",
    "post.partial",
    "post.failed",
    "post.canceled",
    "target.published",
    "target.failed",
    "account.connected",
    "account.disconnected",
    "account.token_expired",
    "media.ready",
    "media.invalid",
    "comment.received",
    "message.received",
    "review.received",
    "mention.received",
}


@pytest.fixture
def public_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Simulated DNS for names the guard resolves (the sandbox has no resolver)."""
    answers: dict[str, list[str]] = {"hooks.example.com": ["93.184.216.34"]}

    async def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError(f"unknown host {host}")
        return answers[host]

    monkeypatch.setattr(outbound, "resolve", resolve)
    return answers


def no_allowances(runtime: Runtime) -> None:
    runtime.settings = runtime.settings.model_copy(update={"outbound_allow": []})


async def sent_delivery(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, receiver: Receiver, **event: Any
) -> tuple[dict[str, Any], str]:
    """An endpoint with one attempted delivery; returns (endpoint, event id)."""
    hook = await create_endpoint(client, tenant.headers, receiver.url)
    event_id = await record(
        runtime, tenant.workspace.id, event.pop("type_", "post.published"), **event
    )
    await dispatch_events(runtime)
    await engine.deliver_due(runtime)
    return hook, event_id


class TestCreateWebhook:
    async def test_secret_is_returned_once(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        created = await create_endpoint(
            client, tenant.headers, receiver.url, description="CRM", events=["post.published"]
        )
        assert created["webhookId"].startswith("wh_")
        assert created["events"] == ["post.published"]
        assert created["enabled"] is True
        secret = created["secret"]
        assert secret.startswith("whsec_")
        assert 24 <= len(base64.b64decode(secret.removeprefix("whsec_"))) <= 64
        listed = await client.get("/v1/webhooks", headers=tenant.headers)
        fetched = await client.get(f"/v1/webhooks/{created['webhookId']}", headers=tenant.headers)
        for response in (listed, fetched):
            assert response.status_code == 200
            assert secret not in response.text
            assert "secret" not in response.text.replace("previousSecretExpiresAt", "")

    async def test_events_default_to_every_type(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        created = await create_endpoint(client, tenant.headers, receiver.url)
        assert created["events"] == ["*"]

    async def test_public_url_is_accepted(
        self, client: httpx.AsyncClient, runtime: Runtime, public_dns: dict[str, list[str]]
    ):
        tenant = await make_tenant(runtime)
        no_allowances(runtime)
        created = await create_endpoint(client, tenant.headers, "https://hooks.example.com/x")
        assert created["url"] == "https://hooks.example.com/x"

    @pytest.mark.parametrize(
        ("url", "reason"),
        [
            ("http://127.0.0.1:8080/hook", "loopback"),
            ("http://localhost/hook", "loopback"),
            ("http://[::1]/hook", "loopback"),
            ("http://0x7f000001/hook", "loopback"),
            ("http://10.0.0.1/hook", "private"),
            ("http://169.254.169.254/latest/meta-data/", "link-local"),
            ("http://[::ffff:127.0.0.1]/hook", "loopback"),
            ("http://internal.example.com/hook", "private"),
            ("http://nowhere.invalid/hook", "could not be resolved"),
        ],
    )
    async def test_private_targets_are_refused_with_the_reason(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        public_dns: dict[str, list[str]],
        url: str,
        reason: str,
    ):
        public_dns["internal.example.com"] = ["93.184.216.34", "192.168.1.10"]
        public_dns["localhost"] = ["127.0.0.1"]
        tenant = await make_tenant(runtime)
        no_allowances(runtime)
        response = await client.post("/v1/webhooks", headers=tenant.headers, json={"url": url})
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == "bad_request"
        assert reason in error["message"]
        [field] = error["details"]["fields"]
        assert field["field"] == "url"
        assert reason in field["message"]
        listed = await client.get("/v1/webhooks", headers=tenant.headers)
        assert listed.json()["webhooks"] == []

    async def test_outbound_allow_exempts_a_named_private_target(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        assert runtime.settings.outbound_allow == ["127.0.0.1"]
        await create_endpoint(client, tenant.headers, receiver.url)

    @pytest.mark.parametrize(
        "body",
        [
            {"url": "ftp://hooks.example.com/x"},
            {"url": "/relative"},
            {"url": "https://hooks.example.com/" + "a" * 2100},
            {"url": "https://hooks.example.com/x", "events": ["post.exploded"]},
            {"url": "https://hooks.example.com/x", "events": []},
            {"url": "https://hooks.example.com/x", "events": ["webhook.test"]},
            {"url": "https://hooks.example.com/x", "secret": "not-a-secret"},
            {"url": "https://hooks.example.com/x", "secret": "whsec_" + "QUJD"},
            {"url": "https://hooks.example.com/x", "enabled": False},
            {"url": "https://hooks.example.com/x", "description": "d" * 501},
        ],
    )
    async def test_invalid_input_is_400(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        public_dns: dict[str, list[str]],
        body: dict[str, Any],
    ):
        tenant = await make_tenant(runtime)
        response = await client.post("/v1/webhooks", headers=tenant.headers, json=body)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "bad_request"

    async def test_an_own_secret_is_kept(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        mine = "whsec_" + base64.b64encode(b"k" * 32).decode()
        created = await create_endpoint(client, tenant.headers, receiver.url, secret=mine)
        assert created["secret"] == mine
        await record(runtime, tenant.workspace.id, "post.published")
        await dispatch_events(runtime)
        await engine.deliver_due(runtime)
        receiver.requests[0].verify(mine)

    async def test_read_scope_cannot_create(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        reader = await make_key(runtime, tenant.workspace.id, {"webhooks:read"})
        response = await client.post(
            "/v1/webhooks", headers={"X-Api-Key": reader}, json={"url": receiver.url}
        )
        assert response.status_code == 403
        assert response.json()["error"]["details"]["requiredScope"] == "webhooks:write"

    async def test_endpoints_per_workspace_are_limited(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        receiver: Receiver,
        monkeypatch: pytest.MonkeyPatch,
    ):
        monkeypatch.setattr(service, "MAX_WEBHOOKS_PER_WORKSPACE", 2)
        tenant = await make_tenant(runtime)
        for _ in range(2):
            await create_endpoint(client, tenant.headers, receiver.url)
        response = await client.post(
            "/v1/webhooks", headers=tenant.headers, json={"url": receiver.url}
        )
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "conflict"


class TestListWebhooks:
    async def test_pages_and_isolation(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        mine = await make_tenant(runtime, "mine")
        other = await make_tenant(runtime, "other")
        ids = [
            (await create_endpoint(client, mine.headers, receiver.url))["webhookId"] for _ in "abc"
        ]
        theirs = await create_endpoint(client, other.headers, receiver.url)
        first = (await client.get("/v1/webhooks?limit=2", headers=mine.headers)).json()
        second = (
            await client.get(
                f"/v1/webhooks?limit=2&cursor={first['nextCursor']}", headers=mine.headers
            )
        ).json()
        seen = [w["webhookId"] for w in first["webhooks"] + second["webhooks"]]
        assert seen == ids
        assert second["nextCursor"] is None
        assert theirs["webhookId"] not in seen

    async def test_filter_by_enabled(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        on = await create_endpoint(client, tenant.headers, receiver.url)
        off = await create_endpoint(client, tenant.headers, receiver.url)
        await client.patch(
            f"/v1/webhooks/{off['webhookId']}", headers=tenant.headers, json={"enabled": False}
        )
        enabled = await client.get("/v1/webhooks?enabled=true", headers=tenant.headers)
        disabled = await client.get("/v1/webhooks?enabled=false", headers=tenant.headers)
        assert [w["webhookId"] for w in enabled.json()["webhooks"]] == [on["webhookId"]]
        assert [w["webhookId"] for w in disabled.json()["webhooks"]] == [off["webhookId"]]


class TestGetWebhook:
    async def test_other_workspace_is_404(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        mine = await make_tenant(runtime, "mine")
        other = await make_tenant(runtime, "other")
        theirs = await create_endpoint(client, other.headers, receiver.url)
        response = await client.get(f"/v1/webhooks/{theirs['webhookId']}", headers=mine.headers)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
        missing = await client.get("/v1/webhooks/wh_nope", headers=mine.headers)
        assert missing.status_code == 404


class TestUpdateWebhook:
    async def test_partial_update(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        hook = await create_endpoint(client, tenant.headers, receiver.url, description="old")
        response = await client.patch(
            f"/v1/webhooks/{hook['webhookId']}",
            headers=tenant.headers,
            json={"events": ["post.failed", "post.partial", "post.failed"], "description": None},
        )
        assert response.status_code == 200
        body = response.json()
        assert body["events"] == ["post.failed", "post.partial"]
        assert body["description"] is None
        assert body["url"] == receiver.url
        assert body["secret"] is None

    async def test_rotation_returns_the_new_secret_and_an_overlap(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        hook = await create_endpoint(client, tenant.headers, receiver.url)
        assert hook["previousSecretExpiresAt"] is None
        response = await client.patch(
            f"/v1/webhooks/{hook['webhookId']}", headers=tenant.headers, json={"rotateSecret": True}
        )
        body = response.json()
        assert body["secret"].startswith("whsec_")
        assert body["secret"] != hook["secret"]
        assert body["previousSecretExpiresAt"] is not None
        again = await client.get(f"/v1/webhooks/{hook['webhookId']}", headers=tenant.headers)
        assert body["secret"] not in again.text

    async def test_new_url_is_checked_by_the_guard(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        hook = await create_endpoint(client, tenant.headers, receiver.url)
        no_allowances(runtime)
        response = await client.patch(
            f"/v1/webhooks/{hook['webhookId']}",
            headers=tenant.headers,
            json={"url": "http://169.254.169.254/latest"},
        )
        assert response.status_code == 400
        assert "link-local" in response.json()["error"]["message"]
        after = await client.get(f"/v1/webhooks/{hook['webhookId']}", headers=tenant.headers)
        assert after.json()["url"] == receiver.url

    @pytest.mark.parametrize(
        "body", [{"url": None}, {"events": None}, {"enabled": None}, {"secret": "x"}]
    )
    async def test_invalid_update_is_400(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        receiver: Receiver,
        body: dict[str, Any],
    ):
        tenant = await make_tenant(runtime)
        hook = await create_endpoint(client, tenant.headers, receiver.url)
        response = await client.patch(
            f"/v1/webhooks/{hook['webhookId']}", headers=tenant.headers, json=body
        )
        assert response.status_code == 400

    async def test_reenabling_clears_the_reason_and_health(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        hook = await create_endpoint(client, tenant.headers, receiver.url)
        receiver.respond(Plan(status=410))
        await record(runtime, tenant.workspace.id, "post.published")
        await dispatch_events(runtime)
        await engine.deliver_due(runtime)
        url = f"/v1/webhooks/{hook['webhookId']}"
        disabled = (await client.get(url, headers=tenant.headers)).json()
        assert disabled["enabled"] is False
        assert disabled["disabledReason"] == "The endpoint answered 410 Gone."
        assert disabled["consecutiveFailures"] == 1
        enabled = await client.patch(url, headers=tenant.headers, json={"enabled": True})
        body = enabled.json()
        assert body["enabled"] is True
        assert (body["disabledReason"], body["disabledAt"], body["failingSince"]) == (
            None,
            None,
            None,
        )
        assert body["consecutiveFailures"] == 0

    async def test_manual_disable_states_why(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        hook = await create_endpoint(client, tenant.headers, receiver.url)
        response = await client.patch(
            f"/v1/webhooks/{hook['webhookId']}", headers=tenant.headers, json={"enabled": False}
        )
        body = response.json()
        assert body["enabled"] is False
        assert body["disabledReason"] == service.MANUAL_DISABLE_REASON
        assert body["disabledAt"] is not None

    async def test_other_workspace_is_404_and_unchanged(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        mine = await make_tenant(runtime, "mine")
        other = await make_tenant(runtime, "other")
        theirs = await create_endpoint(client, other.headers, receiver.url)
        url = f"/v1/webhooks/{theirs['webhookId']}"
        response = await client.patch(
            url, headers=mine.headers, json={"enabled": False, "rotateSecret": True}
        )
        assert response.status_code == 404
        assert (await client.get(url, headers=other.headers)).json()["enabled"] is True


class TestDeleteWebhook:
    async def test_delete_removes_the_endpoint_and_its_log(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        hook, _ = await sent_delivery(client, runtime, tenant, receiver)
        url = f"/v1/webhooks/{hook['webhookId']}"
        response = await client.delete(url, headers=tenant.headers)
        assert response.status_code == 200
        assert response.json() == {"webhookId": hook["webhookId"], "deleted": True}
        assert (await client.get(url, headers=tenant.headers)).status_code == 404
        async with runtime.sessions() as session:
            assert list(await session.scalars(select(WebhookDelivery))) == []

    async def test_other_workspace_is_404(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        mine = await make_tenant(runtime, "mine")
        other = await make_tenant(runtime, "other")
        theirs = await create_endpoint(client, other.headers, receiver.url)
        url = f"/v1/webhooks/{theirs['webhookId']}"
        assert (await client.delete(url, headers=mine.headers)).status_code == 404
        assert (await client.get(url, headers=other.headers)).status_code == 200


class TestEventCatalog:
    async def test_every_api_event_has_an_example(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime)
        reader = await make_key(runtime, tenant.workspace.id, {"webhooks:read"})
        response = await client.get("/v1/webhooks/events", headers={"X-Api-Key": reader})
        assert response.status_code == 200
        catalog = {e["type"]: e for e in response.json()["events"]}
        assert set(catalog) >= API_MD_EVENTS
        assert set(catalog) == {t.value for t in EventType}
        for type_, entry in catalog.items():
            assert entry["description"]
            example = entry["example"]
            assert example["type"] == type_
            assert example["id"].startswith("evt_")
            assert example["timestamp"].endswith("Z")
            assert isinstance(example["data"], dict)
            assert example["data"]
        partial = catalog["post.partial"]["example"]["data"]
        assert partial["targets"] == {"published": 2, "failed": 1}

    async def test_needs_webhooks_read(self, client: httpx.AsyncClient, runtime: Runtime):
        tenant = await make_tenant(runtime)
        other = await make_key(runtime, tenant.workspace.id, {"posts:read"})
        response = await client.get("/v1/webhooks/events", headers={"X-Api-Key": other})
        assert response.status_code == 403


class TestDeliveries:
    async def test_list_and_filters(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        hook = await create_endpoint(client, tenant.headers, receiver.url)
        receiver.decide = lambda got: Plan(500) if b"post.failed" in got.body else Plan()
        published = await record(runtime, tenant.workspace.id, "post.published")
        failed = await record(runtime, tenant.workspace.id, "post.failed")
        media = await record(runtime, tenant.workspace.id, "media.ready")
        await dispatch_events(runtime)
        await engine.deliver_due(runtime)
        base = f"/v1/webhooks/{hook['webhookId']}/deliveries"

        async def ids(query: str) -> list[str]:
            response = await client.get(base + query, headers=tenant.headers)
            assert response.status_code == 200, response.text
            return [d["eventId"] for d in response.json()["deliveries"]]

        assert set(await ids("")) == {published, failed, media}
        assert await ids("?status=pending") == [failed]
        assert set(await ids("?status=delivered")) == {published, media}
        assert await ids("?eventType=media.ready") == [media]
        assert await ids(f"?eventId={published}") == [published]
        assert await ids("?status=failed") == []
        bad = await client.get(base + "?status=exploded", headers=tenant.headers)
        assert bad.status_code == 400

    async def test_pagination_is_newest_first(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        hook = await create_endpoint(client, tenant.headers, receiver.url)
        for _ in range(3):
            await record(runtime, tenant.workspace.id, "media.ready")
            await dispatch_events(runtime)
        base = f"/v1/webhooks/{hook['webhookId']}/deliveries"
        first = (await client.get(base + "?limit=2", headers=tenant.headers)).json()
        rest = (
            await client.get(f"{base}?limit=2&cursor={first['nextCursor']}", headers=tenant.headers)
        ).json()
        items = first["deliveries"] + rest["deliveries"]
        assert len(items) == 3
        assert rest["nextCursor"] is None
        stamps = [d["createdAt"] for d in items]
        assert stamps == sorted(stamps, reverse=True)

    async def test_detail_shows_request_and_response(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        receiver.respond(Plan(status=202, body=b'{"ok":true}', headers={"x-trace": "t1"}))
        hook, event_id = await sent_delivery(
            client, runtime, tenant, receiver, data={"postId": "pst_1"}
        )
        listed = await client.get(
            f"/v1/webhooks/{hook['webhookId']}/deliveries", headers=tenant.headers
        )
        [summary] = listed.json()["deliveries"]
        assert summary["deliveryId"].startswith("whd_")
        detail = await client.get(
            f"/v1/webhooks/{hook['webhookId']}/deliveries/{summary['deliveryId']}",
            headers=tenant.headers,
        )
        assert detail.status_code == 200
        body = detail.json()
        assert body["status"] == "delivered"
        assert body["eventId"] == event_id
        assert body["request"]["body"] == receiver.requests[0].body.decode()
        assert body["request"]["bodyTruncated"] is False
        [attempt] = body["attemptLog"]
        assert attempt["attempt"] == 1
        assert attempt["outcome"] == "delivered"
        assert attempt["statusCode"] == 202
        assert attempt["responseBody"] == '{"ok":true}'
        assert attempt["responseHeaders"]["x-trace"] == "t1"
        assert attempt["requestHeaders"]["webhook-id"] == event_id
        assert attempt["durationMs"] >= 0
        assert hook["secret"] not in detail.text

    async def test_other_workspace_ids_are_404(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        mine = await make_tenant(runtime, "mine")
        other = await make_tenant(runtime, "other")
        theirs, _ = await sent_delivery(client, runtime, other, receiver)
        own = await create_endpoint(client, mine.headers, receiver.url)
        listed = await client.get(
            f"/v1/webhooks/{theirs['webhookId']}/deliveries", headers=other.headers
        )
        delivery_id = listed.json()["deliveries"][0]["deliveryId"]
        paths = [
            ("get", f"/v1/webhooks/{theirs['webhookId']}/deliveries"),
            ("get", f"/v1/webhooks/{theirs['webhookId']}/deliveries/{delivery_id}"),
            ("post", f"/v1/webhooks/{theirs['webhookId']}/deliveries/{delivery_id}/retry"),
            ("post", f"/v1/webhooks/{theirs['webhookId']}/test"),
            # Their delivery id under my own endpoint.
            ("get", f"/v1/webhooks/{own['webhookId']}/deliveries/{delivery_id}"),
            ("post", f"/v1/webhooks/{own['webhookId']}/deliveries/{delivery_id}/retry"),
        ]
        for method, path in paths:
            response = await client.request(method, path, headers=mine.headers)
            assert response.status_code == 404, (method, path)
        assert len(receiver.requests) == 1


async def queued_jobs(runtime: Runtime) -> list[str]:
    """Job ids waiting in whichever queue this mode uses."""
    queue = runtime.queue
    if isinstance(queue, ArqQueue):
        return [j.decode() for j in await queue.redis.zrange("arq:queue", 0, -1)]
    assert isinstance(queue, EmbeddedQueue)
    return [job.job_id for job in queue.pop_due(float("inf"), 100)]


class TestRetryDelivery:
    async def test_retry_resends_with_the_same_webhook_id(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        receiver.respond(Plan(status=410))
        hook, event_id = await sent_delivery(client, runtime, tenant, receiver)
        base = f"/v1/webhooks/{hook['webhookId']}"
        [failed] = (await client.get(f"{base}/deliveries", headers=tenant.headers)).json()[
            "deliveries"
        ]
        assert failed["status"] == "failed"
        refused = await client.post(
            f"{base}/deliveries/{failed['deliveryId']}/retry", headers=tenant.headers
        )
        assert refused.status_code == 409  # the 410 disabled the endpoint
        await client.patch(base, headers=tenant.headers, json={"enabled": True})
        response = await client.post(
            f"{base}/deliveries/{failed['deliveryId']}/retry", headers=tenant.headers
        )
        assert response.status_code == 202
        assert response.json()["status"] == "pending"
        woken = [f"deliver_webhooks:retry:{failed['deliveryId']}:1"]
        assert await queued_jobs(runtime) == (woken if runtime.settings.distributed else [])
        await engine.deliver_due(runtime)
        assert receiver.ids == [event_id, event_id]
        detail = await client.get(
            f"{base}/deliveries/{failed['deliveryId']}", headers=tenant.headers
        )
        assert detail.json()["status"] == "delivered"
        assert [a["statusCode"] for a in detail.json()["attemptLog"]] == [410, 200]

    async def test_in_flight_delivery_is_409(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        hook = await create_endpoint(client, tenant.headers, receiver.url)
        await record(runtime, tenant.workspace.id, "post.published")
        await dispatch_events(runtime)
        [claimed] = await engine.claim_due(runtime)
        response = await client.post(
            f"/v1/webhooks/{hook['webhookId']}/deliveries/{claimed.delivery_id}/retry",
            headers=tenant.headers,
        )
        assert response.status_code == 409


class TestSendTest:
    async def test_sends_a_signed_test_event_now(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        hook = await create_endpoint(client, tenant.headers, receiver.url, events=["post.failed"])
        response = await client.post(
            f"/v1/webhooks/{hook['webhookId']}/test", headers=tenant.headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "delivered"
        assert body["eventType"] == "webhook.test"
        assert body["attemptLog"][0]["statusCode"] == 200
        [got] = receiver.requests
        payload = got.verify(hook["secret"])
        assert payload["type"] == "webhook.test"
        assert payload["data"]["webhookId"] == hook["webhookId"]
        # Not fanned out to anyone else later.
        await create_endpoint(client, tenant.headers, receiver.url)
        await dispatch_events(runtime)
        await engine.deliver_due(runtime)
        assert len(receiver.requests) == 1

    async def test_a_failing_test_is_not_retried_and_does_not_count(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        hook = await create_endpoint(client, tenant.headers, receiver.url)
        receiver.respond(Plan(status=410))
        body = (
            await client.post(f"/v1/webhooks/{hook['webhookId']}/test", headers=tenant.headers)
        ).json()
        assert (body["status"], body["nextAttemptAt"], body["lastStatusCode"]) == (
            "failed",
            None,
            410,
        )
        after = await client.get(f"/v1/webhooks/{hook['webhookId']}", headers=tenant.headers)
        assert after.json()["enabled"] is True
        assert after.json()["consecutiveFailures"] == 0

    async def test_refused_address_is_reported(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        hook = await create_endpoint(client, tenant.headers, receiver.url)
        no_allowances(runtime)
        body = (
            await client.post(f"/v1/webhooks/{hook['webhookId']}/test", headers=tenant.headers)
        ).json()
        assert body["status"] == "failed"
        assert "loopback" in body["attemptLog"][0]["error"]
        assert receiver.requests == []

    async def test_needs_webhooks_write(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        hook = await create_endpoint(client, tenant.headers, receiver.url)
        reader = await make_key(runtime, tenant.workspace.id, {"webhooks:read"})
        response = await client.post(
            f"/v1/webhooks/{hook['webhookId']}/test", headers={"X-Api-Key": reader}
        )
        assert response.status_code == 403
        assert receiver.requests == []
