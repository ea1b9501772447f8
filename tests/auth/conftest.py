"""Dashboard-token signing for both backends.

Embedded mode (sqlite) signs with the Ed25519 key generated in the data dir, exactly as
`polypost token` does. Distributed mode (postgres) has no such key: the server is given
the public half of a freshly generated pair through `jwt_public_keys`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from polypost.settings import Settings
from tests.auth.tokens import claims_for, public_pem, sign_eddsa

Signer = Callable[..., str]


@pytest.fixture
def generated_jwt_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def settings(settings: Settings, generated_jwt_key: Ed25519PrivateKey) -> Settings:
    if settings.jwt_private_key is not None:
        return settings
    return settings.model_copy(update={"jwt_public_keys": [public_pem(generated_jwt_key)]})


@pytest.fixture
def signing_key(settings: Settings, generated_jwt_key: Ed25519PrivateKey) -> Ed25519PrivateKey:
    """The private key whose public half the server trusts."""
    return settings.jwt_private_key or generated_jwt_key


@pytest.fixture
def sign(settings: Settings, signing_key: Ed25519PrivateKey) -> Signer:
    """`sign(user_id, **claims)`: a token the server accepts unless the claims say otherwise
    (a claim given as None is left out)."""

    def _sign(subject: str, headers: dict[str, Any] | None = None, **overrides: Any) -> str:
        return sign_eddsa(signing_key, claims_for(settings, subject, **overrides), headers)

    return _sign
