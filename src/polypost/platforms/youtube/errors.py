"""Reading Google's error answers (youtube.md §6).

`{"error": {"code": 403, "message", "errors": [{"reason": "quotaExceeded", "domain":
"youtube.quota"}], "status": "PERMISSION_DENIED"}}`: the first `reason` decides, then
the HTTP status. A spent daily quota lifts at the next midnight Pacific time.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from polypost.core.http import retry_at_from_headers
from polypost.core.timeutil import utcnow
from polypost.platforms.base import AuthExpired, Permanent, PlatformError, RateLimited, Transient

# youtube.md §4 "Quota (per Google Cloud project, resets midnight Pacific)".
QUOTA_ZONE = ZoneInfo("America/Los_Angeles")
QUOTA_EXCEEDED = "quotaExceeded"
AUTH_REASONS = frozenset({"authError", "insufficientPermissions", "forbiddenScope"})
RATE_REASONS = frozenset(
    {
        "rateLimitExceeded",
        "userRateLimitExceeded",
        "uploadRateLimitExceeded",
        "servingLimitExceeded",
    }
)
# youtube.md §4: the channel's daily upload cap, "retry after 24 h".
UPLOAD_CAP = "uploadLimitExceeded"
TRANSIENT_REASONS = frozenset({"backendError", "internalError"})
DEFAULT_RATE_WAIT = timedelta(seconds=60)


def next_quota_reset(now: datetime | None = None) -> datetime:
    """The next midnight in Pacific time, when every project's daily quota resets."""
    local = (now or utcnow()).astimezone(QUOTA_ZONE)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=QUOTA_ZONE)
    return midnight.astimezone(UTC)


def quota_day(now: datetime | None = None) -> str:
    """The Pacific date whose quota a call counts against."""
    return (now or utcnow()).astimezone(QUOTA_ZONE).date().isoformat()


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def reason_of(body: dict[str, Any]) -> tuple[str | None, str | None, str]:
    """(reason, status, message) of a Google error body."""
    error = body.get("error")
    if not isinstance(error, dict):
        return None, None, ""
    reason = None
    for item in error.get("errors") or []:
        if isinstance(item, dict) and item.get("reason"):
            reason = str(item["reason"])
            break
    details = error.get("details") or []
    for item in details if isinstance(details, list) else []:
        if isinstance(item, dict) and item.get("reason") and reason is None:
            reason = str(item["reason"])
    status = str(error["status"]) if error.get("status") else None
    return reason, status, str(error.get("message") or "")


def classify(response: httpx.Response) -> PlatformError:
    """One of the four kinds for a non-2xx answer from the YouTube Data API."""
    body = _json(response)
    http_status = response.status_code
    reason, status, detail = reason_of(body)
    oauth_error = body.get("error") if isinstance(body.get("error"), str) else None
    code = reason or oauth_error or status or str(http_status)
    message = f"YouTube: {detail or body.get('error_description') or code}"
    if reason == QUOTA_EXCEEDED:
        return RateLimited(
            message + " (the daily quota resets at midnight Pacific time)",
            code=QUOTA_EXCEEDED,
            retry_at=next_quota_reset(),
        )
    if reason == UPLOAD_CAP:
        return RateLimited(message, code=UPLOAD_CAP, retry_at=utcnow() + timedelta(hours=24))
    if reason in RATE_REASONS or http_status == 429:
        retry_at = retry_at_from_headers(response.headers) or utcnow() + DEFAULT_RATE_WAIT
        return RateLimited(message, code=code, retry_at=retry_at)
    if reason == "youtubeSignupRequired":
        # The Google account has no channel: refreshing or reconnecting cannot help
        # until the user creates one.
        return Permanent(message + " (create a YouTube channel for this account)", code=code)
    if (
        reason in AUTH_REASONS
        or http_status == 401
        or status == "UNAUTHENTICATED"
        or oauth_error == "invalid_grant"
        or "ACCESS_TOKEN_SCOPE_INSUFFICIENT" in str(body)
    ):
        return AuthExpired(message, code=code)
    if reason in TRANSIENT_REASONS or http_status >= 500:
        return Transient(message, code=code)
    return Permanent(message, code=code)
