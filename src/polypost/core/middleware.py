"""Pure ASGI middleware: request ids, body limits, the 500 envelope, auth resolution,
rate limiting and idempotency.

Authentication happens here rather than only in route dependencies because rate limits
and idempotency keys are per credential and must wrap the whole request. Routes still
enforce presence and scope through `auth.deps.Requires`, which reads what this resolved.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from polypost.auth.service import authenticate, credential_from_headers
from polypost.core import idempotency
from polypost.core.errors import (
    ApiError,
    BadRequest,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    PayloadTooLarge,
    RateLimited,
    envelope,
)
from polypost.core.logging import request_id_var
from polypost.core.runtime import Runtime
from polypost.ops.metrics import HTTP_LATENCY, HTTP_REQUESTS, route_template

logger = logging.getLogger("polypost.http")

REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class BodyTooLarge(HTTPException):
    """An HTTPException so FastAPI's body parsing lets it through as a 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body exceeds {limit} bytes.")


async def send_error(send: Send, error: ApiError, request_id: str) -> None:
    body = json.dumps(envelope(error.code, error.message, request_id, error.details)).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in error.headers.items()),
    ]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def upload_limit(path: str, upload_paths: Mapping[str, int]) -> int | None:
    """The body limit of an upload route. An entry ending in `/` matches its subtree; any
    other matches exactly (`/v1/media/upload` does not cover `/v1/media/upload-url`)."""
    for prefix, limit in upload_paths.items():
        if path.startswith(prefix) if prefix.endswith("/") else path == prefix:
            return limit
    return None


class RequestContextMiddleware:
    """Outermost layer: every response gets `X-Request-Id`, limits and the envelope.

    Upload routes (`upload_paths`: path → bytes) get their own limit instead of the JSON
    one, and enforce their exact per-request limit themselves while streaming.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        upload_paths: Mapping[str, int] | None = None,
    ):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.upload_paths = dict(upload_paths or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        incoming = headers.get("x-request-id", "")
        request_id = incoming if REQUEST_ID_PATTERN.match(incoming) else f"req_{uuid.uuid4().hex}"
        token = request_id_var.set(request_id)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        extra: dict[str, str] = state.setdefault("response_headers", {})
        started = time.perf_counter()
        status_holder = [500]
        response_started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                status_holder[0] = message["status"]
                out = MutableHeaders(scope=message)
                out["X-Request-Id"] = request_id
                for name, value in extra.items():
                    out[name] = value
            await send(message)

        limit = upload_limit(scope["path"], self.upload_paths) or self.max_body_bytes
        declared = headers.get("content-length")
        try:
            if declared is not None and declared.isdigit() and int(declared) > limit:
                raise BodyTooLarge(limit)
            received = 0

            async def limited_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        raise BodyTooLarge(limit)
                return message

            await self.app(scope, limited_receive, send_wrapper)
        except BodyTooLarge:
            if not response_started:
                status_holder[0] = 413
                await send_error(
                    send_wrapper,
                    PayloadTooLarge(f"The request body exceeds {limit} bytes."),
                    request_id,
                )
        except Exception:
            logger.exception("unhandled error", extra={"path": scope["path"]})
            if not response_started:
                status_holder[0] = 500
                await send_error(send_wrapper, ApiError(), request_id)
        finally:
            template = route_template(scope)
            elapsed = time.perf_counter() - started
            HTTP_REQUESTS.labels(scope["method"], template, str(status_holder[0])).inc()
            HTTP_LATENCY.labels(scope["method"], template).observe(elapsed)
            logger.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status_holder[0],
                    "durationMs": round(elapsed * 1000, 2),
                },
            )
            request_id_var.reset(token)


class GatewayMiddleware:
    """Resolve the credential, apply the per-credential rate limit, then idempotency."""

    def __init__(self, app: ASGIApp, *, runtime: Runtime, prefix: str = "/v1/") -> None:
        self.app = app
        self.runtime = runtime
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        state = scope["state"]
        request_id = state["request_id"]
        headers = Headers(scope=scope)
        try:
            credential = credential_from_headers(
                headers.get("x-api-key"), headers.get("authorization")
            )
        except ApiError as error:
            state["auth_error"] = error
            credential = None
        if credential is None:
            await self.app(scope, receive, send)
            return
        settings = self.runtime.settings
        try:
            async with self.runtime.sessions() as session:
                principal = await authenticate(
                    session,
                    credential=credential,
                    pepper=settings.signing_key,
                    verifier=self.runtime.jwt,
                    default_rate_limit=settings.rate_limit_per_minute,
                    workspace_header=headers.get("x-workspace-id"),
                )
        except ApiError as error:
            state["auth_error"] = error
            await self.app(scope, receive, send)
            return
        decision = await self.runtime.limiter.hit(principal.id, principal.rate_limit_per_minute)
        state["response_headers"].update(decision.headers())
        if not decision.allowed:
            await send_error(
                send,
                RateLimited(
                    f"Rate limit of {decision.limit} requests per minute exceeded; "
                    f"retry in {decision.retry_after} s.",
                    headers=decision.headers() | {"X-Request-Id": request_id},
                ),
                request_id,
            )
            return
        state["principal"] = principal
        key = headers.get("idempotency-key")
        if scope["method"] == "POST" and key is not None:
            await self._idempotent(scope, receive, send, principal.id, key)
            return
        await self.app(scope, receive, send)

    async def _idempotent(
        self, scope: Scope, receive: Receive, send: Send, principal_id: str, key: str
    ) -> None:
        request_id = scope["state"]["request_id"]
        rl_headers = scope["state"]["response_headers"]

        async def fail(error: ApiError) -> None:
            error.headers.update(rl_headers)
            error.headers["X-Request-Id"] = request_id
            await send_error(send, error, request_id)

        if not idempotency.is_valid_key(key):
            await fail(
                BadRequest(
                    "Idempotency-Key must be 1-255 printable ASCII characters.",
                    details={"fields": [{"field": "Idempotency-Key", "message": "invalid"}]},
                )
            )
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        print_ = idempotency.fingerprint(
            scope["method"], scope["path"], scope.get("query_string", b"").decode(), body
        )
        store = self.runtime.idempotency
        try:
            claim = await store.begin(principal_id, key, print_)
        except idempotency.Mismatch:
            await fail(IdempotencyKeyReused())
            return
        except idempotency.InProgress:
            await fail(IdempotencyInProgress())
            return
        if isinstance(claim, idempotency.Replay):
            replayed = idempotency.unseal(self.runtime.cipher, claim.body)
            replay_headers = [(k.encode(), v.encode()) for k, v in claim.headers.items()]
            replay_headers.append((b"idempotent-replayed", b"true"))
            replay_headers.append((b"content-length", str(len(replayed)).encode()))
            await send(
                {"type": "http.response.start", "status": claim.status, "headers": replay_headers}
            )
            await send({"type": "http.response.body", "body": replayed})
            return

        delivered = False

        async def replay_receive() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        captured: dict[str, Any] = {"status": 500, "headers": {}, "body": []}

        async def capture_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                out = Headers(raw=message["headers"])
                captured["headers"] = {
                    name: out[name] for name in idempotency.STORED_HEADERS if name in out
                }
            elif message["type"] == "http.response.body":
                captured["body"].append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_receive, capture_send)
        except BaseException:
            await store.release(claim)
            raise
        await store.finish(
            claim,
            captured["status"],
            captured["headers"],
            idempotency.seal(self.runtime.cipher, b"".join(captured["body"])),
        )
