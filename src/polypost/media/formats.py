"""The file formats the library accepts, and sniffing the real one from the bytes.

Only formats some supported platform publishes are accepted. The declared content type
and the file name are claims; the magic bytes are the truth, so a `.jpg` that is a PDF
is caught before a platform rejects it at publish time.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from polypost.models import MediaKind

KIND_BY_TYPE: dict[str, MediaKind] = {
    "image/jpeg": MediaKind.IMAGE,
    "image/png": MediaKind.IMAGE,
    "image/gif": MediaKind.IMAGE,
    "image/webp": MediaKind.IMAGE,
    "video/mp4": MediaKind.VIDEO,
    "video/quicktime": MediaKind.VIDEO,
    "video/webm": MediaKind.VIDEO,
    "application/pdf": MediaKind.DOCUMENT,
}
SUPPORTED_TYPES = frozenset(KIND_BY_TYPE)

EXTENSION_BY_TYPE = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/webm": ".webm",
    "application/pdf": ".pdf",
}
TYPE_BY_EXTENSION = {
    **{ext: ct for ct, ext in EXTENSION_BY_TYPE.items()},
    ".jpeg": "image/jpeg",
    ".jpe": "image/jpeg",
    ".m4v": "video/mp4",
    ".qt": "video/quicktime",
}
_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "video/x-m4v": "video/mp4",
    "application/x-pdf": "application/pdf",
}
# ISO base media (`ftyp`) major brands: QuickTime vs. the MP4 family.
_QUICKTIME_BRANDS = {b"qt  "}
_MP4_BRANDS = {
    b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"mp4v", b"avc1",
    b"M4V ", b"M4VH", b"M4VP", b"dash", b"MSNV", b"3gp4", b"3gp5", b"3g2a", b"f4v ",
}  # fmt: skip

SNIFF_BYTES = 64


def normalize_content_type(value: str | None) -> str | None:
    """`Image/JPG; charset=x` → `image/jpeg`; None for empty values."""
    if not value:
        return None
    base = value.split(";", 1)[0].strip().lower()
    return _ALIASES.get(base, base) or None


def type_from_filename(filename: str) -> str | None:
    return TYPE_BY_EXTENSION.get(PurePosixPath(filename.lower()).suffix)


def kind_of(content_type: str | None) -> MediaKind | None:
    return KIND_BY_TYPE.get(content_type or "")


def sniff(head: bytes) -> str | None:
    """The content type the first bytes prove, if it is one we accept."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"  # EBML: WebM (and Matroska, which ffprobe reads alike)
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _QUICKTIME_BRANDS:
            return "video/quicktime"
        if brand in _MP4_BRANDS:
            return "video/mp4"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free"):
        return "video/quicktime"  # old QuickTime files without an ftyp box
    return None


def describe(content_type: str | None) -> str:
    return content_type or "an unrecognised format"
