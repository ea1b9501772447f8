"""Post types: which one a body means, and what media each type takes.

The media rules are seed 001's "Post types" table; a platform narrows them through its
capabilities (Pinterest carousels stop at 5, X mixes no video into a carousel).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from polypost.platforms.base import Capabilities, MediaInfo, MediaKind, PostType

ProblemCode = Literal["content_invalid", "post_type_invalid", "media_invalid"]

_VISUAL = frozenset({MediaKind.IMAGE, MediaKind.GIF})
_ANY = frozenset(MediaKind)


@dataclass(frozen=True)
class TypeMedia:
    """How many media of which kinds a post type takes (seed 001 "Post types").

    `max_media` None means the platform's `carousel_max` (or `segment_max_media` for a
    thread's root post)."""

    min_media: int
    max_media: int | None
    kinds: frozenset[MediaKind]


TYPE_MEDIA: dict[PostType, TypeMedia] = {
    PostType.TEXT: TypeMedia(0, 0, frozenset()),  # "none"
    PostType.IMAGE: TypeMedia(1, 1, _VISUAL),  # "1 | A single image"
    PostType.CAROUSEL: TypeMedia(2, None, _ANY),  # "2-10 | Multi-image"
    PostType.VIDEO: TypeMedia(1, 1, frozenset({MediaKind.VIDEO})),  # "1 video"
    PostType.REEL: TypeMedia(1, 1, frozenset({MediaKind.VIDEO})),  # "1 video"
    PostType.STORY: TypeMedia(1, 1, _VISUAL | {MediaKind.VIDEO}),  # "1"
    PostType.THREAD: TypeMedia(0, None, _ANY),  # "per segment"
    PostType.ARTICLE: TypeMedia(0, 0, frozenset()),  # "none"
    PostType.DOCUMENT: TypeMedia(1, 1, frozenset({MediaKind.DOCUMENT})),  # "1 PDF"
    PostType.POLL: TypeMedia(0, 0, frozenset()),
}


def _kind(item: MediaInfo | MediaKind) -> MediaKind:
    return item if isinstance(item, MediaKind) else item.kind


def detect_post_type(
    media: Iterable[MediaInfo | MediaKind],
    thread: Sequence[object] | None = None,
    article: object | None = None,
    poll: object | None = None,
    link: str | None = None,
) -> PostType:
    """The post type a body means when it names none (seed 001: "auto-detected").

    A thread, poll or article decides the type; otherwise the media do: none → text,
    a PDF → document, one video → video, one image → image, two or more → carousel.
    A bare `link` keeps the type (a Pinterest pin's destination, or the platform's own
    link preview on a text post).
    """
    del link  # named so callers pass the whole body; a link alone never changes the type
    kinds = [_kind(item) for item in media]
    if thread:
        return PostType.THREAD
    if poll is not None:
        return PostType.POLL
    if article is not None:
        return PostType.ARTICLE
    if not kinds:
        return PostType.TEXT
    if MediaKind.DOCUMENT in kinds:
        return PostType.DOCUMENT
    if len(kinds) == 1:
        return PostType.VIDEO if kinds[0] is MediaKind.VIDEO else PostType.IMAGE
    return PostType.CAROUSEL


@dataclass(frozen=True)
class TypeViolation:
    """Media that does not fit the post type; validation adds account and platform."""

    code: ProblemCode
    rule: str
    limit: int | None
    actual: int | None
    message: str


def media_bounds(post_type: PostType, caps: Capabilities) -> tuple[int, int]:
    """(min, max) media count of `post_type` on a platform."""
    shape = TYPE_MEDIA[post_type]
    if post_type is PostType.POLL and caps.polls is not None and caps.polls.with_media:
        return 0, caps.max_media
    if shape.max_media is not None:
        return shape.min_media, shape.max_media
    if post_type is PostType.THREAD:
        return 0, caps.segment_max_media
    return max(shape.min_media, caps.carousel_min), caps.carousel_max


def check_media_for_type(
    post_type: PostType, media: Sequence[MediaInfo | MediaKind], caps: Capabilities
) -> list[TypeViolation]:
    """Violations of the post type's media rules on this platform.

    A count or kind that contradicts the type itself ("carousel" with one image, a video
    in an "image" post) is `post_type_invalid`; one the type allows but the platform
    does not (a sixth Pinterest carousel image, a video in an X carousel) is
    `media_invalid`.
    """
    kinds = [_kind(item) for item in media]
    shape = TYPE_MEDIA[post_type]
    low, high = media_bounds(post_type, caps)
    count = len(kinds)
    found: list[TypeViolation] = []
    if high == 0 and count:
        found.append(
            TypeViolation(
                "post_type_invalid",
                "media_not_allowed",
                0,
                count,
                f"A {post_type} post takes no media; {count} attached.",
            )
        )
        return found
    if shape.max_media == 1 and count != 1:
        found.append(
            TypeViolation(
                "post_type_invalid",
                "media_count_mismatch",
                1,
                count,
                f"A {post_type} post takes exactly 1 media item; {count} attached.",
            )
        )
    elif count < low:
        found.append(
            TypeViolation(
                "post_type_invalid",
                "too_few_media",
                low,
                count,
                f"A {post_type} post needs at least {low} media items; {count} attached.",
            )
        )
    elif count > high:
        found.append(
            TypeViolation(
                "media_invalid",
                "too_many_media",
                high,
                count,
                f"At most {high} media items per {post_type} post here; {count} attached.",
            )
        )
    type_kinds = shape.kinds
    if post_type is PostType.POLL and caps.polls is not None and caps.polls.with_media:
        type_kinds = _ANY
    if post_type is PostType.CAROUSEL:
        platform_kinds = caps.carousel_kinds & caps.media_kinds
    else:
        platform_kinds = caps.media_kinds
    for kind in dict.fromkeys(kinds):
        if kind not in type_kinds:
            found.append(
                TypeViolation(
                    "post_type_invalid",
                    "media_kind_mismatch",
                    None,
                    None,
                    f"A {post_type} post cannot carry {kind} media.",
                )
            )
        elif kind not in platform_kinds:
            found.append(
                TypeViolation(
                    "media_invalid",
                    "media_kind_not_supported",
                    None,
                    None,
                    f"{kind.capitalize()} media is not supported in a {post_type} post here.",
                )
            )
    return found
