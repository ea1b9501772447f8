"""Link cards (`app.bsky.embed.external`) built the way the Bluesky app builds them.

Bluesky shows no preview for a URL by itself: the client must fetch the page, read its
Open Graph tags and upload the image as a blob (bluesky.md §2 "Link card"). The page is
a URL a client chose, so it is fetched through the outbound guard (private addresses
refused, checked again on every redirect), with a short timeout and a size cap. A page
that cannot be read still gets a card with what the post itself says (article title and
description); the post never fails because of its preview.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import httpx

from polypost.core.outbound import OutboundBlocked, guarded_client
from polypost.platforms.base import Article

PAGE_MAX_BYTES = 512 * 1024
FETCH_TIMEOUT_SECONDS = 8.0
# app.bsky.embed.external#external: the thumb blob accepts image/* up to 1,000,000 bytes.
THUMB_MAX_BYTES = 1_000_000
USER_AGENT = "Polypost link preview (+https://github.com/polypost)"
TITLE_LIMIT = 300
DESCRIPTION_LIMIT = 1000


class _MetaParser(HTMLParser):
    """Collects `og:*`/`twitter:*` meta tags and the `<title>` of the page head."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.title: str | None = None
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title" and self.title is None:
            self._in_title = True
        if tag != "meta":
            return
        values = {k.lower(): v for k, v in attrs if v is not None}
        name = (values.get("property") or values.get("name") or "").lower()
        if name and "content" in values:
            self.meta.setdefault(name, values["content"].strip())

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title = (self.title or "") + data


@dataclass(frozen=True)
class PagePreview:
    title: str | None = None
    description: str | None = None
    image_url: str | None = None


def parse_preview(html: str, base_url: str) -> PagePreview:
    parser = _MetaParser()
    parser.feed(html)
    meta = parser.meta
    image = meta.get("og:image") or meta.get("twitter:image")
    title = meta.get("og:title") or meta.get("twitter:title") or (parser.title or "").strip()
    description = meta.get("og:description") or meta.get("description")
    image_url = None
    if image:
        try:
            image_url = str(httpx.URL(base_url).join(image))
        except (httpx.InvalidURL, ValueError):
            image_url = None
    return PagePreview(title=title or None, description=description or None, image_url=image_url)


@dataclass(frozen=True)
class Fetched:
    url: str
    content_type: str
    charset: str | None
    body: bytes

    @property
    def text(self) -> str:
        try:
            return self.body.decode(self.charset or "utf-8", errors="replace")
        except LookupError:
            return self.body.decode("utf-8", errors="replace")


async def _fetch(client: httpx.AsyncClient, url: str, limit: int, accept: str) -> Fetched | None:
    """GET with a size cap; None when the resource is unreachable, refused or too big."""
    try:
        async with client.stream("GET", url, headers={"Accept": accept}) as response:
            if response.status_code != 200:
                return None
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > limit:
                    return None
            content_type = response.headers.get("content-type", "")
            return Fetched(
                url=str(response.url),
                content_type=content_type.split(";")[0].strip().lower(),
                charset=response.charset_encoding,
                body=bytes(body),
            )
    except (httpx.HTTPError, OutboundBlocked, ValueError):
        return None


@dataclass(frozen=True)
class Thumbnail:
    data: bytes
    content_type: str


async def fetch_preview(url: str, allow: Sequence[str]) -> tuple[PagePreview, Thumbnail | None]:
    """The page's Open Graph preview and its image, both best effort."""
    async with guarded_client(
        allow, timeout=FETCH_TIMEOUT_SECONDS, follow_redirects=True, max_redirects=3
    ) as client:
        client.headers["User-Agent"] = USER_AGENT
        page = await _fetch(client, url, PAGE_MAX_BYTES, "text/html,application/xhtml+xml")
        if page is None or "html" not in page.content_type:
            return PagePreview(), None
        preview = parse_preview(page.text, page.url)
        if not preview.image_url:
            return preview, None
        image = await _fetch(client, preview.image_url, THUMB_MAX_BYTES, "image/*")
        if image is None or not image.content_type.startswith("image/"):
            return preview, None
        return preview, Thumbnail(data=image.body, content_type=image.content_type)


def external_embed(
    url: str, article: Article | None, preview: PagePreview, thumb: dict[str, Any] | None
) -> dict[str, Any]:
    """`app.bsky.embed.external`; what the post says wins over what the page says."""
    title = (article.title if article and article.title else preview.title) or ""
    description = (
        article.description if article and article.description else preview.description
    ) or ""
    external: dict[str, Any] = {
        "uri": url,
        "title": title[:TITLE_LIMIT],
        "description": description[:DESCRIPTION_LIMIT],
    }
    if thumb is not None:
        external["thumb"] = thumb
    return {"$type": "app.bsky.embed.external", "external": external}
