"""Making a media file fit one platform's limits.

Adapters call `fit_media` with the platform's `MediaLimits` before uploading or handing
out a URL. A file that already fits is returned as is. An image that is too big, too
large in pixels or in a format the platform refuses is re-encoded once per distinct set
of limits, stored next to the original and recorded in `media_derivatives`, so every
later post (and every retry) reuses it. What cannot be fixed without changing the
content, a video that is too long, an aspect ratio out of range, an animation a format
cannot carry, raises `MediaUnfit` with the rule that failed.

`assess` runs the same rules without I/O, so validation at post-creation time can
refuse what publishing could never fix.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.media.formats import EXTENSION_BY_TYPE
from polypost.media.ingest import scratch_dir
from polypost.media.probe import oriented
from polypost.models import Media, MediaDerivative, MediaKind, MediaStatus
from polypost.storage import Storage

# Formats we can write, in the order we prefer when the original's is not allowed.
ENCODABLE = ("image/jpeg", "image/png", "image/webp")
_PIL_FORMAT = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
# Quality steps tried before shrinking further; below ~70 JPEG artefacts show.
QUALITIES = (90, 85, 80, 72)
SHRINK_STEP = 0.85
MAX_SHRINKS = 4  # at most ~half the allowed edge length: beyond that, refuse
SPEC_VERSION = 1


@dataclass(frozen=True)
class MediaLimits:
    """A platform's constraints on one media file; None means no limit."""

    max_bytes: int | None = None
    max_long_edge: int | None = None
    max_pixels: int | None = None
    formats: frozenset[str] | None = None
    max_duration_ms: int | None = None
    min_duration_ms: int | None = None
    # (min, max) of width / height, e.g. Instagram feed (0.8, 1.91).
    aspect_ratio: tuple[float, float] | None = None
    max_pages: int | None = None

    def spec(self) -> str:
        """A stable name for these limits: equal limits share one derivative."""
        fields = asdict(self)
        fields["formats"] = sorted(self.formats) if self.formats is not None else None
        fields["version"] = SPEC_VERSION
        canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Problem:
    rule: str
    message: str
    fixable: bool


@dataclass(frozen=True)
class FittedMedia:
    """The file to publish: the original, or a derivative made for these limits."""

    media_id: str
    storage_key: str
    content_type: str
    kind: str
    size: int
    width: int | None
    height: int | None
    duration_ms: int | None
    derived: bool


class MediaUnfit(Exception):
    """No acceptable automatic fix exists; `rule` names the limit that failed."""

    def __init__(self, message: str, *, media_id: str, rule: str) -> None:
        super().__init__(message)
        self.message = message
        self.media_id = media_id
        self.rule = rule


def assess(media: Media, limits: MediaLimits) -> list[Problem]:
    """Every limit `media` breaks, and whether re-encoding could fix it."""
    if media.status != MediaStatus.UPLOADED:
        return [Problem("not_uploaded", f"Media {media.id} is {media.status}.", False)]
    problems: list[Problem] = []
    is_image = media.kind == MediaKind.IMAGE
    animated = bool((media.metadata_ or {}).get("animated"))
    size = media.size or 0
    width, height = media.width, media.height
    if limits.formats is not None and media.content_type not in limits.formats:
        can_convert = is_image and not animated and any(f in limits.formats for f in ENCODABLE)
        allowed = ", ".join(sorted(limits.formats))
        problems.append(
            Problem(
                "format", f"{media.content_type} is not accepted (only {allowed}).", can_convert
            )
        )
    if limits.max_bytes is not None and size > limits.max_bytes:
        problems.append(
            Problem(
                "max_bytes",
                f"The file is {size} bytes; the limit is {limits.max_bytes}.",
                is_image and not animated,
            )
        )
    if width and height:
        long_edge = max(width, height)
        if limits.max_long_edge is not None and long_edge > limits.max_long_edge:
            problems.append(
                Problem(
                    "max_long_edge",
                    f"The longest side is {long_edge} px; the limit is {limits.max_long_edge}.",
                    is_image and not animated,
                )
            )
        if limits.max_pixels is not None and width * height > limits.max_pixels:
            problems.append(
                Problem(
                    "max_pixels",
                    f"{width}x{height} exceeds {limits.max_pixels} pixels.",
                    is_image and not animated,
                )
            )
        if limits.aspect_ratio is not None:
            low, high = limits.aspect_ratio
            ratio = width / height
            if not low <= ratio <= high:
                problems.append(
                    Problem(
                        "aspect_ratio",
                        f"The aspect ratio {ratio:.2f} is outside {low:.2f}-{high:.2f}; "
                        "crop the file to fit.",
                        False,
                    )
                )
    duration = media.duration_ms
    if duration is not None:
        if limits.max_duration_ms is not None and duration > limits.max_duration_ms:
            problems.append(
                Problem(
                    "max_duration",
                    f"The video is {duration / 1000:.1f} s; the limit is "
                    f"{limits.max_duration_ms / 1000:.0f} s.",
                    False,
                )
            )
        if limits.min_duration_ms is not None and duration < limits.min_duration_ms:
            problems.append(
                Problem(
                    "min_duration",
                    f"The video is {duration / 1000:.1f} s; the minimum is "
                    f"{limits.min_duration_ms / 1000:.0f} s.",
                    False,
                )
            )
    pages = (media.metadata_ or {}).get("pageCount")
    if limits.max_pages is not None and isinstance(pages, int) and pages > limits.max_pages:
        problems.append(
            Problem(
                "max_pages", f"The PDF has {pages} pages; the limit is {limits.max_pages}.", False
            )
        )
    if animated and any(p.fixable for p in problems):
        problems.append(Problem("animated", "Re-encoding would lose the animation.", False))
    return problems


def _original(media: Media) -> FittedMedia:
    return FittedMedia(
        media_id=media.id,
        storage_key=media.storage_key,
        content_type=media.content_type,
        kind=media.kind or "",
        size=media.size or 0,
        width=media.width,
        height=media.height,
        duration_ms=media.duration_ms,
        derived=False,
    )


def _derived(media: Media, row: MediaDerivative) -> FittedMedia:
    return FittedMedia(
        media_id=media.id,
        storage_key=row.storage_key,
        content_type=row.content_type,
        kind=MediaKind.IMAGE,
        size=row.size,
        width=row.width,
        height=row.height,
        duration_ms=None,
        derived=True,
    )


async def fit_media(
    session: AsyncSession, storage: Storage, media: Media, limits: MediaLimits
) -> FittedMedia:
    """The original when it fits, else the (cached) derivative for `limits`.

    The derivative row is flushed into the caller's transaction; its file is written
    under a deterministic key first, so a rolled-back caller only leaves a file the
    next call overwrites.

    Raises:
        MediaUnfit: not uploaded, or a limit re-encoding cannot (or should not) fix.
    """
    problems = assess(media, limits)
    if not problems:
        return _original(media)
    for problem in problems:
        if not problem.fixable:
            raise MediaUnfit(problem.message, media_id=media.id, rule=problem.rule)
    spec = limits.spec()
    existing = await session.get(MediaDerivative, (media.id, spec))
    if existing is not None:
        return _derived(media, existing)
    async with storage.local_copy(media.storage_key) as source, scratch_dir() as directory:
        made = await asyncio.to_thread(_reencode, source, directory, media, limits)
        folder = media.storage_key.rsplit("/", 1)[0]
        key = f"{folder}/derived/{spec}{EXTENSION_BY_TYPE[made.content_type]}"
        await storage.put_file(key, made.path, made.content_type)
    row = MediaDerivative(
        media_id=media.id,
        spec=spec,
        storage_key=key,
        content_type=made.content_type,
        size=made.size,
        width=made.width,
        height=made.height,
    )
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # A concurrent fit made the same derivative (same key, same bytes): use theirs.
        concurrent = await session.get(MediaDerivative, (media.id, spec), populate_existing=True)
        if concurrent is None:
            raise
        row = concurrent
    return _derived(media, row)


@dataclass(frozen=True)
class _Encoded:
    path: Path
    content_type: str
    size: int
    width: int
    height: int


def _target_format(media: Media, limits: MediaLimits, has_alpha: bool) -> list[str]:
    """At most two output formats to try, best first: the original's when allowed
    (else the best allowed one), then JPEG as the compact fallback for opaque images."""
    allowed = [f for f in ENCODABLE if limits.formats is None or f in limits.formats]
    if has_alpha:  # keep transparency when some allowed format can carry it
        allowed.sort(key=lambda f: f == "image/jpeg")
    first = media.content_type if media.content_type in allowed else allowed[0]
    formats = [first]
    if first != "image/jpeg" and "image/jpeg" in allowed and not has_alpha:
        formats.append("image/jpeg")
    return formats


def _reencode(source: Path, directory: Path, media: Media, limits: MediaLimits) -> _Encoded:
    with Image.open(source) as opened:
        image = oriented(opened)
        image.load()
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    icc = image.info.get("icc_profile")
    width, height = image.size
    scale = 1.0
    if limits.max_long_edge is not None:
        scale = min(scale, limits.max_long_edge / max(width, height))
    if limits.max_pixels is not None:
        scale = min(scale, math.sqrt(limits.max_pixels / (width * height)))
    formats = _target_format(media, limits, has_alpha)
    smallest: int | None = None
    for attempt in range(MAX_SHRINKS + 1):
        size = (max(1, math.floor(width * scale)), max(1, math.floor(height * scale)))
        frame = image if size == image.size else image.resize(size, Image.Resampling.LANCZOS)
        for content_type in formats:
            for quality in QUALITIES if content_type != "image/png" else (None,):
                data = _encode(frame, content_type, quality, icc)
                smallest = len(data) if smallest is None else min(smallest, len(data))
                if limits.max_bytes is None or len(data) <= limits.max_bytes:
                    path = directory / f"fitted{EXTENSION_BY_TYPE[content_type]}"
                    path.write_bytes(data)
                    return _Encoded(path, content_type, len(data), size[0], size[1])
        # Encoded size follows the pixel count: stop when even the smallest allowed
        # scale could not get there.
        assert smallest is not None
        assert limits.max_bytes is not None  # without a byte limit the first encode fits
        if smallest * SHRINK_STEP ** (2 * (MAX_SHRINKS - attempt)) > limits.max_bytes * 1.5:
            break
        scale *= SHRINK_STEP
    raise MediaUnfit(
        f"The image cannot be brought under {limits.max_bytes} bytes without visible loss "
        f"(smallest acceptable encoding: {smallest} bytes).",
        media_id=media.id,
        rule="max_bytes",
    )


def _encode(image: Image.Image, content_type: str, quality: int | None, icc: bytes | None) -> bytes:
    buffer = io.BytesIO()
    options: dict[str, object] = {}
    if icc:
        options["icc_profile"] = icc
    if content_type == "image/jpeg":
        image = _flatten(image)
        options.update(quality=quality, optimize=True, progressive=True)
    elif content_type == "image/webp":
        options.update(quality=quality, method=4)
    else:
        if image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
            image = image.convert("RGBA")
        options.update(optimize=True)
    image.save(buffer, format=_PIL_FORMAT[content_type], **options)
    return buffer.getvalue()


def _flatten(image: Image.Image) -> Image.Image:
    """JPEG has no alpha: composite onto white instead of letting it turn black."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image if image.mode in ("RGB", "L") else image.convert("RGB")
