"""API errors and the one envelope they render to.

Services raise `ApiError` subclasses; `render` turns any of them into
`{"error": {"code", "message", "details"?, "requestId"}}`. Route declarations pass the
classes to `responses()` so the OpenAPI document lists every error a route can return.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, Field


class ApiError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal"
    default_message: ClassVar[str] = "Internal server error."

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        code: str | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.details = details
        self.headers = headers or {}
        if code is not None:
            self.code = code  # type: ignore[misc]
        super().__init__(self.message)


class BadRequest(ApiError):
    status, code, default_message = 400, "bad_request", "The request is malformed."


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"
    default_message = "Missing or invalid credential."

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        # RFC 9110 §11.6.1: a 401 names the scheme the client should use.
        self.headers.setdefault("WWW-Authenticate", 'Bearer realm="polypost"')


class Forbidden(ApiError):
    status, code = 403, "forbidden"
    default_message = "The credential does not allow this operation."


class NotFound(ApiError):
    status, code, default_message = 404, "not_found", "Not found."


class MethodNotAllowed(ApiError):
    status, code, default_message = 405, "method_not_allowed", "Method not allowed."


class Conflict(ApiError):
    status, code, default_message = 409, "conflict", "The request conflicts with current state."


class IdempotencyInProgress(Conflict):
    code = "idempotency_in_progress"
    default_message = "A request with this Idempotency-Key is still being processed."


class AlreadyLinked(Conflict):
    code = "already_linked"
    default_message = "This platform account is linked to another workspace."


class CredentialsInvalid(ApiError):
    status, code = 422, "credentials_invalid"
    default_message = "The platform rejected the credentials."


class PlatformFailed(ApiError):
    status, code = 502, "platform_error"
    default_message = "The platform API call failed."


class Gone(ApiError):
    status, code, default_message = 410, "gone", "The resource is gone."


class CredentialsMissing(ApiError):
    status, code = 412, "credentials_missing"
    default_message = "Platform developer credentials are required."


class PayloadTooLarge(ApiError):
    status, code, default_message = 413, "payload_too_large", "The request body is too large."


class StorageQuotaExceeded(ApiError):
    status, code = 413, "storage_quota_exceeded"
    default_message = "The workspace storage quota would be exceeded."


class UnsupportedMediaType(ApiError):
    status, code = 415, "unsupported_media_type"
    default_message = "The request body must be JSON."


class Unprocessable(ApiError):
    status, code, default_message = 422, "unprocessable", "The request cannot be processed."


class MediaInvalid(Unprocessable):
    code = "media_invalid"
    default_message = "The media file is not usable."


class IdempotencyKeyReused(Unprocessable):
    code = "idempotency_key_reused"
    default_message = "This Idempotency-Key was used with a different request."


class RateLimited(ApiError):
    status, code, default_message = 429, "rate_limited", "Too many requests."


class ServiceUnavailable(ApiError):
    status, code, default_message = 503, "unavailable", "A dependency is unavailable."


class NotSupported(ApiError):
    status, code = 501, "unsupported"
    default_message = "The platform has no API for this operation."


class ErrorBody(BaseModel):
    code: str = Field(examples=["not_found"])
    message: str
    details: dict[str, Any] | None = None
    request_id: str = Field(alias="requestId")


class ErrorEnvelope(BaseModel):
    error: ErrorBody


CODE_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "rate_limited",
    503: "unavailable",
}


def envelope(
    code: str, message: str, request_id: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message, "requestId": request_id}
    if details is not None:
        body["details"] = details
    return {"error": body}


AUTHENTICATED_ERRORS: tuple[type[ApiError], ...] = (
    BadRequest,
    Unauthorized,
    Forbidden,
    RateLimited,
)


def responses(*errors: type[ApiError], public: bool = False) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for a route: each status with the codes it can carry."""
    by_status: dict[int, list[str]] = {}
    for error in (*(() if public else AUTHENTICATED_ERRORS), *errors):
        by_status.setdefault(error.status, [])
        if error.code not in by_status[error.status]:
            by_status[error.status].append(error.code)
    return {
        status: {
            "model": ErrorEnvelope,
            "description": "Error codes: " + ", ".join(f"`{c}`" for c in codes),
        }
        for status, codes in sorted(by_status.items())
    }
