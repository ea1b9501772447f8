from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from polypost.accounts import (
    connect,
    creator_info,
    limits,
    native_delete,
    oauth,
    pages,
    service,
    tokens,
)
from polypost.accounts.health import account_health
from polypost.accounts.schemas import (
    AccountDisconnected,
    AccountHealth,
    AccountPage,
    AccountRead,
    ConnectBody,
    ConnectStarted,
    MastodonConnect,
    NativePostPage,
    OAuthConnect,
    SandboxConnect,
)
from polypost.auth.deps import AccountsRead, AccountsWrite, PostsRead
from polypost.core.deps import ReadSession, RuntimeDep, WriteSession, after_commit
from polypost.core.errors import (
    AlreadyLinked,
    BadRequest,
    CredentialsInvalid,
    CredentialsMissing,
    NotFound,
    PlatformFailed,
    responses,
)
from polypost.core.pagination import PageParams, page_params
from polypost.models import SocialAccount
from polypost.platforms.base import Capabilities
from polypost.platforms.capabilities import capabilities_for
from polypost.platforms.credentials import load_credentials
from polypost.platforms.registry import PlatformUnavailable, adapter_for

router = APIRouter(prefix="/accounts", tags=["accounts"])

PUBLIC_SETTINGS = ("persona", "behavior", "pageId", "pageName", "boardId", "channelId")


def describe_capabilities(caps: Capabilities) -> dict[str, Any]:
    """The capabilities a client needs to shape a post before sending it."""
    return {
        "postTypes": sorted(str(t) for t in caps.post_types),
        "textLimit": caps.text_limit,
        "textUnit": caps.text_unit,
        "captionLimit": caps.caption_limit,
        "maxMedia": caps.max_media,
        "mediaKinds": sorted(str(k) for k in caps.media_kinds),
        "mediaRequired": caps.media_required,
        "threads": caps.threads,
        "firstComment": caps.first_comment,
        "polls": caps.polls is not None,
        "edit": caps.edit,
        "delete": caps.delete,
    }


def account_read(account: SocialAccount) -> AccountRead:
    persona = (account.settings or {}).get("persona")
    caps = capabilities_for(account.platform, persona)
    return AccountRead(
        account_id=account.id,
        platform=account.platform,
        handle=account.handle,
        display_name=account.display_name,
        avatar_url=account.avatar_url,
        status=account.status,
        connected_at=account.connected_at,
        token_expires_at=account.token_expires_at,
        capabilities=describe_capabilities(caps),
        settings={k: v for k, v in (account.settings or {}).items() if k in PUBLIC_SETTINGS},
    )


@router.get("", response_model=AccountPage, responses=responses())
async def list_accounts(
    auth: AccountsRead,
    session: ReadSession,
    params: Annotated[PageParams, Depends(page_params)],
    platform: Annotated[str | None, Query(max_length=32)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
) -> AccountPage:
    """List connected accounts; their ids are the targets of a post."""
    page = await service.AccountRepository(session, auth.workspace_id).page(
        params, platform=platform, status=status
    )
    return AccountPage(accounts=[account_read(a) for a in page.items], next_cursor=page.next_cursor)


CONNECT_ERRORS = (
    AlreadyLinked,
    CredentialsMissing,
    CredentialsInvalid,
    PlatformUnavailable,
    PlatformFailed,
)
# The browser lands on the callback with the code and state in its URL: never cache it
# or leak it to the next page through Referer.
CALLBACK_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@router.post(
    "/connect",
    status_code=201,
    response_model=AccountRead | ConnectStarted,
    responses={
        **responses(*CONNECT_ERRORS),
        200: {"model": ConnectStarted, "description": "OAuth: send the user to `authUrl`."},
    },
)
async def connect_account(
    body: ConnectBody,
    auth: AccountsWrite,
    session: WriteSession,
    runtime: RuntimeDep,
    response: Response,
) -> AccountRead | ConnectStarted:
    """Connect an account: 201 at once with credentials (or `sandbox`), or 200 with the
    OAuth `authUrl` to send the user to."""
    if isinstance(body, SandboxConnect):
        return account_read(await service.connect_sandbox(session, auth.workspace_id, body))
    if isinstance(body, OAuthConnect) or (
        isinstance(body, MastodonConnect) and body.access_token is None
    ):
        started = await oauth.start(
            session,
            runtime,
            auth.workspace_id,
            body.platform,
            body.redirect_uri,
            instance=body.instance if isinstance(body, MastodonConnect) else None,
        )
        response.status_code = 200
        return ConnectStarted(
            platform=started.platform,
            auth_url=started.auth_url,
            state=started.state,
            expires_at=started.expires_at,
        )
    account = await connect.connect_with_credentials(session, runtime, auth.workspace_id, body)
    return account_read(account)


@router.get(
    "/callback/{platform}",
    response_model=AccountRead,
    responses={
        **responses(BadRequest, *CONNECT_ERRORS, public=True),
        302: {"description": "To the connect's `redirectUri` with `accountId` or `error`."},
    },
)
async def finish_connect(
    request: Request,
    runtime: RuntimeDep,
    platform: Annotated[str, Path(max_length=32)],
    code: Annotated[str | None, Query(max_length=4096)] = None,
    state: Annotated[str | None, Query(max_length=2048)] = None,
    error: Annotated[str | None, Query(max_length=256)] = None,
) -> Response:
    """Finish an OAuth connect (public: the platform sends the user's browser here)."""
    finished = await oauth.finish(
        runtime,
        platform,
        code=code,
        state=state,
        error=error,
        error_description=request.query_params.get("error_description", "")[:500] or None,
    )
    if finished.redirect_uri is not None:
        return RedirectResponse(
            oauth.redirect_target(finished), status_code=302, headers=CALLBACK_HEADERS
        )
    if finished.error is not None:
        finished.error.headers.update(CALLBACK_HEADERS)
        raise finished.error
    assert finished.account is not None
    return JSONResponse(
        account_read(finished.account).model_dump(mode="json", by_alias=True),
        headers=CALLBACK_HEADERS,
    )


@router.get("/{account_id}", response_model=AccountRead, responses=responses(NotFound))
async def get_account(account_id: str, auth: AccountsRead, session: ReadSession) -> AccountRead:
    """One connected account."""
    return account_read(
        await service.AccountRepository(session, auth.workspace_id).require(account_id)
    )


@router.get("/{account_id}/health", response_model=AccountHealth, responses=responses(NotFound))
async def get_account_health(
    account_id: str, auth: AccountsRead, session: ReadSession, runtime: RuntimeDep
) -> AccountHealth:
    """Token health: expiry, automatic renewal, last refresh and error, granted scopes."""
    account = await service.AccountRepository(session, auth.workspace_id).require(account_id)
    return account_health(runtime, account)


@router.delete("/{account_id}", response_model=AccountDisconnected, responses=responses(NotFound))
async def disconnect_account(
    account_id: str, auth: AccountsWrite, session: WriteSession, runtime: RuntimeDep
) -> AccountDisconnected:
    """Disconnect an account; its scheduled targets fail as `account_disconnected`, and
    its tokens are revoked where the platform allows."""
    account = await service.AccountRepository(session, auth.workspace_id).require(account_id)
    credentials = load_credentials(runtime, account)  # read before the tokens are dropped
    failed = await service.disconnect(session, auth.workspace_id, account_id)

    async def revoke() -> None:
        await tokens.revoke_tokens(runtime, auth.workspace_id, credentials)

    after_commit(session, revoke)
    return AccountDisconnected(account_id=account_id, disconnected=True, failed_targets=failed)


@router.get("/{account_id}/posts", response_model=NativePostPage, responses=responses(NotFound))
async def list_native_posts(
    account_id: str,
    auth: PostsRead,
    session: ReadSession,
    runtime: RuntimeDep,
    params: Annotated[PageParams, Depends(page_params)],
) -> NativePostPage:
    """The account's posts as the platform has them (a sandbox account: its ledger)."""
    account = await service.AccountRepository(session, auth.workspace_id).require(account_id)
    adapter: Any = adapter_for(runtime, account.platform)
    page = await adapter.list_posts(runtime, session, account, params)
    return NativePostPage(
        account_id=account.id,
        platform=account.platform,
        posts=page.items,
        next_cursor=page.next_cursor,
    )


router.include_router(pages.router)
router.include_router(limits.router)
router.include_router(creator_info.router)
router.include_router(native_delete.router)
