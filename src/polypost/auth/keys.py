"""API key format: `sk_live_` / `sk_test_` + 43 base62 chars (256 bits) + 6-char CRC32.

The prefix says the mode at a glance and lets secret scanners find leaked keys; the
checksum rejects typos and random strings without touching the database. `sapi_key_…`
keys (the format of the API this one replaces) are accepted when imported.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from polypost.core.crypto import checksum, has_valid_checksum, keyed_hash
from polypost.core.ids import base62

LIVE_PREFIX = "sk_live_"
TEST_PREFIX = "sk_test_"
LEGACY_PREFIX = "sapi_key_"
ISSUED_PREFIXES = (LIVE_PREFIX, TEST_PREFIX)
ACCEPTED_PREFIXES = (*ISSUED_PREFIXES, LEGACY_PREFIX)
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class NewKey:
    plaintext: str
    prefix: str
    last_four: str
    key_hash: str
    mode: str


def generate_key(pepper: bytes, *, test: bool = False) -> NewKey:
    prefix = TEST_PREFIX if test else LIVE_PREFIX
    body = base62(secrets.randbits(256), 43)
    plaintext = prefix + body + checksum(body)
    return NewKey(
        plaintext=plaintext,
        prefix=plaintext[: len(prefix) + 4],
        last_four=plaintext[-4:],
        key_hash=keyed_hash(pepper, plaintext),
        mode="test" if test else "live",
    )


def looks_like_api_key(token: str) -> bool:
    return token.startswith(ACCEPTED_PREFIXES)


def is_well_formed(token: str) -> bool:
    """Cheap offline check before the database lookup."""
    if len(token) > MAX_KEY_LENGTH:
        return False
    for prefix in ISSUED_PREFIXES:
        if token.startswith(prefix):
            return has_valid_checksum(token[len(prefix) :])
    if token.startswith(LEGACY_PREFIX):
        rest = token[len(LEGACY_PREFIX) :]
        return len(rest) >= 16 and all(ch.isalnum() or ch in "_-" for ch in rest)
    return False
