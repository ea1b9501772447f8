"""`PlatformHttp`: the one way adapters call platform APIs.

It owns the failure mapping every adapter would otherwise repeat: network errors become
`Transient` (with `maybe_sent` when the request may have reached the platform), non-2xx
responses go through the adapter's `classify`, and rate-limit headers become `retry_at`.
Adapters never catch httpx exceptions themselves and never decide retries.
"""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx

from polypost.core.timeutil import utcnow
from polypost.platforms.base import PlatformError, Transient

# Methods whose effect a lost response leaves uncertain (a GET or DELETE can be repeated).
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH"})


class Classifier(Protocol):
    def classify(self, response: httpx.Response) -> PlatformError: ...


def retry_at_from_headers(
    headers: httpx.Headers, *, now: datetime | None = None
) -> datetime | None:
    """When a rate limit lifts, from `Retry-After` (seconds or HTTP date) or the common
    `x-ratelimit-reset` / `x-rate-limit-reset` epoch-seconds headers."""
    now = now or utcnow()
    value = headers.get("retry-after")
    if value:
        value = value.strip()
        if value.isdigit():
            return now + timedelta(seconds=int(value))
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            parsed = None
        if parsed is not None:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    for name in ("x-ratelimit-reset", "x-rate-limit-reset", "ratelimit-reset"):
        raw = headers.get(name)
        if raw and raw.replace(".", "", 1).isdigit():
            number = float(raw)
            # Epoch seconds, or (IETF RateLimit-Reset) seconds from now.
            if number > 1_000_000_000:
                return datetime.fromtimestamp(number, UTC)
            return now + timedelta(seconds=number)
    return None


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object, or `{}` when the body is not one (an HTML error page
    from a proxy, an empty 204): error classifiers read fields without guarding."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class PlatformHttp:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def request(
        self,
        classifier: Classifier,
        method: str,
        url: str,
        *,
        ok_statuses: frozenset[int] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send one request; a response outside 2xx (or `ok_statuses`) raises
        `classifier.classify(response)`."""
        unsafe = method.upper() in UNSAFE_METHODS
        try:
            response = await self.client.request(method, url, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise Transient(f"Could not reach the platform: {type(exc).__name__}") from exc
        except httpx.TimeoutException as exc:
            raise Transient(
                f"The platform did not answer in time: {type(exc).__name__}", maybe_sent=unsafe
            ) from exc
        except httpx.HTTPError as exc:
            raise Transient(
                f"The connection to the platform failed: {type(exc).__name__}", maybe_sent=unsafe
            ) from exc
        allowed = ok_statuses or frozenset()
        if not (200 <= response.status_code < 300) and response.status_code not in allowed:
            raise classifier.classify(response)
        return response

    async def json(self, classifier: Classifier, method: str, url: str, **kwargs: Any) -> Any:
        response = await self.request(classifier, method, url, **kwargs)
        if not response.content:
            return {}
        try:
            return response.json()
        except ValueError as exc:
            raise Transient(
                f"The platform answered {response.status_code} with a body that is not JSON",
                maybe_sent=method.upper() in UNSAFE_METHODS,
            ) from exc
