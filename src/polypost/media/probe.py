"""Reading what a media file really is: format from magic bytes, image dimensions
(Pillow), video duration/dimensions/codecs (ffprobe, when installed) and PDF page count
(pypdf). Decoders run in worker threads or a subprocess, never on the event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import anyio
from PIL import Image, ImageOps, UnidentifiedImageError
from pypdf import PdfReader
from pypdf.errors import PyPdfError

from polypost.media.formats import SNIFF_BYTES, kind_of, sniff
from polypost.models import MediaKind

logger = logging.getLogger(__name__)

# Above this an image is refused rather than decoded (decompression bombs); every
# platform's own limit is far lower.
MAX_IMAGE_PIXELS = 100_000_000
FFPROBE_TIMEOUT_SECONDS = 60.0
FFPROBE_MISSING = (
    "ffprobe is not installed on the server: video duration, dimensions and codec were not read"
)
_PILLOW_FORMATS = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
}


@dataclass
class Inspection:
    """What the bytes say. `error` set means the file is not usable (status invalid)."""

    content_type: str | None
    kind: MediaKind | None
    size: int
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


class ProbeFailed(Exception):
    """The file claims a format but does not decode as one."""


async def inspect_file(path: Path, *, ffprobe_path: str = "ffprobe") -> Inspection:
    """Sniff and measure the file at `path`."""
    apath = anyio.Path(path)
    size = (await apath.stat()).st_size
    async with await anyio.open_file(path, "rb") as handle:
        head = await handle.read(SNIFF_BYTES)
    content_type = sniff(head)
    kind = kind_of(content_type)
    result = Inspection(content_type=content_type, kind=kind, size=size)
    if size == 0:
        result.error = "The file is empty."
        return result
    if kind is None:
        result.error = "The file is not a supported image, video or PDF."
        return result
    try:
        if kind is MediaKind.IMAGE:
            await asyncio.to_thread(_inspect_image, path, result)
        elif kind is MediaKind.VIDEO:
            await _inspect_video(path, result, ffprobe_path)
        else:
            await asyncio.to_thread(_inspect_pdf, path, result)
    except ProbeFailed as exc:
        result.error = str(exc)
    return result


def _inspect_image(path: Path, result: Inspection) -> None:
    try:
        with Image.open(path) as image:
            real = _PILLOW_FORMATS.get(image.format or "")
            if real != result.content_type:
                raise ProbeFailed("The image data does not match its format header.")
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise ProbeFailed(
                    f"The image is {width}x{height}; more than "
                    f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels is not accepted."
                )
            frames = int(getattr(image, "n_frames", 1))
            orientation = int(image.getexif().get(0x0112, 1))
            image.load()  # a truncated or corrupt file fails here, not at publish time
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise ProbeFailed("The image cannot be decoded.") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ProbeFailed(f"The image is damaged ({exc}).") from exc
    if orientation in (5, 6, 7, 8):  # EXIF rotation by 90°: shown with swapped sides
        width, height = height, width
    result.width, result.height = width, height
    if frames > 1:
        result.metadata["frames"] = frames
        result.metadata["animated"] = True
    if orientation != 1:
        result.metadata["exifOrientation"] = orientation


def oriented(image: Image.Image) -> Image.Image:
    """The image as displayed (EXIF orientation applied)."""
    return ImageOps.exif_transpose(image)


async def run_ffprobe(path: Path, ffprobe_path: str) -> dict[str, Any] | None:
    """ffprobe's JSON for `path`, or None when ffprobe is not installed.

    Raises:
        ProbeFailed: ffprobe ran but could not read the file.
    """
    try:
        process = await asyncio.create_subprocess_exec(
            ffprobe_path,
            "-v", "error",
            "-print_format", "json",
            "-show_format", "-show_streams",
            "--", str(path),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
    except (FileNotFoundError, PermissionError):
        return None
    try:
        async with asyncio.timeout(FFPROBE_TIMEOUT_SECONDS):
            stdout, stderr = await process.communicate()
    except TimeoutError as exc:
        process.kill()
        await process.wait()
        raise ProbeFailed("Reading the video took too long.") from exc
    if process.returncode != 0:
        reason = stderr.decode(errors="replace").strip().splitlines()
        raise ProbeFailed(
            "The video cannot be read" + (f" ({reason[-1][:200]})." if reason else ".")
        )
    try:
        data: dict[str, Any] = json.loads(stdout)
    except ValueError as exc:
        raise ProbeFailed("The video cannot be read.") from exc
    return data


async def _inspect_video(path: Path, result: Inspection, ffprobe_path: str) -> None:
    data = await run_ffprobe(path, ffprobe_path)
    if data is None:
        logger.warning("ffprobe not found", extra={"ffprobe": ffprobe_path})
        result.warnings.append(FFPROBE_MISSING)
        result.metadata["probed"] = False
        return
    streams = [s for s in data.get("streams", []) if isinstance(s, dict)]
    video = next(
        (
            s
            for s in streams
            if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")
        ),
        None,
    )
    if video is None:
        raise ProbeFailed("The file has no video stream.")
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    width, height = _int(video.get("width")), _int(video.get("height"))
    rotation = _rotation(video)
    if rotation in (90, 270) and width and height:
        width, height = height, width
    duration = _float(data.get("format", {}).get("duration")) or _float(video.get("duration"))
    result.width, result.height = width, height
    result.duration_ms = round(duration * 1000) if duration is not None else None
    meta: dict[str, Any] = {"probed": True, "videoCodec": video.get("codec_name")}
    if audio is not None:
        meta["audioCodec"] = audio.get("codec_name")
    if rate := _frame_rate(video.get("avg_frame_rate")):
        meta["frameRate"] = rate
    if bit_rate := _int(data.get("format", {}).get("bit_rate")):
        meta["bitRate"] = bit_rate
    if rotation:
        meta["rotation"] = rotation
    result.metadata.update(meta)


def _inspect_pdf(path: Path, result: Inspection) -> None:
    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted:
            raise ProbeFailed("The PDF is password-protected.")
        pages = len(reader.pages)
    except PyPdfError as exc:
        raise ProbeFailed(f"The PDF is damaged ({exc}).") from exc
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise ProbeFailed("The PDF is damaged.") from exc
    if pages == 0:
        raise ProbeFailed("The PDF has no pages.")
    result.metadata["pageCount"] = pages


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "N/A") else None
    except (TypeError, ValueError):
        return None


def _frame_rate(value: Any) -> float | None:
    try:
        rate = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        return None
    return round(float(rate), 3) if rate > 0 else None


def _rotation(stream: dict[str, Any]) -> int:
    """Display rotation from the display matrix (new ffprobe) or the `rotate` tag (old)."""
    for side in stream.get("side_data_list", []) or []:
        if isinstance(side, dict) and "rotation" in side:
            return int(_float(side["rotation"]) or 0) % 360
    return int(_float(stream.get("tags", {}).get("rotate")) or 0) % 360
