from __future__ import annotations

from typing import Any

import pytest

from polypost.platforms.base import Platform
from polypost.platforms.options import (
    OPTIONS_MODELS,
    FacebookOptions,
    MastodonOptions,
    PlatformOptionsError,
    SandboxOptions,
    TikTokOptions,
    XOptions,
    YouTubeOptions,
    parse_platform_options,
)


def _error(raw: dict[str, Any]) -> PlatformOptionsError:
    with pytest.raises(PlatformOptionsError) as caught:
        parse_platform_options(raw)
    return caught.value


class TestParsePlatformOptions:
    def test_every_platform_has_a_model(self) -> None:
        assert set(OPTIONS_MODELS) == set(Platform)

    def test_parses_camel_case_into_models(self) -> None:
        parsed = parse_platform_options(
            {
                "facebook": {"asReel": True, "firstComment": "Details below."},
                "tiktok": {"privacyLevel": "SELF_ONLY", "disableDuet": True, "isAigc": False},
                "youtube": {"title": "Launch", "privacyStatus": "unlisted", "madeForKids": False},
                "mastodon": {"spoilerText": "spoilers", "visibility": "unlisted"},
            }
        )
        facebook = parsed["facebook"]
        assert isinstance(facebook, FacebookOptions)
        assert facebook.as_reel is True
        assert facebook.first_comment == "Details below."
        tiktok = parsed["tiktok"]
        assert isinstance(tiktok, TikTokOptions)
        assert tiktok.privacy_level == "SELF_ONLY"
        assert tiktok.disable_duet is True
        youtube = parsed["youtube"]
        assert isinstance(youtube, YouTubeOptions)
        assert youtube.privacy_status == "unlisted"
        mastodon = parsed["mastodon"]
        assert isinstance(mastodon, MastodonOptions)
        assert mastodon.spoiler_text == "spoilers"

    def test_twitter_is_x(self) -> None:
        parsed = parse_platform_options({"twitter": {"replySettings": "following"}})
        assert list(parsed) == ["x"]
        assert isinstance(parsed["x"], XOptions)
        assert parsed["x"].reply_settings == "following"

    def test_x_and_twitter_together_is_an_error(self) -> None:
        error = _error({"x": {}, "twitter": {}})
        assert error.path == "twitter"
        assert "twice" in str(error)

    def test_unknown_platform_is_named(self) -> None:
        error = _error({"threadz": {"replyControl": "everyone"}})
        assert error.path == "threadz"
        assert "Unknown platform 'threadz'" in str(error)
        assert error.fields[0]["field"] == "platformOptions.threadz"

    def test_unknown_option_is_named(self) -> None:
        # seed 002: "typos like firstComent are rejected before the post is queued".
        error = _error({"facebook": {"firstComent": "oops"}})
        assert error.path == "facebook.firstComent"
        assert "Unknown option" in str(error)
        assert error.fields == [
            {
                "field": "platformOptions.facebook.firstComent",
                "message": "Unknown option 'facebook.firstComent' for facebook.",
                "type": "extra_forbidden",
            }
        ]

    def test_snake_case_names_are_unknown(self) -> None:
        error = _error({"facebook": {"as_reel": True}})
        assert error.path == "facebook.as_reel"

    def test_nested_path(self) -> None:
        error = _error({"instagram": {"userTags": [{"username": "ok"}, {"username": "a b"}]}})
        assert error.path == "instagram.userTags[1].username"

    def test_every_error_is_listed(self) -> None:
        error = _error({"x": {"replySettings": "friends", "quoteTweetId": "abc"}})
        assert {field["field"] for field in error.fields} == {
            "platformOptions.x.replySettings",
            "platformOptions.x.quoteTweetId",
        }

    def test_value_must_be_an_object(self) -> None:
        assert _error({"youtube": "private"}).path == "youtube"

    @pytest.mark.parametrize(
        ("raw", "path"),
        [
            ({"tiktok": {"privacyLevel": "EVERYONE"}}, "tiktok.privacyLevel"),
            ({"instagram": {"collaborators": ["a", "b", "c", "d"]}}, "instagram.collaborators"),
            ({"youtube": {"title": "x" * 101}}, "youtube.title"),
            ({"youtube": {"title": "<b>bold</b>"}}, "youtube.title"),
            ({"youtube": {"categoryId": "people"}}, "youtube.categoryId"),
            ({"pinterest": {"boardId": "my-board"}}, "pinterest.boardId"),
            ({"pinterest": {"description": "d" * 801}}, "pinterest.description"),
            ({"linkedin": {"organizationUrn": "urn:li:person:1"}}, "linkedin.organizationUrn"),
            ({"threads": {"topicTag": "a.b"}}, "threads.topicTag"),
            ({"bluesky": {"langs": ["en", "de", "fr", "es"]}}, "bluesky.langs"),
            ({"bluesky": {"labels": ["spam"]}}, "bluesky.labels[0]"),
            ({"mastodon": {"language": "english"}}, "mastodon.language"),
            ({"discord": {"avatarUrl": "ftp://x"}}, "discord.avatarUrl"),
            ({"slack": {"iconEmoji": "smile"}}, "slack.iconEmoji"),
            ({"telegram": {"parseMode": "html"}}, "telegram.parseMode"),
            ({"x": {"quoteTweetId": "1" * 20}}, "x.quoteTweetId"),
        ],
    )
    def test_invalid_values(self, raw: dict[str, Any], path: str) -> None:
        error = _error(raw)
        assert error.path == path
        assert error.message.startswith(f"Invalid {path}")

    def test_tiktok_branded_content_cannot_be_private(self) -> None:
        error = _error({"tiktok": {"privacyLevel": "SELF_ONLY", "brandContentToggle": True}})
        assert error.path == "tiktok"
        assert "SELF_ONLY" in str(error)
        options = parse_platform_options(
            {"tiktok": {"privacyLevel": "PUBLIC_TO_EVERYONE", "brandContentToggle": True}}
        )["tiktok"]
        assert isinstance(options, TikTokOptions)

    def test_youtube_description_counts_bytes_and_tags_total(self) -> None:
        assert "5000 UTF-8 bytes" in str(_error({"youtube": {"description": "\u00e9" * 2501}}))
        parse_platform_options({"youtube": {"description": "\u00e9" * 2500}})
        assert "500 characters" in str(_error({"youtube": {"tags": ["t" * 100] * 6}}))

    def test_sandbox_takes_anything_within_a_size_limit(self) -> None:
        parsed = parse_platform_options({"sandbox": {"anything": [1, 2], "nested": {"a": True}}})
        sandbox = parsed["sandbox"]
        assert isinstance(sandbox, SandboxOptions)
        assert sandbox.model_dump() == {"anything": [1, 2], "nested": {"a": True}}
        assert _error({"sandbox": {"blob": "x" * 20_000}}).path == "sandbox"

    def test_empty(self) -> None:
        assert parse_platform_options({}) == {}
