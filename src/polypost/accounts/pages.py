"""Choosing where an account's posts go: the Facebook Page (and, with the same routes,
a Pinterest board, LinkedIn organization or YouTube channel once their adapters offer
`list_pages`/`select_page`, platforms/resources.py).

The platform is asked live; no database transaction is open during that call (with
SQLite every transaction holds the write lock). A destination's own token (a Facebook
Page token) is stored encrypted in the account's settings and never shown.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path

from polypost.accounts.connect import api_error
from polypost.accounts.service import AccountRepository
from polypost.auth.deps import AccountsRead, AccountsWrite
from polypost.core.deps import RuntimeDep
from polypost.core.errors import (
    ApiError,
    CredentialsInvalid,
    NotFound,
    PlatformFailed,
    RateLimited,
    Unprocessable,
    responses,
)
from polypost.core.runtime import Runtime
from polypost.core.schemas import ApiInput, ApiModel
from polypost.models import SocialAccount
from polypost.platforms.base import Credentials, PlatformError
from polypost.platforms.credentials import load_credentials
from polypost.platforms.registry import FACTORIES, adapter_for
from polypost.platforms.resources import (
    SECRET_SETTING,
    SELECTION_SETTINGS,
    PageOption,
    PageSelection,
)

router = APIRouter()

AccountId = Annotated[str, Path(min_length=1, max_length=64)]
PageId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@-]+$")]


class PageNotPublishable(Unprocessable):
    code = "page_not_publishable"
    default_message = "The connected user may not publish to this page."


class AccountPageRead(ApiModel):
    page_id: str
    name: str
    username: str | None
    picture_url: str | None
    tasks: list[str]
    can_publish: bool
    selected: bool
    extra: dict[str, Any]


class AccountPagesRead(ApiModel):
    account_id: str
    platform: str
    selected_page_id: str | None
    pages: list[AccountPageRead]


class AccountPageUpdate(ApiInput):
    selected: bool = True


PLATFORM_ERRORS: tuple[type[ApiError], ...] = (
    NotFound,
    CredentialsInvalid,
    PlatformFailed,
    RateLimited,
)


def page_read(page: PageOption, *, selected: bool) -> AccountPageRead:
    return AccountPageRead(
        page_id=page.id,
        name=page.name,
        username=page.username,
        picture_url=page.picture_url,
        tasks=list(page.tasks),
        can_publish=page.can_publish,
        selected=selected,
        extra=dict(page.extra),
    )


async def load_account(
    runtime: Runtime, workspace_id: str, account_id: str
) -> tuple[SocialAccount, Credentials]:
    """The workspace's live account and its decrypted tokens, in a short session."""
    async with runtime.sessions() as session:
        account = await AccountRepository(session, workspace_id).require(account_id)
        return account, load_credentials(runtime, account)


def adapter_with(runtime: Runtime, account: SocialAccount, method: str) -> Any | None:
    """The account's adapter if it offers `method`; None when the platform has no
    destinations to choose (its posts go to the account itself)."""
    adapter = adapter_for(runtime, account.platform) if account.platform in FACTORIES else None
    return adapter if callable(getattr(adapter, method, None)) else None


def platform_error(error: PlatformError, platform: str) -> ApiError:
    if error.code == "page_not_found":
        return NotFound(error.message, details={"platform": platform})
    if error.code == "page_forbidden":
        return PageNotPublishable(error.message, details={"platform": platform})
    return api_error(error, platform)


@router.get(
    "/{account_id}/pages",
    response_model=AccountPagesRead,
    responses=responses(*PLATFORM_ERRORS),
)
async def list_account_pages(
    account_id: AccountId, auth: AccountsRead, runtime: RuntimeDep
) -> AccountPagesRead:
    """List the Pages the account can post to, read live from the platform (empty where
    the platform has none to choose)."""
    account, credentials = await load_account(runtime, auth.workspace_id, account_id)
    adapter = adapter_with(runtime, account, "list_pages")
    options: list[PageOption] = []
    if adapter is not None:
        try:
            options = await adapter.list_pages(credentials)
        except PlatformError as error:
            raise platform_error(error, account.platform) from error
    selected = (account.settings or {}).get("pageId")
    return AccountPagesRead(
        account_id=account.id,
        platform=account.platform,
        selected_page_id=str(selected) if selected else None,
        pages=[page_read(option, selected=option.id == selected) for option in options],
    )


@router.patch(
    "/{account_id}/pages/{page_id}",
    response_model=AccountPageRead,
    responses=responses(*PLATFORM_ERRORS, PageNotPublishable),
)
async def update_account_page(
    account_id: AccountId,
    page_id: PageId,
    auth: AccountsWrite,
    runtime: RuntimeDep,
    body: Annotated[AccountPageUpdate | None, Body()] = None,
) -> AccountPageRead:
    """Choose the Page the account's posts go to (`selected: false` clears it)."""
    account, credentials = await load_account(runtime, auth.workspace_id, account_id)
    adapter = adapter_with(runtime, account, "select_page")
    if adapter is None:
        raise NotFound(f"{account.platform} accounts have no page {page_id} to choose.")
    stored = dict(account.settings or {})
    if body is not None and not body.selected:
        if stored.get("pageId") != page_id:
            raise NotFound(f"Page {page_id} is not the account's selected page.")
        await _store(runtime, auth.workspace_id, account_id, None)
        return page_read(
            PageOption(
                id=page_id,
                name=str(stored.get("pageName") or page_id),
                username=stored.get("pageUsername"),
                picture_url=stored.get("pagePictureUrl"),
            ),
            selected=False,
        )
    try:
        selection: PageSelection = await adapter.select_page(credentials, page_id)
    except PlatformError as error:
        raise platform_error(error, account.platform) from error
    await _store(runtime, auth.workspace_id, account_id, selection)
    return page_read(selection.page, selected=True)


async def _store(
    runtime: Runtime, workspace_id: str, account_id: str, selection: PageSelection | None
) -> None:
    """Replace the account's selection (or clear it), encrypting the page's token."""
    async with runtime.sessions() as session, session.begin():
        account = await AccountRepository(session, workspace_id).require(account_id)
        settings = {
            key: value
            for key, value in (account.settings or {}).items()
            if key not in SELECTION_SETTINGS
        }
        if selection is not None:
            settings.update({k: v for k, v in selection.settings.items() if v is not None})
            if selection.secret:
                settings[SECRET_SETTING] = runtime.cipher.encrypt(selection.secret)
        account.settings = settings
