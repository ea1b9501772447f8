"""Helpers for media tests: the upload steps, DB peeks and a fake remote origin."""

from __future__ import annotations

from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
from sqlalchemy import select, update

from polypost.core.runtime import Runtime
from polypost.models import Event, Media, Workspace
from tests.fixtures.factories import Tenant
from tests.media.samples import jpeg_bytes, pdf_bytes


def path_of(url: str) -> str:
    """The path+query of an absolute API URL, for the in-process test client."""
    return httpx.URL(url).raw_path.decode()


async def start_upload(
    client: httpx.AsyncClient,
    tenant: Tenant,
    *,
    filename: str = "sunset.jpg",
    content_type: str = "image/jpeg",
    size: int | None = None,
) -> dict[str, str]:
    body: dict[str, object] = {"filename": filename, "contentType": content_type}
    if size is not None:
        body["size"] = size
    response = await client.post("/v1/media/upload-url", headers=tenant.headers, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def upload_local(
    client: httpx.AsyncClient,
    tenant: Tenant,
    data: bytes,
    *,
    filename: str = "sunset.jpg",
    content_type: str = "image/jpeg",
    sent_type: str | None = None,
) -> str:
    """Steps 1 and 2 against the local backend; returns the media id."""
    grant = await start_upload(client, tenant, filename=filename, content_type=content_type)
    put = await client.put(
        path_of(grant["uploadUrl"]),
        content=data,
        headers={"Content-Type": sent_type or content_type},
    )
    assert put.status_code == 200, put.text
    return grant["mediaId"]


async def complete(client: httpx.AsyncClient, tenant: Tenant, media_id: str) -> httpx.Response:
    return await client.post(f"/v1/media/{media_id}/complete", headers=tenant.headers, json={})


async def set_quota(runtime: Runtime, workspace_id: str, quota: int) -> None:
    async with runtime.sessions() as session:
        await session.execute(
            update(Workspace).where(Workspace.id == workspace_id).values(storage_quota_bytes=quota)
        )
        await session.commit()


async def events_of(runtime: Runtime, media_id: str) -> list[Event]:
    async with runtime.sessions() as session:
        rows = await session.execute(
            select(Event).where(Event.resource_id == media_id).order_by(Event.created_at)
        )
        return list(rows.scalars())


async def media_row(runtime: Runtime, media_id: str) -> Media | None:
    async with runtime.sessions() as session:
        return await session.get(Media, media_id)


@dataclass
class Origin:
    """A real HTTP server on 127.0.0.1 standing in for a remote media host."""

    port: int
    seen: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


JPEG = jpeg_bytes()
PDF = pdf_bytes()


def origin_handler(origin: Origin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self) -> None:
            origin.seen.append(self.path)
            if self.path == "/cat.jpg":
                self._send(200, JPEG, "image/jpeg")
            elif self.path == "/octet":
                self._send(200, JPEG, "application/octet-stream")
            elif self.path == "/doc.pdf":
                self._send(200, PDF, "image/jpeg")
            elif self.path == "/announced-huge":
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(10**12))
                self.end_headers()
            elif self.path == "/endless":
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.end_headers()  # no length: the body runs until the client gives up
                try:
                    for _ in range(2000):
                        self.wfile.write(b"\xff" * 65536)
                except OSError:
                    return
            elif self.path == "/to-metadata":
                self.send_response(302)
                self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                self.end_headers()
            elif self.path == "/to-cat":
                self.send_response(301)
                self.send_header("Location", "/cat.jpg")
                self.end_headers()
            else:
                self._send(404, b"not here", "text/plain")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler


def file_on_disk(runtime: Runtime, key: str) -> Path:
    return runtime.settings.data_dir / "media" / key
