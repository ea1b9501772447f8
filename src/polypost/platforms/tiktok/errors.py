"""Reading TikTok's answers (tiktok.md §6).

Every v2 answer carries `{"data": {…}, "error": {"code", "message", "log_id"}}`; success
is `error.code == "ok"`. Failures use an HTTP status too, but some arrive as HTTP 200
(`creator_info/query` reports `spam_risk_too_many_posts` that way), so a 2xx body is
checked as well (`checked`). An asynchronous publish fails later through
`status/fetch` with `status: "FAILED"` and a `fail_reason` from the same vocabulary.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from polypost.core.http import retry_at_from_headers
from polypost.core.timeutil import utcnow
from polypost.platforms.base import AuthExpired, Permanent, PlatformError, RateLimited, Transient

# tiktok.md §6 auth_expired: refresh once, then reconnect (with the missing scopes).
AUTH_CODES = frozenset(
    {"access_token_invalid", "scope_not_authorized", "scope_permission_missed", "auth_removed"}
)
# tiktok.md §4/§6: per-minute limits have no rate headers ("back off ≥60 s"); the
# per-creator post caps are a rolling 24 h window, the app's active-creator cap daily.
RATE_WAITS = {
    "rate_limit_exceeded": timedelta(seconds=60),
    "spam_risk_too_many_posts": timedelta(hours=24),
    "spam_risk_too_many_pending_share": timedelta(hours=24),
    "reached_active_user_cap": timedelta(hours=24),
}
# tiktok.md §6 transient: TikTok's own failures, and a pull that a slow origin broke.
TRANSIENT_CODES = frozenset(
    {"internal_error", "internal", "video_pull_failed", "photo_pull_failed"}
)
OK = "ok"


def json_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def error_of(body: dict[str, Any]) -> tuple[str, str]:
    """(code, message) of a v2 body; ("ok", "") when it reports success."""
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("code") or OK), str(error.get("message") or "")
    return OK, ""


def from_code(
    code: str, message: str, *, status: int | None = None, headers: httpx.Headers | None = None
) -> PlatformError:
    """The error kind of one TikTok error code (or `fail_reason`)."""
    text = f"TikTok: {message or code}"
    if code in AUTH_CODES:
        return AuthExpired(text, code=code)
    wait = RATE_WAITS.get(code)
    if wait is not None or status == 429:
        retry_at = retry_at_from_headers(headers) if headers is not None else None
        return RateLimited(
            text,
            code=code,
            retry_at=retry_at or utcnow() + (wait or RATE_WAITS["rate_limit_exceeded"]),
        )
    if code in TRANSIENT_CODES or (status is not None and status >= 500):
        return Transient(text, code=code)
    if status == 401:
        return AuthExpired(text, code=code)
    return Permanent(text, code=code)


def classify(response: httpx.Response) -> PlatformError:
    """One of the four kinds for a TikTok answer that is not a success.

    Upload answers (`PUT upload_url`) may have no JSON body: the status decides then.
    """
    body = json_body(response)
    code, message = error_of(body)
    status = response.status_code
    if code == OK:
        code = str(status)
        message = message or f"HTTP {status}"
    return from_code(code, message, status=status, headers=response.headers)


def checked(body: Any) -> dict[str, Any]:
    """The `data` of a 2xx answer, after making sure `error.code` is "ok".

    Raises:
        PlatformError: the body reports an error (e.g. `spam_risk_too_many_posts`).
    """
    if not isinstance(body, dict):
        raise Transient("TikTok answered with a body that is not an object")
    code, message = error_of(body)
    if code != OK:
        raise from_code(code, message)
    data = body.get("data")
    return data if isinstance(data, dict) else {}
