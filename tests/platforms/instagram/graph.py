"""What the Instagram and Facebook adapter tests share: Graph error bodies, usage
headers, a runtime stand-in with a cipher, and the request log."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import respx
from cryptography.fernet import Fernet

from polypost.core.crypto import TokenCipher
from tests.platforms.helpers import StubRuntime


@dataclass
class MetaRuntime(StubRuntime):
    """A `StubRuntime` that can decrypt Page tokens stored in account settings."""

    cipher: TokenCipher = field(
        default_factory=lambda: TokenCipher([Fernet.generate_key().decode()])
    )


def graph_error(
    status: int,
    code: int,
    subcode: int | None = None,
    *,
    headers: dict[str, str] | None = None,
    **extra: object,
) -> httpx.Response:
    """A Graph error answer (developers.facebook.com/docs/graph-api/guides/error-handling)."""
    error: dict[str, object] = {
        "message": extra.pop("message", "An error occurred"),
        "type": extra.pop("type", "OAuthException"),
        "code": code,
        "fbtrace_id": "AbCdEfGh",
        **extra,
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return httpx.Response(status, json={"error": error}, headers=headers)


def app_usage(call_count: int, cpu: int = 5, total: int = 5) -> dict[str, str]:
    return {
        "X-App-Usage": json.dumps(
            {"call_count": call_count, "total_cputime": cpu, "total_time": total}
        )
    }


def buc_usage(object_id: str, call_count: int, regain_minutes: int, kind: str) -> dict[str, str]:
    entry = {
        "type": kind,
        "call_count": call_count,
        "total_cputime": 10,
        "total_time": 12,
        "estimated_time_to_regain_access": regain_minutes,
    }
    return {"X-Business-Use-Case-Usage": json.dumps({object_id: [entry]})}


def log(router: respx.MockRouter) -> list[str]:
    """Every request in order as `METHOD url` (without the query: see `params`)."""
    return [
        f"{call.request.method} {call.request.url.copy_with(query=None)}" for call in router.calls
    ]


def params(request: httpx.Request) -> dict[str, str]:
    return dict(request.url.params)


def ok(body: Any) -> httpx.Response:
    return httpx.Response(200, json=body)
