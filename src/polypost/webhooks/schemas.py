from __future__ import annotations

from typing import Any

import httpx
from pydantic import Field, field_validator

from polypost.core.schemas import ApiInput, ApiModel, UtcTimestamp
from polypost.core.timeutil import utcnow
from polypost.events.catalog import SUBSCRIBABLE, WILDCARD
from polypost.models import Webhook
from polypost.models.webhook_delivery import DeliveryStatus
from polypost.webhooks.signing import secret_key

MAX_URL_LENGTH = 2048
MAX_EVENT_FILTERS = 50


def _check_url(value: str) -> str:
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise ValueError("must be an absolute http(s) URL") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("must be an absolute http(s) URL")
    return value


def _check_events(value: list[str]) -> list[str]:
    unknown = sorted(set(value) - SUBSCRIBABLE - {WILDCARD})
    if unknown:
        raise ValueError(f"unknown event types: {', '.join(unknown)} (see GET /v1/webhooks/events)")
    return [WILDCARD] if WILDCARD in value else sorted(set(value))


class WebhookCreate(ApiInput):
    url: str = Field(
        min_length=1,
        max_length=MAX_URL_LENGTH,
        description="http(s) URL; private, loopback and link-local targets are refused.",
    )
    description: str | None = Field(default=None, max_length=500)
    events: list[str] = Field(
        default_factory=lambda: [WILDCARD],
        min_length=1,
        max_length=MAX_EVENT_FILTERS,
        description="Event types to receive; `*` (the default) means every type.",
    )
    secret: str | None = Field(
        default=None,
        max_length=100,
        description="Optional `whsec_…` secret to reuse (24-64 bytes); generated if absent.",
    )

    _url = field_validator("url")(_check_url)
    _events = field_validator("events")(_check_events)

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        if value is not None:
            secret_key(value)
        return value


class WebhookUpdate(ApiInput):
    url: str | None = Field(default=None, min_length=1, max_length=MAX_URL_LENGTH)
    description: str | None = Field(default=None, max_length=500)
    events: list[str] | None = Field(default=None, min_length=1, max_length=MAX_EVENT_FILTERS)
    enabled: bool | None = Field(
        default=None,
        description="`false` stops deliveries and cancels pending ones; `true` re-enables.",
    )
    rotate_secret: bool = Field(
        default=False,
        description="Issue a new secret (returned once); the old one keeps signing for 24 h.",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            raise ValueError("cannot be null")
        return _check_url(value)

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            raise ValueError("cannot be null")
        return _check_events(value)

    @field_validator("enabled")
    @classmethod
    def _enabled(cls, value: bool | None) -> bool | None:
        if value is None:
            raise ValueError("cannot be null")
        return value


class WebhookRead(ApiModel):
    webhook_id: str
    url: str
    description: str | None
    events: list[str]
    enabled: bool
    disabled_reason: str | None
    disabled_at: UtcTimestamp | None
    consecutive_failures: int = Field(description="Failed attempts since the last success.")
    failing_since: UtcTimestamp | None = Field(
        description="First failure since the last success; 5 days of failure disables."
    )
    previous_secret_expires_at: UtcTimestamp | None = Field(
        description="Until then, deliveries carry a second signature made with the old secret."
    )
    created_at: UtcTimestamp
    updated_at: UtcTimestamp

    @classmethod
    def of(cls, row: Webhook) -> WebhookRead:
        overlap = row.previous_secret_expires_at
        return cls(
            webhook_id=row.id,
            url=row.url,
            description=row.description,
            events=row.events,
            enabled=row.enabled,
            disabled_reason=row.disabled_reason,
            disabled_at=row.disabled_at,
            consecutive_failures=row.consecutive_failures,
            failing_since=row.failing_since,
            previous_secret_expires_at=overlap if overlap and overlap > utcnow() else None,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class WebhookCreated(WebhookRead):
    secret: str = Field(description="The `whsec_` signing secret. Shown only in this response.")


class WebhookUpdated(WebhookRead):
    secret: str | None = Field(
        default=None, description="The new secret after `rotateSecret`; shown only here."
    )


class WebhookPage(ApiModel):
    webhooks: list[WebhookRead]
    next_cursor: str | None


class WebhookDeleted(ApiModel):
    webhook_id: str
    deleted: bool


class CatalogEvent(ApiModel):
    type: str
    description: str
    example: dict[str, Any] = Field(description="A complete delivered body for this type.")


class EventCatalog(ApiModel):
    events: list[CatalogEvent]


class AttemptRead(ApiModel):
    """One HTTP attempt; `outcome` `unknown` means the sender stopped before recording
    it, so the same `webhook-id` was sent again."""

    attempt: int
    started_at: UtcTimestamp
    finished_at: UtcTimestamp | None = None
    duration_ms: int | None = None
    url: str
    request_headers: dict[str, str]
    outcome: str = Field(description="`sending`, `delivered`, `failed` or `unknown`.")
    status_code: int | None = None
    response_headers: dict[str, str] | None = None
    response_body: str | None = Field(default=None, description="First 4 KiB, as text.")
    response_body_truncated: bool = False
    error: str | None = None


class DeliveryRead(ApiModel):
    delivery_id: str = Field(validation_alias="id")
    webhook_id: str
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: UtcTimestamp | None = Field(
        description="When pending: the next try. When sending: when an unrecorded try is resent."
    )
    last_status_code: int | None
    delivered_at: UtcTimestamp | None
    created_at: UtcTimestamp
    updated_at: UtcTimestamp


class DeliveryRequest(ApiModel):
    method: str = "POST"
    url: str
    body: str = Field(description="The signed JSON body (first 64 KiB).")
    body_truncated: bool


class DeliveryDetail(DeliveryRead):
    request: DeliveryRequest
    attempt_log: list[AttemptRead] = Field(description="Most recent 30 attempts, oldest first.")


class DeliveryPage(ApiModel):
    deliveries: list[DeliveryRead]
    next_cursor: str | None
