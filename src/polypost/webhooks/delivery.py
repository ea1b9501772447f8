"""Sending webhook deliveries: claim, send, record.

Each attempt is written to the database twice. The claim (a conditional UPDATE, with
`FOR UPDATE SKIP LOCKED` on Postgres) marks the delivery `sending`, bumps `attempts` and
logs the request *before* anything leaves the process; `next_attempt_at` becomes a lease.
After the HTTP call the outcome is recorded, fenced on the attempt number. A sender
killed in between leaves a `sending` row whose lease expires, and the next claim resends
it with the same `webhook-id` (the event id): receivers may see a duplicate, never a gap.

Ordering: a delivery waits while an earlier event about the same resource is still in
flight or untried for the same endpoint. Once that earlier delivery has failed an
attempt, later ones no longer wait (one bad event must not hold an endpoint for days),
so order holds on the happy path only; receivers should compare `timestamp`.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from polypost.core.outbound import OutboundBlocked, guarded_client
from polypost.core.runtime import Runtime
from polypost.core.timeutil import isoformat, utcnow
from polypost.events.catalog import EventType
from polypost.events.outbox import record_event
from polypost.models import Event, Webhook, WebhookDelivery
from polypost.models.webhook_delivery import DeliveryStatus
from polypost.webhooks.signing import payload_bytes, request_headers

logger = logging.getLogger(__name__)

# Standard Webhooks' schedule: immediately, then these delays (~75.6 h, 10 attempts).
SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=24),
)
MAX_ATTEMPTS = len(SCHEDULE) + 1
JITTER = 0.1
MAX_RETRY_AFTER = timedelta(hours=24)
REQUEST_TIMEOUT = 10.0
# Longer than any attempt (timeout + DNS + recording), so only a dead sender loses it.
LEASE = timedelta(seconds=60)
DISABLE_AFTER = timedelta(days=5)
RESPONSE_BODY_CAP = 4096
MAX_RESPONSE_HEADERS = 40
MAX_HEADER_VALUE = 512
MAX_LOG_ENTRIES = 30
# A batch is sent in one wave, well inside the lease; at most a few per endpoint per
# batch, so one slow receiver cannot take every slot.
BATCH_SIZE = 25
CONCURRENCY = BATCH_SIZE
PER_ENDPOINT = 5
RUN_BUDGET_SECONDS = 20.0

ACTIVE = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)


@dataclass(frozen=True)
class Claimed:
    """A delivery this sender owns for one attempt, with everything needed to send it."""

    delivery_id: str
    webhook_id: str
    workspace_id: str
    attempt: int
    url: str
    headers: dict[str, str]
    body: bytes
    claimed_at: datetime  # the attempt's logged `startedAt`
    first_attempt_at: datetime
    one_shot: bool  # test deliveries are tried once and never touch endpoint health


@dataclass
class Outcome:
    finished_at: datetime
    status_code: int | None = None
    response_headers: dict[str, str] | None = None
    response_body: str | None = None
    truncated: bool = False
    error: str | None = None
    retry_after: timedelta | None = None
    duration_ms: int | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        return self.status_code == 410


@dataclass
class RunStats:
    attempted: int = 0
    delivered: int = 0


def live_secrets(runtime: Runtime, webhook: Webhook, now: datetime) -> list[str]:
    """The current secret, then the rotated one while its overlap lasts."""
    found = [runtime.cipher.decrypt(webhook.secret_enc)]
    expires = webhook.previous_secret_expires_at
    if webhook.previous_secret_enc and expires is not None and expires > now:
        found.append(runtime.cipher.decrypt(webhook.previous_secret_enc))
    return found


def attempt_entry(attempt: int, url: str, headers: dict[str, str], now: datetime) -> dict[str, Any]:
    return {
        "attempt": attempt,
        "startedAt": isoformat(now),
        "url": url,
        "requestHeaders": headers,
        "outcome": "sending",
    }


def _close_abandoned(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An entry still `sending` belongs to a sender that died before recording it."""
    closed = []
    for entry in log:
        if entry.get("outcome") == "sending":
            entry = {
                **entry,
                "outcome": "unknown",
                "error": "The sender stopped before recording the outcome; "
                "resent with the same webhook-id.",
            }
        closed.append(entry)
    return closed


def _first_attempt_at(log: Sequence[dict[str, Any]], fallback: datetime) -> datetime:
    if log and log[0].get("attempt") == 1 and isinstance(log[0].get("startedAt"), str):
        return datetime.fromisoformat(log[0]["startedAt"])
    return fallback


def _due_statement(now: datetime, limit: int) -> Any:
    delivery = WebhookDelivery
    earlier = aliased(WebhookDelivery)
    earlier_event = aliased(Event)
    blocked_by_earlier = (
        exists()
        .where(
            earlier.webhook_id == delivery.webhook_id,
            earlier.event_id == earlier_event.id,
            earlier_event.resource_id == Event.resource_id,
            or_(
                earlier_event.created_at < Event.created_at,
                and_(earlier_event.created_at == Event.created_at, earlier_event.id < Event.id),
            ),
            or_(
                earlier.status == DeliveryStatus.SENDING,
                and_(earlier.status == DeliveryStatus.PENDING, earlier.attempts == 0),
            ),
        )
        .correlate(delivery, Event)
    )
    return (
        select(delivery, Webhook, Event)
        .join(Webhook, Webhook.id == delivery.webhook_id)
        .join(Event, Event.id == delivery.event_id)
        .where(
            delivery.status.in_(ACTIVE),
            delivery.next_attempt_at <= now,
            Webhook.enabled.is_(True),
            or_(Event.resource_id.is_(None), ~blocked_by_earlier),
        )
        .order_by(delivery.next_attempt_at, delivery.id)
        .limit(limit)
        # Postgres: concurrent senders skip each other's rows. SQLite ignores the
        # clause; the fenced UPDATE below is what guarantees a single owner there.
        .with_for_update(of=delivery, skip_locked=True)
    )


async def claim_one(
    session: AsyncSession,
    runtime: Runtime,
    delivery: WebhookDelivery,
    webhook: Webhook,
    event: Event,
    now: datetime,
    *,
    one_shot: bool = False,
) -> Claimed | None:
    """The fenced claim of one loaded row: only the sender whose UPDATE matched owns it,
    and the attempt (with its signed headers) is logged before anything is sent."""
    attempt = delivery.attempts + 1
    real_now = utcnow()
    body = payload_bytes(event)
    headers = request_headers(
        live_secrets(runtime, webhook, real_now), event.id, int(real_now.timestamp()), body
    )
    log = _close_abandoned(list(delivery.attempts_log or []))
    log.append(attempt_entry(attempt, webhook.url, headers, real_now))
    result = await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery.id,
            WebhookDelivery.status == delivery.status,
            WebhookDelivery.attempts == delivery.attempts,
        )
        .values(
            status=DeliveryStatus.SENDING,
            attempts=attempt,
            next_attempt_at=max(now, real_now) + LEASE,
            attempts_log=log[-MAX_LOG_ENTRIES:],
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return None
    return Claimed(
        delivery_id=delivery.id,
        webhook_id=webhook.id,
        workspace_id=delivery.workspace_id,
        attempt=attempt,
        url=webhook.url,
        headers=headers,
        body=body,
        claimed_at=real_now,
        first_attempt_at=_first_attempt_at(log, delivery.created_at),
        one_shot=one_shot,
    )


async def claim_due(
    runtime: Runtime, *, now: datetime | None = None, limit: int = BATCH_SIZE
) -> list[Claimed]:
    """Claim up to `limit` due deliveries of enabled endpoints, oldest due first."""
    now = now or utcnow()
    claimed: list[Claimed] = []
    per_endpoint: Counter[str] = Counter()
    async with runtime.sessions() as session, session.begin():
        rows = (await session.execute(_due_statement(now, limit))).all()
        for delivery, webhook, event in rows:
            if per_endpoint[webhook.id] >= PER_ENDPOINT:
                continue  # left unclaimed for the next batch
            per_endpoint[webhook.id] += 1
            taken = await claim_one(
                session,
                runtime,
                delivery,
                webhook,
                event,
                now,
                one_shot=delivery.event_type == EventType.WEBHOOK_TEST,
            )
            if taken is not None:
                claimed.append(taken)
    return claimed


def _retry_after(value: str | None) -> timedelta | None:
    """`Retry-After` as seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(timedelta(0), when - utcnow())


def _capture_headers(headers: httpx.Headers) -> dict[str, str]:
    captured: dict[str, str] = {}
    for name, value in headers.items():
        if len(captured) >= MAX_RESPONSE_HEADERS:
            break
        captured.setdefault(name.lower(), value[:MAX_HEADER_VALUE])
    return captured


async def send(
    client: httpx.AsyncClient, claimed: Claimed, *, request_timeout: float = REQUEST_TIMEOUT
) -> Outcome:
    """POST one attempt. Never raises for the receiver's behaviour: every failure, a
    refused address included, becomes the outcome's `error`."""
    clock = time.monotonic()
    outcome = Outcome(finished_at=utcnow())
    # Identity encoding: the capped body is stored as text, and a compressed reply
    # could expand far past the cap before the first check.
    headers = {**claimed.headers, "accept-encoding": "identity"}
    try:
        # One deadline for the whole exchange: httpx's timeouts are per read, so a
        # receiver dribbling bytes could otherwise hold the sender indefinitely.
        async with (
            asyncio.timeout(request_timeout),
            client.stream("POST", claimed.url, content=claimed.body, headers=headers) as response,
        ):
            outcome.status_code = response.status_code
            outcome.response_headers = _capture_headers(response.headers)
            outcome.retry_after = _retry_after(response.headers.get("retry-after"))
            received = bytearray()
            async for chunk in response.aiter_raw():
                received.extend(chunk)
                if len(received) > RESPONSE_BODY_CAP:
                    outcome.truncated = True
                    break
            outcome.response_body = bytes(received[:RESPONSE_BODY_CAP]).decode(
                "utf-8", errors="replace"
            )
    except OutboundBlocked as exc:
        outcome.error = f"Refused by the outbound guard: {exc}"
    except (TimeoutError, httpx.TimeoutException):
        outcome.error = f"Timed out after {request_timeout:g} s."
    except httpx.HTTPError as exc:
        outcome.error = f"{type(exc).__name__}: {exc}"[:500]
    outcome.finished_at = utcnow()
    outcome.duration_ms = int((time.monotonic() - clock) * 1000)
    if outcome.delivered:
        # The status arrived but the body did not finish in time: 2xx is what counts.
        outcome.error = None
    return outcome


def next_delay(attempt: int, retry_after: timedelta | None = None) -> timedelta:
    """Delay after failed attempt number `attempt` (1-based), with ±10 % jitter so
    endpoints recovering from an outage are not hit by every retry at once."""
    base = SCHEDULE[min(attempt, len(SCHEDULE)) - 1]
    delay = base * random.uniform(1 - JITTER, 1 + JITTER)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


def _finished_entry(entry: dict[str, Any], outcome: Outcome) -> dict[str, Any]:
    return {
        **entry,
        "finishedAt": isoformat(outcome.finished_at),
        "durationMs": outcome.duration_ms,
        "outcome": "delivered" if outcome.delivered else "failed",
        "statusCode": outcome.status_code,
        "responseHeaders": outcome.response_headers,
        "responseBody": outcome.response_body,
        "responseBodyTruncated": outcome.truncated,
        "error": outcome.error
        or (None if outcome.delivered else f"The endpoint answered {outcome.status_code}."),
    }


async def record(runtime: Runtime, claimed: Claimed, outcome: Outcome) -> str | None:
    """Store the attempt's outcome and decide what happens next.

    Returns the delivery's new status, or None when this attempt had already been
    superseded (its lease expired and another sender resent it).
    """
    async with runtime.sessions() as session, session.begin():
        found = (
            await session.execute(
                select(WebhookDelivery, Webhook.enabled)
                .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                .where(WebhookDelivery.id == claimed.delivery_id)
                .with_for_update(of=WebhookDelivery)
            )
        ).one_or_none()
        delivery, enabled = found if found is not None else (None, False)
        if (
            delivery is None
            or delivery.status != DeliveryStatus.SENDING
            or delivery.attempts != claimed.attempt
        ):
            logger.warning(
                "webhook attempt superseded before it was recorded",
                extra={"deliveryId": claimed.delivery_id, "attempt": claimed.attempt},
            )
            return None
        log = [
            _finished_entry(entry, outcome) if entry.get("attempt") == claimed.attempt else entry
            for entry in delivery.attempts_log
        ]
        values: dict[str, Any] = {
            "attempts_log": log,
            "last_status_code": outcome.status_code,
        }
        if outcome.delivered:
            status = DeliveryStatus.DELIVERED
            values.update(delivered_at=outcome.finished_at, next_attempt_at=None)
        elif outcome.gone or claimed.one_shot or claimed.attempt >= MAX_ATTEMPTS:
            status = DeliveryStatus.FAILED
            values.update(next_attempt_at=None)
        elif not enabled:
            # Disabled while this attempt was in flight: it is owed nothing more.
            status = DeliveryStatus.CANCELED
            values.update(next_attempt_at=None)
        else:
            status = DeliveryStatus.PENDING
            values.update(
                next_attempt_at=outcome.finished_at
                + next_delay(claimed.attempt, outcome.retry_after)
            )
        values["status"] = status
        result = await session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == claimed.delivery_id,
                WebhookDelivery.status == DeliveryStatus.SENDING,
                WebhookDelivery.attempts == claimed.attempt,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            return None
        if not claimed.one_shot:
            exhausted = status == DeliveryStatus.FAILED
            await _update_health(session, claimed, outcome, exhausted=exhausted)
    return status


async def _update_health(
    session: AsyncSession, claimed: Claimed, outcome: Outcome, *, exhausted: bool
) -> None:
    """Endpoint health from real traffic; disables on 410 or sustained failure."""
    keep_updated_at = {"updated_at": Webhook.updated_at}  # health is not a config change
    if outcome.delivered:
        await session.execute(
            update(Webhook)
            .where(
                Webhook.id == claimed.webhook_id,
                or_(Webhook.consecutive_failures != 0, Webhook.failing_since.is_not(None)),
            )
            .values(consecutive_failures=0, failing_since=None, **keep_updated_at)
            .execution_options(synchronize_session=False)
        )
        return
    failing_since = (
        await session.execute(
            update(Webhook)
            .where(Webhook.id == claimed.webhook_id)
            .values(
                consecutive_failures=Webhook.consecutive_failures + 1,
                failing_since=func.coalesce(Webhook.failing_since, claimed.claimed_at),
                **keep_updated_at,
            )
            .returning(Webhook.failing_since)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    reason = None
    if outcome.gone:
        reason = "The endpoint answered 410 Gone."
    elif failing_since is not None and outcome.finished_at - failing_since >= DISABLE_AFTER:
        reason = f"Every delivery attempt failed for {DISABLE_AFTER.days} days."
    elif exhausted and failing_since is not None and failing_since <= claimed.first_attempt_at:
        reason = (
            f"Every delivery attempt failed since {isoformat(failing_since)} and a "
            f"delivery used up its {MAX_ATTEMPTS} attempts."
        )
    if reason is not None:
        await disable(session, claimed.webhook_id, reason, automatic=True)


async def disable(session: AsyncSession, webhook_id: str, reason: str, *, automatic: bool) -> bool:
    """Disable an endpoint once and cancel what it was still owed; automatic disables
    record a `webhook.disabled` event for the workspace's other endpoints."""
    now = utcnow()
    row = (
        await session.execute(
            update(Webhook)
            .where(Webhook.id == webhook_id, Webhook.enabled.is_(True))
            .values(enabled=False, disabled_reason=reason, disabled_at=now)
            .returning(Webhook.workspace_id, Webhook.url)
            .execution_options(synchronize_session=False)
        )
    ).one_or_none()
    if row is None:
        return False
    await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.webhook_id == webhook_id,
            WebhookDelivery.status == DeliveryStatus.PENDING,
        )
        .values(status=DeliveryStatus.CANCELED, next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )
    if automatic:
        workspace_id, url = row
        record_event(
            session,
            workspace_id,
            EventType.WEBHOOK_DISABLED,
            {"webhookId": webhook_id, "url": url, "reason": reason, "disabledAt": isoformat(now)},
            resource_id=webhook_id,
        )
        logger.warning("webhook disabled", extra={"webhookId": webhook_id, "reason": reason})
    return True


async def attempt(
    runtime: Runtime, client: httpx.AsyncClient, claimed: Claimed, *, request_timeout: float
) -> str | None:
    outcome = await send(client, claimed, request_timeout=request_timeout)
    return await record(runtime, claimed, outcome)


async def deliver_due(
    runtime: Runtime,
    *,
    now: datetime | None = None,
    request_timeout: float = REQUEST_TIMEOUT,
    batch_size: int = BATCH_SIZE,
    budget_seconds: float = RUN_BUDGET_SECONDS,
) -> RunStats:
    """Claim and send due deliveries in batches until none is due or the budget is
    spent (so events queued behind a sibling go out in the same run)."""
    stats = RunStats()
    deadline = time.monotonic() + budget_seconds
    slots = asyncio.Semaphore(CONCURRENCY)

    async def one(client: httpx.AsyncClient, claimed: Claimed) -> str | None:
        async with slots:
            return await attempt(runtime, client, claimed, request_timeout=request_timeout)

    claimed = await claim_due(runtime, now=now, limit=batch_size)
    if not claimed:
        return stats  # the common case, every second: no client (and no TLS context) built
    async with guarded_client(runtime.settings.outbound_allow, timeout=request_timeout) as client:
        while claimed:
            results = await asyncio.gather(*(one(client, c) for c in claimed))
            stats.attempted += len(claimed)
            stats.delivered += sum(s == DeliveryStatus.DELIVERED for s in results)
            if time.monotonic() >= deadline:
                break
            claimed = await claim_due(runtime, now=now, limit=batch_size)
    return stats
