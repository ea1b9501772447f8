"""HTTP layer of the posts API: parsing, scopes and response shapes only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request

from polypost.auth.deps import AnalyticsRead, PostsRead, PostsWrite
from polypost.core.deps import ReadSession, RuntimeDep, WriteSession
from polypost.core.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    Unprocessable,
    responses,
)
from polypost.core.pagination import PageParams, page_params
from polypost.posts import errors as post_errors
from polypost.posts import importing, service
from polypost.posts.metrics import post_metrics
from polypost.posts.presenters import post_body, post_read, post_status
from polypost.posts.schemas import (
    ImportResult,
    PostCreate,
    PostMetricsRead,
    PostPage,
    PostRead,
    PostRemoved,
    PostStatusRead,
    PostUpdate,
    PostUpdated,
    RetryRequest,
    ValidationResult,
)

router = APIRouter(prefix="/posts", tags=["posts"])

VALIDATION_ERRORS = (
    NotFound,
    Forbidden,
    post_errors.ContentInvalid,
    post_errors.PostTypeInvalid,
    post_errors.MediaInvalid,
)


@router.post(
    "",
    status_code=201,
    response_model=PostRead,
    responses=responses(*VALIDATION_ERRORS, post_errors.DuplicateContent),
)
async def create_post(
    body: PostCreate, auth: PostsWrite, session: WriteSession, runtime: RuntimeDep
) -> PostRead:
    """Create a post with one target per account; publish now, schedule, or save a draft."""
    created = await service.create(session, runtime, auth, body)
    return post_read(created)


@router.get("", response_model=PostPage, responses=responses())
async def list_posts(
    auth: PostsRead,
    session: ReadSession,
    params: Annotated[PageParams, Depends(page_params)],
    status: Annotated[str | None, Query(max_length=16)] = None,
    account_id: Annotated[str | None, Query(alias="accountId", max_length=64)] = None,
    platform: Annotated[str | None, Query(max_length=32)] = None,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
) -> PostPage:
    """List posts ordered by scheduled time (drafts last), across every status."""
    page, targets = await service.list_posts(
        session,
        auth.workspace_id,
        params,
        status=status,
        account_id=account_id,
        platform=platform,
        start=start,
        end=end,
    )
    return PostPage(
        posts=[post_body(p, targets.get(p.id, [])) for p in page.items],
        next_cursor=page.next_cursor,
    )


@router.post("/validate", response_model=ValidationResult, responses=responses(*VALIDATION_ERRORS))
async def validate_post(
    body: PostCreate, auth: PostsRead, session: ReadSession, runtime: RuntimeDep
) -> ValidationResult:
    """Dry run of a create body: the same 422 details, or `valid: true`; nothing stored."""
    return await service.validate(session, auth, body, runtime)


@router.post("/import", response_model=ImportResult, responses=responses(*VALIDATION_ERRORS))
async def import_posts(
    request: Request,
    auth: PostsWrite,
    session: WriteSession,
    runtime: RuntimeDep,
    all_or_nothing: Annotated[bool, Query(alias="allOrNothing")] = False,
    body: Annotated[Any, Body(description="A JSON array of post bodies, or text/csv.")] = None,
) -> ImportResult:
    """Bulk create from a JSON array or CSV; per-row results; optionally all-or-nothing."""
    rows = await importing.read_rows(request)
    return await importing.import_rows(session, runtime, auth, rows, all_or_nothing)


@router.get("/{post_id}", response_model=PostRead, responses=responses(NotFound))
async def get_post(post_id: str, auth: PostsRead, session: ReadSession) -> PostRead:
    """A post and its per-target status (canceled posts included)."""
    return post_read(await service.get(session, auth.workspace_id, post_id))


@router.get("/{post_id}/status", response_model=PostStatusRead, responses=responses(NotFound))
async def get_post_status(post_id: str, auth: PostsRead, session: ReadSession) -> PostStatusRead:
    """Poll-friendly status: `ready` turns true once every target is live."""
    return post_status(await service.get(session, auth.workspace_id, post_id))


@router.get("/{post_id}/metrics", response_model=PostMetricsRead, responses=responses(NotFound))
async def get_post_metrics(
    post_id: str, auth: AnalyticsRead, session: ReadSession, runtime: RuntimeDep
) -> PostMetricsRead:
    """Per-target engagement (likes, comments, shares, impressions, reach, views, clicks),
    read live from each platform that reports it."""
    return await post_metrics(session, runtime, auth.workspace_id, post_id)


@router.put(
    "/{post_id}",
    response_model=PostUpdated,
    responses=responses(*VALIDATION_ERRORS, post_errors.NotEditable),
)
async def update_post(
    post_id: str, body: PostUpdate, auth: PostsWrite, session: WriteSession, runtime: RuntimeDep
) -> PostUpdated:
    """Edit, reschedule, retarget or activate a post; edit a live caption where supported."""
    return await service.update(session, runtime, auth, post_id, body)


@router.patch(
    "/{post_id}",
    response_model=PostUpdated,
    responses=responses(*VALIDATION_ERRORS, post_errors.NotEditable),
)
async def patch_post(
    post_id: str, body: PostUpdate, auth: PostsWrite, session: WriteSession, runtime: RuntimeDep
) -> PostUpdated:
    """Alias of PUT: only the fields sent change."""
    return await service.update(session, runtime, auth, post_id, body)


@router.delete(
    "/{post_id}", response_model=PostRemoved, responses=responses(NotFound, post_errors.Publishing)
)
async def delete_post(
    post_id: str, auth: PostsWrite, session: WriteSession, runtime: RuntimeDep
) -> PostRemoved:
    """Cancel a scheduled post, or remove a published one from every platform that allows
    it (the rest are listed under `manual`)."""
    return await service.remove(session, runtime, auth.workspace_id, post_id, keep_pending=False)


@router.post(
    "/{post_id}/publish",
    response_model=PostRead,
    responses=responses(NotFound, post_errors.NotEditable),
)
async def publish_post(
    post_id: str, auth: PostsWrite, session: WriteSession, runtime: RuntimeDep
) -> PostRead:
    """Publish a draft or scheduled post now."""
    return post_read(await service.publish_now(session, runtime, auth, post_id))


@router.post("/{post_id}/retry", response_model=PostRead, responses=responses(NotFound, Conflict))
async def retry_post(
    post_id: str,
    auth: PostsWrite,
    session: WriteSession,
    runtime: RuntimeDep,
    body: RetryRequest | None = None,
) -> PostRead:
    """Re-run the failed targets only; published ones are never touched."""
    options = body or RetryRequest()
    return post_read(await service.retry(session, runtime, auth.workspace_id, post_id, options))


@router.post(
    "/{post_id}/unpublish",
    response_model=PostRemoved,
    responses=responses(NotFound, post_errors.Publishing, Unprocessable, BadRequest),
)
async def unpublish_post(
    post_id: str, auth: PostsWrite, session: WriteSession, runtime: RuntimeDep
) -> PostRemoved:
    """Remove the post from the platforms but keep its record."""
    return await service.remove(session, runtime, auth.workspace_id, post_id, keep_pending=True)
