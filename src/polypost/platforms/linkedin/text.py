r"""LinkedIn "little text": the format of a post's `commentary`.

The characters `\ | { } @ [ ] ( ) < > # * _ ~` are reserved. An unescaped one makes
LinkedIn cut the post at that point while still answering 201 (linkedin.md §7, reported
by activepieces #3058 and pipedream #17353), so every reserved character is escaped with
a backslash, except in what the author meant as markup: a mention
`@[Name](urn:li:organization:123)` and a hashtag `#word`, which stay as written.
"""

from __future__ import annotations

import re

MENTION = r"@\[[^\[\]\n]{1,200}\]\(urn:li:(?:person|organization):[A-Za-z0-9_-]{1,64}\)"
HASHTAG = r"(?<![\w#\\])#\w+"
KEEP = re.compile(f"{MENTION}|{HASHTAG}")
RESERVED = re.compile(r"([\\|{}@\[\]()<>#*_~])")
ESCAPED = re.compile(r"\\([\\|{}@\[\]()<>#*_~])")


def escape(text: str) -> str:
    """`text` as commentary that LinkedIn shows exactly as written."""
    out: list[str] = []
    position = 0
    for match in KEEP.finditer(text):
        out.append(RESERVED.sub(r"\\\1", text[position : match.start()]))
        out.append(match.group(0))
        position = match.end()
    out.append(RESERVED.sub(r"\\\1", text[position:]))
    return "".join(out)


def unescape(commentary: str) -> str:
    """Commentary read back from LinkedIn as plain text (escapes removed)."""
    return ESCAPED.sub(r"\1", commentary)
