from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from polypost.platforms.base import Capabilities, MediaKind, Platform, PollRules, PostType
from polypost.platforms.capabilities import (
    BLUESKY,
    CAPABILITIES,
    DISCORD,
    FACEBOOK,
    INSTAGRAM,
    LINKEDIN,
    MASTODON,
    MB,
    PINTEREST,
    SANDBOX,
    SLACK,
    TELEGRAM,
    THREADS,
    TIKTOK,
    YOUTUBE,
    UnknownPlatform,
    X,
    capabilities_for,
)
from polypost.posts.counting import MASTODON_URL_LENGTH, X_TRANSFORMED_URL_LENGTH

# The platform research the tables are written from: shared/ sits beside the checkout.
PLATFORM_DOCS = Path(__file__).resolve().parents[3] / "shared" / "platforms"


def _doc(name: str) -> str:
    return (PLATFORM_DOCS / f"{name}.md").read_text(encoding="utf-8")


def _polls(caps: Capabilities) -> PollRules:
    assert caps.polls is not None
    return caps.polls


def _number(text: str) -> int:
    return int(text.replace(",", ""))


# (doc, pattern with one or more groups, expected values read from the tables). A
# changed number in shared/platforms/*.md, or in capabilities.py, fails here.
DOC_FACTS: list[tuple[str, str, Callable[[], tuple[int, ...]]]] = [
    ("x", r"maxWeightedTweetLength (\d+)", lambda: (X.text_limit,)),
    ("x", r"transformedURLLength (\d+)", lambda: (X_TRANSFORMED_URL_LENGTH,)),
    ("x", r"`media\.media_ids` \(1.(\d+) strings\)", lambda: (X.max_media,)),
    (
        "x",
        r"`poll\.options` \((\d+).(\d+) strings, 1.(\d+) chars each\)",
        lambda: (_polls(X).min_options, _polls(X).max_options, _polls(X).max_option_length),
    ),
    (
        "x",
        r"`poll\.duration_minutes`\s*\((\d+).(\d+)\)",
        lambda: (_polls(X).min_duration_minutes or 0, _polls(X).max_duration_minutes or 0),
    ),
    (
        "x",
        r"Image ≤(\d+) MB .*animated GIF ≤(\d+) MB .*video ≤(\d+) MB",
        lambda: tuple(
            X.media_max_bytes[k] // MB for k in (MediaKind.IMAGE, MediaKind.GIF, MediaKind.VIDEO)
        ),
    ),
    (
        "bluesky",
        r"≤(\d+) \*\*grapheme clusters\*\* and ≤([\d,]+) UTF-8 bytes",
        lambda: (BLUESKY.text_limit, BLUESKY.text_limit_bytes or 0),
    ),
    ("bluesky", r"Images \(1.(\d+)\)", lambda: (BLUESKY.max_media,)),
    ("mastodon", r"max_characters \((\d+) default\)", lambda: (MASTODON.text_limit,)),
    ("mastodon", r"max_media_attachments \((\d+)\)", lambda: (MASTODON.max_media,)),
    ("mastodon", r"characters_reserved_per_url \((\d+)\)", lambda: (MASTODON_URL_LENGTH,)),
    (
        "mastodon",
        r"max_options \((\d+)\), max_characters_per_option \((\d+)\)",
        lambda: (_polls(MASTODON).max_options, _polls(MASTODON).max_option_length or 0),
    ),
    (
        "mastodon",
        r"min_expiration \((\d+) s\),\s*max_expiration \(([\d,]+) s",
        lambda: (
            (_polls(MASTODON).min_duration_minutes or 0) * 60,
            (_polls(MASTODON).max_duration_minutes or 0) * 60 + 2_629_746 % 60,
        ),
    ),
    ("mastodon", r"description_limit` (\d+)", lambda: (MASTODON.alt_text_limit or 0,)),
    ("threads", r"\*\*(\d+) characters\*\*", lambda: (THREADS.text_limit,)),
    ("threads", r"Carousel \((\d+).(\d+)\)", lambda: (THREADS.carousel_min, THREADS.carousel_max)),
    (
        "threads",
        r"\((\d+).(\d+) options, ≤(\d+) chars\)",
        lambda: (
            _polls(THREADS).min_options,
            _polls(THREADS).max_options,
            _polls(THREADS).max_option_length or 0,
        ),
    ),
    ("threads", r"≤(\d+) unique links", lambda: (THREADS.max_links or 0,)),
    ("threads", r"`alt_text ≤(\d+)`|alt_text ≤(\d+)", lambda: (THREADS.alt_text_limit or 0,)),
    ("linkedin", r"\*\*([\d,]+) characters\*\*", lambda: (LINKEDIN.text_limit,)),
    (
        "linkedin",
        r"(\d+).(\d+) images, all owned",
        lambda: (LINKEDIN.carousel_min, LINKEDIN.carousel_max),
    ),
    ("linkedin", r"altText ≤([\d,]+) chars", lambda: (LINKEDIN.alt_text_limit or 0,)),
    ("instagram", r"Caption \| ([\d,]+) characters", lambda: (INSTAGRAM.text_limit,)),
    (
        "instagram",
        r"carousel (\d+).(\d+); story",
        lambda: (INSTAGRAM.carousel_min, INSTAGRAM.carousel_max),
    ),
    ("instagram", r"enforce (\d+)", lambda: (INSTAGRAM.max_hashtags or 0,)),
    ("instagram", r"(\d+) per caption", lambda: (INSTAGRAM.max_mentions or 0,)),
    ("instagram", r"`alt_text` ≤(\d+) chars", lambda: (INSTAGRAM.alt_text_limit or 0,)),
    (
        "instagram",
        r"≤(\d+) MiB \(2207004\)",
        lambda: ((INSTAGRAM.image_max_bytes or 0) // MB,),
    ),
    ("tiktok", r"([\d,]+) \*\*UTF-16 code units\*\*", lambda: (TIKTOK.text_limit,)),
    (
        "tiktok",
        r"\d+ / ([\d,]+) UTF-16 units",
        lambda: (TIKTOK.text_limit_for(PostType.CAROUSEL),),
    ),
    ("tiktok", r"\| 1.(\d+) \(`photo_cover_index`", lambda: (TIKTOK.carousel_max,)),
    ("pinterest", r"description ≤(\d+) chars", lambda: (PINTEREST.text_limit,)),
    (
        "pinterest",
        r"(\d+).(\d+) carousel images",
        lambda: (PINTEREST.carousel_min, PINTEREST.carousel_max),
    ),
    ("pinterest", r"alt text ≤(\d+)", lambda: (PINTEREST.alt_text_limit or 0,)),
    ("youtube", r"`description` ≤(\d+) \*\*bytes\*\*", lambda: (YOUTUBE.text_limit,)),
    ("youtube", r"comment text ≤([\d,]+) chars", lambda: (YOUTUBE.first_comment_limit or 0,)),
    ("facebook", r"Post text \(`message`\) \| ([\d,]+) characters", lambda: (FACEBOOK.text_limit,)),
    (
        "facebook",
        r"\*\*(\d+).(\d+) s\*\*",
        lambda: tuple(ms // 1000 for ms in FACEBOOK.type_video_durations[PostType.REEL]),
    ),
    ("telegram", r"Message text \| 1.(\d+) characters", lambda: (TELEGRAM.text_limit,)),
    ("telegram", r"Caption \| 0.(\d+)", lambda: (TELEGRAM.caption_limit or 0,)),
    (
        "telegram",
        r"Media group \| (\d+).(\d+) items",
        lambda: (TELEGRAM.carousel_min, TELEGRAM.carousel_max),
    ),
    (
        "telegram",
        r"question (\d+), option (\d+) chars, ≤(\d+) options",
        lambda: (
            _polls(TELEGRAM).question_limit or 0,
            _polls(TELEGRAM).max_option_length or 0,
            _polls(TELEGRAM).max_options,
        ),
    ),
    ("discord", r"`content` ≤(\d+) characters", lambda: (DISCORD.text_limit,)),
    ("discord", r"\*\*(\d+) files per message\*\*", lambda: (DISCORD.max_media,)),
    (
        "discord",
        r"\*\*(\d+) MiB per file\*\*",
        lambda: ((DISCORD.image_max_bytes or 0) // MB,),
    ),
    ("discord", r"≤(\d+) answers", lambda: (_polls(DISCORD).max_options,)),
    (
        "discord",
        r"answer ≤(\d+) chars",
        lambda: (_polls(DISCORD).max_option_length or 0,),
    ),
    (
        "discord",
        r"≤(\d+) = 32 days",
        lambda: ((_polls(DISCORD).max_duration_minutes or 0) // 60,),
    ),
    ("slack", r"`text` ≤([\d,]+) characters", lambda: (SLACK.text_limit,)),
    ("slack", r"`alt_txt`\s*\(≤(\d+) chars\)", lambda: (SLACK.alt_text_limit or 0,)),
]


class TestTablesMatchPlatformDocs:
    @pytest.mark.parametrize(
        ("doc", "pattern", "expected"), DOC_FACTS, ids=[f"{d}:{p[:30]}" for d, p, _ in DOC_FACTS]
    )
    def test_number_matches_doc(
        self, doc: str, pattern: str, expected: Callable[[], tuple[int, ...]]
    ) -> None:
        match = re.search(pattern, _doc(doc), re.DOTALL if ".*" in pattern else 0)
        assert match is not None, f"{doc}.md no longer states {pattern!r}"
        found = tuple(_number(group) for group in match.groups() if group is not None)
        assert found == expected()

    def test_every_platform_has_a_doc_and_a_table(self) -> None:
        documented = {path.stem for path in PLATFORM_DOCS.glob("*.md")}
        assert documented == {p.value for p in Platform} - {"sandbox"}
        assert set(CAPABILITIES) == set(Platform)


class TestTableConsistency:
    @pytest.mark.parametrize("platform", list(Platform))
    def test_declared_features_agree(self, platform: Platform) -> None:
        caps = CAPABILITIES[platform]
        assert (PostType.THREAD in caps.post_types) == caps.threads
        assert (PostType.POLL in caps.post_types) == (caps.polls is not None)
        if caps.threads:
            assert caps.max_thread_segments >= 2
            assert caps.segment_max_media <= caps.max_media
        if PostType.CAROUSEL in caps.post_types:
            assert 2 <= caps.carousel_min <= caps.carousel_max <= caps.max_media
            assert caps.carousel_kinds & caps.media_kinds
        for kind in caps.media_max_bytes:
            assert kind in caps.media_kinds
        for post_type in caps.type_text_limits:
            assert post_type in caps.post_types

    def test_media_required_platforms_take_no_text_posts(self) -> None:
        for caps in CAPABILITIES.values():
            if caps.media_required:
                assert PostType.TEXT not in caps.post_types

    def test_sandbox_is_permissive(self) -> None:
        assert SANDBOX.post_types == frozenset(PostType)
        assert SANDBOX.media_kinds == frozenset(MediaKind)
        limits = [caps.text_limit for p, caps in CAPABILITIES.items() if p is not Platform.SANDBOX]
        assert SANDBOX.text_limit >= max(limits)
        assert not SANDBOX.media_max_bytes


class TestCapabilitiesFor:
    def test_platform(self) -> None:
        assert capabilities_for("bluesky") is BLUESKY

    def test_twitter_is_x(self) -> None:
        assert capabilities_for("twitter") is X
        assert capabilities_for("X") is X

    def test_sandbox_without_persona_is_permissive(self) -> None:
        assert capabilities_for("sandbox") is SANDBOX
        assert capabilities_for("sandbox", None) is SANDBOX

    def test_sandbox_persona_enforces_that_platform(self) -> None:
        caps: Capabilities = capabilities_for("sandbox", "x")
        assert caps is X
        assert caps.count_text("a" * 281) > caps.text_limit
        assert capabilities_for("sandbox", "twitter") is X

    def test_persona_is_ignored_for_real_platforms(self) -> None:
        assert capabilities_for("mastodon", "x") is MASTODON

    @pytest.mark.parametrize(("platform", "persona"), [("myspace", None), ("sandbox", "myspace")])
    def test_unknown(self, platform: str, persona: str | None) -> None:
        with pytest.raises(UnknownPlatform, match="myspace"):
            capabilities_for(platform, persona)
