"""Idempotency-Key for POSTs (IETF draft semantics, Stripe-style storage).

The first request with a key claims a row (unique on principal + key) before it runs;
its response is stored when it finishes. A repeat with the same body replays that
response with `Idempotent-Replayed: true`; a different body is 422
`idempotency_key_reused`; a repeat while the first is still running is 409
`idempotency_in_progress`. Requests rejected before doing anything (4xx other than 404)
are not stored, so a corrected retry with the same key is allowed. Keys live 24 h.

Stored bodies are encrypted (`seal`): a response may carry a secret that is shown once
(a new API key, a webhook signing secret) and must not sit in the database in clear.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from polypost.core.crypto import TokenCipher
from polypost.core.ids import Prefix, new_id
from polypost.core.timeutil import utcnow
from polypost.models import IdempotencyKey

RETENTION = timedelta(hours=24)
# A crashed request must not block its key forever; after this a retry takes it over.
LOCK_TIMEOUT = timedelta(minutes=5)
MAX_KEY_LENGTH = 255
STORED_HEADERS = ("content-type", "location")


@dataclass(frozen=True)
class Replay:
    status: int
    headers: dict[str, str]
    body: bytes


class InProgress(Exception):
    pass


class Mismatch(Exception):
    pass


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def seal(cipher: TokenCipher, body: bytes) -> bytes:
    """Encrypt a response body for storage (Fernet over base64: bodies need not be text)."""
    return cipher.encrypt(base64.b64encode(body).decode()).encode()


def unseal(cipher: TokenCipher, stored: bytes) -> bytes:
    return base64.b64decode(cipher.decrypt(stored.decode()))


def is_valid_key(key: str) -> bool:
    return 0 < len(key) <= MAX_KEY_LENGTH and all(32 < ord(ch) < 127 for ch in key)


def should_store(status: int) -> bool:
    """Store outcomes of requests that ran; not those refused up front (safe to retry)."""
    return status < 400 or status == 404 or status >= 500


class IdempotencyStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def begin(self, principal: str, key: str, print_: str) -> Replay | str:
        """Claim the key (returns the row id) or return the stored response to replay."""
        now = utcnow()
        async with self.sessions() as session:
            row = IdempotencyKey(
                id=new_id(Prefix.IDEMPOTENCY),
                principal=principal,
                key=key,
                fingerprint=print_,
                status="in_progress",
                locked_until=now + LOCK_TIMEOUT,
            )
            session.add(row)
            try:
                await session.commit()
                return row.id
            except IntegrityError:
                await session.rollback()
            existing = (
                await session.execute(
                    select(IdempotencyKey).where(
                        IdempotencyKey.principal == principal, IdempotencyKey.key == key
                    )
                )
            ).scalar_one_or_none()
            if existing is None:  # deleted between our insert and select: try once more
                return await self.begin(principal, key, print_)
            if existing.created_at < now - RETENTION:
                await session.delete(existing)
                await session.commit()
                return await self.begin(principal, key, print_)
            if existing.fingerprint != print_:
                raise Mismatch
            if existing.status == "done":
                assert existing.response_status is not None
                return Replay(
                    status=existing.response_status,
                    headers=dict(existing.response_headers or {}),
                    body=existing.response_body or b"",
                )
            if existing.locked_until > now:
                raise InProgress
            # The first attempt died mid-request; this one takes the key over.
            result = await session.execute(
                update(IdempotencyKey)
                .where(
                    IdempotencyKey.id == existing.id,
                    IdempotencyKey.locked_until == existing.locked_until,
                )
                .values(locked_until=now + LOCK_TIMEOUT)
            )
            await session.commit()
            if getattr(result, "rowcount", 0) != 1:
                raise InProgress
            return existing.id

    async def finish(self, row_id: str, status: int, headers: dict[str, Any], body: bytes) -> None:
        async with self.sessions() as session:
            if should_store(status):
                await session.execute(
                    update(IdempotencyKey)
                    .where(IdempotencyKey.id == row_id)
                    .values(
                        status="done",
                        response_status=status,
                        response_headers=headers,
                        response_body=body,
                    )
                )
            else:
                await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == row_id))
            await session.commit()

    async def release(self, row_id: str) -> None:
        async with self.sessions() as session:
            await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == row_id))
            await session.commit()


async def purge_expired(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Delete keys older than the 24 h retention (run by the periodic job)."""
    async with sessions() as session:
        result = await session.execute(
            delete(IdempotencyKey).where(IdempotencyKey.created_at < utcnow() - RETENTION)
        )
        await session.commit()
        return int(getattr(result, "rowcount", 0) or 0)
