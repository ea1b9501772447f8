"""Dashboard and OAuth 2.1 access tokens: EdDSA (Ed25519) JWTs only.

Only `EdDSA` is on the algorithm allow-list, so `alg: none` and the HS256-with-public-key
confusion attack fail in pyjwt before any key is used.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from polypost.settings import Settings, load_ed25519_public_key

ALGORITHMS = ["EdDSA"]
REQUIRED_CLAIMS = ["exp", "sub", "iss", "aud"]

logger = logging.getLogger(__name__)


class InvalidJwt(Exception):
    pass


class JwtVerifier:
    def __init__(self, settings: Settings) -> None:
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        self.keys: list[Ed25519PublicKey] = [
            load_ed25519_public_key(entry) for entry in settings.jwt_public_keys
        ]
        private = settings.jwt_private_key if not settings.jwt_public_keys else None
        if private is not None:
            self.keys.append(private.public_key())
        self.jwks = jwt.PyJWKClient(settings.jwt_jwks_url) if settings.jwt_jwks_url else None

    @property
    def enabled(self) -> bool:
        return bool(self.keys) or self.jwks is not None

    async def verify(self, token: str) -> dict[str, Any]:
        if not self.enabled:
            raise InvalidJwt("dashboard tokens are not configured on this server")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidJwt("malformed token") from exc
        if header.get("alg") not in ALGORITHMS:
            raise InvalidJwt("only EdDSA tokens are accepted")
        candidates: list[Any] = list(self.keys)
        if self.jwks is not None:
            try:
                signing_key = await asyncio.to_thread(self.jwks.get_signing_key_from_jwt, token)
                candidates.insert(0, signing_key.key)
            except jwt.PyJWTError:
                pass  # unknown kid: the static keys below may still match
            except Exception:
                # A JWKS endpoint serving garbage is an outage of the issuer, not a reason to
                # answer 500: the token simply cannot be verified by that route.
                logger.warning("JWKS document unusable", exc_info=True)
        last: Exception = InvalidJwt("signature does not match any configured key")
        for key in candidates:
            try:
                claims: dict[str, Any] = jwt.decode(
                    token,
                    key=key,
                    algorithms=ALGORITHMS,
                    audience=self.audience,
                    issuer=self.issuer,
                    options={"require": REQUIRED_CLAIMS},
                    leeway=30,
                )
                return claims
            except jwt.InvalidSignatureError as exc:
                last = exc
            except jwt.PyJWTError as exc:
                raise InvalidJwt(str(exc)) from exc
        raise InvalidJwt(str(last))


def mint_token(
    private_key: Ed25519PrivateKey,
    *,
    subject: str,
    issuer: str,
    audience: str,
    ttl_seconds: int = 3600,
    extra: dict[str, Any] | None = None,
) -> str:
    """Sign a development token with the data-dir key (`polypost token`)."""
    now = int(time.time())
    claims = {"sub": subject, "iss": issuer, "aud": audience, "iat": now, "exp": now + ttl_seconds}
    claims.update(extra or {})
    return jwt.encode(claims, private_key, algorithm="EdDSA")
