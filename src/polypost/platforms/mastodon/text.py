"""Comparing a status's HTML `content` with the text Polypost sent.

Statuses come back as HTML (`<p>`, `<br>`, links split into invisible/ellipsis spans,
mentions shortened to `@user`). To recognise a status an interrupted attempt created,
both sides are reduced to the same plain form: tags removed (span text kept, so a link's
full URL survives), entities decoded, paragraph and line breaks as spaces, runs of
whitespace collapsed, and remote mentions `@user@domain` shortened to `@user` the way
Mastodon renders them.
"""

from __future__ import annotations

import html
import re

_BREAK = re.compile(r"<br\s*/?>|</p>\s*<p[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
_REMOTE_MENTION = re.compile(r"(?<![\w@])@(\w[\w.-]*)@[\w.-]+\w")


def html_to_text(content: str) -> str:
    text = _BREAK.sub(" ", content)
    text = html.unescape(_TAG.sub("", text))
    return _SPACE.sub(" ", text).strip()


def comparable(text: str) -> str:
    """`text` as a status's rendered content reads once reduced by `html_to_text`."""
    return _SPACE.sub(" ", _REMOTE_MENTION.sub(r"@\1", text)).strip()
