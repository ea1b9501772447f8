"""The workspace's whitelist of OAuth redirect URIs (`/v1/oauth/redirect-uris`).

A connect flow only ever sends the browser back to a URI listed here, compared as an
exact string (OAuth 2.1 §2.3.1 / RFC 9700 §4.1.3): no prefix or wildcard matching, so an
open redirect on the client's site cannot leak the outcome elsewhere. URIs are https,
or http on a loopback host for local development (RFC 8252 §7.3).
"""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import APIRouter, Depends
from pydantic import Field, field_validator
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.auth.deps import WorkspaceAdmin
from polypost.core.deps import ReadSession, WriteSession
from polypost.core.errors import BadRequest, Conflict, NotFound, responses
from polypost.core.ids import new_id
from polypost.core.pagination import PageParams, page_params, paginate
from polypost.core.schemas import ApiInput, ApiModel, UtcTimestamp
from polypost.models import OAuthRedirectUri

MAX_URIS_PER_WORKSPACE = 100
URI_MAX_LENGTH = 2048
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

router = APIRouter(prefix="/oauth/redirect-uris", tags=["oauth"])


def check_redirect_uri(value: str) -> str:
    """A URI the whitelist may hold.

    Raises:
        ValueError: with the reason.
    """
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, ValueError):
        raise ValueError("must be an absolute URL") from None
    if url.scheme not in ("https", "http") or not url.host:
        raise ValueError("must be an absolute http(s) URL")
    if url.scheme == "http" and url.host not in LOOPBACK_HOSTS:
        raise ValueError("must use https (http only for localhost)")
    if url.userinfo:
        raise ValueError("must not contain credentials")
    if url.fragment or "#" in value:
        raise ValueError("must not contain a fragment")
    return value


class RedirectUriCreate(ApiInput):
    uri: str = Field(
        min_length=8,
        max_length=URI_MAX_LENGTH,
        examples=["https://app.example.com/oauth/done"],
        description="Compared exactly with a connect's `redirectUri`.",
    )

    @field_validator("uri")
    @classmethod
    def _uri(cls, value: str) -> str:
        return check_redirect_uri(value)


class RedirectUriRead(ApiModel):
    redirect_uri_id: str = Field(validation_alias="id")
    uri: str
    created_at: UtcTimestamp


class RedirectUriPage(ApiModel):
    redirect_uris: list[RedirectUriRead]
    next_cursor: str | None


class RedirectUriDeleted(ApiModel):
    redirect_uri_id: str
    deleted: bool


class RedirectUriNotAllowed(BadRequest):
    code = "redirect_uri_not_allowed"
    default_message = "redirectUri is not on this workspace's whitelist."


async def ensure_allowed(session: AsyncSession, workspace_id: str, uri: str) -> None:
    """Raises RedirectUriNotAllowed (400) unless `uri` is whitelisted exactly."""
    found = (
        await session.execute(
            select(OAuthRedirectUri.id).where(
                OAuthRedirectUri.workspace_id == workspace_id, OAuthRedirectUri.uri == uri
            )
        )
    ).scalar_one_or_none()
    if found is None:
        raise RedirectUriNotAllowed(
            "redirectUri is not on this workspace's whitelist; add it with "
            "POST /v1/oauth/redirect-uris.",
            details={
                "fields": [{"field": "redirectUri", "in": "body", "message": "not whitelisted"}]
            },
        )


@router.get("", response_model=RedirectUriPage, responses=responses())
async def list_redirect_uris(
    auth: WorkspaceAdmin,
    session: ReadSession,
    params: Annotated[PageParams, Depends(page_params)],
) -> RedirectUriPage:
    """List the redirect URIs connect flows may send the browser back to."""
    statement = select(OAuthRedirectUri).where(OAuthRedirectUri.workspace_id == auth.workspace_id)
    page = await paginate(
        session, statement, [OAuthRedirectUri.created_at, OAuthRedirectUri.id], params
    )
    return RedirectUriPage(
        redirect_uris=[RedirectUriRead.model_validate(row) for row in page.items],
        next_cursor=page.next_cursor,
    )


@router.post("", status_code=201, response_model=RedirectUriRead, responses=responses(Conflict))
async def add_redirect_uri(
    body: RedirectUriCreate, auth: WorkspaceAdmin, session: WriteSession
) -> RedirectUriRead:
    """Whitelist a redirect URI (exact match; https, or http on localhost)."""
    rows = OAuthRedirectUri.workspace_id == auth.workspace_id
    exists = (
        await session.execute(
            select(OAuthRedirectUri.id).where(rows, OAuthRedirectUri.uri == body.uri)
        )
    ).scalar_one_or_none()
    if exists is not None:
        raise Conflict(
            "This redirect URI is already whitelisted.", details={"redirectUriId": exists}
        )
    count = (await session.execute(select(func.count()).where(rows))).scalar_one()
    if count >= MAX_URIS_PER_WORKSPACE:
        raise Conflict(f"A workspace may whitelist at most {MAX_URIS_PER_WORKSPACE} URIs.")
    row = OAuthRedirectUri(id=new_id("rdu"), workspace_id=auth.workspace_id, uri=body.uri)
    session.add(row)
    await session.flush()
    return RedirectUriRead.model_validate(row)


@router.delete(
    "/{redirect_uri_id}", response_model=RedirectUriDeleted, responses=responses(NotFound)
)
async def delete_redirect_uri(
    redirect_uri_id: str, auth: WorkspaceAdmin, session: WriteSession
) -> RedirectUriDeleted:
    """Remove a redirect URI; flows already started with it still finish."""
    row = (
        await session.execute(
            select(OAuthRedirectUri).where(
                OAuthRedirectUri.id == redirect_uri_id,
                OAuthRedirectUri.workspace_id == auth.workspace_id,
            )
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("Redirect URI not found.")
    await session.delete(row)
    return RedirectUriDeleted(redirect_uri_id=redirect_uri_id, deleted=True)
