"""Seed 001's "Uploading media" examples, run verbatim (host changed) against a real
`polypost serve` in embedded mode: curl + jq, and Python `requests`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.media.samples import jpeg_bytes

SEED_HOST = "https://social-api.instantdm.com"

CURL_EXAMPLE = """\
# 1. Ask for a presigned upload URL
RESP=$(curl -s -X POST "https://social-api.instantdm.com/v1/media/upload-url" \\
  -H "X-Api-Key: $SOCIAL_API_KEY" -H "Content-Type: application/json" \\
  -d '{"filename":"sunset.jpg","contentType":"image/jpeg"}')
MEDIA_ID=$(echo "$RESP" | jq -r .mediaId)
URL=$(echo "$RESP" | jq -r .uploadUrl)

# 2. PUT the bytes straight to storage (not through the API)
curl -X PUT "$URL" -H "Content-Type: image/jpeg" --data-binary @sunset.jpg

# 3. Mark it complete — now usable as a mediaId on a post
curl -X POST "https://social-api.instantdm.com/v1/media/$MEDIA_ID/complete" \\
  -H "X-Api-Key: $SOCIAL_API_KEY" -H "Content-Type: application/json" \\
  -d '{}'
"""

PYTHON_EXAMPLE = """\
import requests
API = "https://social-api.instantdm.com"; KEY = "sk_..."
h = {"X-Api-Key": KEY}

# 1. presigned URL
r = requests.post(f"{API}/v1/media/upload-url", headers=h,
                  json={"filename": "sunset.jpg", "contentType": "image/jpeg"}).json()

# 2. PUT bytes directly to storage
with open("sunset.jpg", "rb") as f:
    requests.put(r["uploadUrl"], data=f, headers={"Content-Type": "image/jpeg"})

# 3. mark complete -> r["mediaId"] is now attachable
requests.post(f"{API}/v1/media/{r['mediaId']}/complete", headers=h, json={})
print(r["mediaId"])
"""


@dataclass(frozen=True)
class LiveApi:
    base_url: str
    key: str
    workdir: Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def polypost(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "polypost.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    root = tmp_path_factory.mktemp("live")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYPOST_")}
    env.update(
        POLYPOST_DATABASE_URL=f"sqlite+aiosqlite:///{root}/polypost.db",
        POLYPOST_DATA_DIR=str(root / "data"),
        POLYPOST_PORT=str(port),
        POLYPOST_PUBLIC_BASE_URL=base_url,
        POLYPOST_LOG_LEVEL="WARNING",
    )
    polypost("migrate", env=env)
    output = polypost("keys", "create", "--workspace", "seed", env=env)
    key = next(line.split(": ", 1)[1] for line in output.splitlines() if line.startswith("API key"))
    server = subprocess.Popen(
        [sys.executable, "-m", "polypost.cli", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                pytest.fail("polypost serve did not start")
            time.sleep(0.2)
        workdir = root / "client"
        workdir.mkdir()
        (workdir / "sunset.jpg").write_bytes(jpeg_bytes(1200, 800))
        yield LiveApi(base_url=base_url, key=key, workdir=workdir)
    finally:
        server.terminate()
        server.wait(timeout=30)


def json_documents(text: str) -> list[dict[str, object]]:
    """The JSON bodies curl printed back to back."""
    decoder = json.JSONDecoder()
    documents, position = [], 0
    text = text.strip()
    while position < len(text):
        document, position = decoder.raw_decode(text, position)
        documents.append(document)
        while position < len(text) and text[position].isspace():
            position += 1
    return documents


def test_curl_example(live_api: LiveApi):
    script = CURL_EXAMPLE.replace(SEED_HOST, live_api.base_url)
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=live_api.workdir,
        env={**os.environ, "SOCIAL_API_KEY": live_api.key},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    put, completed = json_documents(result.stdout)
    assert put["size"] == (live_api.workdir / "sunset.jpg").stat().st_size
    assert completed["status"] == "uploaded"
    assert (completed["kind"], completed["width"], completed["height"]) == ("image", 1200, 800)
    assert completed["durationMs"] is None
    assert completed["size"] == put["size"]


def test_python_example(live_api: LiveApi):
    script = PYTHON_EXAMPLE.replace(SEED_HOST, live_api.base_url).replace(
        '"sk_..."', json.dumps(live_api.key)
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=live_api.workdir,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    media_id = result.stdout.strip()
    assert media_id.startswith("md_")
    media = httpx.get(
        f"{live_api.base_url}/v1/media/{media_id}", headers={"X-Api-Key": live_api.key}
    ).json()
    assert (media["status"], media["width"], media["filename"]) == ("uploaded", 1200, "sunset.jpg")
    preview = httpx.get(media["previewUrl"])
    assert preview.content == (live_api.workdir / "sunset.jpg").read_bytes()
