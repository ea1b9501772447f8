from __future__ import annotations

from typing import Any

import pytest

from polypost.core.errors import Conflict
from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.models import WebhookDelivery
from polypost.webhooks import delivery as engine
from polypost.webhooks import service
from polypost.webhooks.dispatch import dispatch_events
from polypost.webhooks.schemas import WebhookCreate
from tests.fixtures.factories import make_tenant
from tests.webhooks.receiver import Receiver, later, record


class TestRetryDelivery:
    async def test_a_claim_racing_the_retry_wins(
        self, distributed: Runtime, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
    ):
        runtime = distributed
        tenant = await make_tenant(runtime)
        async with runtime.sessions() as session:
            webhook, _ = await service.create_webhook(
                session, runtime, tenant.workspace.id, WebhookCreate(url=receiver.url)
            )
            await session.commit()
        await record(runtime, tenant.workspace.id, "post.published")
        await dispatch_events(runtime)
        [first] = await engine.claim_due(runtime)
        await engine.record(runtime, first, engine.Outcome(finished_at=utcnow(), status_code=500))
        real_get = service.get_delivery
        raced: list[engine.Claimed] = []

        async def get_then_race(*args: Any) -> Any:
            found = await real_get(*args)
            raced.extend(await engine.claim_due(runtime, now=later(seconds=10)))
            return found

        monkeypatch.setattr(service, "get_delivery", get_then_race)
        async with runtime.sessions() as session:
            with pytest.raises(Conflict):
                await service.retry_delivery(
                    session, tenant.workspace.id, webhook.id, first.delivery_id
                )
        assert [c.attempt for c in raced] == [2]
        async with runtime.sessions() as session:
            stored = await session.get(WebhookDelivery, first.delivery_id)
        assert stored is not None
        assert (stored.status, stored.attempts) == ("sending", 2)
