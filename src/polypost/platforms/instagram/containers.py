"""Instagram media containers: the parameters of each container a post needs.

Every Instagram post is a container (`POST /{ig-user-id}/media`) that Meta fetches the
media into, polled until FINISHED, then `media_publish`ed (instagram.md §2). A carousel
is a parent container of 2-10 child containers. List parameters are JSON strings.
"""

from __future__ import annotations

import json
from typing import Any

from polypost.platforms.base import MediaInfo, MediaKind, Outgoing, PostType
from polypost.platforms.options import InstagramOptions

# instagram.md §2 `status_code` values of a container.
IN_PROGRESS = "IN_PROGRESS"
FINISHED = "FINISHED"
PUBLISHED = "PUBLISHED"
ERROR = "ERROR"
EXPIRED = "EXPIRED"


def options(post: Outgoing) -> InstagramOptions:
    return post.options if isinstance(post.options, InstagramOptions) else InstagramOptions()


def is_carousel(post: Outgoing) -> bool:
    return post.post_type is PostType.CAROUSEL or len(post.media) > 1


def is_story(post: Outgoing) -> bool:
    return post.post_type is PostType.STORY


def has_video(post: Outgoing) -> bool:
    return any(m.kind is MediaKind.VIDEO for m in post.media)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _user_tags(opts: InstagramOptions, *, positioned: bool) -> str | None:
    """Feed images take x/y positions; reels and stories take usernames only."""
    if not opts.user_tags:
        return None
    tags: list[dict[str, Any]] = []
    for tag in opts.user_tags:
        item: dict[str, Any] = {"username": tag.username}
        if positioned:
            item["x"] = tag.x if tag.x is not None else 0.5
            item["y"] = tag.y if tag.y is not None else 0.5
        tags.append(item)
    return _json(tags)


def _shared(params: dict[str, str], post: Outgoing, opts: InstagramOptions) -> None:
    """Caption, location and collaborators: the post's own (or parent) container only."""
    if post.text:
        params["caption"] = post.text
    if opts.location_id:
        params["location_id"] = opts.location_id
    if opts.collaborators:
        params["collaborators"] = _json(opts.collaborators)


def child_params(media: MediaInfo, url: str, alt_text: str | None) -> dict[str, str]:
    """A carousel item: no caption or location (instagram.md §2); videos are VIDEO."""
    if media.kind is MediaKind.VIDEO:
        return {"media_type": "VIDEO", "video_url": url, "is_carousel_item": "true"}
    params = {"image_url": url, "is_carousel_item": "true"}
    if alt_text:
        params["alt_text"] = alt_text
    return params


def carousel_params(post: Outgoing, children: list[str]) -> dict[str, str]:
    params = {"media_type": "CAROUSEL", "children": ",".join(children)}
    _shared(params, post, options(post))
    return params


def story_params(media: MediaInfo, url: str, post: Outgoing) -> dict[str, str]:
    """Stories take no caption; user tags (usernames only) since July 2025."""
    key = "video_url" if media.kind is MediaKind.VIDEO else "image_url"
    params = {"media_type": "STORIES", key: url}
    tags = _user_tags(options(post), positioned=False)
    if tags:
        params["user_tags"] = tags
    return params


def reel_params(post: Outgoing, url: str, cover_url: str | None) -> dict[str, str]:
    """A single video: Meta publishes every single feed video as a reel since July 2023
    (`media_type=VIDEO` is deprecated), so postType video is a reel shared to the feed."""
    opts = options(post)
    params = {"media_type": "REELS", "video_url": url}
    _shared(params, post, opts)
    share = opts.share_to_feed
    if share is None and post.post_type is PostType.VIDEO:
        share = True
    if share is not None:
        params["share_to_feed"] = "true" if share else "false"
    if cover_url:
        params["cover_url"] = cover_url
    offset = post.cover_offset_ms if post.cover_offset_ms is not None else opts.thumb_offset_ms
    if offset is not None and not cover_url:
        params["thumb_offset"] = str(offset)
    if opts.audio_name:
        params["audio_name"] = opts.audio_name
    tags = _user_tags(opts, positioned=False)
    if tags:
        params["user_tags"] = tags
    if opts.trial_graduation:
        params["trial_params"] = _json({"graduation_strategy": opts.trial_graduation})
    return params


def image_params(post: Outgoing, media: MediaInfo, url: str) -> dict[str, str]:
    opts = options(post)
    params = {"image_url": url}
    _shared(params, post, opts)
    alt_text = post.alt_texts.get(media.id)
    if alt_text:
        params["alt_text"] = alt_text
    tags = _user_tags(opts, positioned=True)
    if tags:
        params["user_tags"] = tags
    return params
