"""Wire shape of `/v1/usage`."""

from __future__ import annotations

from pydantic import Field

from polypost.core.schemas import ApiModel, UtcTimestamp


class Period(ApiModel):
    from_: UtcTimestamp = Field(alias="from", description="Inclusive start.")
    to: UtcTimestamp = Field(description="Exclusive end.")


class PostUsage(ApiModel):
    created: int = Field(description="Posts created in the period.")
    by_status: dict[str, int] = Field(description="Current status of those posts.")


class TargetUsage(ApiModel):
    """Targets (one post on one account) created in the period, by current status."""

    total: int
    draft: int
    scheduled: int
    publishing: int
    published: int
    failed: int
    canceled: int


class MediaUsage(ApiModel):
    """Current storage (not limited to the period): uploaded and pending media."""

    count: int
    used_bytes: int
    quota_bytes: int


class DeliveryUsage(ApiModel):
    """Webhook deliveries created in the period; `pending` includes retries and sends in
    flight."""

    delivered: int
    failed: int
    pending: int
    canceled: int


class WebhookUsage(ApiModel):
    endpoints: int
    deliveries: DeliveryUsage


class AccountUsage(ApiModel):
    connected: int
    total: int


class ApiKeyUsage(ApiModel):
    active: int = Field(description="Keys neither revoked nor expired.")


class UsageRead(ApiModel):
    period: Period
    posts: PostUsage
    targets: TargetUsage
    media: MediaUsage
    webhooks: WebhookUsage
    accounts: AccountUsage
    api_keys: ApiKeyUsage
    rate_limit_per_minute: int
