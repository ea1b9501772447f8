"""Validate one post target against its platform's capabilities.

`POST /v1/posts` (and `/validate`) builds one `TargetDraft` per account, with the
caption after `platformContent` and the platform's parsed `platformOptions`, calls
`validate_target` for each, and when any `Problem` comes back answers 422 with
`problems_to_details`: one top-level code and `details.targets[]` naming the account,
platform, rule, limit and actual value of every violation. Nothing here reads the
database or the network; limits come only from `Capabilities`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from polypost.platforms.base import (
    Article,
    Capabilities,
    MediaInfo,
    MediaKind,
    Platform,
    Poll,
    PostType,
    Segment,
)
from polypost.platforms.capabilities import capabilities_for
from polypost.posts.counting import distinct_links, hashtags, mentions, utf8_length
from polypost.posts.types import ProblemCode, TypeViolation, check_media_for_type

if TYPE_CHECKING:
    from pydantic import BaseModel

# The single code a 422 carries when targets fail for several reasons: the most
# structural first, since fixing the post type can make the other problems moot.
CODE_PRECEDENCE: tuple[ProblemCode, ...] = ("post_type_invalid", "media_invalid", "content_invalid")
_ASPECT_TOLERANCE = 0.01


@dataclass(frozen=True)
class TargetDraft:
    """One target as it would be published.

    `text` is the caption after `platformContent`. For a thread, `text`/`media` are the
    root post (empty when the client sent only `thread`) and `thread` the replies.
    `first_comment` is the effective one (a platform option overrides the body's).
    `options` is the platform's parsed `platformOptions` model, if any.
    """

    account_id: str
    platform: str
    post_type: PostType
    text: str = ""
    media: Sequence[MediaInfo] = ()
    thread: Sequence[Segment] = ()
    persona: str | None = None
    link: str | None = None
    article: Article | None = None
    first_comment: str | None = None
    poll: Poll | None = None
    options: BaseModel | None = None
    cover: MediaInfo | None = None
    alt_texts: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Problem:
    """One violated rule of one target. `segment` is the index in the body's `thread`."""

    code: ProblemCode
    account_id: str
    platform: str
    rule: str
    limit: int | None
    actual: int | None
    message: str
    segment: int | None = None

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "accountId": self.account_id,
            "platform": self.platform,
            "rule": self.rule,
            "limit": self.limit,
            "actual": self.actual,
            "message": self.message,
        }
        if self.segment is not None:
            body["segment"] = self.segment
        return body


def problems_to_details(problems: Iterable[Problem]) -> tuple[ProblemCode, dict[str, Any]]:
    """The 422's top-level code and `details` (`{"targets": [...]}`).

    The code is the first of `CODE_PRECEDENCE` any problem has.

    Raises:
        ValueError: `problems` is empty (nothing to reject).
    """
    listed = list(problems)
    if not listed:
        raise ValueError("no problems to report")
    codes = {problem.code for problem in listed}
    code = next(code for code in CODE_PRECEDENCE if code in codes)
    return code, {"targets": [problem.to_dict() for problem in listed]}


def problems_message(problems: Sequence[Problem]) -> str:
    """A one-line summary for the 422's `message`."""
    if len(problems) == 1:
        return problems[0].message
    accounts = len({problem.account_id for problem in problems})
    where = "1 target" if accounts == 1 else f"{accounts} targets"
    return f"{len(problems)} problems across {where}; see details.targets."


def text_for_platform(
    platform: str,
    content: str | None,
    platform_content: Mapping[str, str] | None,
    persona: str | None = None,
) -> str:
    """The caption one target publishes: its `platformContent` entry ("twitter" is x),
    else a sandbox persona's entry, else `content`."""
    overrides: dict[Platform, str] = {}
    for key, value in (platform_content or {}).items():
        try:
            overrides[Platform(key)] = value
        except ValueError:
            continue  # unknown keys are refused by the request schema, not here
    for name in (platform, persona):
        if not name:
            continue
        try:
            resolved = Platform(name)
        except ValueError:
            continue
        if resolved in overrides:
            return overrides[resolved]
    return content or ""


class _Collector:
    def __init__(self, draft: TargetDraft, caps: Capabilities) -> None:
        self.draft = draft
        self.caps = caps
        self.problems: list[Problem] = []
        self.where = draft.platform if not draft.persona else f"{draft.platform} ({draft.persona})"

    def add(
        self,
        code: ProblemCode,
        rule: str,
        limit: int | None,
        actual: int | None,
        message: str,
        segment: int | None = None,
    ) -> None:
        self.problems.append(
            Problem(
                code=code,
                account_id=self.draft.account_id,
                platform=self.draft.platform,
                rule=rule,
                limit=limit,
                actual=actual,
                message=message,
                segment=segment,
            )
        )

    def add_violation(self, violation: TypeViolation, segment: int | None = None) -> None:
        self.add(
            violation.code,
            violation.rule,
            violation.limit,
            violation.actual,
            f"{self.where}: {violation.message}",
            segment,
        )


def validate_target(draft: TargetDraft, caps: Capabilities | None = None) -> list[Problem]:
    """Every rule `draft` breaks on its platform (an empty list means it may be stored).

    `caps` defaults to `capabilities_for(draft.platform, draft.persona)`.

    Raises:
        UnknownPlatform: the draft's platform or persona is unknown.
    """
    caps = caps or capabilities_for(draft.platform, draft.persona)
    out = _Collector(draft, caps)
    post_type = draft.post_type
    has_any_media = bool(draft.media) or any(segment.media for segment in draft.thread)
    if caps.media_required and not has_any_media:
        # Seed 001: "a platform requires media you did not attach" is content_invalid.
        out.add("content_invalid", "media_required", 1, 0, f"{out.where} requires media.")
        return out.problems
    if post_type not in caps.post_types:
        if post_type is PostType.THREAD:
            out.add(
                "post_type_invalid",
                "thread_not_supported",
                None,
                None,
                f"{out.where} does not support threads.",
            )
        else:
            out.add(
                "post_type_invalid",
                "post_type_not_supported",
                None,
                None,
                f"{out.where} does not support {post_type} posts.",
            )
        return out.problems

    for violation in check_media_for_type(post_type, draft.media, caps):
        out.add_violation(violation)
    _check_media(out, draft.media, check_kinds=False)
    _check_text(out, draft.text, has_media=bool(draft.media), segment=None)
    if post_type is PostType.THREAD:
        _check_thread(out)
    if draft.poll is not None and post_type is not PostType.POLL:
        out.add(
            "post_type_invalid",
            "post_type_mismatch",
            None,
            None,
            f"{out.where}: a poll needs postType poll, not {post_type}.",
        )
    if post_type is PostType.POLL:
        _check_poll(out)
    if post_type is PostType.ARTICLE and draft.article is None:
        out.add(
            "content_invalid",
            "article_required",
            None,
            None,
            f"{out.where}: an article post needs `article` with a url.",
        )
    _check_first_comment(out)
    _check_alt_texts(out)
    if draft.cover is not None and draft.cover.kind is not MediaKind.IMAGE:
        out.add(
            "media_invalid",
            "cover_invalid",
            None,
            None,
            f"{out.where}: the cover must be an image, not {draft.cover.kind}.",
        )
    return out.problems


def _check_text(out: _Collector, text: str, *, has_media: bool, segment: int | None) -> None:
    caps, draft = out.caps, out.draft
    label = "Text" if segment is None else f"thread[{segment}] text"
    if not text.strip():
        if segment is not None and not has_media:
            out.add(
                "content_invalid",
                "segment_empty",
                1,
                0,
                f"{out.where}: {label} is empty and has no media.",
                segment,
            )
        elif caps.text_required and not has_media and draft.post_type is not PostType.THREAD:
            out.add(
                "content_invalid",
                "text_required",
                1,
                0,
                f"{out.where} needs text when no media is attached.",
            )
        return
    rule = "text_too_long" if segment is None else "segment_too_long"
    limit = caps.text_limit_for(draft.post_type)
    if has_media and caps.caption_limit is not None:
        limit, rule = min(limit, caps.caption_limit), "caption_too_long"
    question_limit = caps.polls.question_limit if caps.polls else None
    if draft.post_type is PostType.POLL and question_limit and question_limit < limit:
        limit, rule = question_limit, "poll_question_too_long"
    counted = text
    spoiler = getattr(draft.options, "spoiler_text", None)
    if caps.counts_spoiler_text and isinstance(spoiler, str):
        counted = spoiler + text
    length = caps.count_text(counted)
    if length > limit:
        out.add(
            "content_invalid",
            rule,
            limit,
            length,
            f"{out.where}: {label} is {length} {caps.text_unit}; the limit is {limit}.",
            segment,
        )
    if caps.text_limit_bytes is not None:
        size = utf8_length(text)
        if size > caps.text_limit_bytes:
            out.add(
                "content_invalid",
                "text_too_many_bytes",
                caps.text_limit_bytes,
                size,
                f"{out.where}: {label} is {size} UTF-8 bytes; the limit is "
                f"{caps.text_limit_bytes}.",
                segment,
            )
    for rule, cap, found, noun in (
        ("too_many_hashtags", caps.max_hashtags, hashtags, "hashtags"),
        ("too_many_mentions", caps.max_mentions, mentions, "@mentions"),
        ("too_many_links", caps.max_links, distinct_links, "links"),
    ):
        if cap is None:
            continue
        count = len(found(text))
        if count > cap:
            out.add(
                "content_invalid",
                rule,
                cap,
                count,
                f"{out.where}: {label} has {count} {noun}; the limit is {cap}.",
                segment,
            )


def _check_media(
    out: _Collector, media: Sequence[MediaInfo], *, check_kinds: bool, segment: int | None = None
) -> None:
    caps, post_type = out.caps, out.draft.post_type
    where = out.where if segment is None else f"{out.where} thread[{segment}]"
    kinds = Counter(item.kind for item in media)
    if check_kinds:
        for kind in kinds:
            if kind not in caps.media_kinds:
                out.add(
                    "media_invalid",
                    "media_kind_not_supported",
                    None,
                    None,
                    f"{where}: {kind} media is not supported.",
                    segment,
                )
    for kind, cap in caps.max_media_per_kind.items():
        if kinds[kind] > cap:
            out.add(
                "media_invalid",
                "too_many_media",
                cap,
                kinds[kind],
                f"{where}: at most {cap} {kind} per post; {kinds[kind]} attached.",
                segment,
            )
    if not caps.mixed_media and len(kinds) > 1:
        out.add(
            "media_invalid",
            "mixed_media_not_supported",
            None,
            len(kinds),
            f"{where}: media kinds cannot be mixed in one post ({', '.join(sorted(kinds))}).",
            segment,
        )
    for item in media:
        _check_media_item(out, item, post_type, where, segment)


def _check_media_item(
    out: _Collector, item: MediaInfo, post_type: PostType, where: str, segment: int | None
) -> None:
    caps = out.caps
    max_bytes = caps.media_max_bytes.get(item.kind)
    if max_bytes is not None and item.size is not None and item.size > max_bytes:
        out.add(
            "media_invalid",
            f"{item.kind}_too_large",
            max_bytes,
            item.size,
            f"{where}: {item.kind} {item.id} is {item.size} bytes; the limit is {max_bytes}.",
            segment,
        )
    if item.kind is MediaKind.VIDEO and item.duration_ms is not None:
        low, high = caps.type_video_durations.get(
            post_type, (caps.video_min_duration_ms, caps.video_max_duration_ms)
        )
        if high is not None and item.duration_ms > high:
            out.add(
                "media_invalid",
                "video_too_long",
                high,
                item.duration_ms,
                f"{where}: video {item.id} is {item.duration_ms} ms; the limit is {high} ms.",
                segment,
            )
        elif low is not None and item.duration_ms < low:
            out.add(
                "media_invalid",
                "video_too_short",
                low,
                item.duration_ms,
                f"{where}: video {item.id} is {item.duration_ms} ms; the minimum is {low} ms.",
                segment,
            )
    if item.kind is MediaKind.IMAGE:
        types = caps.image_content_types
        if types and item.content_type.lower() not in types:
            out.add(
                "media_invalid",
                "media_format_not_supported",
                None,
                None,
                f"{where}: image {item.id} is {item.content_type}; accepted: "
                f"{', '.join(sorted(types))}.",
                segment,
            )
        aspect = caps.feed_image_aspect
        in_feed = post_type in (PostType.IMAGE, PostType.CAROUSEL)
        if aspect and in_feed and item.width and item.height:
            ratio = item.width / item.height
            if not aspect[0] - _ASPECT_TOLERANCE <= ratio <= aspect[1] + _ASPECT_TOLERANCE:
                out.add(
                    "media_invalid",
                    "aspect_ratio_invalid",
                    None,
                    None,
                    f"{where}: image {item.id} is {item.width}x{item.height} "
                    f"(ratio {ratio:.2f}); feed images need {aspect[0]:.2f} to "
                    f"{aspect[1]:.2f}.",
                    segment,
                )


def _check_thread(out: _Collector) -> None:
    caps, draft = out.caps, out.draft
    has_root = bool(draft.text.strip() or draft.media)
    chain = int(has_root) + len(draft.thread)
    if chain > caps.max_thread_segments:
        out.add(
            "content_invalid",
            "too_many_segments",
            caps.max_thread_segments,
            chain,
            f"{out.where}: a thread has at most {caps.max_thread_segments} posts; {chain} given.",
        )
    for index, segment in enumerate(draft.thread):
        if len(segment.media) > caps.segment_max_media:
            out.add(
                "media_invalid",
                "too_many_media",
                caps.segment_max_media,
                len(segment.media),
                f"{out.where}: thread[{index}] has {len(segment.media)} media; the limit "
                f"is {caps.segment_max_media}.",
                index,
            )
        _check_media(out, segment.media, check_kinds=True, segment=index)
        _check_text(out, segment.text, has_media=bool(segment.media), segment=index)


def _check_poll(out: _Collector) -> None:
    caps, poll = out.caps, out.draft.poll
    rules = caps.polls
    if poll is None or rules is None:
        out.add(
            "content_invalid",
            "poll_required",
            None,
            None,
            f"{out.where}: a poll post needs `poll` with options.",
        )
        return
    count = len(poll.options)
    if count < rules.min_options:
        out.add(
            "content_invalid",
            "poll_invalid",
            rules.min_options,
            count,
            f"{out.where}: a poll needs at least {rules.min_options} options.",
        )
    elif count > rules.max_options:
        out.add(
            "content_invalid",
            "poll_invalid",
            rules.max_options,
            count,
            f"{out.where}: a poll takes at most {rules.max_options} options.",
        )
    longest = max((len(option) for option in poll.options), default=0)
    if rules.max_option_length is not None and longest > rules.max_option_length:
        out.add(
            "content_invalid",
            "poll_option_too_long",
            rules.max_option_length,
            longest,
            f"{out.where}: poll options are limited to {rules.max_option_length} characters.",
        )
    minutes = poll.duration_minutes
    if minutes is None or not rules.has_duration:
        return  # the platform fixes the duration
    if rules.allowed_durations:
        if minutes not in rules.allowed_durations:
            allowed = ", ".join(str(value) for value in sorted(rules.allowed_durations))
            out.add(
                "content_invalid",
                "poll_duration_invalid",
                None,
                minutes,
                f"{out.where}: poll duration must be one of {allowed} minutes.",
            )
        return
    low, high = rules.min_duration_minutes, rules.max_duration_minutes
    if low is not None and minutes < low:
        out.add(
            "content_invalid",
            "poll_duration_invalid",
            low,
            minutes,
            f"{out.where}: a poll lasts at least {low} minutes.",
        )
    elif high is not None and minutes > high:
        out.add(
            "content_invalid",
            "poll_duration_invalid",
            high,
            minutes,
            f"{out.where}: a poll lasts at most {high} minutes.",
        )
    elif minutes % rules.duration_step_minutes:
        out.add(
            "content_invalid",
            "poll_duration_invalid",
            rules.duration_step_minutes,
            minutes,
            f"{out.where}: poll duration must be a multiple of "
            f"{rules.duration_step_minutes} minutes.",
        )


def _check_first_comment(out: _Collector) -> None:
    caps, comment = out.caps, out.draft.first_comment
    if not comment:
        return
    if not caps.first_comment:
        out.add(
            "content_invalid",
            "first_comment_not_supported",
            None,
            None,
            f"{out.where} cannot post a first comment.",
        )
        return
    limit = caps.first_comment_limit or caps.text_limit
    length = caps.count_text(comment)
    if length > limit:
        out.add(
            "content_invalid",
            "first_comment_too_long",
            limit,
            length,
            f"{out.where}: the first comment is {length} {caps.text_unit}; the limit is {limit}.",
        )


def _check_alt_texts(out: _Collector) -> None:
    caps, draft = out.caps, out.draft
    if caps.alt_text_limit is None or not draft.alt_texts:
        return
    attached = {item.id for item in draft.media}
    attached.update(item.id for segment in draft.thread for item in segment.media)
    for media_id, alt in draft.alt_texts.items():
        if media_id in attached and len(alt) > caps.alt_text_limit:
            out.add(
                "content_invalid",
                "alt_text_too_long",
                caps.alt_text_limit,
                len(alt),
                f"{out.where}: alt text of {media_id} is {len(alt)} characters; the "
                f"limit is {caps.alt_text_limit}.",
            )
