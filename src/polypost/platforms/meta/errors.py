"""Reading Meta Graph API errors (Facebook Pages and Instagram share them).

Body: `{"error": {"message", "type", "code", "error_subcode", "is_transient",
"error_user_title", "error_user_msg", "fbtrace_id"}}`, usually HTTP 400 (403/500 occur).
Rate limits also show in usage headers, each value a percentage of the limit:
`X-App-Usage` / `X-Page-Usage` `{"call_count", "total_cputime", "total_time"}` and
`X-Business-Use-Case-Usage` `{"<id>": [{..., "estimated_time_to_regain_access": <min>}]}`
(facebook.md §4, §6; instagram.md §4, §6; developers.facebook.com/docs/graph-api/guides/
error-handling and /overview/rate-limiting).

A raised error's `code` is "<code>" or "<code>/<subcode>" (e.g. "9/2207042"), except a
duplicate post (506), which is `duplicate_content` like X's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from polypost.core.http import retry_at_from_headers
from polypost.core.timeutil import utcnow
from polypost.platforms.base import AuthExpired, Permanent, PlatformError, RateLimited, Transient

# 190 invalid/expired token (subcodes 458 app removed, 459 checkpoint, 460 password
# changed, 463 expired, 464 unconfirmed user, 467 invalid, 492 invalid session); 102 session.
AUTH_CODES = frozenset({102, 190})
# 190 also answers a user without a role on the Page ("…must be granted before
# impersonating a user's page", Postiz PR #1912): reconnecting with a Page role fixes
# that, a token refresh does not.
IMPERSONATION = "impersonat"
# 10 and 200-299: a permission was not granted; only reconnecting can add it.
PERMISSION_CODES = frozenset({10, *range(200, 300)})
# 4 app, 17 user, 32 Page, 613 custom; 80000-80009 and 80014 business use case limits.
RATE_CODES = frozenset({4, 17, 32, 613, *range(80000, 80010), 80014})
# 2207042 Instagram publishing quota reached; 1390008 "You are posting too fast" (it
# can come as code 368, which otherwise means a longer block).
RATE_SUBCODES = frozenset({2207042, 1390008})
TRANSIENT_CODES = frozenset({1, 2})
# Service unavailable (1363047, 1609010); Instagram server error (2207001), download
# timeout (2207003), create failed (2207032), unknown upload error (2207053), video
# processing failed (2207082, 2207085), container not ready (2207027), media fetch
# failed (2207052: our storage may have hiccuped; the job bounds the retries).
TRANSIENT_SUBCODES = frozenset(
    {1363047, 1609010, 2207001, 2207003, 2207027, 2207032, 2207052, 2207053, 2207082, 2207085}
)
# 2207051 "We restrict certain activity to protect our community" arrives as code 4 and
# 368 "temporarily blocked": retrying deepens an action block, so neither is retried.
BLOCKED_CODES = frozenset({368})
BLOCKED_SUBCODES = frozenset({2207051, 2207050})
DUPLICATE_CODES = frozenset({506})
# 9007 / 2207027: `media_publish` on a container that has not FINISHED.
NOT_READY_SUBCODE = 2207027
# 100 / 33: "Object with ID … does not exist" (deleted, or not visible to the token).
MISSING_OBJECT = "100/33"
# Mixpost's default when a limit gives no time to regain access (ManagesRateLimit.php).
DEFAULT_RATE_WAIT = timedelta(hours=1)
USAGE_HEADERS = ("x-app-usage", "x-page-usage", "x-ad-account-usage")
BUC_HEADERS = ("x-business-use-case-usage", "x-ad-account-usage-buc")

# instagram.md §3, §6: what the common container subcodes mean for the client.
SUBCODE_HINTS = {
    2207004: "the image is larger than 8 MiB",
    2207005: "the image format is not supported (JPEG only)",
    2207009: "the image aspect ratio is outside 4:5 to 1.91:1",
    2207010: "the caption is too long",
    2207026: "the video format is not supported",
    2207052: "Instagram could not fetch the media from its URL",
    2207057: "the cover offset is outside the video",
    2207082: "Instagram failed to process the video",
}


@dataclass(frozen=True)
class GraphError:
    status: int
    code: int | None
    subcode: int | None
    message: str
    user_message: str | None
    is_transient: bool

    @property
    def ident(self) -> str:
        if self.code is not None and self.subcode is not None:
            return f"{self.code}/{self.subcode}"
        return str(self.code if self.code is not None else self.status)

    @property
    def text(self) -> str:
        return self.user_message or self.message


def as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _json(raw: str | None) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def parse_error(response: httpx.Response) -> GraphError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    debug = body.get("debug_info") if isinstance(body, dict) else None
    if not error and isinstance(debug, dict):
        # rupload.facebook.com answers `{"debug_info": {"retriable", "type", "message"}}`.
        return GraphError(
            status=response.status_code,
            code=None,
            subcode=None,
            message=str(debug.get("message") or f"HTTP {response.status_code}"),
            user_message=None,
            is_transient=debug.get("retriable") is True,
        )
    return GraphError(
        status=response.status_code,
        code=as_int(error.get("code")),
        subcode=as_int(error.get("error_subcode")),
        message=str(error.get("message") or f"HTTP {response.status_code}"),
        user_message=str(error["error_user_msg"]) if error.get("error_user_msg") else None,
        is_transient=error.get("is_transient") is True,
    )


def _percentages(value: Any) -> list[float]:
    if not isinstance(value, dict):
        return []
    return [
        float(v)
        for k, v in value.items()
        if k in ("call_count", "total_cputime", "total_time", "acc_id_util_pct")
        and isinstance(v, int | float)
    ]


def usage_peak(headers: httpx.Headers) -> float:
    """The highest usage percentage any Graph usage header reports (0 without one)."""
    peak = 0.0
    for name in USAGE_HEADERS:
        peak = max([peak, *_percentages(_json(headers.get(name)))])
    for name in BUC_HEADERS:
        buc = _json(headers.get(name))
        if not isinstance(buc, dict):
            continue
        for entries in buc.values():
            for entry in entries if isinstance(entries, list) else []:
                peak = max([peak, *_percentages(entry)])
    return peak


def regain_at(headers: httpx.Headers, now: datetime | None = None) -> datetime | None:
    """When the business use case limit lifts: the largest
    `estimated_time_to_regain_access` (minutes) in `X-Business-Use-Case-Usage`."""
    minutes: list[int] = []
    for name in BUC_HEADERS:
        buc = _json(headers.get(name))
        if not isinstance(buc, dict):
            continue
        for entries in buc.values():
            for entry in entries if isinstance(entries, list) else []:
                value = (
                    as_int(entry.get("estimated_time_to_regain_access"))
                    if isinstance(entry, dict)
                    else None
                )
                if value is not None and value > 0:
                    minutes.append(value)
    if not minutes:
        return None
    return (now or utcnow()) + timedelta(minutes=max(minutes))


def rate_limit_reset(headers: httpx.Headers, now: datetime | None = None) -> datetime:
    """The BUC estimate, else a `Retry-After`, else an hour."""
    now = now or utcnow()
    return (
        regain_at(headers, now)
        or retry_at_from_headers(headers, now=now)
        or (now + DEFAULT_RATE_WAIT)
    )


def classify(response: httpx.Response, label: str) -> PlatformError:
    """One of the four kinds for a non-2xx Graph answer; `label` names the platform."""
    error = parse_error(response)
    code, subcode = error.code, error.subcode
    message = f"{label}: {error.text}"
    ident = error.ident
    if code in AUTH_CODES or (code is None and response.status_code == 401):
        if IMPERSONATION in error.message.lower():
            return Permanent(
                f"{message} (the connected user has no role on this Page; reconnect as a "
                "Page admin)",
                code=ident,
            )
        return AuthExpired(message, code=ident)
    if (code in BLOCKED_CODES or subcode in BLOCKED_SUBCODES) and subcode not in RATE_SUBCODES:
        return Permanent(message, code=ident)
    if (
        code in RATE_CODES
        or subcode in RATE_SUBCODES
        or response.status_code == 429
        or usage_peak(response.headers) >= 100
    ):
        return RateLimited(message, code=ident, retry_at=rate_limit_reset(response.headers))
    if (
        code in TRANSIENT_CODES
        or subcode in TRANSIENT_SUBCODES
        or error.is_transient
        or response.status_code >= 500
    ):
        return Transient(message, code=ident)
    if code in DUPLICATE_CODES:
        return Permanent(message, code="duplicate_content")
    if code in PERMISSION_CODES:
        return Permanent(
            f"{message} (a permission is missing; reconnect the account and grant it)",
            code=ident,
        )
    hint = SUBCODE_HINTS.get(subcode) if subcode is not None else None
    return Permanent(f"{message} ({hint})" if hint else message, code=ident)


def has_code(error: PlatformError, code: int, subcode: int | None = None) -> bool:
    """Whether a classified error carries this Graph code (and subcode, if given)."""
    parts = (error.code or "").split("/")
    if parts[0] != str(code):
        return False
    return subcode is None or (len(parts) > 1 and parts[1] == str(subcode))


CONTAINER_CODE = re.compile(r"\b(2207\d{3}|\d{6,7})\b")


def status_error(label: str, object_id: str, detail: str | None) -> PlatformError:
    """A container or video whose processing ended in ERROR. Instagram's `status` reads
    "Error: Media upload has failed with error code 2207082": the number goes through
    the same mapping as an API error."""
    text = (detail or "").strip() or "unknown error"
    match = CONTAINER_CODE.search(text)
    subcode = int(match.group(1)) if match else None
    hint = SUBCODE_HINTS.get(subcode) if subcode is not None else None
    message = f"{label} could not process the media ({text}{'; ' + hint if hint else ''}; "
    message += f"{object_id})"
    code = f"processing/{subcode}" if subcode is not None else "processing_error"
    if subcode in TRANSIENT_SUBCODES:
        return Transient(message, code=code)
    return Permanent(message, code=code)
