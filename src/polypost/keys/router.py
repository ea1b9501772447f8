from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from polypost.auth.deps import KeysWrite
from polypost.core.deps import ReadSession, RuntimeDep, WriteSession
from polypost.core.errors import NotFound, responses
from polypost.core.pagination import PageParams, page_params
from polypost.keys import service
from polypost.keys.schemas import KeyCreate, KeyCreated, KeyPage, KeyRead, KeyRevoked

router = APIRouter(prefix="/keys", tags=["keys"])


@router.get("", response_model=KeyPage, responses=responses())
async def list_keys(
    auth: KeysWrite,
    session: ReadSession,
    params: Annotated[PageParams, Depends(page_params)],
) -> KeyPage:
    """List the workspace's API keys (secrets are never returned)."""
    page = await service.list_keys(session, auth.workspace_id, params)
    return KeyPage(
        keys=[KeyRead.model_validate(k) for k in page.items], next_cursor=page.next_cursor
    )


@router.post("", status_code=201, response_model=KeyCreated, responses=responses())
async def create_key(
    body: KeyCreate, auth: KeysWrite, session: WriteSession, runtime: RuntimeDep
) -> KeyCreated:
    """Create an API key; the secret `key` is in this response only."""
    service.check_grantable(body.scopes, auth.scopes)
    row, plaintext = await service.issue_key(
        session,
        runtime.settings.signing_key,
        auth.workspace_id,
        name=body.name,
        scopes=body.scopes,
        test=body.mode == "test",
        expires_at=body.expires_at,
        created_by_user_id=auth.user_id,
    )
    return KeyCreated.model_validate({**KeyRead.model_validate(row).model_dump(), "key": plaintext})


@router.delete("/{key_id}", response_model=KeyRevoked, responses=responses(NotFound))
async def revoke_key(key_id: str, auth: KeysWrite, session: WriteSession) -> KeyRevoked:
    """Revoke a key; it stops working immediately."""
    key = await service.revoke_key(session, auth.workspace_id, key_id)
    return KeyRevoked(key_id=key.id, revoked=True)
