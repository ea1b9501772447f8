"""Reading a Page back: its posts, comments and engagement (facebook.md §5)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from polypost.core.timeutil import utcnow
from polypost.platforms.base import PostMetrics, Published
from polypost.platforms.meta.errors import as_int
from polypost.platforms.meta.graph import (
    Comment,
    CommentPage,
    absolute_url,
    after_cursor,
    data,
    parse_time,
    same_text,
    summary_count,
)

POST_FIELDS = "id,message,created_time,permalink_url"
VIDEO_FIELDS = "id,description,created_time,permalink_url"
COMMENT_FIELDS = "id,message,from,created_time,like_count,comment_count,is_hidden,parent"
# facebook.md §5 (v23+): the `post_impressions*` metrics are deprecated for these.
POST_INSIGHTS = "post_total_media_view_unique,post_media_view,post_clicks"
POST_COUNTERS = (
    "shares,reactions.summary(total_count).limit(0),comments.summary(total_count).limit(0)"
)
VIDEO_COUNTERS = "likes.summary(total_count).limit(0),comments.summary(total_count).limit(0)"
VIDEO_INSIGHTS = "total_video_views"


def is_post_id(platform_post_id: str) -> bool:
    """Feed posts are `<pageid>_<postid>`; videos and reels are bare video ids."""
    return "_" in platform_post_id


def comments_page(body: Any) -> CommentPage:
    comments = []
    for item in data(body):
        if not item.get("id"):
            continue
        author = item.get("from") if isinstance(item.get("from"), dict) else {}
        parent = item.get("parent") if isinstance(item.get("parent"), dict) else {}
        comments.append(
            Comment(
                id=str(item["id"]),
                text=str(item.get("message") or ""),
                author_id=str(author["id"]) if author and author.get("id") else None,
                author_name=(author or {}).get("name"),
                created_at=parse_time(item.get("created_time")),
                like_count=as_int(item.get("like_count")),
                reply_count=as_int(item.get("comment_count")),
                parent_id=str(parent["id"]) if parent and parent.get("id") else None,
                hidden=item.get("is_hidden") is True,
            )
        )
    return CommentPage(comments=tuple(comments), next_cursor=after_cursor(body))


def post_metrics(counters: Any, insights: dict[str, int]) -> PostMetrics:
    shares = counters.get("shares") if isinstance(counters, dict) else None
    return PostMetrics(
        collected_at=utcnow(),
        likes=summary_count(counters, "reactions"),
        comments=summary_count(counters, "comments"),
        # A post nobody shared has no `shares` field at all.
        shares=as_int(shares.get("count")) if isinstance(shares, dict) else 0,
        reach=insights.get("post_total_media_view_unique"),
        impressions=insights.get("post_media_view"),
        clicks=insights.get("post_clicks"),
    )


def video_metrics(counters: Any, insights: dict[str, int]) -> PostMetrics:
    return PostMetrics(
        collected_at=utcnow(),
        likes=summary_count(counters, "likes"),
        comments=summary_count(counters, "comments"),
        views=insights.get("total_video_views"),
    )


def matching_post(body: Any, text: str, since: datetime, *, video: bool) -> Published | None:
    """The recent post (or video) carrying `text`, created after `since`."""
    for item in data(body):
        created = parse_time(item.get("created_time"))
        found = item.get("description" if video else "message")
        if item.get("id") and created and created >= since and same_text(found, text):
            return Published(id=str(item["id"]), url=absolute_url(item.get("permalink_url")))
    return None
