"""Record keys, AT URIs and permalinks of `app.bsky.feed.post` records.

A post's record key (rkey) is chosen by Polypost, not by the PDS: it is a TID derived
from the step's idempotency key, so a retried `createRecord` for the same step targets
the same key. The repository's Merkle Search Tree refuses a second value at an existing
key, which turns a duplicate publish into an error instead of a second post, and
`getRecord` by that key tells whether an interrupted attempt landed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from polypost.core.ids import ALPHABET, BODY_LENGTH

POST_COLLECTION = "app.bsky.feed.post"
APP_URL = "https://bsky.app"

# https://atproto.com/specs/tid: 13 characters of "base32-sortable" over a 64-bit
# integer whose top bit is 0: 53 bits of microseconds since the epoch, 10 bits of clock id.
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
_TID_LENGTH = 13
_CLOCK_BITS = 10
# Ids made by polypost.core.ids carry their creation time in milliseconds; outside this
# window a key is not read as one (the range a TID made today could plausibly carry).
_EARLIEST_MS = int(datetime(2023, 1, 1, tzinfo=UTC).timestamp() * 1000)
_LATEST_MS = int(datetime(2100, 1, 1, tzinfo=UTC).timestamp() * 1000)
_FALLBACK_SPAN_MS = 10 * 365 * 24 * 3600 * 1000


def encode_tid(micros: int, clock_id: int) -> str:
    value = (micros << _CLOCK_BITS) | (clock_id & ((1 << _CLOCK_BITS) - 1))
    chars = []
    for _ in range(_TID_LENGTH):
        value, rem = divmod(value, 32)
        chars.append(_TID_ALPHABET[rem])
    return "".join(reversed(chars))


def is_tid(value: str) -> bool:
    """The atproto reference syntax `^[234567abcdefghij][234567a-z]{12}$`."""
    return (
        len(value) == _TID_LENGTH
        and value[0] in _TID_ALPHABET[:16]
        and all(c in _TID_ALPHABET for c in value)
    )


def _id_millis(identifier: str) -> int | None:
    """The creation time embedded in a Polypost id (`tgt_…`), if `identifier` is one."""
    _, _, body = identifier.partition("_")
    if len(body) != BODY_LENGTH or any(c not in ALPHABET for c in body):
        return None
    number = 0
    for char in body:
        number = number * 62 + ALPHABET.index(char)
    millis = number >> 80
    return millis if _EARLIEST_MS <= millis < _LATEST_MS else None


def record_key(step_key: str) -> str:
    """The TID a step publishes under: the same key always gives the same TID.

    The timestamp part is the target's creation time when the key starts with a
    Polypost target id (so records sort roughly by when they were made, which keeps the
    repository's tree compact); the sub-millisecond part and the clock id come from a
    hash of the whole key, so the steps of one target differ.
    """
    digest = hashlib.sha256(step_key.encode("utf-8")).digest()
    millis = _id_millis(step_key.split(":", 1)[0])
    if millis is None:
        millis = _EARLIEST_MS + int.from_bytes(digest[8:16], "big") % _FALLBACK_SPAN_MS
    micros = millis * 1000 + int.from_bytes(digest[0:2], "big") % 1000
    return encode_tid(micros, int.from_bytes(digest[2:4], "big"))


@dataclass(frozen=True)
class AtUri:
    """`at://{repo}/{collection}/{rkey}`."""

    repo: str
    collection: str
    rkey: str

    def __str__(self) -> str:
        return f"at://{self.repo}/{self.collection}/{self.rkey}"

    @classmethod
    def parse(cls, value: str) -> AtUri | None:
        if not value.startswith("at://"):
            return None
        parts = value[len("at://") :].split("/")
        if len(parts) != 3 or not all(parts):
            return None
        return cls(repo=parts[0], collection=parts[1], rkey=parts[2])


def post_uri(did: str, rkey: str) -> str:
    return str(AtUri(did, POST_COLLECTION, rkey))


def permalink(uri: str) -> str | None:
    """The bsky.app URL of a post; the DID form survives handle changes."""
    parsed = AtUri.parse(uri)
    if parsed is None or parsed.collection != POST_COLLECTION:
        return None
    return f"{APP_URL}/profile/{parsed.repo}/post/{parsed.rkey}"
