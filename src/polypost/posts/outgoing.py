"""Turn a stored post into the platform calls that publish one target, step by step.

A target is published as a list of steps — the main post, each thread reply, the first
comment — each with its own deterministic idempotency key, so the job can record every
step's platform id as it goes and a retry resumes where the last attempt stopped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel

from polypost.models import Media, Post, PostTarget, SocialAccount
from polypost.platforms.base import (
    Article,
    Credentials,
    MediaInfo,
    MediaKind,
    Outgoing,
    Poll,
    PostType,
    Published,
)


def as_progress(published: Published) -> dict[str, Any]:
    stored: dict[str, Any] = {"id": published.id, "url": published.url}
    if published.extra:
        stored["extra"] = dict(published.extra)  # e.g. a Bluesky cid a reply must cite
    return stored


def from_progress(value: Mapping[str, Any]) -> Published:
    return Published(id=str(value["id"]), url=value.get("url"), extra=value.get("extra") or {})


def lookup_keys(account: SocialAccount) -> list[str]:
    """Keys that address this account in per-platform maps (persona first for sandbox)."""
    keys = [account.platform]
    persona = (account.settings or {}).get("persona")
    if account.platform == "sandbox" and persona:
        keys.insert(0, str(persona))
    return keys


def per_platform(mapping: Mapping[str, Any] | None, account: SocialAccount) -> Any:
    if not mapping:
        return None
    for key in lookup_keys(account):
        if key in mapping:
            return mapping[key]
        if key == "x" and "twitter" in mapping:
            return mapping["twitter"]
    return None


def media_info(media: Media, url: str | None = None) -> MediaInfo:
    return MediaInfo(
        id=media.id,
        kind=MediaKind(media.kind or "image"),
        content_type=media.content_type,
        size=media.size,
        width=media.width,
        height=media.height,
        duration_ms=media.duration_ms,
        filename=media.filename,
        url=url,
    )


@dataclass
class Step:
    name: str
    stage: str
    outgoing: Outgoing
    optional: bool = False
    parent: str | None = None

    def bind(self, done: Mapping[str, Any]) -> None:
        """Point a reply at the platform ids its earlier steps got."""
        if self.parent is None:
            return
        parent = done.get(self.parent)
        root = done.get("main")
        self.outgoing = replace(
            self.outgoing,
            reply_to=from_progress(parent) if parent else None,
            root=from_progress(root) if root else None,
        )

    async def call(self, adapter: Any, credentials: Credentials) -> Published:
        if self.name == "comment":
            result: Published = await adapter.comment(credentials, self.outgoing)
        else:
            result = await adapter.publish(credentials, self.outgoing)
        return result


def _platform_options(post: Post, account: SocialAccount) -> BaseModel | None:
    raw = post.options.get("platformOptions")
    if not raw:
        return None
    from polypost.platforms.options import parse_platform_options

    parsed = parse_platform_options(raw)
    for key in lookup_keys(account):
        if key in parsed:
            model: BaseModel = parsed[key]
            return model
    return None


def build_steps(
    target: PostTarget,
    post: Post,
    account: SocialAccount,
    media: Mapping[str, Media],
    urls: Mapping[str, str] | None = None,
) -> list[Step]:
    """The steps of one target; `urls` are where adapters fetch each media file's bytes."""
    options = post.options or {}
    urls = urls or {}

    def info(media_id: str) -> MediaInfo:
        return media_info(media[media_id], urls.get(media_id))

    def infos(ids: list[str] | None) -> tuple[MediaInfo, ...]:
        return tuple(info(i) for i in ids or [] if i in media)

    text = per_platform(options.get("platformContent"), account)
    if text is None:
        text = post.content or ""
    article = options.get("article")
    poll = options.get("poll")
    cover_id = options.get("coverMediaId")
    base = Outgoing(
        target_id=target.id,
        key=f"{target.id}:main",
        post_type=PostType(post.post_type),
        text=text,
        media=infos(post.media_ids),
        link=options.get("link"),
        article=Article(**_snake(article)) if article else None,
        options=_platform_options(post, account),
        poll=(
            Poll(options=tuple(poll["options"]), duration_minutes=poll.get("durationMinutes"))
            if poll
            else None
        ),
        alt_texts=dict(options.get("altText") or {}),
        cover=info(cover_id) if cover_id and cover_id in media else None,
        cover_offset_ms=options.get("coverOffsetMs"),
        document_title=options.get("documentTitle"),
    )
    steps: list[Step] = []
    thread = options.get("thread") or []
    if thread:
        segments = [{"text": text, "mediaIds": post.media_ids}] if text else []
        segments += thread
        first = segments[0]
        steps.append(
            Step(
                "main",
                "publishing",
                replace(base, text=first.get("text", ""), media=infos(first.get("mediaIds"))),
            )
        )
        previous = "main"
        for index, segment in enumerate(segments[1:], start=1):
            name = f"segment:{index}"
            steps.append(
                Step(
                    name,
                    f"publishing thread {index + 1}/{len(segments)}",
                    replace(
                        base,
                        key=f"{target.id}:{name}",
                        text=segment.get("text", ""),
                        media=infos(segment.get("mediaIds")),
                        link=None,
                        poll=None,
                    ),
                    parent=previous,
                )
            )
            previous = name
    else:
        steps.append(Step("main", "publishing", base))
    comment = options.get("firstComment")
    if comment:
        steps.append(
            Step(
                "comment",
                "posting first comment",
                replace(base, key=f"{target.id}:comment", text=comment, media=(), poll=None),
                optional=True,
                parent="main",
            )
        )
    return steps


def _snake(article: Mapping[str, Any]) -> dict[str, Any]:
    return {k: article.get(k) for k in ("url", "title", "description")}
