"""Strict `platformOptions`: one model per platform, unknown names refused.

`platformOptions` carries what exists on one platform only (TikTok privacy, a Facebook
Reel, a YouTube title). It is strict, as seed 002 makes it: an unknown platform key or
option name is a 400 naming it, never silently dropped, because a typo such as
`firstComent` would otherwise publish a post without what the client asked for.
Option names are the platforms' own fields in camelCase (see shared/platforms/*.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from polypost.core.schemas import ApiInput
from polypost.platforms.base import Platform

HttpUrl = Annotated[str, StringConstraints(max_length=2048, pattern=r"^https?://\S+$")]
Digits = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,32}$")]
MAX_SANDBOX_OPTIONS_BYTES = 16 * 1024


class PlatformOptions(ApiInput):
    """Base of every platform's options: camelCase, unknown names refused."""


class XOptions(PlatformOptions):
    # x.md §2 request body fields of POST /2/tweets.
    reply_settings: Literal["following", "mentionedUsers", "subscribers", "verified"] | None = None
    quote_tweet_id: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,19}$")] | None = None
    community_id: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,19}$")] | None = None
    tagged_user_ids: list[Annotated[str, StringConstraints(pattern=r"^[0-9]{1,19}$")]] | None = (
        Field(default=None, max_length=10)
    )
    made_with_ai: bool | None = None
    paid_partnership: bool | None = None


class InstagramUserTag(PlatformOptions):
    username: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._]{1,30}$")]
    x: float | None = Field(default=None, ge=0, le=1)
    y: float | None = Field(default=None, ge=0, le=1)


class InstagramOptions(PlatformOptions):
    # instagram.md §2: reel and container parameters.
    share_to_feed: bool | None = None
    collaborators: (
        list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._]{1,30}$")]] | None
    ) = Field(default=None, max_length=3)
    location_id: Digits | None = None
    user_tags: list[InstagramUserTag] | None = Field(default=None, max_length=20)
    first_comment: str | None = Field(default=None, max_length=2200)
    thumb_offset_ms: int | None = Field(default=None, ge=0, le=15 * 60 * 1000)
    audio_name: str | None = Field(default=None, max_length=255)
    trial_graduation: Literal["MANUAL", "SS_PERFORMANCE"] | None = None


class FacebookOptions(PlatformOptions):
    # facebook.md §2; seed 002 `as_reel`, `first_comment`.
    as_reel: bool | None = None
    first_comment: str | None = Field(default=None, max_length=8000)
    title: str | None = Field(default=None, max_length=255)


TikTokPrivacy = Literal[
    "PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"
]


class TikTokOptions(PlatformOptions):
    # tiktok.md §2 `post_info` of video/photo init.
    privacy_level: TikTokPrivacy | None = None
    disable_comment: bool | None = None
    disable_duet: bool | None = None
    disable_stitch: bool | None = None
    brand_content_toggle: bool | None = None
    brand_organic_toggle: bool | None = None
    auto_add_music: bool | None = None
    is_aigc: bool | None = None
    video_cover_timestamp_ms: int | None = Field(default=None, ge=0)
    title: str | None = Field(default=None, max_length=90)  # photo posts: "title ≤90"
    photo_cover_index: int | None = Field(default=None, ge=0, le=34)
    post_mode: Literal["DIRECT_POST", "MEDIA_UPLOAD"] | None = None

    @model_validator(mode="after")
    def _branded_is_public(self) -> Self:
        # tiktok.md §2 "branded content can't be `SELF_ONLY`".
        if self.brand_content_toggle and self.privacy_level == "SELF_ONLY":
            raise ValueError("brandContentToggle cannot be used with privacyLevel SELF_ONLY")
        return self


YouTubeTitle = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^<>]*$")]


class YouTubeOptions(PlatformOptions):
    # youtube.md §2: title ≤100 characters, no < >; description ≤5000 bytes; tags ≤500
    # characters in total; privacy public|unlisted|private.
    title: YouTubeTitle | None = None
    description: Annotated[str, StringConstraints(pattern=r"^[^<>]*$")] | None = None
    tags: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] | None = Field(
        default=None, max_length=100
    )
    category_id: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,3}$")] | None = None
    privacy_status: Literal["public", "unlisted", "private"] | None = None
    # Seed 001 "Privacy is set with ytPrivacy (public / unlisted / private)".
    yt_privacy: Literal["public", "unlisted", "private"] | None = None
    made_for_kids: bool | None = None
    thumbnail_media_id: str | None = Field(default=None, max_length=64)
    notify_subscribers: bool | None = None

    @model_validator(mode="after")
    def _youtube_limits(self) -> Self:
        if self.description is not None and len(self.description.encode("utf-8")) > 5000:
            raise ValueError("description is limited to 5000 UTF-8 bytes")
        if self.tags is not None and sum(len(tag) for tag in self.tags) > 500:
            raise ValueError("tags are limited to 500 characters in total")
        if self.yt_privacy and self.privacy_status and self.yt_privacy != self.privacy_status:
            raise ValueError("ytPrivacy and privacyStatus disagree; send one of them")
        return self


class PinterestOptions(PlatformOptions):
    # pinterest.md §2/§4: board_id digits; title ≤100, description ≤800, alt text ≤500.
    board_id: Digits | None = None
    board_section_id: Digits | None = None
    title: str | None = Field(default=None, max_length=100)
    description: str | None = Field(default=None, max_length=800)
    alt_text: str | None = Field(default=None, max_length=500)
    link: HttpUrl | None = None


class LinkedInOptions(PlatformOptions):
    # linkedin.md §2: visibility, author organization, reshare flag.
    visibility: Literal["PUBLIC", "CONNECTIONS", "LOGGED_IN"] | None = None
    organization_urn: (
        Annotated[str, StringConstraints(pattern=r"^urn:li:organization:[0-9]{1,20}$")] | None
    ) = None
    disable_reshare: bool | None = None


class ThreadsOptions(PlatformOptions):
    # threads.md §2 "Other params" and §4 topic tags ("1-50 chars, no `.` or `&`").
    reply_control: (
        Literal[
            "everyone",
            "accounts_you_follow",
            "mentioned_only",
            "parent_post_author_only",
            "followers_only",
        ]
        | None
    ) = None
    topic_tag: Annotated[str, StringConstraints(pattern=r"^[^.&#\s]{1,50}$")] | None = None
    quote_post_id: Digits | None = None
    location_id: str | None = Field(default=None, max_length=64)


class BlueskyOptions(PlatformOptions):
    # bluesky.md §4 "`langs` ≤3; `tags` ≤8"; self-labels of com.atproto.label.defs.
    langs: (
        list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")]]
        | None
    ) = Field(default=None, max_length=3)
    labels: list[Literal["sexual", "nudity", "porn", "graphic-media"]] | None = Field(
        default=None, max_length=4
    )
    tags: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] | None = Field(
        default=None, max_length=8
    )


class MastodonOptions(PlatformOptions):
    # mastodon.md §2 status fields.
    visibility: Literal["public", "unlisted", "private", "direct"] | None = None
    spoiler_text: str | None = Field(default=None, max_length=5000)
    sensitive: bool | None = None
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")] | None = None


class DiscordOptions(PlatformOptions):
    # discord.md §2 Execute Webhook body.
    username: str | None = Field(default=None, min_length=1, max_length=80)
    avatar_url: HttpUrl | None = None
    thread_name: str | None = Field(default=None, min_length=1, max_length=100)
    # An existing thread of the webhook's channel (Execute Webhook `thread_id`).
    thread_id: Digits | None = None
    suppress_embeds: bool | None = None
    silent: bool | None = None


class SlackOptions(PlatformOptions):
    # slack.md §2 chat.postMessage fields.
    unfurl_links: bool | None = None
    unfurl_media: bool | None = None
    username: str | None = Field(default=None, min_length=1, max_length=80)
    icon_url: HttpUrl | None = None
    icon_emoji: Annotated[str, StringConstraints(pattern=r"^:[a-z0-9_+\-]{1,64}:$")] | None = None


class TelegramOptions(PlatformOptions):
    # telegram.md §2 "Common params".
    parse_mode: Literal["HTML", "MarkdownV2", "Markdown"] | None = None
    disable_notification: bool | None = None
    protect_content: bool | None = None
    disable_web_page_preview: bool | None = None
    message_thread_id: int | None = Field(default=None, ge=1)


class SandboxOptions(BaseModel):
    """The sandbox takes any options (it records them in its ledger), up to 16 KiB."""

    model_config = ConfigDict(extra="allow")

    @model_validator(mode="before")
    @classmethod
    def _bounded(cls, data: Any) -> Any:
        if len(json.dumps(data, default=str)) > MAX_SANDBOX_OPTIONS_BYTES:
            raise ValueError(f"sandbox options are limited to {MAX_SANDBOX_OPTIONS_BYTES} bytes")
        return data


OPTIONS_MODELS: Mapping[Platform, type[BaseModel]] = {
    Platform.X: XOptions,
    Platform.INSTAGRAM: InstagramOptions,
    Platform.FACEBOOK: FacebookOptions,
    Platform.LINKEDIN: LinkedInOptions,
    Platform.TIKTOK: TikTokOptions,
    Platform.THREADS: ThreadsOptions,
    Platform.PINTEREST: PinterestOptions,
    Platform.YOUTUBE: YouTubeOptions,
    Platform.BLUESKY: BlueskyOptions,
    Platform.MASTODON: MastodonOptions,
    Platform.DISCORD: DiscordOptions,
    Platform.SLACK: SlackOptions,
    Platform.TELEGRAM: TelegramOptions,
    Platform.SANDBOX: SandboxOptions,
}


class PlatformOptionsError(ValueError):
    """An unknown platform key or option, or an invalid value.

    `path` is relative to `platformOptions` ("tiktok.privacyLevel"); `fields` lists
    every error as the API's 400 details do (`{"field", "message", "type"}`).
    """

    def __init__(self, path: str, message: str, fields: list[dict[str, str]] | None = None):
        super().__init__(message)
        self.path = path
        self.message = message
        self.fields = fields or [
            {"field": f"platformOptions.{path}", "message": message, "type": "invalid"}
        ]


def _path(key: str, loc: tuple[int | str, ...]) -> str:
    path = key
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def parse_platform_options(raw: Mapping[str, Any]) -> dict[str, BaseModel]:
    """Parse `platformOptions` into one model per platform, keyed by platform id.

    "twitter" is accepted for "x" (seed 001 keys by it).

    Raises:
        PlatformOptionsError: unknown platform, the same platform twice, unknown option
            name or invalid value; `path` names the first offender.
    """
    parsed: dict[str, BaseModel] = {}
    sources: dict[str, str] = {}
    for key, value in raw.items():
        try:
            platform = Platform(key)
        except ValueError:
            raise PlatformOptionsError(
                key, f"Unknown platform '{key}' in platformOptions."
            ) from None
        if platform.value in parsed:
            raise PlatformOptionsError(
                key,
                f"Options for {platform.value} given twice ('{sources[platform.value]}', '{key}').",
            )
        if not isinstance(value, Mapping):
            raise PlatformOptionsError(key, f"platformOptions.{key} must be an object.")
        model = OPTIONS_MODELS[platform]
        try:
            parsed[platform.value] = model.model_validate(dict(value))
        except ValidationError as exc:
            fields = []
            for error in exc.errors():
                loc = tuple(error.get("loc", ()))
                path = _path(key, loc)
                if error["type"] == "extra_forbidden":
                    message = f"Unknown option '{path}' for {platform.value}."
                else:
                    reason = str(error["msg"]).removeprefix("Value error, ")
                    message = f"Invalid {path}: {reason}."
                fields.append(
                    {"field": f"platformOptions.{path}", "message": message, "type": error["type"]}
                )
            first = fields[0]
            raise PlatformOptionsError(
                first["field"].removeprefix("platformOptions."), first["message"], fields
            ) from None
        sources[platform.value] = key
    return parsed
