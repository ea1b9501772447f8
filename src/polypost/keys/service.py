"""API key issuance and revocation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.auth.keys import generate_key
from polypost.core.errors import Forbidden, NotFound
from polypost.core.ids import Prefix, new_id
from polypost.core.pagination import Page, PageParams, paginate
from polypost.core.timeutil import utcnow
from polypost.models import ApiKey


async def issue_key(
    session: AsyncSession,
    pepper: bytes,
    workspace_id: str,
    *,
    name: str,
    scopes: list[str],
    test: bool = False,
    expires_at: datetime | None = None,
    created_by_user_id: str | None = None,
) -> tuple[ApiKey, str]:
    """Store a new key's hash; return the row and the plaintext (shown once)."""
    new = generate_key(pepper, test=test)
    row = ApiKey(
        id=new_id(Prefix.API_KEY),
        workspace_id=workspace_id,
        name=name,
        prefix=new.prefix,
        last_four=new.last_four,
        key_hash=new.key_hash,
        scopes=sorted(set(scopes)),
        mode=new.mode,
        expires_at=expires_at,
        created_by_user_id=created_by_user_id,
    )
    session.add(row)
    await session.flush()
    return row, new.plaintext


def check_grantable(requested: list[str], held: frozenset[str]) -> None:
    """A credential cannot mint a key more powerful than itself."""
    beyond = sorted(set(requested) - held)
    if beyond:
        raise Forbidden(
            "A key cannot be granted scopes its creator lacks.",
            details={"scopes": beyond},
        )


async def list_keys(session: AsyncSession, workspace_id: str, params: PageParams) -> Page[ApiKey]:
    statement = select(ApiKey).where(ApiKey.workspace_id == workspace_id)
    return await paginate(session, statement, [ApiKey.created_at, ApiKey.id], params)


async def revoke_key(session: AsyncSession, workspace_id: str, key_id: str) -> ApiKey:
    key = (
        await session.execute(
            select(ApiKey).where(ApiKey.id == key_id, ApiKey.workspace_id == workspace_id)
        )
    ).scalar_one_or_none()
    if key is None:
        raise NotFound("API key not found.")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    return key
