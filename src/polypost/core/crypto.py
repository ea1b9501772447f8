"""Hashing, signing and at-rest encryption, all keyed from settings.

API keys and invite tokens are 256-bit random secrets, so an HMAC-SHA256 with a server
pepper is the right hash: a leaked table cannot be checked offline without the pepper,
and lookup stays a single indexed equality. Platform tokens and webhook secrets must be
recovered, so they are Fernet-encrypted with MultiFernet for key rotation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import zlib
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from polypost.core.ids import ALPHABET, base62


def keyed_hash(pepper: bytes, secret: str) -> str:
    return hmac.new(pepper, secret.encode(), hashlib.sha256).hexdigest()


def checksum(body: str) -> str:
    """Six base62 chars of CRC32, so scanners can reject look-alike strings offline."""
    return base62(zlib.crc32(body.encode()), 6)


def has_valid_checksum(token_body: str) -> bool:
    if len(token_body) < 7 or any(ch not in ALPHABET for ch in token_body):
        return False
    return hmac.compare_digest(checksum(token_body[:-6]), token_body[-6:])


class TokenCipher:
    """MultiFernet over ENCRYPTION_KEYS: the first key encrypts, every key decrypts."""

    def __init__(self, keys: list[str]) -> None:
        self._primary = keys[0]
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])
        self._primary_only = Fernet(self._primary.encode())

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("ciphertext was not made with any configured key") from exc

    def needs_rotation(self, ciphertext: str) -> bool:
        """True when the value was encrypted with an older key (re-encrypt lazily)."""
        try:
            self._primary_only.decrypt(ciphertext.encode())
        except InvalidToken:
            return True
        return False

    def rotate(self, ciphertext: str) -> str:
        return self._fernet.rotate(ciphertext.encode()).decode()


def sign_payload(key: bytes, payload: dict[str, Any], ttl_seconds: int) -> str:
    """A compact signed, expiring token (`body.sig`) for URLs and OAuth `state`."""
    data = dict(payload, exp=int(time.time()) + ttl_seconds)
    body = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode())
    sig = hmac.new(key, body, hashlib.sha256).digest()
    return (body + b"." + base64.urlsafe_b64encode(sig)).decode().replace("=", "")


def verify_payload(key: bytes, token: str) -> dict[str, Any] | None:
    """The payload if the signature is good and it has not expired, else None."""
    try:
        body_text, sig_text = token.split(".", 1)
        body = body_text.encode() + b"=" * (-len(body_text) % 4)
        sig = base64.urlsafe_b64decode(sig_text + "=" * (-len(sig_text) % 4))
    except ValueError:
        return None
    expected = hmac.new(key, body, hashlib.sha256).digest()
    if not hmac.compare_digest(sig, expected):
        return None
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body))
    if int(data.get("exp", 0)) < time.time():
        return None
    return data
