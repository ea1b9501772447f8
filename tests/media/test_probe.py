from __future__ import annotations

from pathlib import Path

import pytest

from polypost.media.formats import sniff
from polypost.media.probe import FFPROBE_MISSING, inspect_file
from polypost.models import MediaKind
from tests.media.samples import gif_bytes, jpeg_bytes, pdf_bytes, png_bytes


def write(tmp_path: Path, data: bytes, name: str = "file") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


class TestSniff:
    @pytest.mark.parametrize(
        ("head", "expected"),
        [
            (jpeg_bytes(8, 8)[:64], "image/jpeg"),
            (png_bytes(8, 8)[:64], "image/png"),
            (gif_bytes()[:64], "image/gif"),
            (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
            (b"%PDF-1.7\n", "application/pdf"),
            (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00", "video/mp4"),
            (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00", "video/quicktime"),
            (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81", "video/webm"),
            (b"<html><script>", None),
            (b"MZ\x90\x00", None),
            (b"", None),
        ],
    )
    def test_magic_bytes(self, head: bytes, expected: str | None):
        assert sniff(head) == expected


class TestInspectFile:
    async def test_jpeg(self, tmp_path: Path):
        result = await inspect_file(write(tmp_path, jpeg_bytes(300, 200)))
        assert (result.content_type, result.kind, result.width, result.height) == (
            "image/jpeg",
            MediaKind.IMAGE,
            300,
            200,
        )
        assert result.error is None

    async def test_exif_rotation_reports_displayed_sides(self, tmp_path: Path):
        from PIL import Image

        image = Image.new("RGB", (300, 200))
        exif = image.getexif()
        exif[0x0112] = 6  # rotate 90° clockwise when displayed
        path = tmp_path / "rotated.jpg"
        image.save(path, "JPEG", exif=exif.tobytes())
        result = await inspect_file(path)
        assert (result.width, result.height) == (200, 300)
        assert result.metadata["exifOrientation"] == 6

    async def test_pdf_page_count(self, tmp_path: Path):
        result = await inspect_file(write(tmp_path, pdf_bytes(7)))
        assert (result.kind, result.metadata["pageCount"], result.error) == (
            MediaKind.DOCUMENT,
            7,
            None,
        )

    async def test_broken_pdf(self, tmp_path: Path):
        result = await inspect_file(write(tmp_path, b"%PDF-1.4\n garbage without xref"))
        assert result.error is not None
        assert "PDF" in result.error

    async def test_unknown_and_empty_files(self, tmp_path: Path):
        unknown = await inspect_file(write(tmp_path, b"<svg onload=alert(1)>", "a"))
        assert unknown.error == "The file is not a supported image, video or PDF."
        empty = await inspect_file(write(tmp_path, b"", "b"))
        assert empty.error == "The file is empty."

    async def test_png_header_on_garbage(self, tmp_path: Path):
        result = await inspect_file(write(tmp_path, png_bytes()[:40] + b"\0" * 50))
        assert result.error is not None

    async def test_video(self, tmp_path: Path, mp4_sample: bytes):
        result = await inspect_file(write(tmp_path, mp4_sample, "clip.mp4"))
        assert (result.content_type, result.width, result.height) == ("video/mp4", 320, 240)
        assert result.duration_ms is not None
        assert 1400 <= result.duration_ms <= 1700
        assert result.metadata["frameRate"] == 10.0

    async def test_video_with_broken_body(self, tmp_path: Path, mp4_sample: bytes):
        result = await inspect_file(write(tmp_path, mp4_sample[:200], "clip.mp4"))
        assert result.error is not None
        assert result.error.startswith("The video cannot be read")

    async def test_video_without_ffprobe(self, tmp_path: Path, mp4_sample: bytes):
        result = await inspect_file(
            write(tmp_path, mp4_sample, "clip.mp4"), ffprobe_path=str(tmp_path / "no-ffprobe")
        )
        assert result.error is None
        assert result.warnings == [FFPROBE_MISSING]
        assert result.duration_ms is None
