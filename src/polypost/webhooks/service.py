"""Webhook endpoints and their delivery log, always scoped to one workspace."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.core.errors import BadRequest, Conflict, NotFound
from polypost.core.ids import Prefix, new_id
from polypost.core.outbound import OutboundBlocked, check_url, guarded_client
from polypost.core.pagination import Page, PageParams, paginate
from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.events.catalog import CATALOG, EventType, example_payload
from polypost.models import Event, Webhook, WebhookDelivery
from polypost.models.webhook_delivery import DeliveryStatus
from polypost.webhooks import delivery as engine
from polypost.webhooks.schemas import (
    AttemptRead,
    DeliveryDetail,
    DeliveryRead,
    DeliveryRequest,
    WebhookCreate,
    WebhookUpdate,
)
from polypost.webhooks.signing import generate_secret, payload_bytes

logger = logging.getLogger(__name__)

MAX_WEBHOOKS_PER_WORKSPACE = 50
SECRET_OVERLAP = timedelta(hours=24)
REQUEST_BODY_CAP = 64 * 1024
MANUAL_DISABLE_REASON = "Disabled through the API."


async def check_endpoint_url(url: str, allow: list[str]) -> None:
    """The SSRF guard at registration; delivery checks again on every send.

    Raises:
        BadRequest: with the guard's reason in `details.fields`.
    """
    try:
        await check_url(url, allow)
    except OutboundBlocked as exc:
        raise BadRequest(
            f"The webhook URL is not allowed: {exc}.",
            details={
                "fields": [
                    {"field": "url", "in": "body", "message": str(exc), "type": "url_refused"}
                ]
            },
        ) from exc


async def get_webhook(session: AsyncSession, workspace_id: str, webhook_id: str) -> Webhook:
    webhook = (
        await session.execute(
            select(Webhook).where(Webhook.id == webhook_id, Webhook.workspace_id == workspace_id)
        )
    ).scalar_one_or_none()
    if webhook is None:
        raise NotFound("Webhook not found.")
    return webhook


async def list_webhooks(
    session: AsyncSession, workspace_id: str, params: PageParams, *, enabled: bool | None
) -> Page[Webhook]:
    statement = select(Webhook).where(Webhook.workspace_id == workspace_id)
    if enabled is not None:
        statement = statement.where(Webhook.enabled.is_(enabled))
    return await paginate(session, statement, [Webhook.created_at, Webhook.id], params)


async def create_webhook(
    session: AsyncSession, runtime: Runtime, workspace_id: str, body: WebhookCreate
) -> tuple[Webhook, str]:
    """Store a new endpoint; return it with its secret (the only time it is shown)."""
    count = (
        await session.execute(
            select(func.count()).select_from(Webhook).where(Webhook.workspace_id == workspace_id)
        )
    ).scalar_one()
    if count >= MAX_WEBHOOKS_PER_WORKSPACE:
        raise Conflict(
            f"A workspace can have at most {MAX_WEBHOOKS_PER_WORKSPACE} webhook endpoints."
        )
    await check_endpoint_url(body.url, runtime.settings.outbound_allow)
    secret = body.secret or generate_secret()
    webhook = Webhook(
        id=new_id(Prefix.WEBHOOK),
        workspace_id=workspace_id,
        url=body.url,
        description=body.description,
        events=body.events,
        secret_enc=runtime.cipher.encrypt(secret),
        enabled=True,
        consecutive_failures=0,
    )
    session.add(webhook)
    await session.flush()
    return webhook, secret


async def update_webhook(
    session: AsyncSession,
    runtime: Runtime,
    workspace_id: str,
    webhook_id: str,
    body: WebhookUpdate,
) -> tuple[Webhook, str | None]:
    """Apply a partial update; returns the new secret when one was rotated."""
    webhook = await get_webhook(session, workspace_id, webhook_id)
    given = body.model_fields_set
    if "url" in given and body.url is not None and body.url != webhook.url:
        await check_endpoint_url(body.url, runtime.settings.outbound_allow)
        webhook.url = body.url
    if "description" in given:
        webhook.description = body.description
    if "events" in given and body.events is not None:
        webhook.events = body.events
    new_secret = None
    if body.rotate_secret:
        new_secret = generate_secret()
        webhook.previous_secret_enc = webhook.secret_enc
        webhook.previous_secret_expires_at = utcnow() + SECRET_OVERLAP
        webhook.secret_enc = runtime.cipher.encrypt(new_secret)
    if body.enabled is True and not webhook.enabled:
        webhook.enabled = True
        webhook.disabled_reason = None
        webhook.disabled_at = None
        webhook.consecutive_failures = 0
        webhook.failing_since = None
    await session.flush()
    if body.enabled is False and webhook.enabled:
        await engine.disable(session, webhook.id, MANUAL_DISABLE_REASON, automatic=False)
        await session.refresh(webhook)
    return webhook, new_secret


async def delete_webhook(session: AsyncSession, workspace_id: str, webhook_id: str) -> None:
    """Delete the endpoint and its delivery log; in-flight attempts finish unrecorded."""
    webhook = await get_webhook(session, workspace_id, webhook_id)
    await session.delete(webhook)
    await session.flush()


async def list_deliveries(
    session: AsyncSession,
    workspace_id: str,
    webhook_id: str,
    params: PageParams,
    *,
    status: DeliveryStatus | None,
    event_type: str | None,
    event_id: str | None,
) -> Page[WebhookDelivery]:
    await get_webhook(session, workspace_id, webhook_id)
    statement = select(WebhookDelivery).where(
        WebhookDelivery.webhook_id == webhook_id, WebhookDelivery.workspace_id == workspace_id
    )
    if status is not None:
        statement = statement.where(WebhookDelivery.status == status)
    if event_type is not None:
        statement = statement.where(WebhookDelivery.event_type == event_type)
    if event_id is not None:
        statement = statement.where(WebhookDelivery.event_id == event_id)
    return await paginate(
        session,
        statement,
        [WebhookDelivery.created_at, WebhookDelivery.id],
        params,
        descending=True,
    )


async def get_delivery(
    session: AsyncSession, workspace_id: str, webhook_id: str, delivery_id: str
) -> tuple[WebhookDelivery, Webhook, Event]:
    found = (
        await session.execute(
            select(WebhookDelivery, Webhook, Event)
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .join(Event, Event.id == WebhookDelivery.event_id)
            .where(
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.webhook_id == webhook_id,
                WebhookDelivery.workspace_id == workspace_id,
            )
        )
    ).one_or_none()
    if found is None:
        raise NotFound("Delivery not found.")
    delivery, webhook, event = found
    return delivery, webhook, event


def delivery_detail(delivery: WebhookDelivery, webhook: Webhook, event: Event) -> DeliveryDetail:
    body = payload_bytes(event)
    log = delivery.attempts_log or []
    url = log[-1]["url"] if log else webhook.url
    return DeliveryDetail.model_validate(
        {
            **DeliveryRead.model_validate(delivery).model_dump(),
            "request": DeliveryRequest(
                url=url,
                body=body[:REQUEST_BODY_CAP].decode("utf-8", errors="replace"),
                body_truncated=len(body) > REQUEST_BODY_CAP,
            ),
            "attempt_log": [AttemptRead.model_validate(entry) for entry in log],
        }
    )


async def retry_delivery(
    session: AsyncSession, workspace_id: str, webhook_id: str, delivery_id: str
) -> WebhookDelivery:
    """Queue a delivery for one more attempt now (delivered ones are sent again)."""
    delivery, webhook, _ = await get_delivery(session, workspace_id, webhook_id, delivery_id)
    if not webhook.enabled:
        raise Conflict("The webhook is disabled; enable it before retrying deliveries.")
    now = utcnow()
    lease_running = delivery.next_attempt_at is not None and delivery.next_attempt_at > now
    if delivery.status == DeliveryStatus.SENDING and lease_running:
        raise Conflict("This delivery is being sent right now.")
    # Fenced like a sender's claim: a claim that slipped in since the read wins.
    status = (
        DeliveryStatus.SENDING
        if delivery.status == DeliveryStatus.SENDING
        else DeliveryStatus.PENDING
    )
    result = await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery.id,
            WebhookDelivery.status == delivery.status,
            WebhookDelivery.attempts == delivery.attempts,
        )
        .values(status=status, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise Conflict("This delivery is being sent right now.")
    await session.refresh(delivery)
    return delivery


async def send_test(runtime: Runtime, workspace_id: str, webhook_id: str) -> DeliveryDetail:
    """Record a `webhook.test` event for this endpoint only and send it now.

    The event and an already-claimed delivery are committed first, exactly like a
    worker's claim, so the attempt is in the log even if this request dies mid-send.
    """
    async with runtime.sessions() as session, session.begin():
        webhook = await get_webhook(session, workspace_id, webhook_id)
        now = utcnow()
        entry = CATALOG[EventType.WEBHOOK_TEST]
        event = Event(
            id=new_id(Prefix.EVENT),
            workspace_id=workspace_id,
            type=EventType.WEBHOOK_TEST,
            resource_id=webhook.id,
            data={"webhookId": webhook.id, "message": entry.example["message"]},
            created_at=now,
            dispatched_at=now,
        )
        delivery = WebhookDelivery(
            id=new_id(Prefix.DELIVERY),
            webhook_id=webhook.id,
            workspace_id=workspace_id,
            event_id=event.id,
            event_type=event.type,
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            attempts_log=[],
        )
        session.add(event)
        await session.flush()
        session.add(delivery)
        await session.flush()
        claimed = await engine.claim_one(
            session, runtime, delivery, webhook, event, now, one_shot=True
        )
    assert claimed is not None, "a row created in this transaction cannot be claimed elsewhere"
    async with guarded_client(
        runtime.settings.outbound_allow, timeout=engine.REQUEST_TIMEOUT
    ) as client:
        await engine.attempt(runtime, client, claimed, request_timeout=engine.REQUEST_TIMEOUT)
    async with runtime.sessions() as session:
        return delivery_detail(*await get_delivery(session, workspace_id, webhook_id, delivery.id))


def catalog() -> list[dict[str, Any]]:
    return [
        {"type": e.type.value, "description": e.description, "example": example_payload(e)}
        for e in CATALOG.values()
    ]
