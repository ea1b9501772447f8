"""Reading an Instagram account back: its quota, media, comments, insights and identity
(instagram.md §1, §2, §5)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from polypost.core.timeutil import utcnow
from polypost.platforms.base import Permanent, PostMetrics, Published, Transient
from polypost.platforms.connect import Identity
from polypost.platforms.meta.errors import as_int
from polypost.platforms.meta.graph import (
    Comment,
    CommentPage,
    after_cursor,
    data,
    parse_time,
    same_text,
)
from polypost.platforms.resources import PublishingQuota

MEDIA_FIELDS = "id,caption,media_type,media_product_type,permalink,timestamp"
LOOKUP_FIELDS = "id,caption,timestamp,permalink,media_product_type"
COMMENT_FIELDS = "id,text,timestamp,username,like_count,hidden,from,parent_id"
ME_FIELDS = "user_id,username,name,account_type,profile_picture_url"
PAGES_FIELDS = "id,name,instagram_business_account{id,username,name,profile_picture_url}"
# instagram.md §5: `impressions`, `plays`, `video_views` were removed (v22); stories
# have no likes/saves; requesting a metric a media lacks fails the whole call.
FEED_METRICS = "views,reach,likes,comments,shares,saved"
STORY_METRICS = "views,reach,replies,shares"
# instagram.md §2: `quota_total` is documented as 50 (the guide says 100, older docs
# 25); the answer's own number is used, this only when it has none.
DEFAULT_QUOTA = 50
QUOTA_WINDOW_SECONDS = 86400
QUOTA_FALLBACK_WAIT = timedelta(hours=1)


def quota_from(body: Any) -> PublishingQuota:
    """`{"data": [{"quota_usage", "config": {"quota_total", "quota_duration"}}]}`."""
    items = data(body)
    item = items[0] if items else {}
    config = item.get("config") if isinstance(item.get("config"), dict) else {}
    return PublishingQuota(
        used=as_int(item.get("quota_usage")) or 0,
        total=as_int((config or {}).get("quota_total")) or DEFAULT_QUOTA,
        window_seconds=as_int((config or {}).get("quota_duration")) or QUOTA_WINDOW_SECONDS,
    )


def quota_reset(body: Any, quota: PublishingQuota, now: datetime) -> datetime:
    """When the oldest listed post counted in the window leaves it (an hour from now
    when none is listed). Stories are not listed under /media, so this can only be
    later than the truth, never earlier."""
    window = timedelta(seconds=quota.window_seconds)
    times = sorted(
        t for i in data(body) if (t := parse_time(i.get("timestamp"))) and t > now - window
    )
    if not times:
        return now + QUOTA_FALLBACK_WAIT
    return times[0] + window


def matching_media(body: Any, text: str, since: datetime, *, story: bool) -> Published | None:
    """The earliest media after `since` with this caption (any story after `since`)."""
    matches = []
    for item in data(body):
        created = parse_time(item.get("timestamp"))
        if not item.get("id") or created is None or created < since:
            continue
        if story or same_text(item.get("caption"), text):
            matches.append((created, item))
    if not matches:
        return None
    _, item = min(matches, key=lambda pair: pair[0])
    return Published(id=str(item["id"]), url=item.get("permalink"))


def comments_page(body: Any) -> CommentPage:
    comments = []
    for item in data(body):
        if not item.get("id"):
            continue
        author = item.get("from") if isinstance(item.get("from"), dict) else {}
        comments.append(
            Comment(
                id=str(item["id"]),
                text=str(item.get("text") or ""),
                author_id=str(author["id"]) if author and author.get("id") else None,
                author_name=item.get("username") or (author or {}).get("username"),
                created_at=parse_time(item.get("timestamp")),
                like_count=as_int(item.get("like_count")),
                parent_id=str(item["parent_id"]) if item.get("parent_id") else None,
                hidden=item.get("hidden") is True,
            )
        )
    return CommentPage(comments=tuple(comments), next_cursor=after_cursor(body))


def is_story(info: Any) -> bool:
    return isinstance(info, dict) and info.get("media_product_type") == "STORY"


def media_metrics(info: Any, values: dict[str, int]) -> PostMetrics:
    """Insights, with the public counters where insights are missing."""
    info = info if isinstance(info, dict) else {}
    comments = values.get("comments", as_int(info.get("comments_count")))
    return PostMetrics(
        collected_at=utcnow(),
        likes=values.get("likes", as_int(info.get("like_count"))),
        comments=values.get("replies") if is_story(info) else comments,
        shares=values.get("shares"),
        reach=values.get("reach"),
        views=values.get("views"),
    )


def identity_from_me(body: Any) -> Identity:
    """`GET graph.instagram.com/me`: `user_id` is the professional account id that
    every call takes (`id` there is app-scoped)."""
    user_id = (body.get("user_id") or body.get("id")) if isinstance(body, dict) else None
    if not user_id:
        raise Transient("Instagram answered /me without a user id")
    return Identity(
        external_id=str(user_id),
        handle=body.get("username"),
        display_name=body.get("name"),
        avatar_url=body.get("profile_picture_url"),
    )


def identity_from_pages(body: Any) -> Identity:
    """Facebook Login: the first Page's linked Instagram business account."""
    for page in data(body):
        linked = page.get("instagram_business_account")
        if isinstance(linked, dict) and linked.get("id"):
            return Identity(
                external_id=str(linked["id"]),
                handle=linked.get("username"),
                display_name=linked.get("name") or page.get("name"),
                avatar_url=linked.get("profile_picture_url"),
            )
    raise Permanent(
        "None of this user's Facebook Pages has an Instagram business account linked",
        code="no_business_account",
    )
