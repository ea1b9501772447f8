"""Standard Webhooks secrets, payloads and signatures.

Spec: https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
- secret: `whsec_` + base64 of 24-64 random bytes; the HMAC key is the decoded bytes;
- signed content: `{webhook-id}.{webhook-timestamp}.{body}`;
- `webhook-signature`: `v1,<base64 HMAC-SHA256>`, several space-separated while a
  rotated secret overlaps the new one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from typing import Any

from polypost import __version__
from polypost.core.timeutil import isoformat
from polypost.models import Event

SECRET_PREFIX = "whsec_"  # noqa: S105 (the Standard Webhooks prefix)
SECRET_BYTES = 32
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
USER_AGENT = f"Polypost-Webhooks/{__version__}"


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key inside a `whsec_` secret.

    Raises:
        ValueError: not `whsec_` + base64 of 24-64 bytes.
    """
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"must start with {SECRET_PREFIX}")
    encoded = secret[len(SECRET_PREFIX) :]
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"must be {SECRET_PREFIX} followed by base64") from exc
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise ValueError(f"must encode {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes")
    return key


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` signature."""
    content = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets_: Sequence[str], message_id: str, timestamp: int, body: bytes) -> str:
    """Space-separated signatures, one per live secret (new first, then the rotated one)."""
    return " ".join(sign(secret, message_id, timestamp, body) for secret in secrets_)


def request_headers(
    secrets_: Sequence[str], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets_, message_id, timestamp, body),
    }


def payload(event: Event) -> dict[str, Any]:
    """The Standard Webhooks body: `type`, `timestamp`, `data`, plus ids for receivers."""
    return {
        "id": event.id,
        "type": event.type,
        "timestamp": isoformat(event.created_at),
        "workspaceId": event.workspace_id,
        "data": event.data,
    }


def payload_bytes(event: Event) -> bytes:
    """Deterministic, so the body shown in the delivery log is the body that was signed."""
    return json.dumps(payload(event), separators=(",", ":"), ensure_ascii=False).encode()
