"""Small real media files made on the fly (no binary fixtures in the repository)."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

from PIL import Image
from pypdf import PdfWriter


def jpeg_bytes(
    width: int = 640, height: int = 480, *, quality: int = 90, noise: bool = False
) -> bytes:
    image = (
        Image.effect_noise((width, height), 64).convert("RGB")
        if noise
        else Image.new("RGB", (width, height), (230, 120, 40))
    )
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def png_bytes(width: int = 320, height: int = 200, *, alpha: bool = False) -> bytes:
    image = Image.new("RGBA" if alpha else "RGB", (width, height), (20, 90, 200, 128))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def gif_bytes(frames: int = 3) -> bytes:
    images = [Image.new("RGB", (40, 30), (80 * i, 255 - 60 * i, 0)) for i in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, "GIF", save_all=frames > 1, append_images=images[1:], duration=100)
    return buffer.getvalue()


def pdf_bytes(pages: int = 3) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=612, height=792)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def make_mp4(path: Path, *, seconds: float = 1.0, size: str = "320x240") -> bytes:
    """An H.264 MP4 from ffmpeg's test source (Debian's ffmpeg: `make test-tools`)."""
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc=duration={seconds}:size={size}:rate=10",
            "-f", "lavfi", "-i", f"sine=duration={seconds}",
            "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
            str(path),
        ],
        check=True,
        timeout=60,
    )  # fmt: skip
    return path.read_bytes()
