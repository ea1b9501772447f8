"""Reading Threads' Graph-style errors (threads.md §6):
`{"error": {"message", "type", "code", "error_subcode", "is_transient", "error_user_msg"}}`.

The raised error's `code` is "<code>" or "<code>/<subcode>" (e.g. "24/4279009").
"""

from __future__ import annotations

from typing import Any

import httpx

from polypost.core.http import retry_at_from_headers
from polypost.platforms.base import AuthExpired, Permanent, PlatformError, RateLimited, Transient

AUTH_CODES = frozenset({102, 190})
# 10 and 200-299: a permission the user did not grant; only reconnecting can add it.
PERMISSION_CODES = frozenset({10, *range(200, 300)})
# 4/17/32/613 call-rate limits; 9 with 2207042 is the publishing quota (as on Instagram).
RATE_CODES = frozenset({4, 9, 17, 32, 613})
TRANSIENT_CODES = frozenset({1, 2})
# 2207051 "We restrict certain activity to protect our community" comes as code 4 (a
# rate limit by its code) but is an action block; 4279013 the user is restricted.
# Retrying either only deepens the block.
BLOCKED_SUBCODES = frozenset({2207051, 4279013})
# Code 24 / 4279009 "Media Not Found" right after FINISHED; 2207052 "media could not be
# fetched" (our storage may have hiccuped; retries are bounded by the job).
TRANSIENT_SUBCODES = frozenset({4279009, 2207052})
# Graph 100/33 "Object with ID … does not exist".
MISSING_OBJECT = "100/33"


def as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def classify(response: httpx.Response) -> PlatformError:
    """One of the four kinds for a non-2xx answer from Threads."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    status = response.status_code
    code = as_int(error.get("code"))
    subcode = as_int(error.get("error_subcode"))
    detail = error.get("error_user_msg") or error.get("message") or f"HTTP {status}"
    ident = f"{code}/{subcode}" if code and subcode else str(code or status)
    message = f"Threads: {detail}"
    if code in AUTH_CODES or code in PERMISSION_CODES or status == 401:
        return AuthExpired(message, code=ident)
    if subcode in BLOCKED_SUBCODES:
        return Permanent(message, code=ident)
    if code in RATE_CODES or status == 429:
        return RateLimited(message, code=ident, retry_at=retry_at_from_headers(response.headers))
    if (
        subcode in TRANSIENT_SUBCODES
        or code in TRANSIENT_CODES
        or error.get("is_transient") is True
        or status >= 500
    ):
        return Transient(message, code=ident)
    return Permanent(message, code=ident)


def is_code(error: PlatformError, code: int) -> bool:
    """Whether a classified error carries this Graph code (with any subcode)."""
    return (error.code or "").split("/")[0] == str(code)
