"""Request and response bodies of the posts API (camelCase on the wire)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from polypost.core.schemas import ApiInput, ApiModel, UtcTimestamp

PostTypeName = Literal[
    "text", "image", "carousel", "video", "reel", "story", "thread", "article", "document", "poll"
]

MAX_TEXT = 100_000  # above every platform's limit (Facebook 63,206); validation is per platform
MAX_ACCOUNTS = 100
MAX_MEDIA = 35  # TikTok photo carousels allow 35
MAX_SEGMENTS = 50
MAX_ID = 64


class ThreadSegment(ApiInput):
    text: str = Field(default="", max_length=MAX_TEXT)
    media_ids: list[str] = Field(default_factory=list, max_length=MAX_MEDIA)


class Article(ApiInput):
    url: str = Field(min_length=1, max_length=2048)
    title: str | None = Field(default=None, max_length=500)
    description: str | None = Field(default=None, max_length=2000)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return _check_http_url(value)


class Poll(ApiInput):
    options: list[str] = Field(min_length=2, max_length=10)
    duration_minutes: int = Field(ge=5, le=60 * 24 * 30)

    @field_validator("options")
    @classmethod
    def _non_empty(cls, value: list[str]) -> list[str]:
        if any(not option.strip() or len(option) > 100 for option in value):
            raise ValueError("each option must be 1-100 characters")
        return value


def _check_http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")) or len(value) < 11:
        raise ValueError("must be an absolute http(s) URL")
    return value


class PostFields(ApiInput):
    """Every field a post body may carry, shared by create, update and validate."""

    content: str | None = Field(default=None, max_length=MAX_TEXT)
    media_ids: list[str] | None = Field(default=None, max_length=MAX_MEDIA)
    post_type: PostTypeName | None = None
    scheduled_at: datetime | None = Field(
        default=None,
        description="With an offset it is exact; without one it is in the workspace's "
        "timezone. Within 30 s of now (or past) publishes immediately.",
    )
    publish_now: bool | None = None
    draft: bool | None = None
    platform_content: dict[str, str] | None = Field(default=None, max_length=20)
    platform_schedules: dict[str, datetime] | None = Field(default=None, max_length=20)
    platform_options: dict[str, dict[str, Any]] | None = Field(default=None, max_length=20)
    thread: list[ThreadSegment] | None = Field(default=None, max_length=MAX_SEGMENTS)
    article: Article | None = None
    link: str | None = Field(default=None, max_length=2048)
    cover_media_id: str | None = Field(default=None, max_length=MAX_ID)
    cover_offset_ms: int | None = Field(default=None, ge=0, le=24 * 3600 * 1000)
    document_title: str | None = Field(default=None, max_length=400)
    first_comment: str | None = Field(default=None, max_length=10_000)
    poll: Poll | None = None
    alt_text: dict[str, str] | None = Field(default=None, max_length=MAX_MEDIA)
    allow_duplicate: bool = Field(
        default=False, description="Skip the 24 h duplicate-content guard for this post."
    )

    @field_validator("link")
    @classmethod
    def _link(cls, value: str | None) -> str | None:
        return None if value is None else _check_http_url(value)

    @field_validator("platform_content")
    @classmethod
    def _caption_size(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value and any(len(text) > MAX_TEXT for text in value.values()):
            raise ValueError(f"captions are limited to {MAX_TEXT} characters")
        return value

    @field_validator("alt_text")
    @classmethod
    def _alt_size(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value and any(len(text) > 5000 for text in value.values()):
            raise ValueError("alt text is limited to 5000 characters")
        return value

    @model_validator(mode="after")
    def _one_start_state(self) -> PostFields:
        chosen = [
            name
            for name, flag in (
                ("scheduledAt", self.scheduled_at is not None),
                ("publishNow", bool(self.publish_now)),
                ("draft", bool(self.draft)),
            )
            if flag
        ]
        if len(chosen) > 1:
            raise ValueError(f"give only one of scheduledAt, publishNow, draft (got {chosen})")
        return self


class PostCreate(PostFields):
    account_ids: list[str] = Field(min_length=1, max_length=MAX_ACCOUNTS)

    @field_validator("account_ids")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if any(len(item) > MAX_ID for item in value):
            raise ValueError("unknown account id format")
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _has_content(self) -> PostCreate:
        if not (self.content or self.media_ids or self.thread or self.article or self.poll):
            raise ValueError("a post needs content, mediaIds, thread, article or poll")
        return self


class PostUpdate(PostFields):
    account_ids: list[str] | None = Field(default=None, min_length=1, max_length=MAX_ACCOUNTS)


class TargetError(ApiModel):
    code: str
    message: str


class TargetRead(ApiModel):
    target_id: str
    account_id: str
    platform: str
    status: str
    scheduled_at: UtcTimestamp | None
    platform_post_id: str | None
    permalink: str | None
    error: TargetError | None
    attempts: int
    published_at: UtcTimestamp | None
    stage: str | None = None


class PostBody(ApiModel):
    post_id: str
    content: str | None
    post_type: str
    status: str
    scheduled_at: UtcTimestamp | None
    platforms: list[str]
    account_ids: list[str]
    media_ids: list[str]
    created_at: UtcTimestamp
    updated_at: UtcTimestamp
    published_at: UtcTimestamp | None
    options: dict[str, Any] = Field(
        description="Every other field the post was created with (platformContent, thread, …)."
    )


class PostRead(ApiModel):
    post_id: str
    status: str
    scheduled_at: UtcTimestamp | None
    immediate: bool
    post: PostBody
    targets: list[TargetRead]


class PostUpdated(PostRead):
    updated: bool
    rescheduled: bool
    activated: bool
    unsupported: list[dict[str, str]] = Field(default_factory=list)


class PostPage(ApiModel):
    posts: list[PostBody]
    next_cursor: str | None


class TargetStatusRead(ApiModel):
    target_id: str
    account_id: str
    platform: str
    status: str
    ready: bool
    platform_post_id: str | None
    permalink: str | None
    error: TargetError | None
    stage: str | None = None


class PostStatusRead(ApiModel):
    post_id: str
    status: str
    ready: bool
    scheduled_at: UtcTimestamp | None
    targets: list[TargetStatusRead]


class ManualRemoval(ApiModel):
    account_id: str
    platform: str
    reason: str


class PostRemoved(ApiModel):
    post_id: str
    status: str
    removed_from: list[str]
    manual: list[ManualRemoval]


class ValidationResult(ApiModel):
    valid: bool
    post_type: str
    targets: list[dict[str, Any]]


class RetryRequest(ApiInput):
    include_outcome_unknown: bool = Field(
        default=False,
        description="Also retry targets whose first attempt may have been published "
        "(`outcome_unknown`). Check the platform first: this can double-post.",
    )


class ImportResultRow(ApiModel):
    row: int
    ok: bool
    post_id: str | None = None
    status: str | None = None
    error: dict[str, Any] | None = None


class ImportResult(ApiModel):
    created: int
    failed: int
    all_or_nothing: bool
    results: list[ImportResultRow]


class TargetMetrics(ApiModel):
    target_id: str
    account_id: str
    platform: str
    likes: int | None = None
    comments: int | None = None
    shares: int | None = None
    impressions: int | None = None
    reach: int | None = None
    views: int | None = None
    clicks: int | None = None
    collected_at: UtcTimestamp | None = None
    error: str | None = Field(
        default=None, description="Why no numbers could be read for this target."
    )


class PostMetricsRead(ApiModel):
    post_id: str
    targets: list[TargetMetrics]
