"""Rich-text facets: what makes links, mentions and hashtags live in a Bluesky post.

Without a facet a URL in a post is plain text. Facets address the text by UTF-8 BYTE
offsets (start inclusive, end exclusive), so every offset here is computed on the
encoded text, never on `str` indices: an emoji or an accented letter before a link
shifts it by several bytes. Detection follows the rules of the official client
(`@atproto/api` RichText.detectFacets): links with an http(s) scheme, trailing
punctuation trimmed; `@handle` mentions (resolved to DIDs by the caller, dropped when
they don't resolve); `#tag` hashtags up to 64 characters, trailing punctuation trimmed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import regex

from polypost.posts.counting import grapheme_count

# A URL starts the text or follows whitespace or an opening bracket/quote.
_URL = regex.compile(r"(?:^|(?<=[\s(\[{<\"'\u201c\u2018]))(https?://[^\s<>\"]+)", regex.IGNORECASE)
_URL_TRAILING = ".,;:!?'\"\u201d\u2019"
# atproto handle syntax: dot-separated labels, the last one (TLD) starting with a letter.
_MENTION = regex.compile(
    r"(?:^|(?<=[\s(\[{]))@((?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+"
    r"[a-zA-Z](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)"
)
_TAG_STOP = r"\s\u00AD\u2060\u200A\u200B\u200C\u200D\u20e2"
_TAG = regex.compile(
    rf"(?:^|(?<=\s))[#\uff03]((?!\ufe0f)[^{_TAG_STOP}]*[^\d\p{{P}}{_TAG_STOP}]+[^{_TAG_STOP}]*)"
)
_TRAILING_PUNCTUATION = regex.compile(r"\p{P}+$")
MAX_TAG_LENGTH = 64


@dataclass(frozen=True)
class Span:
    """One detected entity: character offsets into the text and its value."""

    kind: str  # "link" | "mention" | "tag"
    start: int
    end: int
    value: str


def _trim_url(url: str) -> str:
    url = url.rstrip(_URL_TRAILING)
    # A closing bracket belongs to the URL only when the URL opened one.
    while (
        url
        and url[-1] in ")]}"
        and url.count(url[-1]) > url.count({")": "(", "]": "[", "}": "{"}[url[-1]])
    ):
        url = url[:-1].rstrip(_URL_TRAILING)
    return url


def detect(text: str) -> list[Span]:
    """Links, mentions and hashtags in `text`, in order, never overlapping."""
    spans: list[Span] = []
    for match in _URL.finditer(text):
        url = _trim_url(match.group(1))
        if "." in url.split("://", 1)[1].split("/", 1)[0]:
            spans.append(Span("link", match.start(1), match.start(1) + len(url), url))
    for match in _MENTION.finditer(text):
        spans.append(Span("mention", match.start(), match.end(), match.group(1).lower()))
    for match in _TAG.finditer(text):
        tag = _TRAILING_PUNCTUATION.sub("", match.group(1))
        if not tag or grapheme_count(tag) > MAX_TAG_LENGTH:
            continue
        spans.append(Span("tag", match.start(), match.start(1) + len(tag), tag))
    kept: list[Span] = []
    for span in spans:  # links first: a mention or tag inside a URL is part of the URL
        if all(span.end <= other.start or span.start >= other.end for other in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s.start)


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def facets(text: str, spans: list[Span], dids: Mapping[str, str]) -> list[dict[str, Any]]:
    """`app.bsky.richtext.facet` objects for `spans`; a mention whose handle is not in
    `dids` (it did not resolve) gets no facet."""
    result: list[dict[str, Any]] = []
    for span in spans:
        if span.kind == "link":
            feature = {"$type": "app.bsky.richtext.facet#link", "uri": span.value}
        elif span.kind == "mention":
            did = dids.get(span.value)
            if did is None:
                continue
            feature = {"$type": "app.bsky.richtext.facet#mention", "did": did}
        else:
            feature = {"$type": "app.bsky.richtext.facet#tag", "tag": span.value}
        result.append(
            {
                "index": {
                    "byteStart": _byte_offset(text, span.start),
                    "byteEnd": _byte_offset(text, span.end),
                },
                "features": [feature],
            }
        )
    return result
