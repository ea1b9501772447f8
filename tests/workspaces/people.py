"""Dashboard tokens on both backends, and people to sign them for.

Embedded mode (sqlite) generates the development Ed25519 key in the data dir; distributed
mode (postgres) does not, so one is written there before the runtime reads it, and
`dev_jwt` signs with it exactly as `polypost token` would.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from polypost.core.runtime import Runtime
from polypost.models import User
from polypost.settings import JWT_PRIVATE_KEY_FILE, Settings
from polypost.workspaces.users import get_or_create_user
from tests.fixtures.factories import dev_jwt


@pytest.fixture
def settings(settings: Settings) -> Settings:
    path = settings.data_dir / JWT_PRIVATE_KEY_FILE
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        path.write_bytes(
            Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return settings


async def make_user(runtime: Runtime, email: str, name: str | None = None) -> User:
    """A user with no membership yet (a fresh dashboard sign-up)."""
    async with runtime.sessions() as session:
        user = await get_or_create_user(session, email)
        user.name = name
        await session.commit()
        return user


def bearer(
    runtime: Runtime, user_id: str, workspace_id: str | None = None, **kwargs: object
) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {dev_jwt(runtime, user_id, **kwargs)}"}
    if workspace_id is not None:
        headers["X-Workspace-Id"] = workspace_id
    return headers


def oauth_bearer(runtime: Runtime, user_id: str, scope: str) -> dict[str, str]:
    """An OAuth 2.1 access token: a user JWT narrowed by a `scope` claim."""
    return bearer(runtime, user_id, extra={"scope": scope})
