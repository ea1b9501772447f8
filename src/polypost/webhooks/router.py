from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from polypost.auth.deps import WebhooksRead, WebhooksWrite
from polypost.core.deps import ReadSession, RuntimeDep, WriteSession, after_commit
from polypost.core.errors import Conflict, NotFound, responses
from polypost.core.pagination import PageParams, page_params
from polypost.models.webhook_delivery import DeliveryStatus
from polypost.webhooks import service
from polypost.webhooks.schemas import (
    CatalogEvent,
    DeliveryDetail,
    DeliveryPage,
    DeliveryRead,
    EventCatalog,
    WebhookCreate,
    WebhookCreated,
    WebhookDeleted,
    WebhookPage,
    WebhookRead,
    WebhookUpdate,
    WebhookUpdated,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

WebhookId = Annotated[str, Path(max_length=40, description="`wh_…`")]
DeliveryId = Annotated[str, Path(max_length=40, description="`whd_…`")]
Params = Annotated[PageParams, Depends(page_params)]


@router.get("", response_model=WebhookPage, responses=responses())
async def list_webhooks(
    auth: WebhooksRead,
    session: ReadSession,
    params: Params,
    enabled: Annotated[bool | None, Query(description="Only enabled or disabled ones.")] = None,
) -> WebhookPage:
    """List the workspace's webhook endpoints (secrets are never returned)."""
    page = await service.list_webhooks(session, auth.workspace_id, params, enabled=enabled)
    return WebhookPage(
        webhooks=[WebhookRead.of(w) for w in page.items], next_cursor=page.next_cursor
    )


@router.post("", status_code=201, response_model=WebhookCreated, responses=responses(Conflict))
async def create_webhook(
    body: WebhookCreate, auth: WebhooksWrite, session: WriteSession, runtime: RuntimeDep
) -> WebhookCreated:
    """Register an endpoint; the `whsec_` signing secret is in this response only."""
    webhook, secret = await service.create_webhook(session, runtime, auth.workspace_id, body)
    return WebhookCreated.model_validate({**WebhookRead.of(webhook).model_dump(), "secret": secret})


@router.get("/events", response_model=EventCatalog, responses=responses())
async def list_event_types(auth: WebhooksRead) -> EventCatalog:
    """The event catalog: every type with a description and an example delivered body."""
    return EventCatalog(events=[CatalogEvent.model_validate(e) for e in service.catalog()])


@router.get("/{webhook_id}", response_model=WebhookRead, responses=responses(NotFound))
async def get_webhook(
    webhook_id: WebhookId, auth: WebhooksRead, session: ReadSession
) -> WebhookRead:
    """Get one endpoint, with its health and why it was disabled, if it was."""
    return WebhookRead.of(await service.get_webhook(session, auth.workspace_id, webhook_id))


@router.patch("/{webhook_id}", response_model=WebhookUpdated, responses=responses(NotFound))
async def update_webhook(
    webhook_id: WebhookId,
    body: WebhookUpdate,
    auth: WebhooksWrite,
    session: WriteSession,
    runtime: RuntimeDep,
) -> WebhookUpdated:
    """Change URL, events, description or enabled state, or rotate the secret."""
    webhook, secret = await service.update_webhook(
        session, runtime, auth.workspace_id, webhook_id, body
    )
    return WebhookUpdated.model_validate({**WebhookRead.of(webhook).model_dump(), "secret": secret})


@router.delete("/{webhook_id}", response_model=WebhookDeleted, responses=responses(NotFound))
async def delete_webhook(
    webhook_id: WebhookId, auth: WebhooksWrite, session: WriteSession
) -> WebhookDeleted:
    """Delete an endpoint and its delivery log."""
    await service.delete_webhook(session, auth.workspace_id, webhook_id)
    return WebhookDeleted(webhook_id=webhook_id, deleted=True)


@router.post("/{webhook_id}/test", response_model=DeliveryDetail, responses=responses(NotFound))
async def test_webhook(
    webhook_id: WebhookId, auth: WebhooksWrite, runtime: RuntimeDep
) -> DeliveryDetail:
    """Send a signed `webhook.test` event to this endpoint now and return the attempt."""
    return await service.send_test(runtime, auth.workspace_id, webhook_id)


@router.get("/{webhook_id}/deliveries", response_model=DeliveryPage, responses=responses(NotFound))
async def list_deliveries(
    webhook_id: WebhookId,
    auth: WebhooksRead,
    session: ReadSession,
    params: Params,
    status: Annotated[DeliveryStatus | None, Query()] = None,
    event_type: Annotated[
        str | None, Query(alias="eventType", max_length=64, description="e.g. `post.published`")
    ] = None,
    event_id: Annotated[str | None, Query(alias="eventId", max_length=40)] = None,
) -> DeliveryPage:
    """List an endpoint's deliveries, newest first."""
    page = await service.list_deliveries(
        session,
        auth.workspace_id,
        webhook_id,
        params,
        status=status,
        event_type=event_type,
        event_id=event_id,
    )
    return DeliveryPage(
        deliveries=[DeliveryRead.model_validate(d) for d in page.items],
        next_cursor=page.next_cursor,
    )


@router.get(
    "/{webhook_id}/deliveries/{delivery_id}",
    response_model=DeliveryDetail,
    responses=responses(NotFound),
)
async def get_delivery(
    webhook_id: WebhookId, delivery_id: DeliveryId, auth: WebhooksRead, session: ReadSession
) -> DeliveryDetail:
    """Get one delivery with the signed body and every attempt's request and response."""
    found = await service.get_delivery(session, auth.workspace_id, webhook_id, delivery_id)
    return service.delivery_detail(*found)


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/retry",
    status_code=202,
    response_model=DeliveryRead,
    responses=responses(NotFound, Conflict),
)
async def retry_delivery(
    webhook_id: WebhookId,
    delivery_id: DeliveryId,
    auth: WebhooksWrite,
    session: WriteSession,
    runtime: RuntimeDep,
) -> DeliveryRead:
    """Queue a delivery for another attempt now, with the same `webhook-id`."""
    delivery = await service.retry_delivery(session, auth.workspace_id, webhook_id, delivery_id)
    if runtime.settings.distributed:
        # Send now rather than at the next cron tick (the embedded runner polls every
        # second anyway).
        job_id = f"deliver_webhooks:retry:{delivery.id}:{delivery.attempts}"

        async def wake_sender() -> None:
            await runtime.queue.enqueue("deliver_webhooks", job_id=job_id)

        after_commit(session, wake_sender)
    return DeliveryRead.model_validate(delivery)
