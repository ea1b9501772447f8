"""Publishing pins (pinterest.md §2, §3): image pins by URL or inline, carousels,
video pins through media upload and processing, and settling an interrupted publish.

Images are handed over by URL when Pinterest can fetch it (a public presigned URL),
else sent inline as base64 (a server whose media URLs are local, pinterest.md §7).
A video is registered (`POST /v5/media`), uploaded to Pinterest's S3 bucket as a form
POST, and processed by Pinterest; the step hands its worker back while the media is
processing (`Pending`, with a deadline in its state) and creates the pin once it
`succeeded`.

`POST /v5/pins` takes no idempotency key, so an interrupted publish is settled by
lookup (`recovery = "lookup"`): the board's recent pins with the same title,
description and link. A pin with nothing to recognise it by, or two candidates, is
reported as unknown rather than guessed.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from polypost.core.http import PlatformHttp
from polypost.core.timeutil import isoformat
from polypost.platforms.base import (
    AuthExpired,
    Credentials,
    MediaInfo,
    MediaKind,
    Outgoing,
    Pending,
    Permanent,
    PlatformError,
    Published,
    Transient,
)
from polypost.platforms.download import filename_of, spool
from polypost.platforms.memo import StepMemo
from polypost.platforms.options import PinterestOptions
from polypost.platforms.pinterest import errors
from polypost.platforms.youtube.transfer import read_all

API = "https://api.pinterest.com/v5"
SANDBOX_API = "https://api-sandbox.pinterest.com/v5"
WEB = "https://www.pinterest.com"
# pinterest.md §3: "Postiz polls every 20 s, cap 8 min"; large videos get a margin.
PROCESSING_DEADLINE = timedelta(minutes=15)
POLL_DELAYS = (timedelta(seconds=5), timedelta(seconds=10), timedelta(seconds=20))
MEMO_TTL = timedelta(hours=2)
PUBLISHED_TTL = timedelta(hours=1)
# pinterest.md §3: images ≤20 MB; inline images are read whole.
IMAGE_MAX_BYTES = 20 * 1024 * 1024
INLINE_TYPES = frozenset({"image/jpeg", "image/png"})
LOOKUP_WINDOW = timedelta(hours=24)
LOOKUP_PAGE = 50
PRIVATE_SUFFIXES = (".localhost", ".local", ".internal", ".invalid", ".test", ".lan", ".home.arpa")


def publicly_fetchable(url: str | None) -> bool:
    """Whether Pinterest's servers could fetch `url` (not loopback, private or a
    local-only name); such URLs are sent inline instead."""
    if not url:
        return False
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return False
    host = parsed.host.lower()
    if parsed.scheme not in ("http", "https") or not host or host == "localhost":
        return False
    if host.endswith(PRIVATE_SUFFIXES):
        return False
    try:
        return ipaddress.ip_address(host).is_global
    except ValueError:
        return "." in host


class S3Upload:
    """Classifies the answer of Pinterest's S3 bucket to the video form POST."""

    def classify(self, response: httpx.Response) -> PlatformError:
        status = response.status_code
        if status >= 500 or status in (403, 408, 429):
            # 403: the signed upload policy expired; a new registration gets a new one.
            return Transient(f"Pinterest's upload storage answered {status}", code=f"s3_{status}")
        return Permanent(
            f"Pinterest's upload storage refused the video ({status}): {response.text[:300]}",
            code="upload_rejected",
        )


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _same(left: str | None, right: str | None) -> bool:
    return " ".join((left or "").split()) == " ".join((right or "").split())


class PinterestPublishing:
    """The publishing half of `PinterestAdapter` (which sets these attributes)."""

    runtime: Any
    http: PlatformHttp
    memo: StepMemo
    now: Callable[[], datetime]
    poll_delays: tuple[timedelta, ...]

    # --- plumbing ---------------------------------------------------------------------

    def classify(self, response: httpx.Response) -> PlatformError:
        """Pinterest's `{"code", "message"}` errors by HTTP status (pinterest.md §6)."""
        return errors.classify(response)

    @property
    def api(self) -> str:
        """Production, or the sandbox for Trial-access apps (pinterest.md §7)."""
        apps = getattr(getattr(self.runtime, "settings", None), "oauth_apps", None) or {}
        configured = str((apps.get("pinterest") or {}).get("apiBaseUrl") or "").rstrip("/")
        return SANDBOX_API if configured == SANDBOX_API else API

    def _auth(self, account: Credentials) -> dict[str, str]:
        if not account.access_token:
            raise AuthExpired("The Pinterest account has no access token", code="unauthorized")
        return {"Authorization": f"Bearer {account.access_token}"}

    async def _get(
        self, account: Credentials, path: str, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        body = await self.http.json(
            self, "GET", f"{self.api}{path}", params=params, headers=self._auth(account)
        )
        return body if isinstance(body, dict) else {}

    def _options(self, post: Outgoing) -> PinterestOptions:
        return post.options if isinstance(post.options, PinterestOptions) else PinterestOptions()

    @staticmethod
    def board_of(options: PinterestOptions, settings: Any) -> str | None:
        """The board a pin goes to: the post's option, else the account's choice."""
        chosen = (settings or {}).get("pageId") or (settings or {}).get("boardId")
        return options.board_id or (str(chosen) if chosen else None)

    # --- publishing -------------------------------------------------------------------

    def _memo_key(self, account: Credentials, post: Outgoing) -> str:
        return f"publish:{account.account_id}:{post.key}"

    def _published(self, pin_id: str) -> Published:
        return Published(id=pin_id, url=f"{WEB}/pin/{pin_id}/")

    def pin_fields(self, account: Credentials, post: Outgoing) -> dict[str, Any]:
        """The pin's board and text fields (pinterest.md §2)."""
        options = self._options(post)
        board = self.board_of(options, account.settings)
        if board is None:
            raise Permanent(
                "No Pinterest board chosen for this account or post", code="board_required"
            )
        body: dict[str, Any] = {"board_id": board}
        if options.board_section_id:
            body["board_section_id"] = options.board_section_id
        if options.title:
            body["title"] = options.title
        description = options.description if options.description is not None else post.text
        if description:
            body["description"] = description
        link = options.link or post.link or (post.article.url if post.article else None)
        if link:
            body["link"] = link
        alt = options.alt_text or (post.alt_texts.get(post.media[0].id) if post.media else None)
        if alt:
            body["alt_text"] = alt
        return body

    async def _inline(self, media: MediaInfo) -> dict[str, str]:
        if media.content_type.lower() not in INLINE_TYPES:
            raise Permanent(
                f"Pinterest takes JPEG or PNG images; {media.id} is {media.content_type}",
                code="media_format_not_supported",
            )
        data = await read_all(self.runtime.http, media, IMAGE_MAX_BYTES)
        return {"content_type": media.content_type.lower(), "data": base64.b64encode(data).decode()}

    async def image_source(self, images: tuple[MediaInfo, ...]) -> dict[str, Any]:
        """`media_source` of an image pin or carousel: URLs when Pinterest can fetch
        them, else the bytes inline."""
        if all(publicly_fetchable(m.url) for m in images):
            if len(images) == 1:
                return {"source_type": "image_url", "url": images[0].url}
            return {"source_type": "multiple_image_urls", "items": [{"url": m.url} for m in images]}
        inline = [await self._inline(m) for m in images]
        if len(images) == 1:
            return {"source_type": "image_base64", **inline[0]}
        return {"source_type": "multiple_image_base64", "items": inline}

    async def _cover(self, post: Outgoing) -> dict[str, Any]:
        """A video pin always needs a cover (pinterest.md §7): the post's cover image,
        else a frame at `coverOffsetMs` (the first frame by default)."""
        cover = post.cover
        if cover is not None and publicly_fetchable(cover.url):
            return {"cover_image_url": cover.url}
        if cover is not None:
            inline = await self._inline(cover)
            return {
                "cover_image_content_type": inline["content_type"],
                "cover_image_data": inline["data"],
            }
        return {"cover_image_key_frame_time": (post.cover_offset_ms or 0) // 1000}

    async def publish(self, account: Credentials, post: Outgoing) -> Published:
        """One pin: image, carousel or (after upload and processing) video.

        Raises:
            Pending: the video is still processing at Pinterest.
        """
        if post.reply_to is not None:
            raise Permanent("Pinterest pins have no replies or threads", code="unsupported")
        if not post.media:
            raise Permanent("A pin needs an image or a video", code="media_required")
        key = self._memo_key(account, post)
        fields = self.pin_fields(account, post)
        state: dict[str, Any] = (
            dict(post.resume) if post.resume else (await self.memo.get(key) or {})
        )
        done = state.get("published")
        if isinstance(done, dict) and done.get("id"):
            return self._published(str(done["id"]))
        videos = [m for m in post.media if m.kind is MediaKind.VIDEO]
        if videos:
            media_id = await self._ready_video(account, videos[0], key, state)
            source = {"source_type": "video_id", "media_id": media_id, **await self._cover(post)}
        else:
            source = await self.image_source(post.media)
        pin = await self.http.json(
            self,
            "POST",
            f"{self.api}/pins",
            json={**fields, "media_source": source},
            headers=self._auth(account),
        )
        pin_id = pin.get("id") if isinstance(pin, dict) else None
        if not pin_id:
            raise Transient("Pinterest created a pin without returning its id", maybe_sent=True)
        published = self._published(str(pin_id))
        await self.memo.put(key, {**state, "published": {"id": published.id}}, PUBLISHED_TTL)
        return published

    async def _ready_video(
        self, account: Credentials, video: MediaInfo, key: str, state: dict[str, Any]
    ) -> str:
        """The Pinterest media id of the video once processed (pinterest.md §3).

        Raises:
            Pending: still `registered`/`processing`; the state holds the media id.
            Permanent: `media_processing_failed`, or `processing_timeout` past the deadline.
        """
        if not state.get("mediaId"):
            state.update(await self._upload_video(account, video))
            state.update(deadline=isoformat(self.now() + PROCESSING_DEADLINE), polls=0)
            await self.memo.put(key, state, MEMO_TTL)
        media_id = str(state["mediaId"])
        body = await self._get(account, f"/media/{media_id}")
        status = body.get("status")
        if status == "succeeded":
            return media_id
        if status == "failed":
            await self.memo.drop(key)
            raise Permanent(
                f"Pinterest could not process video {video.id} (media {media_id})",
                code="media_processing_failed",
            )
        deadline = parse_time(state.get("deadline"))
        if deadline is not None and self.now() > deadline:
            await self.memo.drop(key)
            raise Permanent(
                f"Pinterest was still processing video {video.id} (media {media_id}) after "
                f"{PROCESSING_DEADLINE}",
                code="processing_timeout",
            )
        polls = int(state.get("polls") or 0)
        state["polls"] = polls + 1
        delay = self.poll_delays[min(polls, len(self.poll_delays) - 1)]
        raise Pending("processing", state, delay)

    async def _upload_video(self, account: Credentials, video: MediaInfo) -> dict[str, Any]:
        """Register the video and POST it to Pinterest's S3 bucket: the policy fields
        first, the file last (an S3 POST policy requirement)."""
        registered = await self.http.json(
            self,
            "POST",
            f"{self.api}/media",
            json={"media_type": "video"},
            headers=self._auth(account),
        )
        media_id = registered.get("media_id") if isinstance(registered, dict) else None
        upload_url = registered.get("upload_url") if isinstance(registered, dict) else None
        fields = registered.get("upload_parameters") if isinstance(registered, dict) else None
        if not media_id or not upload_url or not isinstance(fields, dict):
            raise Transient("Pinterest registered a video without upload instructions")
        async with spool(self.runtime.http, video) as source:
            await self.http.request(
                S3Upload(),
                "POST",
                str(upload_url),
                data={str(k): str(v) for k, v in fields.items()},
                files={"file": (filename_of(video, "video"), source, video.content_type)},
            )
        return {"mediaId": str(media_id)}

    async def comment(self, account: Credentials, post: Outgoing) -> Published:
        raise Permanent("Pinterest's API v5 cannot post comments", code="unsupported")

    # --- recovery ---------------------------------------------------------------------

    async def find_published(self, account: Credentials, post: Outgoing) -> Published | None:
        """The pin an interrupted attempt created, if any (see the module docstring).

        Raises:
            Permanent: `unsupported` (no title, description or link to recognise the
                pin by) or `ambiguous` (several recent pins match).
        """
        state = await self.memo.get(self._memo_key(account, post)) or {}
        done = state.get("published")
        if isinstance(done, dict) and done.get("id"):
            return self._published(str(done["id"]))
        fields = self.pin_fields(account, post)
        if not any(fields.get(k) for k in ("title", "description", "link")):
            raise Permanent(
                "This pin has no title, description or link to recognise it by",
                code="unsupported",
            )
        body = await self._get(
            account, f"/boards/{fields['board_id']}/pins", {"page_size": LOOKUP_PAGE}
        )
        since = self.now() - LOOKUP_WINDOW
        matches = []
        for pin in body.get("items") or []:
            created = parse_time(pin.get("created_at"))
            if not pin.get("id") or created is None or created < since:
                continue
            if all(_same(pin.get(k), fields.get(k)) for k in ("title", "description", "link")):
                matches.append(pin)
        if len(matches) > 1:
            raise Permanent(
                f"{len(matches)} recent pins on the board match this post; cannot tell which",
                code="ambiguous",
            )
        return self._published(str(matches[0]["id"])) if matches else None
