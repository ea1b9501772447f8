"""Threads media containers: what to create for a post, and waiting for them.

Every Threads post is a container (`POST /{user-id}/threads`) that Meta fetches media
into, then `threads_publish`ed (threads.md §2). A carousel is a container of child
containers. A container reports IN_PROGRESS until Meta has processed it; only a FINISHED
one can be published.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from polypost.platforms.base import MediaInfo, MediaKind, Outgoing, Permanent, Transient
from polypost.platforms.options import ThreadsOptions

# threads.md §2 container status values.
IN_PROGRESS = "IN_PROGRESS"
FINISHED = "FINISHED"
PUBLISHED = "PUBLISHED"
ERROR = "ERROR"
EXPIRED = "EXPIRED"

# threads.md §2 `error_message` values; every one but UNKNOWN is about the file itself.
RETRYABLE_ERRORS = frozenset({"UNKNOWN", "FAILED_DOWNLOADING_VIDEO"})

POLL_KEYS = ("option_a", "option_b", "option_c", "option_d")


def fingerprint(post: Outgoing) -> str:
    """What a container was built from: a post edited between two attempts gets a new
    container instead of publishing the old text."""
    options = post.options.model_dump(mode="json") if post.options is not None else None
    content = {
        "text": post.text,
        "media": [m.id for m in post.media],
        "replyTo": post.reply_to.id if post.reply_to else None,
        "link": post.link,
        "article": post.article.url if post.article else None,
        "poll": list(post.poll.options) if post.poll else None,
        "alt": {m.id: post.alt_texts.get(m.id) for m in post.media},
        "options": options,
    }
    raw = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


def _media_url(media: MediaInfo) -> str:
    if not media.url:
        raise Permanent(f"Media {media.id} has no download URL", code="media_unavailable")
    return media.url


def media_params(media: MediaInfo, alt_text: str | None) -> dict[str, str]:
    """Threads pulls the file from our URL (threads.md §3: no binary upload)."""
    if media.kind is MediaKind.VIDEO:
        params = {"media_type": "VIDEO", "video_url": _media_url(media)}
    else:
        params = {"media_type": "IMAGE", "image_url": _media_url(media)}
    if alt_text:
        params["alt_text"] = alt_text
    return params


def child_params(media: MediaInfo, alt_text: str | None) -> dict[str, str]:
    return {**media_params(media, alt_text), "is_carousel_item": "true"}


def link_of(post: Outgoing) -> str | None:
    return post.link or (post.article.url if post.article else None)


def published_text(post: Outgoing) -> str:
    """The text as Threads will show it: a link card exists for text posts only, so
    with media the link goes at the end of the text (unless it is there already)."""
    link = link_of(post)
    if post.media and link and link not in post.text:
        return f"{post.text}\n\n{link}" if post.text else link
    return post.text


def post_params(post: Outgoing, children: list[str] | None = None) -> dict[str, str]:
    """The parameters of the post's own container (the carousel's parent for 2+ files)."""
    params: dict[str, str]
    link = link_of(post)
    text = published_text(post)
    if children:
        params = {"media_type": "CAROUSEL", "children": ",".join(children)}
    elif post.media:
        params = media_params(post.media[0], post.alt_texts.get(post.media[0].id))
    else:
        params = {"media_type": "TEXT"}
        if link:
            # threads.md §2: the link preview card of a text post.
            params["link_attachment"] = link
        if post.poll is not None:
            if len(post.poll.options) > len(POLL_KEYS):
                raise Permanent("A Threads poll has at most 4 options", code="invalid_request")
            params["poll_attachment"] = json.dumps(
                dict(zip(POLL_KEYS, post.poll.options, strict=False)), separators=(",", ":")
            )
    if text:
        params["text"] = text
    if post.reply_to is not None:
        params["reply_to_id"] = post.reply_to.id
    options = post.options if isinstance(post.options, ThreadsOptions) else None
    if options is not None and post.reply_to is None:
        # Reply control, topic, quote and location describe the thread's first post.
        for name in ("reply_control", "topic_tag", "quote_post_id", "location_id"):
            value = getattr(options, name)
            if value:
                params[name] = str(value)
    return params


def status_error(container_id: str, body: dict[str, Any]) -> Permanent | Transient:
    """A container that reported ERROR: the file was refused (permanent) unless Meta
    only said UNKNOWN or could not download it (retried with a new container)."""
    reason = str(body.get("error_message") or "UNKNOWN")
    message = f"Threads could not process the media ({reason}, container {container_id})"
    if reason in RETRYABLE_ERRORS:
        return Transient(message, code=reason.lower())
    return Permanent(message, code=reason.lower())
