"""Reading X's error answers (x.md §6): v2 problem bodies (`type`, `title`, `detail`),
the `errors[]` list of 400s, and the older numeric codes (88 rate limit, 89 bad token,
187 duplicate)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from polypost.core.http import json_object
from polypost.core.timeutil import utcnow
from polypost.platforms.base import AuthExpired, Permanent, PlatformError, RateLimited, Transient

# x.md §4: X sends no Retry-After, and some tiers omit the rate-limit headers entirely.
DEFAULT_RATE_LIMIT_WAIT = timedelta(minutes=15)


def error_codes(body: dict[str, Any]) -> set[int]:
    codes: set[int] = set()
    for error in body.get("errors") or []:
        if isinstance(error, dict) and isinstance(error.get("code"), int):
            codes.add(error["code"])
    return codes


def problem_message(body: dict[str, Any], status: int) -> str:
    """The most specific text X gave: the first error's message (400s name the field),
    else the problem's detail or title."""
    for error in body.get("errors") or []:
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    return str(body.get("detail") or body.get("title") or f"X answered HTTP {status}")


def rate_limit_reset(headers: httpx.Headers) -> datetime:
    """When X lets the caller in again: the 15-minute window's reset, or a 24-hour
    window's when that one is the exhausted one (x.md §4)."""
    candidates = []
    for scope in ("user", "app"):
        if headers.get(f"x-{scope}-limit-24hour-remaining") == "0":
            reset = headers.get(f"x-{scope}-limit-24hour-reset")
            if reset and reset.isdigit():
                candidates.append(datetime.fromtimestamp(int(reset), tz=UTC))
    window = headers.get("x-rate-limit-reset")
    if window and window.isdigit():
        candidates.append(datetime.fromtimestamp(int(window), tz=UTC))
    return max(candidates) if candidates else utcnow() + DEFAULT_RATE_LIMIT_WAIT


def classify(response: httpx.Response) -> PlatformError:
    """One of the four kinds for a non-2xx answer from X."""
    status = response.status_code
    body = json_object(response)
    codes = error_codes(body)
    problem = str(body.get("type") or "")
    message = problem_message(body, status)
    lowered = message.lower()
    if status == 401 or codes & {32, 89}:
        return AuthExpired(f"X refused the access token: {message}", code="unauthorized")
    if "usage-capped" in problem:
        # The app's monthly cap or credits are used up: only billing fixes it.
        return Permanent(f"X usage cap reached: {message}", code="usage_capped")
    if status == 429 or 88 in codes:
        return RateLimited(
            f"X rate limit: {message}",
            code="rate_limited",
            retry_at=rate_limit_reset(response.headers),
        )
    if status >= 500:
        return Transient(f"X is unavailable: {message}", code=str(status))
    if "duplicate" in lowered or 187 in codes:
        return Permanent(message, code="duplicate_content")
    if status == 403:
        if "client-forbidden" in problem:
            return Permanent(
                f"The X developer app is not allowed: {message}", code="client_forbidden"
            )
        if "reply to this conversation is not allowed" in lowered:
            return Permanent(message, code="reply_not_allowed")
        return Permanent(message, code="forbidden")
    if status == 404:
        return Permanent(message, code="not_found")
    if status == 400:
        return Permanent(message, code="invalid_request")
    return Permanent(message, code=str(status))
