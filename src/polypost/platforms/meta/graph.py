"""What the Instagram and Facebook adapters share about Meta's Graph API: hosts, the
version, authentication, paging, media URLs and reading values out of answers."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from polypost.core.runtime import Runtime
from polypost.models import Media
from polypost.platforms.base import AuthExpired, MediaInfo, Outgoing, Permanent
from polypost.storage import get_storage

# instagram.md §0 / facebook.md §0: keep the version configurable; v23 is the first with
# the media-view Page insights (facebook.md §5) and is what Postiz calls today.
DEFAULT_VERSION = "v23.0"
FACEBOOK_GRAPH = "https://graph.facebook.com"
FACEBOOK_VIDEO_GRAPH = "https://graph-video.facebook.com"
INSTAGRAM_GRAPH = "https://graph.instagram.com"
FACEBOOK_WEB = "https://www.facebook.com"
VERSION = re.compile(r"^v\d{1,3}\.\d$")


def graph_version(runtime: Any) -> str:
    """`POLYPOST_META_GRAPH_VERSION`, or the default."""
    settings = getattr(runtime, "settings", None)
    value = getattr(settings, "meta_graph_version", None)
    return str(value) if isinstance(value, str) and VERSION.match(value) else DEFAULT_VERSION


def bearer(token: str | None, label: str) -> dict[str, str]:
    """The Authorization header Graph accepts instead of an `access_token` parameter
    (which would land in access logs)."""
    if not token:
        raise AuthExpired(f"The {label} account has no access token", code="190")
    return {"Authorization": f"Bearer {token}"}


def parse_time(value: Any) -> datetime | None:
    """Graph timestamps: `2026-06-20T18:00:00+0000`."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def absolute_url(value: Any) -> str | None:
    """Facebook video `permalink_url`s are site-relative (`/page/videos/1/`)."""
    if not isinstance(value, str) or not value:
        return None
    return FACEBOOK_WEB + value if value.startswith("/") else value


def data(body: Any) -> list[dict[str, Any]]:
    items = body.get("data") if isinstance(body, dict) else None
    return [i for i in items or [] if isinstance(i, dict)]


def after_cursor(body: Any) -> str | None:
    """The cursor of the next page, only when Graph says there is one (`paging.next`)."""
    paging = body.get("paging") if isinstance(body, dict) else None
    if not isinstance(paging, dict) or not paging.get("next"):
        return None
    cursors = paging.get("cursors")
    after = cursors.get("after") if isinstance(cursors, dict) else None
    return str(after) if after else None


def insight_values(body: Any) -> dict[str, int]:
    """`{"data": [{"name", "values": [{"value"}]}]}` (or `total_value.value`) → name: n.
    A breakdown object (`{"paid": 1, "organic": 4}`) is summed."""
    values: dict[str, int] = {}
    for item in data(body):
        name = item.get("name")
        raw: Any = None
        series = item.get("values")
        if isinstance(series, list) and series and isinstance(series[-1], dict):
            raw = series[-1].get("value")
        total = item.get("total_value")
        if raw is None and isinstance(total, dict):
            raw = total.get("value")
        if isinstance(raw, dict):
            raw = sum(v for v in raw.values() if isinstance(v, int | float))
        if isinstance(name, str) and isinstance(raw, int | float):
            values[name] = int(raw)
    return values


def summary_count(body: Any, field: str) -> int | None:
    """`{"reactions": {"summary": {"total_count": 3}}}` → 3."""
    edge = body.get(field) if isinstance(body, dict) else None
    summary = edge.get("summary") if isinstance(edge, dict) else None
    count = summary.get("total_count") if isinstance(summary, dict) else None
    return int(count) if isinstance(count, int) else None


def fingerprint(post: Outgoing) -> str:
    """What a step's platform-side objects (containers, uploaded photos, videos) were
    built from: a post edited between two attempts gets new ones instead of publishing
    the old caption."""
    options = post.options.model_dump(mode="json") if post.options is not None else None
    content = {
        "type": str(post.post_type),
        "text": post.text,
        "media": [m.id for m in post.media],
        "alt": {m.id: post.alt_texts.get(m.id) for m in post.media},
        "link": post.link,
        "article": post.article.url if post.article else None,
        "cover": post.cover.id if post.cover else None,
        "coverOffset": post.cover_offset_ms,
        "options": options,
    }
    raw = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


def same_text(a: str | None, b: str | None) -> bool:
    """Captions as the platform echoes them (whitespace may be normalised)."""
    return " ".join((a or "").split()) == " ".join((b or "").split())


@dataclass(frozen=True)
class Comment:
    """One comment under a post or media, as the inbox reads it."""

    id: str
    text: str
    author_id: str | None
    author_name: str | None
    created_at: datetime | None
    like_count: int | None = None
    reply_count: int | None = None
    parent_id: str | None = None
    hidden: bool = False


@dataclass(frozen=True)
class CommentPage:
    comments: tuple[Comment, ...]
    next_cursor: str | None = None


async def media_url(runtime: Runtime | Any, media: MediaInfo) -> str:
    """A URL Meta can fetch the file from (instagram.md §3: "we cURL media").

    `MediaInfo.url` when the pipeline resolved one, else a fresh download URL of the
    stored object (S3 presigned, or the server's own signed URL under
    `POLYPOST_PUBLIC_BASE_URL`, which must then be reachable from the internet).

    Raises:
        Permanent: `media_unavailable`, the file is no longer in the library.
    """
    if media.url:
        return media.url
    sessions = getattr(runtime, "sessions", None)
    if sessions is None:
        raise Permanent(f"Media {media.id} has no download URL", code="media_unavailable")
    async with sessions() as session:
        row = (
            await session.execute(select(Media.storage_key).where(Media.id == media.id))
        ).scalar_one_or_none()
    if row is None:
        raise Permanent(f"Media {media.id} is no longer stored", code="media_unavailable")
    return await get_storage(runtime).download_url(row, content_type=media.content_type)
