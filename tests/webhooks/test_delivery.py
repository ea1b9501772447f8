"""The outbox → deliveries → HTTP path, against a real receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.models import Event, Webhook, WebhookDelivery
from polypost.webhooks import delivery as engine
from polypost.webhooks.dispatch import dispatch_events
from tests.fixtures.factories import make_tenant
from tests.webhooks.receiver import Plan, Receiver, create_endpoint, later, record


async def deliveries(runtime: Runtime, **where: Any) -> list[WebhookDelivery]:
    async with runtime.sessions() as session:
        statement = select(WebhookDelivery).order_by(WebhookDelivery.created_at)
        for name, value in where.items():
            statement = statement.where(getattr(WebhookDelivery, name) == value)
        return list((await session.execute(statement)).scalars())


async def webhook_row(runtime: Runtime, webhook_id: str) -> Webhook:
    async with runtime.sessions() as session:
        row = await session.get(Webhook, webhook_id)
        assert row is not None
        return row


async def fan_out_and_send(runtime: Runtime, **kwargs: Any) -> engine.RunStats:
    await dispatch_events(runtime)
    return await engine.deliver_due(runtime, **kwargs)


class TestSignedDelivery:
    async def test_receiver_verifies_with_the_reference_library(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        hook = await create_endpoint(client, tenant.headers, receiver.url)
        event_id = await record(
            runtime, tenant.workspace.id, "post.published", {"postId": "pst_1"}, resource_id="p1"
        )
        stats = await fan_out_and_send(runtime)
        assert stats.delivered == 1
        [got] = receiver.requests
        body = got.verify(hook["secret"])
        assert got.webhook_id == event_id
        assert body["id"] == event_id
        assert body["type"] == "post.published"
        assert body["data"] == {"postId": "pst_1"}
        assert body["workspaceId"] == tenant.workspace.id
        assert got.headers["content-type"] == "application/json"
        with pytest.raises(Exception, match="signature"):
            got.verify("whsec_" + "A" * 43 + "=")
        [row] = await deliveries(runtime)
        assert row.status == "delivered"
        assert row.attempts == 1
        assert row.attempts_log[0]["outcome"] == "delivered"
        assert row.attempts_log[0]["statusCode"] == 200

    async def test_rotation_signs_with_both_secrets_during_the_overlap(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        hook = await create_endpoint(client, tenant.headers, receiver.url)
        rotated = await client.patch(
            f"/v1/webhooks/{hook['webhookId']}", headers=tenant.headers, json={"rotateSecret": True}
        )
        assert rotated.status_code == 200
        new_secret = rotated.json()["secret"]
        assert new_secret != hook["secret"]
        await record(runtime, tenant.workspace.id, "media.ready", {"mediaId": "md_1"})
        await fan_out_and_send(runtime)
        [got] = receiver.requests
        assert len(got.headers["webhook-signature"].split(" ")) == 2
        got.verify(new_secret)
        got.verify(hook["secret"])

    async def test_old_secret_stops_signing_after_the_overlap(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        hook = await create_endpoint(client, tenant.headers, receiver.url)
        rotated = await client.patch(
            f"/v1/webhooks/{hook['webhookId']}", headers=tenant.headers, json={"rotateSecret": True}
        )
        async with runtime.sessions() as session:
            await session.execute(
                update(Webhook).values(previous_secret_expires_at=utcnow() - timedelta(seconds=1))
            )
            await session.commit()
        await record(runtime, tenant.workspace.id, "media.ready")
        await fan_out_and_send(runtime)
        [got] = receiver.requests
        assert len(got.headers["webhook-signature"].split(" ")) == 1
        got.verify(rotated.json()["secret"])
        with pytest.raises(Exception, match="signature"):
            got.verify(hook["secret"])


class TestFanOut:
    async def test_per_endpoint_event_filter(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        await create_endpoint(client, tenant.headers, receiver.url, events=["post.published"])
        await record(runtime, tenant.workspace.id, "media.ready")
        wanted = await record(runtime, tenant.workspace.id, "post.published")
        await fan_out_and_send(runtime)
        assert receiver.ids == [wanted]

    async def test_events_of_other_workspaces_are_not_sent(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        mine = await make_tenant(runtime, "mine")
        other = await make_tenant(runtime, "other")
        await create_endpoint(client, mine.headers, receiver.url)
        await record(runtime, other.workspace.id, "post.published")
        await fan_out_and_send(runtime)
        assert receiver.requests == []

    async def test_dispatch_marks_events_and_never_fans_out_twice(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        await create_endpoint(client, tenant.headers, receiver.url)
        await create_endpoint(client, tenant.headers, receiver.url, events=["post.failed"])
        await record(runtime, tenant.workspace.id, "post.published")
        await record(runtime, tenant.workspace.id, "post.failed")
        first = await dispatch_events(runtime)
        second = await dispatch_events(runtime)
        assert (first.events, first.deliveries) == (2, 3)
        assert (second.events, second.deliveries) == (0, 0)
        async with runtime.sessions() as session:
            pending = await session.scalar(
                select(func.count()).select_from(Event).where(Event.dispatched_at.is_(None))
            )
        assert pending == 0
        assert len(await deliveries(runtime)) == 3

    async def test_concurrent_senders_send_each_event_once(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        await create_endpoint(client, tenant.headers, receiver.url)
        ids = [await record(runtime, tenant.workspace.id, "media.ready") for _ in range(12)]
        await dispatch_events(runtime)
        await asyncio.gather(*(engine.deliver_due(runtime, batch_size=3) for _ in range(3)))
        assert sorted(receiver.ids) == sorted(ids)
        assert {d.status for d in await deliveries(runtime)} == {"delivered"}


class TestClaiming:
    async def test_one_endpoint_gets_a_bounded_share_of_a_batch(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        busy = await create_endpoint(client, tenant.headers, receiver.url)
        quiet = await create_endpoint(client, tenant.headers, receiver.url, events=["post.failed"])
        for _ in range(engine.PER_ENDPOINT + 3):
            await record(runtime, tenant.workspace.id, "media.ready")
        await record(runtime, tenant.workspace.id, "post.failed")
        await dispatch_events(runtime)
        claimed = await engine.claim_due(runtime)
        by_endpoint = [c.webhook_id for c in claimed]
        assert by_endpoint.count(busy["webhookId"]) == engine.PER_ENDPOINT
        assert by_endpoint.count(quiet["webhookId"]) == 1
        # The rest are still due, for the next batch.
        assert len(await engine.claim_due(runtime)) == 4


class TestRetries:
    async def test_500_is_retried_on_the_schedule_with_the_same_webhook_id(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        hook = await create_endpoint(client, tenant.headers, receiver.url)
        receiver.respond(Plan(status=500, body=b"boom"), Plan(status=204, body=b""))
        event_id = await record(runtime, tenant.workspace.id, "post.failed")
        before = utcnow()
        await fan_out_and_send(runtime)
        [row] = await deliveries(runtime)
        assert row.status == "pending"
        assert row.last_status_code == 500
        assert row.next_attempt_at is not None
        # First retry 5 s later, ±10 % jitter.
        assert before + timedelta(seconds=4.4) <= row.next_attempt_at
        assert row.next_attempt_at <= utcnow() + timedelta(seconds=5.6)
        assert row.attempts_log[0]["responseBody"] == "boom"
        health = await webhook_row(runtime, hook["webhookId"])
        assert health.consecutive_failures == 1
        assert health.failing_since is not None

        not_yet = await engine.deliver_due(runtime)
        assert not_yet.attempted == 0
        await engine.deliver_due(runtime, now=later(seconds=6))
        assert receiver.ids == [event_id, event_id]
        for got in receiver.requests:
            got.verify(hook["secret"])
        [row] = await deliveries(runtime)
        assert row.status == "delivered"
        assert [a["outcome"] for a in row.attempts_log] == ["failed", "delivered"]
        health = await webhook_row(runtime, hook["webhookId"])
        assert (health.consecutive_failures, health.failing_since) == (0, None)

    async def test_timeout_is_retried(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        await create_endpoint(client, tenant.headers, receiver.url)
        receiver.respond(Plan(delay=1.5), Plan())
        event_id = await record(runtime, tenant.workspace.id, "post.published")
        await fan_out_and_send(runtime, request_timeout=0.3)
        [row] = await deliveries(runtime)
        assert row.status == "pending"
        assert row.last_status_code is None
        assert "Timed out" in row.attempts_log[0]["error"]
        await engine.deliver_due(runtime, now=later(seconds=6), request_timeout=0.3)
        assert receiver.ids == [event_id, event_id]
        [row] = await deliveries(runtime)
        assert row.status == "delivered"

    async def test_connection_refused_is_retried(self, client: httpx.AsyncClient, runtime: Runtime):
        closed = Receiver()
        url = closed.url
        closed.server.server_close()  # nothing listens on this port any more
        tenant = await make_tenant(runtime)
        await create_endpoint(client, tenant.headers, url)
        await record(runtime, tenant.workspace.id, "post.published")
        await fan_out_and_send(runtime)
        [row] = await deliveries(runtime)
        assert row.status == "pending"
        assert "ConnectError" in row.attempts_log[0]["error"]

    async def test_redirect_is_a_failure_and_not_followed(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        await create_endpoint(client, tenant.headers, receiver.url)
        receiver.respond(Plan(status=307, headers={"location": receiver.url + "/elsewhere"}))
        await record(runtime, tenant.workspace.id, "post.published")
        await fan_out_and_send(runtime)
        assert [r.path for r in receiver.requests] == ["/hook"]
        [row] = await deliveries(runtime)
        assert (row.status, row.last_status_code) == ("pending", 307)

    async def test_retry_after_is_respected(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        await create_endpoint(client, tenant.headers, receiver.url)
        receiver.respond(Plan(status=429, headers={"retry-after": "120"}))
        await record(runtime, tenant.workspace.id, "post.published")
        await fan_out_and_send(runtime)
        [row] = await deliveries(runtime)
        assert row.next_attempt_at is not None
        assert row.next_attempt_at >= utcnow() + timedelta(seconds=110)

    async def test_large_responses_are_capped(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        await create_endpoint(client, tenant.headers, receiver.url)
        receiver.respond(Plan(status=200, body=b"x" * 200_000))
        await record(runtime, tenant.workspace.id, "post.published")
        await fan_out_and_send(runtime)
        [row] = await deliveries(runtime)
        entry = row.attempts_log[0]
        assert row.status == "delivered"
        assert len(entry["responseBody"]) == engine.RESPONSE_BODY_CAP
        assert entry["responseBodyTruncated"] is True

    async def test_exhausted_schedule_fails_and_disables_a_failing_endpoint(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        hook = await create_endpoint(client, tenant.headers, receiver.url)
        watcher = await create_endpoint(
            client, tenant.headers, receiver.url + "/watcher", events=["webhook.disabled"]
        )
        receiver.decide = lambda got: Plan() if got.path.endswith("/watcher") else Plan(500)
        await record(runtime, tenant.workspace.id, "post.published")
        await dispatch_events(runtime)
        for _ in range(engine.MAX_ATTEMPTS):
            await engine.deliver_due(runtime, now=later(days=2))
        [row] = await deliveries(runtime, webhook_id=hook["webhookId"])
        assert (row.status, row.attempts) == ("failed", engine.MAX_ATTEMPTS)
        disabled = await webhook_row(runtime, hook["webhookId"])
        assert disabled.enabled is False
        assert disabled.disabled_reason is not None
        assert "attempts" in disabled.disabled_reason
        # The workspace's other endpoint hears about it.
        await fan_out_and_send(runtime)
        [notice] = [r for r in receiver.requests if r.path.endswith("/watcher")]
        body = notice.verify(watcher["secret"])
        assert body["type"] == "webhook.disabled"
        assert body["data"]["webhookId"] == hook["webhookId"]

    async def test_five_days_of_failure_disables(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        hook = await create_endpoint(client, tenant.headers, receiver.url)
        receiver.respond(Plan(status=503))
        async with runtime.sessions() as session:
            await session.execute(
                update(Webhook).values(failing_since=utcnow() - timedelta(days=5))
            )
            await session.commit()
        await record(runtime, tenant.workspace.id, "post.published")
        await fan_out_and_send(runtime)
        row = await webhook_row(runtime, hook["webhookId"])
        assert row.enabled is False
        assert row.disabled_reason == "Every delivery attempt failed for 5 days."

    async def test_a_success_elsewhere_keeps_a_single_bad_event_from_disabling(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        hook = await create_endpoint(client, tenant.headers, receiver.url)
        bad = await record(runtime, tenant.workspace.id, "post.published", {"n": 1})
        receiver.decide = lambda got: Plan(500) if got.webhook_id == bad else Plan()
        await fan_out_and_send(runtime)
        for _ in range(engine.MAX_ATTEMPTS - 1):
            await record(runtime, tenant.workspace.id, "media.ready")
            await fan_out_and_send(runtime, now=later(days=2))
        [row] = await deliveries(runtime, event_id=bad)
        assert row.status == "failed"
        assert (await webhook_row(runtime, hook["webhookId"])).enabled is True


class TestDisabling:
    async def test_410_disables_the_endpoint_and_cancels_what_is_pending(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        hook = await create_endpoint(client, tenant.headers, receiver.url)
        receiver.respond(Plan(status=500), Plan(status=410))
        await record(runtime, tenant.workspace.id, "post.published", resource_id="a")
        await fan_out_and_send(runtime)
        await record(runtime, tenant.workspace.id, "post.failed", resource_id="b")
        await dispatch_events(runtime)
        await engine.deliver_due(runtime)  # only the new one is due
        row = await webhook_row(runtime, hook["webhookId"])
        assert row.enabled is False
        assert row.disabled_reason == "The endpoint answered 410 Gone."
        assert row.disabled_at is not None
        statuses = sorted((d.event_type, d.status) for d in await deliveries(runtime))
        assert statuses == [("post.failed", "failed"), ("post.published", "canceled")]
        async with runtime.sessions() as session:
            types = list(await session.scalars(select(Event.type)))
        assert "webhook.disabled" in types

    async def test_disabled_endpoints_get_nothing(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        hook = await create_endpoint(client, tenant.headers, receiver.url)
        await record(runtime, tenant.workspace.id, "post.published")
        await dispatch_events(runtime)  # a delivery is pending…
        response = await client.patch(
            f"/v1/webhooks/{hook['webhookId']}", headers=tenant.headers, json={"enabled": False}
        )
        assert response.json()["enabled"] is False
        await record(runtime, tenant.workspace.id, "post.published")
        await fan_out_and_send(runtime, now=later(days=3))
        assert receiver.requests == []
        [row] = await deliveries(runtime)
        assert row.status == "canceled"

    async def test_disabled_while_in_flight_is_not_retried(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        hook = await create_endpoint(client, tenant.headers, receiver.url)
        receiver.respond(Plan(status=500))
        await record(runtime, tenant.workspace.id, "post.published")
        await dispatch_events(runtime)
        [claimed] = await engine.claim_due(runtime)
        async with runtime.sessions() as session:
            await engine.disable(session, hook["webhookId"], "test", automatic=False)
            await session.commit()
        async with httpx.AsyncClient() as http:
            status = await engine.attempt(runtime, http, claimed, request_timeout=5)
        assert status == "canceled"


class TestCrashSafety:
    async def test_killed_between_sending_and_recording_resends_the_same_id(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        receiver: Receiver,
        monkeypatch: pytest.MonkeyPatch,
    ):
        tenant = await make_tenant(runtime)
        hook = await create_endpoint(client, tenant.headers, receiver.url)
        event_id = await record(runtime, tenant.workspace.id, "post.partial", {"postId": "pst_1"})
        await dispatch_events(runtime)

        class Killed(BaseException):
            """Like SIGKILL: nothing after the send runs."""

        real_record = engine.record

        async def die(*args: Any, **kwargs: Any) -> None:
            raise Killed

        monkeypatch.setattr(engine, "record", die)
        with pytest.raises(Killed):
            await engine.deliver_due(runtime)
        assert receiver.ids == [event_id]  # it was sent…
        [row] = await deliveries(runtime)
        assert row.status == "sending"  # …but the outcome never got recorded
        assert row.attempts_log[0]["outcome"] == "sending"

        monkeypatch.setattr(engine, "record", real_record)
        assert (await engine.deliver_due(runtime)).attempted == 0  # lease still held
        await engine.deliver_due(runtime, now=later(seconds=engine.LEASE.total_seconds() + 1))
        assert receiver.ids == [event_id, event_id]
        for got in receiver.requests:
            assert got.verify(hook["secret"])["id"] == event_id
        [row] = await deliveries(runtime)
        assert (row.status, row.attempts) == ("delivered", 2)
        assert [a["outcome"] for a in row.attempts_log] == ["unknown", "delivered"]

    async def test_a_superseded_attempt_does_not_overwrite_the_newer_one(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        await create_endpoint(client, tenant.headers, receiver.url)
        await record(runtime, tenant.workspace.id, "post.published")
        await dispatch_events(runtime)
        [slow] = await engine.claim_due(runtime)
        [fast] = await engine.claim_due(runtime, now=later(seconds=61))
        assert fast.attempt == slow.attempt + 1
        async with httpx.AsyncClient() as http:
            assert await engine.attempt(runtime, http, fast, request_timeout=5) == "delivered"
            assert await engine.attempt(runtime, http, slow, request_timeout=5) is None
        [row] = await deliveries(runtime)
        assert (row.status, row.attempts) == ("delivered", 2)


class TestOrdering:
    async def test_events_about_one_resource_arrive_in_order(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        await create_endpoint(client, tenant.headers, receiver.url)
        first = await record(runtime, tenant.workspace.id, "post.publishing", resource_id="pst_1")
        second = await record(runtime, tenant.workspace.id, "post.published", resource_id="pst_1")
        other = await record(runtime, tenant.workspace.id, "media.ready", resource_id="md_1")
        receiver.decide = lambda got: Plan(delay=0.4) if got.webhook_id == first else Plan()
        await fan_out_and_send(runtime)
        by_id = {r.webhook_id: r for r in receiver.requests}
        assert set(by_id) == {first, second, other}
        answered = by_id[first].answered
        assert answered is not None
        assert by_id[second].arrived >= answered
        # Unrelated resources are not held back.
        assert by_id[other].arrived < answered

    async def test_a_failing_event_does_not_hold_later_ones_for_days(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        await create_endpoint(client, tenant.headers, receiver.url)
        first = await record(runtime, tenant.workspace.id, "post.publishing", resource_id="pst_1")
        second = await record(runtime, tenant.workspace.id, "post.failed", resource_id="pst_1")
        receiver.decide = lambda got: Plan(500) if got.webhook_id == first else Plan()
        await fan_out_and_send(runtime)
        assert receiver.ids == [first, second]


class TestOutboundGuard:
    async def test_private_address_is_refused_at_delivery_time(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        await create_endpoint(client, tenant.headers, receiver.url)
        # The allowance is withdrawn after registration (or DNS now points inside).
        runtime.settings = runtime.settings.model_copy(update={"outbound_allow": []})
        await record(runtime, tenant.workspace.id, "post.published")
        await fan_out_and_send(runtime)
        assert receiver.requests == []
        [row] = await deliveries(runtime)
        assert row.status == "pending"
        assert "Refused" in row.attempts_log[0]["error"]
        assert "loopback" in row.attempts_log[0]["error"]


class TestPayload:
    async def test_body_is_the_standard_webhooks_shape(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        await create_endpoint(client, tenant.headers, receiver.url)
        await record(runtime, tenant.workspace.id, "comment.received", {"text": "héllo ✓"})
        await fan_out_and_send(runtime)
        body = json.loads(receiver.requests[0].body)
        assert set(body) == {"id", "type", "timestamp", "workspaceId", "data"}
        assert body["timestamp"].endswith("Z")
        assert body["data"]["text"] == "héllo ✓"
