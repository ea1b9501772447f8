"""A real publish drives real webhooks: the publishing engine records the events, the
webhook jobs deliver them, and an independent verifier accepts every signature."""

from __future__ import annotations

import httpx

from polypost.core.runtime import Runtime
from polypost.webhooks import delivery as engine
from polypost.webhooks.dispatch import dispatch_events
from tests.fixtures.factories import connect_sandbox, make_tenant
from tests.fixtures.jobs import RunJobs
from tests.webhooks.receiver import Plan, Receiver, create_endpoint, later


async def test_partial_publish_reaches_a_subscribed_endpoint(
    client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver, run_jobs: RunJobs
):
    tenant = await make_tenant(runtime)
    hook = await create_endpoint(
        client,
        tenant.headers,
        receiver.url,
        events=["post.partial", "target.published", "target.failed"],
    )
    accounts = [
        await connect_sandbox(client, tenant),
        await connect_sandbox(client, tenant),
        await connect_sandbox(client, tenant, failWith="permanent"),
    ]
    created = await client.post(
        "/v1/posts",
        headers=tenant.headers,
        json={"accountIds": accounts, "content": "Launch day", "publishNow": True},
    )
    assert created.status_code == 201, created.text
    post_id = created.json()["postId"]
    await run_jobs()

    # The receiver is briefly down when the summary event first arrives.
    receiver.decide = lambda got: Plan(503) if b'"post.partial"' in got.body else Plan()
    await dispatch_events(runtime)
    await engine.deliver_due(runtime)
    receiver.decide = None
    await engine.deliver_due(runtime, now=later(seconds=6))

    bodies = [got.verify(hook["secret"]) for got in receiver.requests]
    assert [b["type"] for b in bodies].count("post.partial") == 2  # the 503, then the retry
    partial = next(b for b in bodies if b["type"] == "post.partial")
    assert partial["data"]["postId"] == post_id
    assert partial["data"]["targets"] == {"published": 2, "failed": 1}
    targets = {b["id"]: b for b in bodies if b["type"].startswith("target.")}
    assert sorted(b["type"] for b in targets.values()) == [
        "target.failed",
        "target.published",
        "target.published",
    ]
    assert {b["data"]["postId"] for b in targets.values()} == {post_id}
    # Every event about the post went out before the summary that concludes it.
    first_partial = next(i for i, b in enumerate(bodies) if b["type"] == "post.partial")
    assert first_partial == 3

    base = f"/v1/webhooks/{hook['webhookId']}/deliveries"
    [summary] = (await client.get(f"{base}?eventType=post.partial", headers=tenant.headers)).json()[
        "deliveries"
    ]
    detail = (await client.get(f"{base}/{summary['deliveryId']}", headers=tenant.headers)).json()
    assert detail["status"] == "delivered"
    assert [(a["attempt"], a["statusCode"]) for a in detail["attemptLog"]] == [(1, 503), (2, 200)]
    assert detail["attemptLog"][0]["requestHeaders"]["webhook-id"] == partial["id"]
    assert detail["attemptLog"][1]["requestHeaders"]["webhook-id"] == partial["id"]
