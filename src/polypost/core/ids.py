"""Prefixed, time-ordered identifiers (`pst_…`, `acc_…`).

The leading 48-bit millisecond timestamp keeps ids roughly insert-ordered, which keeps
B-tree inserts local and makes `(created_at, id)` cursors cheap; 80 random bits make them
unguessable.
"""

from __future__ import annotations

import secrets
import time

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
BODY_LENGTH = 22  # ceil(128 bits / log2(62))


def base62(number: int, length: int) -> str:
    chars = []
    for _ in range(length):
        number, rem = divmod(number, 62)
        chars.append(ALPHABET[rem])
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """A new id like `pst_0Ab3…`: millisecond time then randomness, base62."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    return f"{prefix}_{base62(value, BODY_LENGTH)}"


class Prefix:
    WORKSPACE = "ws"
    USER = "usr"
    MEMBERSHIP = "mem"
    INVITE = "inv"
    API_KEY = "key"
    ACCOUNT = "acc"
    POST = "pst"
    TARGET = "tgt"
    MEDIA = "md"
    WEBHOOK = "wh"
    DELIVERY = "whd"
    EVENT = "evt"
    IDEMPOTENCY = "idk"
