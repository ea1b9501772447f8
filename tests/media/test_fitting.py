from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select

from polypost.core.runtime import Runtime
from polypost.media.fitting import MediaLimits, MediaUnfit, assess, fit_media
from polypost.models import Media, MediaDerivative
from polypost.storage import get_storage
from tests.fixtures.factories import Tenant
from tests.media.helpers import complete, upload_local
from tests.media.samples import gif_bytes, jpeg_bytes, png_bytes

JPEG_ONLY = frozenset({"image/jpeg"})


async def uploaded_media(
    client: httpx.AsyncClient,
    runtime: Runtime,
    tenant: Tenant,
    data: bytes,
    *,
    filename: str,
    content_type: str,
) -> Media:
    media_id = await upload_local(
        client, tenant, data, filename=filename, content_type=content_type
    )
    assert (await complete(client, tenant, media_id)).json()["status"] == "uploaded"
    async with runtime.sessions() as session:
        media = await session.get(Media, media_id)
        assert media is not None
        return media


async def read_image(runtime: Runtime, key: str) -> Image.Image:
    storage = get_storage(runtime)
    data = b"".join([chunk async for chunk in storage.iter_chunks(key)])
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


class TestAssess:
    def test_reports_what_breaks_and_whether_it_is_fixable(self):
        video = Media(
            id="md_v", status="uploaded", kind="video", content_type="video/mp4", size=10,
            width=1080, height=1920, duration_ms=200_000, metadata_={},
        )  # fmt: skip
        problems = assess(video, MediaLimits(max_duration_ms=90_000, aspect_ratio=(0.8, 1.91)))
        assert {(p.rule, p.fixable) for p in problems} == {
            ("max_duration", False),
            ("aspect_ratio", False),
        }
        image = Media(
            id="md_i", status="uploaded", kind="image", content_type="image/png", size=10_000,
            width=4000, height=3000, metadata_={},
        )  # fmt: skip
        problems = assess(image, MediaLimits(max_long_edge=1920, formats=JPEG_ONLY))
        assert {(p.rule, p.fixable) for p in problems} == {
            ("max_long_edge", True),
            ("format", True),
        }
        assert assess(image, MediaLimits(max_long_edge=4000)) == []

    def test_spec_is_stable_and_distinguishes_limits(self):
        a = MediaLimits(max_bytes=10, formats=frozenset({"image/png", "image/jpeg"}))
        b = MediaLimits(max_bytes=10, formats=frozenset({"image/jpeg", "image/png"}))
        assert a.spec() == b.spec()
        assert a.spec() != MediaLimits(max_bytes=11).spec()


class TestFitMedia:
    async def test_original_is_returned_when_it_fits(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        media = await uploaded_media(
            client, runtime, tenant, jpeg_bytes(), filename="a.jpg", content_type="image/jpeg"
        )
        async with runtime.sessions() as session:
            fitted = await fit_media(
                session, get_storage(runtime), media, MediaLimits(max_long_edge=1920)
            )
        assert not fitted.derived
        assert fitted.storage_key == media.storage_key

    async def test_resized_jpeg_derivative_is_made_once(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        media = await uploaded_media(
            client,
            runtime,
            tenant,
            png_bytes(3000, 1500, alpha=True),
            filename="wide.png",
            content_type="image/png",
        )
        limits = MediaLimits(max_long_edge=1920, formats=JPEG_ONLY, max_bytes=10 * 1024**2)
        storage = get_storage(runtime)
        async with runtime.sessions() as session:
            fitted = await fit_media(session, storage, media, limits)
            await session.commit()
        assert fitted.derived
        assert (fitted.content_type, fitted.width, fitted.height) == ("image/jpeg", 1920, 960)
        assert fitted.storage_key.startswith(media.storage_key.rsplit("/", 1)[0] + "/derived/")
        image = await read_image(runtime, fitted.storage_key)
        assert (image.format, image.size) == ("JPEG", (1920, 960))
        assert image.getpixel((10, 10)) != (0, 0, 0)  # alpha flattened onto white, not black
        async with runtime.sessions() as session:
            again = await fit_media(session, storage, media, limits)
            count = await session.scalar(select(func.count()).select_from(MediaDerivative))
        assert again == fitted
        assert count == 1

    async def test_oversized_file_is_recompressed_under_the_limit(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        data = jpeg_bytes(1600, 1200, quality=100, noise=True)
        media = await uploaded_media(
            client, runtime, tenant, data, filename="noisy.jpg", content_type="image/jpeg"
        )
        limit = len(data) // 2
        async with runtime.sessions() as session:
            fitted = await fit_media(
                session, get_storage(runtime), media, MediaLimits(max_bytes=limit)
            )
            await session.commit()
        assert fitted.derived
        assert fitted.size <= limit

    async def test_impossible_size_is_unfit(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        media = await uploaded_media(
            client,
            runtime,
            tenant,
            jpeg_bytes(1600, 1200, noise=True),
            filename="noisy.jpg",
            content_type="image/jpeg",
        )
        async with runtime.sessions() as session:
            with pytest.raises(MediaUnfit) as caught:
                await fit_media(session, get_storage(runtime), media, MediaLimits(max_bytes=2000))
        assert caught.value.rule == "max_bytes"

    async def test_animation_is_never_silently_dropped(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
    ):
        media = await uploaded_media(
            client, runtime, tenant, gif_bytes(), filename="a.gif", content_type="image/gif"
        )
        async with runtime.sessions() as session:
            with pytest.raises(MediaUnfit) as caught:
                await fit_media(
                    session, get_storage(runtime), media, MediaLimits(formats=JPEG_ONLY)
                )
        assert caught.value.rule == "format"

    async def test_video_too_long_is_unfit(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, mp4_sample: bytes
    ):
        media = await uploaded_media(
            client, runtime, tenant, mp4_sample, filename="c.mp4", content_type="video/mp4"
        )
        async with runtime.sessions() as session:
            with pytest.raises(MediaUnfit, match="limit is 1 s") as caught:
                await fit_media(
                    session, get_storage(runtime), media, MediaLimits(max_duration_ms=1000)
                )
        assert caught.value.rule == "max_duration"
