from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from polypost.platforms.base import (
    Article,
    MediaInfo,
    MediaKind,
    Poll,
    PostType,
    Segment,
)
from polypost.platforms.capabilities import (
    MB,
    PINTEREST,
    UnknownPlatform,
    X,
    capabilities_for,
)
from polypost.platforms.options import parse_platform_options
from polypost.posts.types import check_media_for_type, detect_post_type
from polypost.posts.validation import (
    Problem,
    TargetDraft,
    problems_message,
    problems_to_details,
    text_for_platform,
    validate_target,
)

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"


def image(media_id: str = "md_img", **kwargs: Any) -> MediaInfo:
    fields: dict[str, Any] = {"content_type": "image/jpeg", "size": 100_000}
    fields.update(width=1080, height=1080)
    fields.update(kwargs)
    return MediaInfo(id=media_id, kind=MediaKind.IMAGE, **fields)


def video(media_id: str = "md_vid", duration_ms: int = 10_000, **kwargs: Any) -> MediaInfo:
    fields: dict[str, Any] = {"content_type": "video/mp4", "size": 1_000_000}
    fields.update(kwargs)
    return MediaInfo(id=media_id, kind=MediaKind.VIDEO, duration_ms=duration_ms, **fields)


def gif(media_id: str = "md_gif") -> MediaInfo:
    return MediaInfo(id=media_id, kind=MediaKind.GIF, content_type="image/gif", size=1000)


def pdf(media_id: str = "md_pdf") -> MediaInfo:
    return MediaInfo(
        id=media_id, kind=MediaKind.DOCUMENT, content_type="application/pdf", size=1000
    )


def draft(platform: str, post_type: PostType = PostType.TEXT, **kwargs: Any) -> TargetDraft:
    return TargetDraft(account_id="acc_1", platform=platform, post_type=post_type, **kwargs)


def rules(problems: list[Problem]) -> list[str]:
    return [problem.rule for problem in problems]


class TestDetectPostType:
    @pytest.mark.parametrize(
        ("media", "expected"),
        [
            ([], PostType.TEXT),
            ([image()], PostType.IMAGE),
            ([gif()], PostType.IMAGE),
            ([image("a"), image("b")], PostType.CAROUSEL),
            ([image(), video()], PostType.CAROUSEL),
            ([video()], PostType.VIDEO),
            ([pdf()], PostType.DOCUMENT),
            ([MediaKind.VIDEO], PostType.VIDEO),
        ],
    )
    def test_from_media(self, media: list[Any], expected: PostType) -> None:
        assert detect_post_type(media) is expected

    def test_thread_poll_article_decide(self) -> None:
        assert detect_post_type([image()], thread=[Segment("2/")]) is PostType.THREAD
        assert detect_post_type([], poll=Poll(("a", "b"))) is PostType.POLL
        assert detect_post_type([], article=Article("https://a.example")) is PostType.ARTICLE

    def test_empty_thread_is_not_a_thread(self) -> None:
        assert detect_post_type([], thread=[]) is PostType.TEXT

    def test_link_keeps_the_type(self) -> None:
        assert detect_post_type([], link="https://a.example") is PostType.TEXT
        assert detect_post_type([image()], link="https://a.example") is PostType.IMAGE


class TestCheckMediaForType:
    def test_carousel_with_one_image_is_post_type_invalid(self) -> None:
        (violation,) = check_media_for_type(PostType.CAROUSEL, [image()], X)
        assert (violation.code, violation.rule, violation.limit, violation.actual) == (
            "post_type_invalid",
            "too_few_media",
            2,
            1,
        )

    def test_image_with_two_is_a_mismatch(self) -> None:
        (violation,) = check_media_for_type(PostType.IMAGE, [image("a"), image("b")], X)
        assert (violation.code, violation.rule) == ("post_type_invalid", "media_count_mismatch")

    def test_video_post_with_an_image(self) -> None:
        (violation,) = check_media_for_type(PostType.VIDEO, [image()], X)
        assert violation.rule == "media_kind_mismatch"

    def test_text_with_media(self) -> None:
        (violation,) = check_media_for_type(PostType.TEXT, [image()], X)
        assert (violation.rule, violation.limit, violation.actual) == ("media_not_allowed", 0, 1)

    def test_platform_carousel_cap_is_media_invalid(self) -> None:
        media = [image(str(i)) for i in range(6)]
        (violation,) = check_media_for_type(PostType.CAROUSEL, media, PINTEREST)
        assert (violation.code, violation.rule, violation.limit, violation.actual) == (
            "media_invalid",
            "too_many_media",
            5,
            6,
        )

    def test_kind_the_platform_refuses_in_a_carousel(self) -> None:
        (violation,) = check_media_for_type(PostType.CAROUSEL, [image(), video()], X)
        assert (violation.code, violation.rule) == ("media_invalid", "media_kind_not_supported")


class TestText:
    def test_x_over_280_weighted(self) -> None:
        (problem,) = validate_target(draft("x", text="a" * 281))
        assert problem == Problem(
            code="content_invalid",
            account_id="acc_1",
            platform="x",
            rule="text_too_long",
            limit=280,
            actual=281,
            message="x: Text is 281 weighted characters; the limit is 280.",
        )

    def test_x_at_280_passes_and_urls_count_23(self) -> None:
        assert validate_target(draft("x", text="a" * 280)) == []
        long_url = "https://example.com/" + "p" * 300
        assert validate_target(draft("x", text="a" * 256 + " " + long_url)) == []
        assert rules(validate_target(draft("x", text="a" * 257 + " " + long_url))) == [
            "text_too_long"
        ]

    def test_x_cjk_counts_double(self) -> None:
        assert validate_target(draft("x", text="\u306e" * 140)) == []
        (problem,) = validate_target(draft("x", text="\u306e" * 141))
        assert (problem.limit, problem.actual) == (280, 282)

    def test_bluesky_graphemes_and_bytes(self) -> None:
        assert validate_target(draft("bluesky", text="e\u0301" * 300)) == []
        (problem,) = validate_target(draft("bluesky", text="a" * 301))
        assert (problem.rule, problem.limit, problem.actual) == ("text_too_long", 300, 301)
        (problem,) = validate_target(draft("bluesky", text=FAMILY * 200))
        assert (problem.rule, problem.limit) == ("text_too_many_bytes", 3000)

    def test_mastodon_counts_the_content_warning(self) -> None:
        options = parse_platform_options({"mastodon": {"spoilerText": "s" * 30}})["mastodon"]
        assert validate_target(draft("mastodon", text="a" * 480)) == []
        (problem,) = validate_target(draft("mastodon", text="a" * 480, options=options))
        assert (problem.limit, problem.actual) == (500, 510)

    def test_telegram_caption_limit_applies_with_media(self) -> None:
        assert validate_target(draft("telegram", text="a" * 1500)) == []
        (problem,) = validate_target(
            draft("telegram", PostType.IMAGE, text="a" * 1500, media=[image()])
        )
        assert (problem.rule, problem.limit, problem.actual) == ("caption_too_long", 1024, 1500)

    def test_tiktok_photo_description_is_longer_than_a_video_caption(self) -> None:
        text = "a" * 3000
        photos = [image("a"), image("b")]
        assert validate_target(draft("tiktok", PostType.CAROUSEL, text=text, media=photos)) == []
        (problem,) = validate_target(draft("tiktok", PostType.VIDEO, text=text, media=[video()]))
        assert (problem.limit, problem.actual) == (2200, 3000)

    def test_tiktok_counts_utf16(self) -> None:
        text = "\U0001f600" * 1101  # 2,202 UTF-16 code units
        (problem,) = validate_target(draft("tiktok", PostType.VIDEO, text=text, media=[video()]))
        assert problem.actual == 2202

    def test_youtube_counts_bytes(self) -> None:
        text = "\u00e9" * 2501
        (problem,) = validate_target(draft("youtube", PostType.VIDEO, text=text, media=[video()]))
        assert (problem.limit, problem.actual) == (5000, 5002)

    def test_x_needs_text_without_media(self) -> None:
        assert rules(validate_target(draft("x", text="  "))) == ["text_required"]
        assert validate_target(draft("x", PostType.IMAGE, media=[image()])) == []

    def test_instagram_hashtags_and_mentions(self) -> None:
        text = " ".join(f"#tag{i}" for i in range(6))
        problems = validate_target(draft("instagram", PostType.IMAGE, text=text, media=[image()]))
        assert [(p.rule, p.limit, p.actual) for p in problems] == [("too_many_hashtags", 5, 6)]
        text = " ".join(f"@user{i}" for i in range(21))
        problems = validate_target(draft("instagram", PostType.IMAGE, text=text, media=[image()]))
        assert rules(problems) == ["too_many_mentions"]

    def test_threads_link_limit(self) -> None:
        text = " ".join(f"https://site{i}.com" for i in range(6))
        (problem,) = validate_target(draft("threads", text=text))
        assert (problem.rule, problem.limit, problem.actual) == ("too_many_links", 5, 6)


class TestPostTypes:
    def test_media_required_is_content_invalid(self) -> None:
        # seed 001: "a platform requires media you did not attach" → content_invalid.
        (problem,) = validate_target(draft("instagram", text="hello"))
        assert (problem.code, problem.rule, problem.limit, problem.actual) == (
            "content_invalid",
            "media_required",
            1,
            0,
        )

    def test_unsupported_type(self) -> None:
        (problem,) = validate_target(draft("linkedin", PostType.STORY, media=[image()]))
        assert (problem.code, problem.rule) == ("post_type_invalid", "post_type_not_supported")

    def test_thread_not_supported(self) -> None:
        (problem,) = validate_target(
            draft("linkedin", PostType.THREAD, text="1/", thread=[Segment("2/")])
        )
        assert (problem.code, problem.rule) == ("post_type_invalid", "thread_not_supported")

    def test_carousel_with_one_image(self) -> None:
        (problem,) = validate_target(draft("x", PostType.CAROUSEL, media=[image()]))
        assert (problem.code, problem.rule) == ("post_type_invalid", "too_few_media")

    def test_article_needs_the_article(self) -> None:
        assert rules(validate_target(draft("linkedin", PostType.ARTICLE, text="read"))) == [
            "article_required"
        ]
        ok = draft("linkedin", PostType.ARTICLE, article=Article("https://blog.example/p"))
        assert validate_target(ok) == []

    def test_document_on_linkedin(self) -> None:
        assert validate_target(draft("linkedin", PostType.DOCUMENT, media=[pdf()])) == []
        (problem,) = validate_target(draft("x", PostType.DOCUMENT, media=[pdf()]))
        assert problem.rule == "post_type_not_supported"


class TestMedia:
    def test_x_takes_four_images(self) -> None:
        media = [image(str(i)) for i in range(5)]
        (problem,) = validate_target(draft("x", PostType.CAROUSEL, media=media))
        assert (problem.code, problem.rule, problem.limit, problem.actual) == (
            "media_invalid",
            "too_many_media",
            4,
            5,
        )

    def test_x_does_not_mix_gif_and_images(self) -> None:
        problems = validate_target(draft("x", PostType.CAROUSEL, media=[image(), gif()]))
        assert "media_kind_not_supported" in rules(problems)
        assert "mixed_media_not_supported" in rules(problems)

    def test_size_limit(self) -> None:
        big = image(size=6 * MB)
        (problem,) = validate_target(draft("x", PostType.IMAGE, media=[big]))
        assert (problem.code, problem.rule, problem.limit, problem.actual) == (
            "media_invalid",
            "image_too_large",
            5 * MB,
            6 * MB,
        )

    def test_video_duration(self) -> None:
        (problem,) = validate_target(draft("x", PostType.VIDEO, media=[video(duration_ms=141_000)]))
        assert (problem.rule, problem.limit, problem.actual) == ("video_too_long", 140_000, 141_000)
        (problem,) = validate_target(draft("x", PostType.VIDEO, media=[video(duration_ms=400)]))
        assert (problem.rule, problem.limit) == ("video_too_short", 500)

    def test_duration_per_post_type(self) -> None:
        clip = video(duration_ms=100_000)
        assert validate_target(draft("facebook", PostType.VIDEO, media=[clip])) == []
        (problem,) = validate_target(draft("facebook", PostType.REEL, media=[clip]))
        assert (problem.rule, problem.limit) == ("video_too_long", 90_000)
        assert validate_target(draft("instagram", PostType.REEL, media=[clip])) == []
        (problem,) = validate_target(draft("instagram", PostType.STORY, media=[clip]))
        assert problem.limit == 60_000

    def test_instagram_needs_jpeg_in_the_feed_ratio(self) -> None:
        png = image(content_type="image/png")
        (problem,) = validate_target(draft("instagram", PostType.IMAGE, media=[png]))
        assert (problem.code, problem.rule) == ("media_invalid", "media_format_not_supported")
        tall = image(width=1080, height=1920)
        (problem,) = validate_target(draft("instagram", PostType.IMAGE, media=[tall]))
        assert problem.rule == "aspect_ratio_invalid"
        assert validate_target(draft("instagram", PostType.STORY, media=[tall])) == []
        portrait = image(width=1080, height=1350)  # 4:5 is the limit, inclusive
        assert validate_target(draft("instagram", PostType.IMAGE, media=[portrait])) == []

    def test_cover_must_be_an_image(self) -> None:
        reel = draft("instagram", PostType.REEL, media=[video()], cover=video("md_cover"))
        assert rules(validate_target(reel)) == ["cover_invalid"]
        assert validate_target(replace(reel, cover=image("md_cover"))) == []

    def test_alt_text_limit(self) -> None:
        target = draft(
            "instagram", PostType.IMAGE, media=[image("md_1")], alt_texts={"md_1": "a" * 1001}
        )
        (problem,) = validate_target(target)
        assert (problem.rule, problem.limit, problem.actual) == ("alt_text_too_long", 1000, 1001)
        assert validate_target(replace(target, alt_texts={"md_1": "a" * 1000})) == []


class TestThreads:
    def test_segments_are_validated_each(self) -> None:
        thread = [Segment("ok"), Segment("b" * 281), Segment("c", (image(),) * 5)]
        problems = validate_target(draft("x", PostType.THREAD, text="1/", thread=thread))
        assert [(p.code, p.rule, p.segment) for p in problems] == [
            ("content_invalid", "segment_too_long", 1),
            ("media_invalid", "too_many_media", 2),
        ]
        assert problems[0].to_dict()["segment"] == 1

    def test_thread_without_root_text(self) -> None:
        thread = [Segment("1/ start"), Segment("2/ end")]
        assert validate_target(draft("x", PostType.THREAD, thread=thread)) == []

    def test_empty_segment(self) -> None:
        (problem,) = validate_target(
            draft("bluesky", PostType.THREAD, text="1/", thread=[Segment("  ")])
        )
        assert (problem.rule, problem.segment) == ("segment_empty", 0)

    def test_segment_count(self) -> None:
        thread = [Segment(f"{i}/") for i in range(25)]
        (problem,) = validate_target(draft("x", PostType.THREAD, text="0/", thread=thread))
        assert (problem.rule, problem.limit, problem.actual) == ("too_many_segments", 25, 26)

    def test_segment_media_kinds(self) -> None:
        thread = [Segment("doc", (pdf(),))]
        (problem,) = validate_target(draft("mastodon", PostType.THREAD, text="1/", thread=thread))
        assert (problem.rule, problem.segment) == ("media_kind_not_supported", 0)


class TestPolls:
    def test_valid_x_poll(self) -> None:
        poll = Poll(("yes", "no"), 1440)
        assert validate_target(draft("x", PostType.POLL, text="Ship it?", poll=poll)) == []

    def test_option_count_length_and_duration(self) -> None:
        poll = Poll(("a", "b", "c", "d", "e" * 26), 3)
        problems = validate_target(draft("x", PostType.POLL, text="Q?", poll=poll))
        assert [(p.rule, p.limit, p.actual) for p in problems] == [
            ("poll_invalid", 4, 5),
            ("poll_option_too_long", 25, 26),
            ("poll_duration_invalid", 5, 3),
        ]

    def test_linkedin_fixed_durations(self) -> None:
        target = draft("linkedin", PostType.POLL, text="Q?", poll=Poll(("a", "b"), 60))
        assert rules(validate_target(target)) == ["poll_duration_invalid"]
        assert validate_target(replace(target, poll=Poll(("a", "b"), 4320))) == []

    def test_threads_ignores_a_duration_it_cannot_set(self) -> None:
        poll = Poll(("a", "b"), 90_000)
        assert validate_target(draft("threads", PostType.POLL, text="Q?", poll=poll)) == []

    def test_discord_duration_in_whole_hours(self) -> None:
        target = draft("discord", PostType.POLL, text="Q?", poll=Poll(("a", "b"), 90))
        (problem,) = validate_target(target)
        assert (problem.rule, problem.limit) == ("poll_duration_invalid", 60)

    def test_question_limit(self) -> None:
        target = draft("telegram", PostType.POLL, text="q" * 301, poll=Poll(("a", "b")))
        (problem,) = validate_target(target)
        assert (problem.rule, problem.limit, problem.actual) == ("poll_question_too_long", 300, 301)

    def test_poll_needs_the_poll_type_and_back(self) -> None:
        with_poll = draft("x", PostType.TEXT, text="Q?", poll=Poll(("a", "b")))
        assert rules(validate_target(with_poll)) == ["post_type_mismatch"]
        assert rules(validate_target(draft("x", PostType.POLL, text="Q?"))) == ["poll_required"]

    def test_media_only_where_the_platform_allows_it(self) -> None:
        poll = Poll(("a", "b"), 60)
        with_image = draft("sandbox", PostType.POLL, text="Q?", poll=poll, media=[image()])
        assert validate_target(with_image) == []
        (problem,) = validate_target(replace(with_image, platform="x"))
        assert (problem.code, problem.rule) == ("post_type_invalid", "media_not_allowed")

    def test_platform_without_polls(self) -> None:
        target = draft("bluesky", PostType.POLL, text="Q?", poll=Poll(("a", "b")))
        assert rules(validate_target(target)) == ["post_type_not_supported"]


class TestFirstComment:
    def test_unsupported(self) -> None:
        target = draft("tiktok", PostType.VIDEO, media=[video()], first_comment="link in bio")
        (problem,) = validate_target(target)
        assert (problem.code, problem.rule) == ("content_invalid", "first_comment_not_supported")

    def test_counted_the_platform_way(self) -> None:
        (problem,) = validate_target(draft("x", text="hi", first_comment="a" * 281))
        assert (problem.rule, problem.limit, problem.actual) == ("first_comment_too_long", 280, 281)
        assert validate_target(draft("facebook", text="hi", first_comment="a" * 5000)) == []


class TestSandbox:
    def test_permissive_without_persona(self) -> None:
        thread = [Segment("x" * 5000, (video(), pdf()))]
        target = draft("sandbox", PostType.THREAD, text="a" * 90_000, thread=thread)
        assert validate_target(target) == []

    def test_persona_enforces_the_platform(self) -> None:
        (problem,) = validate_target(draft("sandbox", persona="x", text="a" * 281))
        assert (problem.platform, problem.limit) == ("sandbox", 280)
        assert problem.message.startswith("sandbox (x):")
        assert validate_target(draft("sandbox", persona="x", text="a" * 280)) == []

    def test_unknown_platform(self) -> None:
        with pytest.raises(UnknownPlatform):
            validate_target(draft("myspace", text="hi"))

    def test_explicit_capabilities_win(self) -> None:
        caps = replace(X, text_limit=25_000)  # an X Premium account
        assert validate_target(draft("x", text="a" * 1000), caps) == []


class TestProblemsToDetails:
    def _problem(self, code: Any, rule: str, account: str = "acc_1") -> Problem:
        return Problem(code, account, "x", rule, 280, 281, f"{rule}.")

    def test_precedence(self) -> None:
        content = self._problem("content_invalid", "text_too_long")
        media = self._problem("media_invalid", "image_too_large")
        post_type = self._problem("post_type_invalid", "too_few_media")
        assert problems_to_details([content])[0] == "content_invalid"
        assert problems_to_details([content, media])[0] == "media_invalid"
        assert problems_to_details([content, post_type, media])[0] == "post_type_invalid"

    def test_details_shape(self) -> None:
        code, details = problems_to_details(validate_target(draft("x", text="a" * 281)))
        assert code == "content_invalid"
        assert details == {
            "targets": [
                {
                    "accountId": "acc_1",
                    "platform": "x",
                    "rule": "text_too_long",
                    "limit": 280,
                    "actual": 281,
                    "message": "x: Text is 281 weighted characters; the limit is 280.",
                }
            ]
        }

    def test_nothing_to_report(self) -> None:
        with pytest.raises(ValueError, match="no problems"):
            problems_to_details([])

    def test_message(self) -> None:
        one = self._problem("content_invalid", "text_too_long")
        assert problems_message([one]) == "text_too_long."
        other = self._problem("media_invalid", "image_too_large", account="acc_2")
        assert problems_message([one, other]) == (
            "2 problems across 2 targets; see details.targets."
        )


class TestTextForPlatform:
    def test_platform_content_wins(self) -> None:
        assert text_for_platform("x", "default", {"x": "for x"}) == "for x"

    def test_twitter_key_is_x(self) -> None:
        assert text_for_platform("x", "default", {"twitter": "for x"}) == "for x"

    def test_falls_back_to_content(self) -> None:
        assert text_for_platform("bluesky", "default", {"x": "for x"}) == "default"
        assert text_for_platform("bluesky", None, None) == ""

    def test_sandbox_persona_key(self) -> None:
        assert text_for_platform("sandbox", "d", {"x": "persona"}, persona="x") == "persona"
        assert text_for_platform("sandbox", "d", {"sandbox": "s", "x": "p"}, persona="x") == "s"

    def test_persona_uses_platform_limits(self) -> None:
        caps = capabilities_for("sandbox", "bluesky")
        assert caps.text_limit == 300
