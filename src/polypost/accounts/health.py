"""An account's token health (`GET /v1/accounts/{id}/health`), from what is stored.

It makes no platform call: it reports what the token lifecycle (accounts/tokens.py)
knows — expiry, whether it renews itself, the last refresh and error, and the scopes
granted versus those the platform's adapter asks for.
"""

from __future__ import annotations

from typing import Any

from polypost.accounts.schemas import AccountHealth
from polypost.accounts.tokens import refresh_supported, renewable
from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.models import AccountStatus, SocialAccount
from polypost.platforms.connect import OAuthSpec
from polypost.platforms.registry import FACTORIES, adapter_for


def _adapter(runtime: Runtime, platform: str) -> Any:
    return adapter_for(runtime, platform) if platform in FACTORIES else None


def account_health(runtime: Runtime, account: SocialAccount) -> AccountHealth:
    now = utcnow()
    adapter = _adapter(runtime, account.platform)
    spec = getattr(adapter, "oauth", None)
    required = list(spec.scopes) if isinstance(spec, OAuthSpec) else []
    granted = list(account.granted_scopes or [])
    # Platforms answer with the scopes they granted; when none were recorded the
    # requested ones are all that is known, and nothing is reported missing.
    missing = [s for s in required if granted and s not in granted]
    has_refresh = account.refresh_token_enc is not None
    refreshable = (
        adapter is not None
        and refresh_supported(adapter)
        and renewable(account.platform, has_refresh)
    )
    expires = account.token_expires_at
    expired = expires is not None and expires <= now
    connected = account.status == AccountStatus.CONNECTED
    token_ok = not expired or refreshable
    return AccountHealth(
        account_id=account.id,
        platform=account.platform,
        status=account.status,
        healthy=connected and token_ok and not missing,
        needs_reconnect=not connected or not token_ok or bool(missing),
        token_expires_at=expires,
        token_expired=expired,
        has_refresh_token=has_refresh,
        refreshable=refreshable,
        last_refresh_at=account.last_refresh_at,
        last_error=account.last_error,
        last_error_at=account.last_error_at,
        granted_scopes=granted,
        required_scopes=required,
        missing_scopes=missing,
        checked_at=now,
    )
