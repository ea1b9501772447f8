"""How each platform counts the characters of a post.

Platforms disagree on what a "character" is, and a post that one of them counts as 281
fails only when it is published, hours after the API said yes. Each counter here
reproduces one platform's rule so validation can refuse the post at create time:

- X: twitter-text v3 weighted length (`x_weighted_length`).
- Bluesky: grapheme clusters (`grapheme_count`), plus a UTF-8 byte cap.
- Mastodon: graphemes with every URL counted as 23 and `@user@domain` as `@user`
  (`mastodon_length`).
- Threads: code points, but an emoji counts as its UTF-8 byte length (`threads_length`).
- TikTok and Telegram: UTF-16 code units (`utf16_length`).
- YouTube descriptions: UTF-8 bytes (`utf8_length`).
- Everyone else: Unicode code points (`code_point_count`).

No maintained PyPI package gets X right: `twitter-text-parser` (last release 2023)
weighs an emoji by its first code point (a keycap such as "1⃣" counts 1, twitter-text
counts 2) and its emoji table predates Unicode 13. The rules below follow twitter-text's
`parseTweet` and `config/v3.json`; grapheme and emoji boundaries come from the `regex`
module, which tracks current Unicode.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

import regex

_GRAPHEME = regex.compile(r"\X")


def grapheme_count(text: str) -> int:
    """User-perceived characters (extended grapheme clusters): Bluesky's 300 and
    the base of Mastodon's count. 👨‍👩‍👧 and 🇺🇸 are one each."""
    return len(_GRAPHEME.findall(text))


def code_point_count(text: str) -> int:
    """Unicode code points, what most platform docs mean by "characters"."""
    return len(text)


def utf16_length(text: str) -> int:
    """UTF-16 code units: TikTok captions and Telegram text count these, so an emoji
    outside the BMP costs 2."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def utf8_length(text: str) -> int:
    """UTF-8 bytes: YouTube's description limit and Bluesky's 3,000-byte cap."""
    return len(text.encode("utf-8", "surrogatepass"))


# --- emoji ----------------------------------------------------------------------------

# One emoji as a sequence: keycap, flag (regional-indicator pair), or pictographs joined
# by ZWJ, each optionally with VS16, a skin-tone modifier or a subdivision-flag tag run.
_EMOJI_SEQUENCE = regex.compile(
    r"""
      [\#*0-9]\uFE0F?\u20E3
    | \p{Regional_Indicator}{1,2}
    | (?:\p{Extended_Pictographic}(?:\uFE0F|\p{Emoji_Modifier}|[\U000E0020-\U000E007E]+\U000E007F)?)
      (?:\u200D\p{Extended_Pictographic}(?:\uFE0F|\p{Emoji_Modifier})?)*
    """,
    regex.VERBOSE,
)
_EMOJI_PRESENTATION = regex.compile(r"\p{Emoji_Presentation}")


def _emoji_prefix(cluster: str) -> int:
    """Length of the emoji sequence a grapheme cluster starts with, 0 if none.

    A bare text-default pictograph (©, ☺, ❤ without VS16) is not an emoji here: it is
    weighed as the character it is, which is what twitter-text does for © and ®."""
    match = _EMOJI_SEQUENCE.match(cluster)
    if match is None:
        return 0
    sequence = match.group()
    if len(sequence) == 1 and not _EMOJI_PRESENTATION.match(sequence):
        return 0
    return len(sequence)


def emoji_count(text: str) -> int:
    """Emoji sequences in `text` (a ZWJ family or a flag counts once)."""
    return sum(1 for cluster in _GRAPHEME.findall(text) if _emoji_prefix(cluster))


# --- URLs -----------------------------------------------------------------------------


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# ASCII TLDs a URL written without a scheme may end with. Country codes are complete
# (twitter-text `conformance/tld_lib.yml`); generic TLDs are the legacy ones plus the
# common new ones. A rarer new gTLD without a scheme is counted as plain text (X counts
# it as 23), which under-counts by at most a few characters.
_CCTLDS = _words(
    """
    ac ad ae af ag ai al am an ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bl bm
    bn bo bq br bs bt bv bw by bz ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz
    de dj dk dm do dz ec ee eg eh er es et eu fi fj fk fm fo fr ga gb gd ge gf gg gh gi gl
    gm gn gp gq gr gs gt gu gw gy hk hm hn hr ht hu id ie il im in io iq ir is it je jm jo
    jp ke kg kh ki km kn kp kr kw ky kz la lb lc li lk lr ls lt lu lv ly ma mc md me mf mg
    mh mk ml mm mn mo mp mq mr ms mt mu mv mw mx my mz na nc ne nf ng ni nl no np nr nu nz
    om pa pe pf pg ph pk pl pm pn pr ps pt pw py qa re ro rs ru rw sa sb sc sd se sg sh si
    sj sk sl sm sn so sr ss st su sv sx sy sz tc td tf tg th tj tk tl tm tn to tp tr tt tv
    tw tz ua ug uk um us uy uz va vc ve vg vi vn vu wf ws ye yt za zm zw
    """
)
_GTLDS = _words(
    """
    aero app art asia bar beer best bike bio biz blog buzz cafe cam camp capital care cat
    center chat city click cloud club codes coffee com community company coop design dev
    digital direct earth edu email energy events expert fans farm finance fit fun game games
    gay gives global gmbh gov group guide guru health host house how icu info ink int
    jobs land law life link live lol love ltd market media men mil mobi moe money movie
    museum name net network news ninja nyc one onion online ooo org page partners photo
    photos pics pink place plus post pro pub red rocks run sale school science services
    shop show site social software solutions space store stream studio style support systems
    team tech tel today tools top travel tube vip wang watch website wiki win work works
    world wtf xxx xyz zone
    """
)
_SPECIAL_SHORT_CCTLDS = frozenset({"co", "tv"})  # t.co, x.tv count without a path
_MAX_URL_LENGTH = 4096  # twitter-text MAX_URL_LENGTH
_MAX_LABEL = 63  # RFC 1035, after punycode (twitter-text isValidDomain)

_HOST_CHAR = r"[^!\"\#$%&'()*+,./:;<=>?@\[\\\]^`{|}~\s\p{Z}\p{Cc}\p{Cf}\uFFFE\uFFFF]"
_ACCENTS = r"\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u024F\u0300-\u036F\u1E00-\u1EFF"
# Candidates are found without backtracking (possessive host), then checked label by
# label in Python: a single regex with twitter-text's nested quantifiers is quadratic on
# inputs such as "a.a.a.…", and posts may be 100,000 characters long.
_CANDIDATE = regex.compile(
    rf"(?:^|(?<=[^a-z0-9@\uFF20$\#\uFF03\uFFFE\uFEFF\uFFFF]))"
    rf"(?P<scheme>https?://)?(?P<host>{_HOST_CHAR}++(?:\.{_HOST_CHAR}++)*+)",
    regex.IGNORECASE,
)
_AFTER_HOST = regex.compile(
    rf"(?::[0-9]{{1,5}})?"
    rf"(?P<path>/[a-z\u0400-\u04FF0-9!*';:=+,.$/%#\[\]\-\u2013_~@|&(){_ACCENTS}]*+)?"
    rf"(?P<query>\?[a-z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]*+)?",
    regex.IGNORECASE,
)
_ASCII_RUN = regex.compile(r"[a-z0-9_\-]++(?:\.[a-z0-9_\-]++)++", regex.IGNORECASE)
# twitter-text's validDomainChars: anything but ASCII punctuation, spaces and controls.
_LABEL_CHAR = r"[^!\"\#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~\s\p{Z}\p{Cc}\p{Cf}\uFFFE\uFFFF]"
_SUBDOMAIN = regex.compile(rf"{_LABEL_CHAR}(?:(?:{_LABEL_CHAR}|[_\-])*{_LABEL_CHAR})?")
_DOMAIN_NAME = regex.compile(rf"{_LABEL_CHAR}(?:(?:{_LABEL_CHAR}|-)*{_LABEL_CHAR})?")
_TLD_CHARS = regex.compile(rf"{_LABEL_CHAR}{{2,63}}")
_PATH_END = regex.compile(rf"[+\-a-z\u0400-\u04FF0-9=_\#/&{_ACCENTS}]", regex.IGNORECASE)
_MAX_LABELS = 127  # DNS


def _trim_tail(tail: str) -> str:
    """Drop trailing punctuation that ends the sentence rather than the URL, keeping a
    closing parenthesis only when it balances one inside the URL."""
    while tail:
        last = tail[-1]
        if last == ")" and tail.count("(") >= tail.count(")"):
            break
        if last != ")" and _PATH_END.match(last):
            break
        tail = tail[:-1]
    return tail


def _label_ok(label: str) -> bool:
    if label.isascii():
        return 0 < len(label) <= _MAX_LABEL
    try:
        encoded = "xn--" + label.encode("punycode").decode("ascii")
    except UnicodeError:
        return False
    return len(encoded) <= _MAX_LABEL


def _is_tld(label: str, *, unicode: bool) -> bool:
    lowered = label.lower()
    if lowered.isascii():
        return lowered in _CCTLDS or lowered in _GTLDS or lowered.startswith("xn--")
    return unicode and _TLD_CHARS.fullmatch(label) is not None


def _domain_labels(labels: list[str], *, unicode: bool) -> int:
    """How many leading labels form the longest valid domain (0 if none): subdomains,
    one name without `_`, then a TLD, every label at most 63 bytes in punycode."""
    if len(labels) > _MAX_LABELS:
        return 0
    for count in range(len(labels), 1, -1):
        if not _is_tld(labels[count - 1], unicode=unicode):
            continue
        if (
            _DOMAIN_NAME.fullmatch(labels[count - 2])
            and all(_SUBDOMAIN.fullmatch(label) for label in labels[: count - 2])
            and all(_label_ok(label) for label in labels[:count])
        ):
            return count
    return 0


def url_spans(text: str, *, require_scheme: bool = False) -> Iterator[tuple[int, int]]:
    """(start, end) of every URL twitter-text would link in `text`.

    A scheme-less URL must be ASCII, end in a known TLD, and not follow `-_./`; a bare
    `name.<country code>` needs a path (t.co and .tv excepted), as in twitter-text's
    `extractUrlsWithIndices`."""
    for match in _CANDIDATE.finditer(text):
        host = match.group("host")
        host_start, host_end = match.span("host")
        if match.group("scheme"):
            pieces = [(host_start, host, True)]
        elif require_scheme or (match.start() > 0 and text[match.start() - 1] in "-_./"):
            continue
        else:
            pieces = [
                (host_start + run.start(), run.group(), False) for run in _ASCII_RUN.finditer(host)
            ]
        for piece_start, piece, has_scheme in pieces:
            labels = piece.split(".")
            count = _domain_labels(labels, unicode=has_scheme)
            if not count:
                continue
            domain_end = piece_start + len(".".join(labels[:count]))
            start = match.start() if has_scheme else piece_start
            end = domain_end
            tail = ""
            if domain_end == host_end:
                if host_end < len(text) and text[host_end] in "@+":
                    continue  # twitter-text's TLD lookahead: not an address or handle
                after = _AFTER_HOST.match(text, host_end)
                assert after is not None  # every part is optional
                raw_tail = (after.group("path") or "") + (after.group("query") or "")
                tail = _trim_tail(raw_tail)
                end = after.end() - (len(raw_tail) - len(tail))
            if not has_scheme and count == 2 and not tail:
                tld = labels[1].lower()
                if tld in _CCTLDS and tld not in _SPECIAL_SHORT_CCTLDS:
                    continue  # "name.is": a short ccTLD domain needs a path
            if end - start <= _MAX_URL_LENGTH:
                yield start, end


def urls(text: str) -> list[str]:
    """Every URL in `text` (with or without a scheme), in order."""
    return [text[start:end] for start, end in url_spans(text)]


# --- X (twitter-text v3) --------------------------------------------------------------

# twitter-text config/v3.json; the same numbers are in shared/platforms/x.md §4.
X_SCALE = 100
X_DEFAULT_WEIGHT = 200
X_TRANSFORMED_URL_LENGTH = 23
_X_LIGHT_RANGES = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))


def _x_weight(char: str) -> int:
    code = ord(char)
    for low, high in _X_LIGHT_RANGES:
        if low <= code <= high:
            return X_SCALE
    return X_DEFAULT_WEIGHT


def _x_weigh_plain(chunk: str) -> int:
    total = 0
    for cluster in _GRAPHEME.findall(chunk):
        emoji = _emoji_prefix(cluster)
        if emoji:
            total += X_DEFAULT_WEIGHT  # any emoji sequence, however many code points
        total += sum(_x_weight(char) for char in cluster[emoji:])
    return total


def x_weighted_length(text: str) -> int:
    """twitter-text v3 weighted length: NFC first; code points in the Latin-ish ranges
    weigh 1, everything else 2; an emoji sequence weighs 2; a URL weighs 23."""
    text = unicodedata.normalize("NFC", text)
    total = 0
    position = 0
    for start, end in url_spans(text):
        total += _x_weigh_plain(text[position:start]) + X_TRANSFORMED_URL_LENGTH * X_SCALE
        position = end
    total += _x_weigh_plain(text[position:])
    return total // X_SCALE


# --- Mastodon -------------------------------------------------------------------------

MASTODON_URL_LENGTH = 23  # instance `characters_reserved_per_url`, 23 by default
# Mastodon's mention regex (app/models/account.rb MENTION_RE): a remote mention's
# `@domain` part is free.
_MASTODON_MENTION = regex.compile(
    r"(?<![/\w])@([a-z0-9_](?:[a-z0-9_.\-]*[a-z0-9_])?)@[\w.\-]*\w", regex.IGNORECASE
)


def mastodon_length(text: str) -> int:
    """Mastodon's StatusLengthValidator: graphemes after replacing every URL that has a
    scheme by 23 characters and every `@user@domain` by `@user`."""
    parts: list[str] = []
    position = 0
    for start, end in url_spans(text, require_scheme=True):
        parts.append(text[position:start])
        parts.append("x" * MASTODON_URL_LENGTH)
        position = end
    parts.append(text[position:])
    countable = _MASTODON_MENTION.sub(lambda m: "@" + m.group(1), "".join(parts))
    return grapheme_count(countable)


# --- Threads --------------------------------------------------------------------------


def threads_length(text: str) -> int:
    """Threads counts characters, except that an emoji costs its UTF-8 byte length
    (developers.facebook.com/docs/threads/overview; shared/platforms/threads.md §4)."""
    total = 0
    for cluster in _GRAPHEME.findall(text):
        emoji = _emoji_prefix(cluster)
        total += utf8_length(cluster[:emoji]) + len(cluster[emoji:])
    return total


# --- entities -------------------------------------------------------------------------

_HASHTAG = regex.compile(r"(?:^|(?<=[^&\w]))[#\uFF03](\w*[^\W\d_]\w*)")
_MENTION = regex.compile(r"(?:^|(?<=[^\w@]))@([A-Za-z0-9_.]{1,30})")


def hashtags(text: str) -> list[str]:
    """Distinct hashtags (case-insensitive); `#123` alone is not a hashtag."""
    return list(dict.fromkeys(tag.lower() for tag in _HASHTAG.findall(text)))


def mentions(text: str) -> list[str]:
    """Distinct @handles (case-insensitive)."""
    return list(dict.fromkeys(name.lower().rstrip(".") for name in _MENTION.findall(text)))


def distinct_links(text: str) -> list[str]:
    """Distinct URLs, as Threads' 5-link limit counts them."""
    return list(dict.fromkeys(urls(text)))
