from __future__ import annotations

import time

import pytest

from polypost.posts.counting import (
    code_point_count,
    distinct_links,
    emoji_count,
    grapheme_count,
    hashtags,
    mastodon_length,
    mentions,
    threads_length,
    url_spans,
    urls,
    utf8_length,
    utf16_length,
    x_weighted_length,
)

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # 👨‍👩‍👧
FAMILY4 = FAMILY + "\u200d\U0001f466"  # 👨‍👩‍👧‍👦
FLAG_US = "\U0001f1fa\U0001f1f8"  # 🇺🇸
FLAG_ENGLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"

# twitter-text conformance/validate.yml, WeightedTweetsWithDiscountedEmojiCounterTest and
# UnicodeDirectionalMarkerCounterTest (config v3), plus urls_without_protocol.
X_VECTORS = [
    ("Hi http://test.co", 26),
    ("http://test.co", 23),
    ("285 chars-" + "xxxxxxxxxx-" * 25, 285),
    ("285 chars- http://www.twitter.com/jack " + "xxxxxxxxxx-" * 24, 299),
    ("xxxxxxxxxx-" * 24 + " http://www.twitter.com/jack ", 289),
    ("https://www.twitter.com/aloha " * 10, 240),
    ("H\U0001f431\u263a" + FAMILY4, 7),
    ("\U0001f637\U0001f47e\U0001f621\U0001f525\U0001f4a9", 10),
    ("\U0001f64b\U0001f3fd\U0001f468\u200d\U0001f3a4", 4),
    ("1\u20e3", 2),
    (
        "Unicode 10.0 emoji: \U0001f92a; \U0001f9d5; \U0001f9d5\U0001f3fe; " + FLAG_ENGLAND,
        34,
    ),
    ("Unicode 9.0 emoji: \U0001f920; \U0001f483; \U0001f483\U0001f3fe", 29),
    (FAMILY4 * 140, 280),
    ("A\u0301B", 2),  # NFC: Á is one code point
    ("A\ufb2c", 4),  # שּׁ decomposes to 3 code points under NFC
    ("randomurlrandomurlrandomurlrandomurlrandomurlrandomurlrandomurls.com", 68),
    ("Test https://test.com test https://test.com test.com test", 86),
    ("ABC\u202a\uffffABC\ufffe", 12),
    ("\u2066\u202ahttp://foobar.\u067e\u0627\u06a9\u0633\u062a\u0627\u0646/\u202c\u2069", 31),
]


class TestXWeightedLength:
    @pytest.mark.parametrize(("text", "expected"), X_VECTORS)
    def test_twitter_text_conformance(self, text: str, expected: int) -> None:
        assert x_weighted_length(text) == expected

    def test_280_ascii_is_280(self) -> None:
        assert x_weighted_length("a" * 280) == 280

    def test_140_cjk_is_280(self) -> None:
        assert x_weighted_length("\u306e" * 140) == 280
        assert x_weighted_length("\u6545" * 141) == 282

    def test_url_counts_23_whatever_its_length(self) -> None:
        short = "https://a.co/x"
        long = "https://example.com/" + "p" * 200
        assert x_weighted_length(short) == 23
        assert x_weighted_length(long) == 23
        assert x_weighted_length(f"see {long} now") == 4 + 23 + 4

    def test_emoji_sequences_count_two(self) -> None:
        assert x_weighted_length(FLAG_US) == 2
        assert x_weighted_length(FAMILY) == 2
        assert x_weighted_length("\u2764\ufe0f") == 2  # ❤️ with VS16 is one emoji
        assert x_weighted_length("\U0001f44d\U0001f3fd") == 2  # skin tone

    def test_general_punctuation_ranges_weigh_one(self) -> None:
        assert x_weighted_length("\u2014\u2019\u2032") == 3  # em dash, right quote, prime
        assert x_weighted_length("\u2020") == 2  # † is outside the light ranges

    def test_text_presentation_copyright_weighs_one(self) -> None:
        assert x_weighted_length("\u00a9") == 1
        assert x_weighted_length("\u00a9\ufe0f") == 2

    def test_domain_without_path_on_country_code_is_text(self) -> None:
        # twitter-text refuses short ccTLD domains without a path, except t.co / .tv.
        assert x_weighted_length("this.is") == 7
        assert x_weighted_length("t.co") == 23
        assert x_weighted_length("this.is/fine") == 23


class TestUrls:
    @pytest.mark.parametrize(
        ("text", "found"),
        [
            ("example.com", ["example.com"]),
            ("www.example.com", ["www.example.com"]),
            ("foo.co.jp", ["foo.co.jp"]),
            (
                "example.com/path/to/resource?search=foo&lang=en",
                ["example.com/path/to/resource?search=foo&lang=en"],
            ),
            ("HTTPS://www.ExaMPLE.COM/index.html", ["HTTPS://www.ExaMPLE.COM/index.html"]),
            ("http://test_underscore.twitter.com", ["http://test_underscore.twitter.com"]),
            ("http://\u2603.net/", ["http://\u2603.net/"]),
            ("visit example.com.", ["example.com"]),
            ("visit example.com.Hello", ["example.com"]),
            (
                "(https://en.wikipedia.org/wiki/Foo_(bar))",
                ["https://en.wikipedia.org/wiki/Foo_(bar)"],
            ),
            ("https://a.com/x?y=1.", ["https://a.com/x?y=1"]),
            ("\u8a73\u7d30\u306fexample.com", ["example.com"]),
        ],
    )
    def test_extracts(self, text: str, found: list[str]) -> None:
        assert urls(text) == found

    @pytest.mark.parametrize(
        "text",
        [
            "ftp://www.example.com/",
            "http://domain-dash_2314352345_dfasd.foo-cow_4352.com",
            "http://www.-domain4352.com/",
            "http://www.domain4352-.com/",
            "http://\u2603-.net/",
            "mail me at a@b.com",
            "not.arealtld",
            "x" * 64 + ".com",
        ],
    )
    def test_refuses(self, text: str) -> None:
        assert urls(text) == []

    def test_punycode_label_over_63_is_not_a_url(self) -> None:
        host = "\u3042\u3044\u3046\u3048\u304a\u304b\u304d\u304f\u3051\u3053" * 5
        assert urls(f"http://{host}\u3042\u3044\u3046.com") == []
        assert urls(f"http://{host}\u3042\u3044.com") == [f"http://{host}\u3042\u3044.com"]

    def test_require_scheme(self) -> None:
        text = "example.com and https://example.org"
        assert [text[a:b] for a, b in url_spans(text, require_scheme=True)] == [
            "https://example.org"
        ]

    def test_adversarial_input_is_linear(self) -> None:
        inputs = ["a." * 50_000, "a.b" * 33_000, ("a-" * 60 + ".") * 800, "x.com/" + "(" * 99_000]
        started = time.perf_counter()
        for text in inputs:
            x_weighted_length(text)
            mastodon_length(text)
        assert time.perf_counter() - started < 10


class TestSimpleCounts:
    def test_graphemes(self) -> None:
        assert grapheme_count(FAMILY + FLAG_US + "e\u0301") == 3
        assert grapheme_count("a" * 300) == 300

    def test_code_points(self) -> None:
        assert code_point_count(FAMILY) == 5

    def test_utf16(self) -> None:
        assert utf16_length("\U0001f600a") == 3
        assert utf16_length("\u00e9") == 1

    def test_utf8(self) -> None:
        assert utf8_length("\u00e9") == 2
        assert utf8_length("\U0001f600") == 4
        assert utf8_length("\ud800") == 3  # a lone surrogate from JSON does not crash

    def test_emoji_count(self) -> None:
        assert emoji_count(f"hi {FAMILY} {FLAG_US} \u00a9") == 2


class TestMastodonLength:
    def test_url_counts_23(self) -> None:
        text = "see https://example.com/a/very/long/path/that/goes/on ok"
        assert mastodon_length(text) == len("see ") + 23 + len(" ok")

    def test_url_without_scheme_counts_in_full(self) -> None:
        assert mastodon_length("example.com") == 11

    def test_remote_mention_counts_as_local(self) -> None:
        assert mastodon_length("hi @alice@example.social") == len("hi @alice")
        assert mastodon_length("hi @alice") == len("hi @alice")

    def test_graphemes(self) -> None:
        assert mastodon_length(FAMILY * 3) == 3


class TestThreadsLength:
    def test_emoji_costs_its_utf8_bytes(self) -> None:
        assert threads_length("hi \U0001f600") == 3 + 4
        assert threads_length(FAMILY) == len(FAMILY.encode())

    def test_plain_text_is_code_points(self) -> None:
        assert threads_length("caf\u00e9") == 4


class TestEntities:
    def test_hashtags_are_distinct_and_need_a_letter(self) -> None:
        assert hashtags("#a #A #b1 #123 x#y &#z") == ["a", "b1"]

    def test_mentions(self) -> None:
        assert mentions("@Bob hi @bob. a@b @c_d") == ["bob", "c_d"]

    def test_distinct_links(self) -> None:
        assert distinct_links("a.com a.com https://b.org") == ["a.com", "https://b.org"]
