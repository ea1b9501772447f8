"""A TikTok creator's posting settings, and the checks a post must pass against them.

`POST /v2/post/publish/creator_info/query/` (tiktok.md §2) says which privacy levels the
creator may use (private accounts have no `PUBLIC_TO_EVERYONE`), whether comments,
duets and stitches are switched off for them, and their longest allowed video. TikTok's
content-sharing guidelines make it the first call before a Direct Post, and a post that
ignores it is refused (`privacy_level_option_mismatch`, `duration_check_failed`).

The checks run twice: when a post is created (`TikTokAdapter.validate_account`, so the
client gets a 422 naming the rule) and again right before publishing, because a
creator's settings can change between scheduling and publishing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from polypost.platforms.base import MediaInfo, MediaKind, PostType
from polypost.platforms.options import TikTokOptions
from polypost.posts.types import ProblemCode

# tiktok.md §2: the four privacy levels; photo posts ignore duet and stitch.
PRIVACY_LEVELS = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY")
# tiktok.md §3 video "360-4096 px per side"; photos "shorter side must be ≤1080 px"
# (observed: one 1086x1448 image fails the whole carousel) and seed 001 "≤1920px".
VIDEO_MIN_SIDE = 360
VIDEO_MAX_SIDE = 4096
PHOTO_MAX_SHORT_SIDE = 1080
PHOTO_MAX_LONG_SIDE = 1920


@dataclass(frozen=True)
class CreatorInfo:
    username: str | None
    nickname: str | None
    avatar_url: str | None
    privacy_level_options: tuple[str, ...]
    comment_disabled: bool
    duet_disabled: bool
    stitch_disabled: bool
    max_video_post_duration_sec: int | None

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> CreatorInfo:
        """The `data` object of creator_info/query (or a cached `as_json`)."""
        duration = data.get("max_video_post_duration_sec")
        return cls(
            username=data.get("creator_username"),
            nickname=data.get("creator_nickname"),
            avatar_url=data.get("creator_avatar_url"),
            privacy_level_options=tuple(str(p) for p in data.get("privacy_level_options") or []),
            comment_disabled=bool(data.get("comment_disabled")),
            duet_disabled=bool(data.get("duet_disabled")),
            stitch_disabled=bool(data.get("stitch_disabled")),
            max_video_post_duration_sec=int(duration) if isinstance(duration, int) else None,
        )

    def as_json(self) -> dict[str, Any]:
        """The same shape TikTok answers with, for caching."""
        raw = asdict(self)
        return {
            "creator_username": raw["username"],
            "creator_nickname": raw["nickname"],
            "creator_avatar_url": raw["avatar_url"],
            "privacy_level_options": list(self.privacy_level_options),
            "comment_disabled": self.comment_disabled,
            "duet_disabled": self.duet_disabled,
            "stitch_disabled": self.stitch_disabled,
            "max_video_post_duration_sec": self.max_video_post_duration_sec,
        }


@dataclass(frozen=True)
class Violation:
    """One rule a TikTok post breaks; validation adds the account and platform."""

    code: ProblemCode
    rule: str
    limit: int | None
    actual: int | None
    message: str


def options_of(value: object) -> TikTokOptions:
    return value if isinstance(value, TikTokOptions) else TikTokOptions()


def is_inbox(options: TikTokOptions) -> bool:
    """`postMode: MEDIA_UPLOAD` sends the post to the creator's inbox as a draft; the
    creator picks privacy and toggles in the app (tiktok.md §2)."""
    return options.post_mode == "MEDIA_UPLOAD"


def is_photo(post_type: PostType, media: tuple[MediaInfo, ...] | list[MediaInfo]) -> bool:
    return post_type in (PostType.IMAGE, PostType.CAROUSEL) or any(
        item.kind is MediaKind.IMAGE for item in media
    )


def media_violations(post_type: PostType, media: list[MediaInfo]) -> list[Violation]:
    """Dimension rules TikTok applies to the files themselves (no creator needed)."""
    found: list[Violation] = []
    for item in media:
        if not item.width or not item.height:
            continue
        short, long = sorted((item.width, item.height))
        if item.kind is MediaKind.VIDEO and (short < VIDEO_MIN_SIDE or long > VIDEO_MAX_SIDE):
            found.append(
                Violation(
                    "media_invalid",
                    "video_dimensions_invalid",
                    VIDEO_MIN_SIDE if short < VIDEO_MIN_SIDE else VIDEO_MAX_SIDE,
                    short if short < VIDEO_MIN_SIDE else long,
                    f"video {item.id} is {item.width}x{item.height}; TikTok needs "
                    f"{VIDEO_MIN_SIDE}-{VIDEO_MAX_SIDE} px per side.",
                )
            )
        elif item.kind is MediaKind.IMAGE and (
            short > PHOTO_MAX_SHORT_SIDE or long > PHOTO_MAX_LONG_SIDE
        ):
            too_short = short > PHOTO_MAX_SHORT_SIDE
            found.append(
                Violation(
                    "media_invalid",
                    "photo_too_large",
                    PHOTO_MAX_SHORT_SIDE if too_short else PHOTO_MAX_LONG_SIDE,
                    short if too_short else long,
                    f"image {item.id} is {item.width}x{item.height}; TikTok photos must be at "
                    f"most {PHOTO_MAX_SHORT_SIDE} px on the shorter side and "
                    f"{PHOTO_MAX_LONG_SIDE} px on the longer (one larger image fails the "
                    "whole post).",
                )
            )
    return found


def option_violations(options: TikTokOptions, photo: bool) -> list[Violation]:
    """A Direct Post needs a privacy level the user chose (the guidelines forbid a
    default); an inbox draft leaves it to the creator."""
    if is_inbox(options) or options.privacy_level is not None:
        return []
    what = "photo post" if photo else "video"
    return [
        Violation(
            "content_invalid",
            "privacy_level_required",
            None,
            None,
            f"a TikTok {what} needs platformOptions.tiktok.privacyLevel (one of the "
            "creator's privacyLevelOptions from GET /v1/accounts/{id}/creator-info).",
        )
    ]


def creator_violations(
    info: CreatorInfo, options: TikTokOptions, media: list[MediaInfo], photo: bool
) -> list[Violation]:
    """What the creator's current settings refuse."""
    found: list[Violation] = []
    if not is_inbox(options):
        level = options.privacy_level
        if (
            level is not None
            and info.privacy_level_options
            and (level not in info.privacy_level_options)
        ):
            found.append(
                Violation(
                    "content_invalid",
                    "privacy_level_not_allowed",
                    None,
                    None,
                    f"privacyLevel {level} is not available to this creator; choose one of "
                    f"{', '.join(info.privacy_level_options)}.",
                )
            )
        toggles = [("disableComment", options.disable_comment, info.comment_disabled, "comments")]
        if not photo:
            toggles += [
                ("disableDuet", options.disable_duet, info.duet_disabled, "duets"),
                ("disableStitch", options.disable_stitch, info.stitch_disabled, "stitches"),
            ]
        for name, wanted, disabled, noun in toggles:
            if disabled and wanted is False:
                found.append(
                    Violation(
                        "content_invalid",
                        "interaction_disabled_by_creator",
                        None,
                        None,
                        f"{name}: false is not possible; the creator has turned {noun} off.",
                    )
                )
    limit = info.max_video_post_duration_sec
    if limit:
        for item in media:
            if (
                item.kind is MediaKind.VIDEO
                and item.duration_ms
                and item.duration_ms > limit * 1000
            ):
                found.append(
                    Violation(
                        "media_invalid",
                        "video_too_long",
                        limit * 1000,
                        item.duration_ms,
                        f"video {item.id} is {item.duration_ms} ms; this creator may post at "
                        f"most {limit} s.",
                    )
                )
    return found


def interaction_flags(info: CreatorInfo | None, options: TikTokOptions) -> dict[str, bool]:
    """`disable_*` as sent: the client's choice, forced on where the creator has the
    interaction off (the guidelines show those toggles disabled)."""

    def flag(wanted: bool | None, disabled: bool) -> bool:
        return True if disabled else bool(wanted)

    return {
        "disable_comment": flag(options.disable_comment, bool(info and info.comment_disabled)),
        "disable_duet": flag(options.disable_duet, bool(info and info.duet_disabled)),
        "disable_stitch": flag(options.disable_stitch, bool(info and info.stitch_disabled)),
    }
