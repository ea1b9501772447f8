"""Reading what Threads returns: recognising one step among the account's recent posts,
timestamps, and post insights."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any

from polypost.platforms.base import MediaKind, Outgoing, Permanent
from polypost.platforms.threads.containers import published_text
from polypost.platforms.threads.errors import as_int

LOOKUP_FIELDS = "id,text,timestamp,permalink,media_type,is_reply,replied_to"
LIST_FIELDS = "id,text,timestamp,permalink,media_type"
INSIGHTS = "views,likes,replies,reposts,quotes,shares"


def comparable(text: str | None) -> str:
    return " ".join(unicodedata.normalize("NFC", text or "").split())


def parse_time(value: Any) -> datetime | None:
    """Threads timestamps look like `2024-07-01T12:00:00+0000`."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def media_types(post: Outgoing) -> frozenset[str]:
    """The `media_type` the published post reads back with."""
    if len(post.media) > 1:
        return frozenset({"CAROUSEL_ALBUM"})
    if post.media:
        return frozenset({"VIDEO" if post.media[0].kind is MediaKind.VIDEO else "IMAGE"})
    return frozenset({"TEXT_POST", "TEXT"})


def is_step(item: dict[str, Any], post: Outgoing, since: datetime) -> bool:
    """Whether a listed post is this step: same text and media type, published since
    `since`, a reply to the same parent (or no reply for a thread's first post)."""
    if comparable(item.get("text")) != comparable(published_text(post)):
        return False
    if item.get("media_type") and item["media_type"] not in media_types(post):
        return False
    posted = parse_time(item.get("timestamp"))
    if posted is not None and posted < since:
        return False
    if post.reply_to is None:
        return not item.get("is_reply")
    parent = item.get("replied_to") if isinstance(item.get("replied_to"), dict) else None
    if parent and str(parent.get("id")) != post.reply_to.id:
        return False
    return bool(item.get("is_reply", True))


def the_step(items: list[Any], post: Outgoing, since: datetime) -> dict[str, Any] | None:
    """The one listed post that is this step; two candidates are not guessed between.

    Raises:
        Permanent: more than one post matches (`ambiguous`).
    """
    matches = [
        item
        for item in items
        if isinstance(item, dict) and item.get("id") and is_step(item, post, since)
    ]
    if len(matches) > 1:
        raise Permanent(
            f"{len(matches)} recent Threads posts match this post; cannot tell which",
            code="ambiguous",
        )
    return matches[0] if matches else None


def insight_values(body: Any) -> dict[str, int]:
    """`{"data": [{"name", "values": [{"value"}]} | {"name", "total_value": {"value"}}]}`
    as name → number (threads.md §5)."""
    values: dict[str, int] = {}
    data = body.get("data") if isinstance(body, dict) else None
    for item in data or []:
        if not isinstance(item, dict):
            continue
        total = item.get("total_value") if isinstance(item.get("total_value"), dict) else None
        series = item.get("values") if isinstance(item.get("values"), list) else []
        raw = (total or {}).get("value")
        if raw is None and series and isinstance(series[0], dict):
            raw = series[0].get("value")
        number = as_int(raw)
        if number is not None:
            values[str(item.get("name"))] = number
    return values


def next_cursor(body: Any) -> str | None:
    """Graph cursor paging: `paging.cursors.after`, while `paging.next` says there is
    more."""
    paging = body.get("paging") if isinstance(body, dict) else None
    if not isinstance(paging, dict) or not paging.get("next"):
        return None
    cursors = paging.get("cursors")
    after = cursors.get("after") if isinstance(cursors, dict) else None
    return str(after) if after else None
