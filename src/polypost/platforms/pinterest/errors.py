"""Reading Pinterest's error answers (pinterest.md §6): `{"code": <int>, "message"}` with
HTTP 400/401/403/404/409/429/5xx."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from polypost.core.http import retry_at_from_headers
from polypost.core.timeutil import utcnow
from polypost.platforms.base import AuthExpired, Permanent, PlatformError, RateLimited, Transient

# pinterest.md §4: no documented Retry-After; Standard access limits are per minute.
DEFAULT_RATE_WAIT = timedelta(seconds=60)
# pinterest.md §6: Pinterest could not fetch the image URL (a slow or briefly failing
# origin); bounded retries, permanent when the URL stays unreachable.
UNREACHABLE = "unable to reach the url"
# pinterest.md §6/§7 code 29: a Trial-access app writing to production.
TRIAL_ACCESS_CODE = 29


def json_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def classify(response: httpx.Response) -> PlatformError:
    """One of the four kinds for a non-2xx answer from Pinterest."""
    body = json_body(response)
    status = response.status_code
    number = body.get("code")
    message = f"Pinterest: {body.get('message') or f'HTTP {status}'}"
    code = str(number) if number is not None else str(status)
    if status == 401:
        return AuthExpired(message, code=code)
    if status == 429:
        retry_at = retry_at_from_headers(response.headers) or utcnow() + DEFAULT_RATE_WAIT
        return RateLimited(message, code=code, retry_at=retry_at)
    if status >= 500:
        return Transient(message, code=code)
    if UNREACHABLE in message.lower():
        return Transient(message, code="url_unreachable")
    if number == TRIAL_ACCESS_CODE:
        return Permanent(
            message + " (set apiBaseUrl of the Pinterest app to the sandbox until the app "
            "has Standard access)",
            code="trial_access",
        )
    if status == 404:
        return Permanent(message, code="not_found")
    return Permanent(message, code=code)
