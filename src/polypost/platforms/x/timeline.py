"""Reading the account's timeline: recognising an interrupted publish among recent
posts, and paging the native-post list."""

from __future__ import annotations

import html
import re
import unicodedata
from datetime import datetime
from typing import Any

from polypost.core.errors import BadRequest
from polypost.core.timeutil import utcnow
from polypost.platforms.base import Outgoing

TWEET_FIELDS = "created_at,text,referenced_tweets,attachments,note_tweet"

_LINK = re.compile(r"(?:https?://)?(?:[\w-]+\.)+[a-z]{2,}(?::\d+)?(?:/\S*)?", re.IGNORECASE)
_LEADING_MENTIONS = re.compile(r"^(?:@\w+\s+)+")


def comparable(text: str) -> str:
    """Text as both Polypost and X's timeline can agree on it: HTML entities decoded,
    links and leading reply mentions removed, whitespace collapsed."""
    text = unicodedata.normalize("NFC", html.unescape(text))
    text = _LINK.sub(" ", text)
    text = _LEADING_MENTIONS.sub("", text.strip())
    return " ".join(text.split())


def with_link(text: str, link: str | None) -> str:
    """The text with the post's link at its end, unless the text has it already."""
    if not link or link in text:
        return text
    return f"{text}\n\n{link}" if text else link


def text_of(tweet: dict[str, Any]) -> str:
    """A long post's full text is in `note_tweet.text`; `text` is cut at 280."""
    note = tweet.get("note_tweet") if isinstance(tweet.get("note_tweet"), dict) else None
    return str((note or {}).get("text") or tweet.get("text") or "")


def matches(
    tweet: dict[str, Any], wanted: str, parent: str | None, post: Outgoing, media_ids: set[str]
) -> bool:
    """Whether a timeline post is this step: same text, same reply parent (none for a
    thread's first post), as many media, and the uploaded media ids when known."""
    if comparable(text_of(tweet)) != wanted:
        return False
    replied_to = next(
        (
            str(ref.get("id"))
            for ref in tweet.get("referenced_tweets") or []
            if isinstance(ref, dict) and ref.get("type") == "replied_to"
        ),
        None,
    )
    if replied_to != parent:
        return False
    attachments = tweet.get("attachments") if isinstance(tweet.get("attachments"), dict) else {}
    keys = [str(k) for k in (attachments or {}).get("media_keys") or []]
    if len(keys) != len(post.media):
        return False
    # A media key is "<type>_<media id>" (3_ photo, 7_ video, 16_ GIF).
    return not media_ids or {k.split("_", 1)[-1] for k in keys} == media_ids


def parse_cursor(cursor: str | None) -> tuple[str, int]:
    """`<X pagination token>.<posts of that X page already returned>`; the token is
    empty for the first X page."""
    if not cursor:
        return "", 0
    token, _, skip = cursor.rpartition(".")
    if not skip.isdigit() or int(skip) >= 100 or not re.fullmatch(r"[A-Za-z0-9_-]*", token):
        raise BadRequest(
            "Invalid cursor.", details={"fields": [{"field": "cursor", "message": "invalid"}]}
        )
    return token, int(skip)


def parse_time(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
    return utcnow()
