from __future__ import annotations

import httpx
from arq.worker import Worker, func

from polypost.core.runtime import Runtime
from polypost.webhooks import service
from polypost.webhooks.jobs import deliver_webhooks, dispatch_events
from polypost.webhooks.schemas import WebhookCreate
from polypost.worker.context import JobContext
from polypost.worker.jobs import PERIODIC
from polypost.worker.settings import WorkerSettings
from tests.fixtures.factories import make_tenant
from tests.webhooks.receiver import Receiver, create_endpoint, record


class TestRegistration:
    def test_both_jobs_run_every_second_or_two(self):
        intervals = {f.__name__: interval for f, interval in PERIODIC}
        assert intervals["dispatch_events"] <= 2
        assert intervals["deliver_webhooks"] <= 2
        crons = {job.name: job for job in WorkerSettings.cron_jobs}
        for name in ("cron:dispatch_events", "cron:deliver_webhooks"):
            assert crons[name].second is None  # every second
            assert crons[name].unique
        # Enqueued by name for prompt sends (retries, after a dispatch).
        assert deliver_webhooks in WorkerSettings.functions


class TestJobFunctions:
    async def test_dispatch_then_deliver(
        self, client: httpx.AsyncClient, runtime: Runtime, receiver: Receiver
    ):
        tenant = await make_tenant(runtime)
        await create_endpoint(client, tenant.headers, receiver.url)
        event_id = await record(runtime, tenant.workspace.id, "target.published")
        ctx: JobContext = {"runtime": runtime, "worker_id": "test", "job_try": 1}
        assert await dispatch_events(ctx) == 1
        assert await dispatch_events(ctx) == 0
        assert await deliver_webhooks(ctx) == 1
        assert receiver.ids == [event_id]
        assert await deliver_webhooks(ctx) == 0


class TestArqWorker:
    async def test_dispatch_wakes_the_sender_through_arq(
        self, distributed: Runtime, receiver: Receiver
    ):
        runtime = distributed
        tenant = await make_tenant(runtime)
        async with runtime.sessions() as session:
            _, secret = await service.create_webhook(
                session, runtime, tenant.workspace.id, WebhookCreate(url=receiver.url)
            )
            await session.commit()
        event_id = await record(runtime, tenant.workspace.id, "post.partial")
        ctx: JobContext = {"runtime": runtime, "worker_id": "test", "job_try": 1}
        assert await dispatch_events(ctx) == 1  # …and queues deliver_webhooks in Redis
        assert runtime.redis is not None
        worker = Worker(
            functions=[func(deliver_webhooks, name="deliver_webhooks")],  # type: ignore[arg-type]
            redis_pool=runtime.redis,
            burst=True,
            poll_delay=0.05,
            ctx={"runtime": runtime, "worker_id": "arq-test"},
            handle_signals=False,
        )
        try:
            await worker.main()
        finally:
            await worker.close()
        assert worker.jobs_complete == 1
        assert receiver.ids == [event_id]
        receiver.requests[0].verify(secret)
