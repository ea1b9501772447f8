"""What a YouTube video is published with (youtube.md §2): its `snippet` and `status`
parts from the post and `platformOptions.youtube`, and its public URL."""

from __future__ import annotations

from typing import Any

from polypost.platforms.base import Outgoing, PostType
from polypost.platforms.options import YouTubeOptions

WEB = "https://www.youtube.com"
# youtube.md §2: title ≤100 characters; "People & Blogs" is the default category.
TITLE_LIMIT = 100
DEFAULT_CATEGORY = "22"


def youtube_options(post: Outgoing) -> YouTubeOptions:
    return post.options if isinstance(post.options, YouTubeOptions) else YouTubeOptions()


def title_of(post: Outgoing, options: YouTubeOptions) -> str:
    """`title` is required: the option, else the text's first line, else the file name
    (youtube.md §2: ≤100 characters, no `<` `>`)."""
    if options.title:
        return options.title
    for line in post.text.splitlines():
        cleaned = " ".join(line.replace("<", "").replace(">", "").split())
        if cleaned:
            return cleaned[:TITLE_LIMIT]
    for item in post.media:
        if item.filename:
            stem = item.filename.rsplit(".", 1)[0].replace("<", "").replace(">", "").strip()
            if stem:
                return stem[:TITLE_LIMIT]
    return "Video"


def privacy_of(options: YouTubeOptions) -> str:
    return options.privacy_status or options.yt_privacy or "public"


def video_resource(post: Outgoing, options: YouTubeOptions) -> dict[str, Any]:
    """The `snippet` and `status` parts sent with `videos.insert` (youtube.md §2)."""
    snippet: dict[str, Any] = {
        "title": title_of(post, options),
        "description": options.description if options.description is not None else post.text,
        "categoryId": options.category_id or DEFAULT_CATEGORY,
    }
    if options.tags:
        snippet["tags"] = list(options.tags)
    status = {
        "privacyStatus": privacy_of(options),
        # youtube.md §7 "Set `selfDeclaredMadeForKids` explicitly".
        "selfDeclaredMadeForKids": bool(options.made_for_kids),
    }
    return {"snippet": snippet, "status": status}


def video_url(video_id: str, post_type: PostType) -> str:
    if post_type is PostType.REEL:
        return f"{WEB}/shorts/{video_id}"
    return f"{WEB}/watch?v={video_id}"
