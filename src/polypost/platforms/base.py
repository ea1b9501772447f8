"""The one interface every platform adapter implements, and the vocabulary around it.

Nothing here talks HTTP. `posts/validation.py` reads only `Capabilities`; `posts/jobs.py`
calls `Adapter` methods and applies one retry policy per `PlatformError.kind`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from polypost.posts.counting import grapheme_count

if TYPE_CHECKING:
    import httpx
    from pydantic import BaseModel

    from polypost.platforms.connect import AppCredentials


class Platform(StrEnum):
    """Platform ids as stored on accounts and used as keys in request bodies.

    `Platform("twitter")` is `Platform.X`: seed 001 keys `platformSchedules` by "twitter",
    so every body keyed by platform accepts that name too.
    """

    X = "x"
    INSTAGRAM = "instagram"
    FACEBOOK = "facebook"
    LINKEDIN = "linkedin"
    TIKTOK = "tiktok"
    THREADS = "threads"
    PINTEREST = "pinterest"
    YOUTUBE = "youtube"
    BLUESKY = "bluesky"
    MASTODON = "mastodon"
    DISCORD = "discord"
    SLACK = "slack"
    TELEGRAM = "telegram"
    SANDBOX = "sandbox"

    @classmethod
    def _missing_(cls, value: object) -> Platform | None:
        # Seed 001 keys `platformSchedules` by "twitter"; clients may also send "X".
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered == "twitter":
                return cls.X
            for member in cls:
                if member.value == lowered:
                    return member
        return None


class PostType(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    CAROUSEL = "carousel"
    VIDEO = "video"
    REEL = "reel"
    STORY = "story"
    THREAD = "thread"
    ARTICLE = "article"
    DOCUMENT = "document"
    POLL = "poll"


class MediaKind(StrEnum):
    IMAGE = "image"
    GIF = "gif"
    VIDEO = "video"
    DOCUMENT = "document"


# --- errors ---------------------------------------------------------------------------

ErrorKind = Literal["auth_expired", "rate_limited", "transient", "permanent"]
RecoveryMode = Literal["idempotency_key", "lookup", "none"]


class PlatformError(Exception):
    """Every adapter failure; posts/jobs.py applies one policy per `kind`.

    `code` is the platform's own error code or name when it has one (for support and for
    the target's error). `retry_at` is when a rate limit lifts, if the platform said.
    `maybe_sent` is True when the request may have reached the platform (a timeout after
    the body was sent): the job must then check before publishing again.
    """

    kind: ClassVar[ErrorKind]

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        retry_at: datetime | None = None,
        maybe_sent: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retry_at = retry_at
        self.maybe_sent = maybe_sent

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code!r})"


class AuthExpired(PlatformError):
    """The token is expired or revoked: mark the account expired, don't retry."""

    kind = "auth_expired"


class RateLimited(PlatformError):
    """Retry no earlier than `retry_at` (or a backoff when the platform did not say)."""

    kind = "rate_limited"


class Transient(PlatformError):
    """A 5xx or network failure; retry with backoff unless `maybe_sent`."""

    kind = "transient"


class Pending(Exception):
    """The platform is still working (a container processing, an upload transcoding).

    Raised by `publish` instead of waiting: the job records `state`, frees the worker, and
    calls `publish` again after `retry_in` with `post.resume` set to `state`, showing
    `stage` (e.g. "processing") on the target meanwhile. The adapter owns its deadline:
    it raises a PlatformError once processing has taken too long.
    """

    def __init__(self, stage: str, state: Mapping[str, Any], retry_in: timedelta) -> None:
        super().__init__(stage)
        self.stage = stage
        self.state = dict(state)
        self.retry_in = retry_in


class Permanent(PlatformError):
    """The platform refused the content or request; retrying cannot help."""

    kind = "permanent"


# --- capabilities ---------------------------------------------------------------------


@dataclass(frozen=True)
class PollRules:
    """What a platform accepts as a poll. Durations are minutes; `question_limit` caps
    the post text when it becomes the poll question (Telegram, Discord)."""

    min_options: int = 2
    max_options: int = 4
    max_option_length: int | None = None
    question_limit: int | None = None
    min_duration_minutes: int | None = None
    max_duration_minutes: int | None = None
    duration_step_minutes: int = 1
    allowed_durations: frozenset[int] = frozenset()
    with_media: bool = False

    @property
    def has_duration(self) -> bool:
        """False when the platform fixes the duration itself (a given one is ignored)."""
        return bool(self.allowed_durations) or self.max_duration_minutes is not None


@dataclass(frozen=True)
class Capabilities:
    """What a platform accepts, as validation enforces it before anything is stored.

    Limits are the platform's documented ones (each table in capabilities.py cites its
    source). `None` means the platform documents no limit Polypost can check.
    """

    post_types: frozenset[PostType]
    text_limit: int
    count_text: Callable[[str], int] = grapheme_count
    text_unit: str = "characters"
    # Bluesky also caps text at 3,000 UTF-8 bytes.
    text_limit_bytes: int | None = None
    # A post type whose text goes elsewhere (TikTok photo description: 4,000).
    type_text_limits: Mapping[PostType, int] = field(default_factory=dict)
    # Telegram: text with media is a caption, 1,024 instead of 4,096.
    caption_limit: int | None = None
    # Mastodon counts the content warning toward the limit.
    counts_spoiler_text: bool = False
    text_required: bool = False
    max_media: int = 0
    media_kinds: frozenset[MediaKind] = frozenset()
    # Per-kind caps inside `max_media` (X: 4 images, or 1 GIF, or 1 video).
    max_media_per_kind: Mapping[MediaKind, int] = field(default_factory=dict)
    mixed_media: bool = True
    media_required: bool = False
    carousel_min: int = 2
    carousel_max: int = 10
    carousel_kinds: frozenset[MediaKind] = frozenset({MediaKind.IMAGE})
    threads: bool = False
    max_thread_segments: int = 0
    segment_max_media: int = 0
    edit: bool = False
    delete: bool = False
    media_max_bytes: Mapping[MediaKind, int] = field(default_factory=dict)
    video_min_duration_ms: int | None = None
    video_max_duration_ms: int | None = None
    # (min_ms, max_ms) for a post type with its own limits (Facebook reels 3-90 s).
    type_video_durations: Mapping[PostType, tuple[int, int]] = field(default_factory=dict)
    # Accepted image MIME types; empty means any image.
    image_content_types: frozenset[str] = frozenset()
    # (min, max) width/height ratio of feed images (Instagram 4:5 to 1.91:1).
    feed_image_aspect: tuple[float, float] | None = None
    first_comment: bool = False
    first_comment_limit: int | None = None
    polls: PollRules | None = None
    link: bool = False
    alt_text_limit: int | None = None
    cover: bool = False
    max_hashtags: int | None = None
    max_mentions: int | None = None
    max_links: int | None = None
    native_listing: bool = False
    metrics: bool = False

    @property
    def image_max_bytes(self) -> int | None:
        return self.media_max_bytes.get(MediaKind.IMAGE)

    @property
    def video_max_bytes(self) -> int | None:
        return self.media_max_bytes.get(MediaKind.VIDEO)

    def text_limit_for(self, post_type: PostType) -> int:
        return self.type_text_limits.get(post_type, self.text_limit)


# --- what adapters receive and return -------------------------------------------------


@dataclass(frozen=True)
class MediaInfo:
    """One uploaded media file as validation and adapters see it.

    `url` is where an adapter fetches the bytes (a presigned or signed URL); None in
    validation, which needs only the measured facts."""

    id: str
    kind: MediaKind
    content_type: str
    size: int | None = None
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None
    url: str | None = None
    filename: str | None = None


@dataclass(frozen=True)
class Segment:
    """One post of a thread as a body gives it (`thread[]` items)."""

    text: str
    media: tuple[MediaInfo, ...] = ()


@dataclass(frozen=True)
class Article:
    url: str
    title: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class Poll:
    options: tuple[str, ...]
    duration_minutes: int | None = None


@dataclass(frozen=True)
class Credentials:
    """A connected account with its decrypted tokens, for one adapter call."""

    account_id: str
    platform: Platform
    external_id: str
    access_token: str | None = None
    refresh_token: str | None = None
    token_expires_at: datetime | None = None
    handle: str | None = None
    base_url: str | None = None  # Mastodon instance, Bluesky PDS
    settings: Mapping[str, Any] = field(default_factory=dict)
    # The developer app (BYOK or server-wide) for token refreshes; set by accounts/tokens.py.
    app: AppCredentials | None = None

    def url(self, path: str) -> str:
        """`path` on the account's own server (Mastodon instance, Bluesky PDS).

        Raises:
            ValueError: the account has no server of its own.
        """
        if not self.base_url:
            raise ValueError(f"{self.platform} account {self.account_id} has no base URL")
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")


@dataclass(frozen=True)
class Outgoing:
    """Everything an adapter needs for one publishing step of one target.

    A target is published step by step (posts/outgoing.py): the main post, then each
    thread reply with `reply_to` (the previous post) and `root` (the first one), then
    the first comment. `key` is deterministic per step: adapters pass it as the
    platform's idempotency key where one exists (Mastodon Idempotency-Key, Discord
    nonce, Bluesky record key). `options` is the parsed `platformOptions` model for this
    platform (platforms/options.py), if any.
    """

    target_id: str
    key: str
    post_type: PostType
    text: str = ""
    media: tuple[MediaInfo, ...] = ()
    reply_to: Published | None = None
    root: Published | None = None
    # The `state` of the `Pending` this step raised last time, when the job resumes it.
    resume: Mapping[str, Any] | None = None
    link: str | None = None
    article: Article | None = None
    options: BaseModel | None = None
    first_comment: str | None = None
    poll: Poll | None = None
    alt_texts: Mapping[str, str] = field(default_factory=dict)
    cover: MediaInfo | None = None
    cover_offset_ms: int | None = None
    document_title: str | None = None


@dataclass(frozen=True)
class Published:
    """Where one step landed. `extra` holds ids a later step needs besides `id` (a
    Bluesky reply needs the parent's `cid`, a Slack reply the root `ts`)."""

    id: str
    url: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TokenSet:
    """Tokens after a refresh; a None refresh token means keep the stored one."""

    access_token: str
    refresh_token: str | None = None
    expires_at: datetime | None = None
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PostMetrics:
    """Per-post numbers; None where the platform does not report that metric."""

    collected_at: datetime
    likes: int | None = None
    comments: int | None = None
    shares: int | None = None
    impressions: int | None = None
    reach: int | None = None
    views: int | None = None
    clicks: int | None = None


@dataclass(frozen=True)
class NativePost:
    """A post read back from the platform (seed 001 "native posts")."""

    id: str
    url: str | None = None
    text: str | None = None
    created_at: datetime | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NativePostPage:
    posts: tuple[NativePost, ...]
    next_cursor: str | None = None


class Adapter(Protocol):
    """One platform behind one interface.

    Every method either returns or raises a `PlatformError` subclass; adapters never
    retry or sleep (the job does, by `kind`) and never raise anything else for a
    platform response. `PlatformHttp` (core/http.py) already maps network failures to
    `Transient` and non-2xx responses through `classify`. Operations the platform lacks
    (see `capabilities`: `edit`, `delete`, `native_listing`, `metrics`) raise
    `Permanent(code="unsupported")`; callers check the capability first.
    """

    platform: ClassVar[Platform]
    capabilities: ClassVar[Capabilities]
    # How an interrupted publish is settled (platforms/registry.py `recovery_mode`):
    # "idempotency_key" (resending `Outgoing.key` within `dedup_window` returns the
    # original), "lookup" (`find_published` can search for it) or "none".
    recovery: ClassVar[RecoveryMode]
    dedup_window: ClassVar[timedelta | None]

    def classify(self, response: httpx.Response) -> PlatformError:
        """Map a non-2xx (or 2xx-with-error-body) response to one of the four kinds."""
        ...

    async def publish(self, account: Credentials, post: Outgoing) -> Published:
        """Publish one step: a post, or a reply to `post.reply_to` in a thread.

        Raises:
            PlatformError: nothing was published, or `maybe_sent` says it may have been.
        """
        ...

    async def comment(self, account: Credentials, post: Outgoing) -> Published:
        """Post `post.text` as the first comment under `post.reply_to`."""
        ...

    async def find_published(self, account: Credentials, post: Outgoing) -> Published | None:
        """Look for a post an earlier attempt with `post.key` may have created (outcome
        unknown); None when the platform shows none. Used before publishing again."""
        ...

    async def delete(self, account: Credentials, platform_post_id: str) -> None:
        """Delete a published post; deleting an already-deleted post succeeds."""
        ...

    async def edit(self, account: Credentials, platform_post_id: str, post: Outgoing) -> Published:
        """Replace the text of a published post where the platform allows it."""
        ...

    async def metrics(self, account: Credentials, platform_post_id: str) -> PostMetrics:
        """Current engagement numbers of one post."""
        ...

    async def refresh(self, account: Credentials) -> TokenSet:
        """Exchange the refresh token for new tokens.

        Raises:
            AuthExpired: the refresh token is dead; the user must reconnect.
        """
        ...

    async def list_posts(
        self, account: Credentials, cursor: str | None = None, limit: int = 25
    ) -> NativePostPage:
        """The account's own posts as the platform lists them, newest first."""
        ...
