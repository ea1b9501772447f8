"""Decrypting an account's tokens into the `Credentials` an adapter call receives."""

from __future__ import annotations

from polypost.core.runtime import Runtime
from polypost.models import SocialAccount
from polypost.platforms.base import Credentials, Platform


def load_credentials(runtime: Runtime, account: SocialAccount) -> Credentials:
    cipher = runtime.cipher
    settings = dict(account.settings or {})
    return Credentials(
        account_id=account.id,
        platform=Platform(account.platform),
        external_id=account.external_id,
        access_token=cipher.decrypt(account.access_token_enc) if account.access_token_enc else None,
        refresh_token=(
            cipher.decrypt(account.refresh_token_enc) if account.refresh_token_enc else None
        ),
        token_expires_at=account.token_expires_at,
        handle=account.handle,
        base_url=settings.get("baseUrl"),
        settings=settings,
    )
