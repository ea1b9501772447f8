"""Fan-out from the outbox: undispatched events become one delivery per subscribed,
enabled endpoint, and are marked dispatched in the same transaction.

Either both happen or neither does, so an event is never fanned out twice nor lost.
Concurrent dispatchers skip each other's rows on Postgres (`SKIP LOCKED`); on SQLite the
conditional `dispatched_at IS NULL` update decides, and the unique (webhook, event)
constraint backs both.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select, update

from polypost.core.ids import Prefix, new_id
from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.events.catalog import WILDCARD, EventType
from polypost.models import Event, Webhook, WebhookDelivery
from polypost.models.webhook_delivery import DeliveryStatus

BATCH_SIZE = 500


@dataclass(frozen=True)
class Dispatched:
    events: int
    deliveries: int


def subscribed(filters: Iterable[str], event_type: str) -> bool:
    return any(f in (WILDCARD, event_type) for f in filters)


async def dispatch_events(runtime: Runtime, *, limit: int = BATCH_SIZE) -> Dispatched:
    """Fan out one batch of undispatched events, oldest first."""
    async with runtime.sessions() as session, session.begin():
        events = (
            (
                await session.execute(
                    select(Event)
                    .where(Event.dispatched_at.is_(None))
                    .order_by(Event.created_at, Event.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            )
            .scalars()
            .all()
        )
        if not events:
            return Dispatched(0, 0)
        now = utcnow()
        mine = set(
            (
                await session.execute(
                    update(Event)
                    .where(Event.id.in_([e.id for e in events]), Event.dispatched_at.is_(None))
                    .values(dispatched_at=now)
                    .returning(Event.id)
                    .execution_options(synchronize_session=False)
                )
            )
            .scalars()
            .all()
        )
        workspaces = {e.workspace_id for e in events if e.id in mine}
        endpoints: dict[str, list[Webhook]] = defaultdict(list)
        if workspaces:
            for webhook in (
                await session.execute(
                    select(Webhook).where(
                        Webhook.workspace_id.in_(workspaces), Webhook.enabled.is_(True)
                    )
                )
            ).scalars():
                endpoints[webhook.workspace_id].append(webhook)
        made = 0
        for event in events:
            if event.id not in mine or event.type == EventType.WEBHOOK_TEST:
                continue
            for webhook in endpoints.get(event.workspace_id, ()):
                if not subscribed(webhook.events, event.type):
                    continue
                session.add(
                    WebhookDelivery(
                        id=new_id(Prefix.DELIVERY),
                        webhook_id=webhook.id,
                        workspace_id=event.workspace_id,
                        event_id=event.id,
                        event_type=event.type,
                        status=DeliveryStatus.PENDING,
                        attempts=0,
                        next_attempt_at=now,
                        attempts_log=[],
                    )
                )
                made += 1
    return Dispatched(len(mine), made)
