"""Posts and targets as the API shows them."""

from __future__ import annotations

from dataclasses import dataclass, field

from polypost.models import Post, PostTarget, TargetStatus
from polypost.posts.schemas import (
    PostBody,
    PostRead,
    PostStatusRead,
    TargetError,
    TargetRead,
    TargetStatusRead,
)


@dataclass
class PostView:
    post: Post
    targets: list[PostTarget]
    immediate: bool = False
    flags: dict[str, bool] = field(default_factory=dict)
    unsupported: list[dict[str, str]] = field(default_factory=list)


def _error(target: PostTarget) -> TargetError | None:
    if target.status == TargetStatus.PUBLISHED or not target.error_code:
        return None
    return TargetError(code=target.error_code, message=target.error_message or "")


def _stage(target: PostTarget) -> str | None:
    if target.status != TargetStatus.PUBLISHING:
        return None
    stage = (target.progress or {}).get("stage")
    return str(stage) if stage else "publishing"


def target_read(target: PostTarget) -> TargetRead:
    return TargetRead(
        target_id=target.id,
        account_id=target.account_id,
        platform=target.platform,
        status=target.status,
        scheduled_at=target.scheduled_at,
        platform_post_id=target.platform_post_id,
        permalink=target.permalink,
        error=_error(target),
        attempts=target.attempts,
        published_at=target.published_at,
        stage=_stage(target),
    )


def post_body(post: Post, targets: list[PostTarget]) -> PostBody:
    return PostBody(
        post_id=post.id,
        content=post.content,
        post_type=post.post_type,
        status=post.status,
        scheduled_at=post.scheduled_at,
        platforms=sorted({t.platform for t in targets}),
        account_ids=[t.account_id for t in targets],
        media_ids=list(post.media_ids or []),
        created_at=post.created_at,
        updated_at=post.updated_at,
        published_at=post.published_at,
        options=dict(post.options or {}),
    )


def post_read(view: PostView) -> PostRead:
    return PostRead(
        post_id=view.post.id,
        status=view.post.status,
        scheduled_at=view.post.scheduled_at,
        immediate=view.immediate,
        post=post_body(view.post, view.targets),
        targets=[target_read(t) for t in view.targets],
    )


def post_status(view: PostView) -> PostStatusRead:
    live = [t for t in view.targets if t.status != TargetStatus.CANCELED]
    return PostStatusRead(
        post_id=view.post.id,
        status=view.post.status,
        ready=bool(live) and all(t.status == TargetStatus.PUBLISHED for t in live),
        scheduled_at=view.post.scheduled_at,
        targets=[
            TargetStatusRead(
                target_id=t.id,
                account_id=t.account_id,
                platform=t.platform,
                status=t.status,
                ready=t.status == TargetStatus.PUBLISHED,
                platform_post_id=t.platform_post_id,
                permalink=t.permalink,
                error=_error(t),
                stage=_stage(t),
            )
            for t in view.targets
        ],
    )
