"""A self-hosted PDS at a plain `http://127.0.0.1:PORT` service URL: a real HTTP server
answering the XRPC calls the adapter makes, reached through the whole stack once the
operator allows the address (`outbound_allow`), and refused before any request without."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import respx
from PIL import Image

from polypost.core.runtime import Runtime
from polypost.models import SocialAccount
from polypost.platforms.bluesky.records import record_key
from polypost.settings import Settings, load_settings
from tests.fixtures.app import TEST_FERNET, TEST_SECRET
from tests.fixtures.factories import make_media, make_tenant
from tests.fixtures.jobs import RunJobs
from tests.platforms.bluesky.conftest import jwt

SELF_DID = "did:plc:selfhostedpds0000000000a"
SELF_HANDLE = "alice.pds.internal"
APP_PASSWORD = "abcd-efgh-ijkl-mnop"
COLLECTION = "app.bsky.feed.post"
# The login's access JWT is about to expire, so the publish refreshes the session first.
LOGIN_ACCESS = jwt(int(time.time()) + 5, SELF_DID)
LOGIN_REFRESH = jwt(1_907_776_000, SELF_DID)
REFRESHED_ACCESS = jwt(1_907_776_000, SELF_DID)
REFRESHED_REFRESH = jwt(1_915_552_000, SELF_DID)


def session(access: str, refresh: str) -> dict[str, Any]:
    return {
        "did": SELF_DID,
        "handle": SELF_HANDLE,
        "accessJwt": access,
        "refreshJwt": refresh,
        "active": True,
    }


def blob(content_type: str | None, data: bytes) -> dict[str, Any]:
    return {
        "$type": "blob",
        "ref": {"$link": "bafkreiselfhostedblob"},
        "mimeType": content_type,
        "size": len(data),
    }


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 200)).save(out, "PNG")
    return out.getvalue()


IMAGE = png()


@dataclass
class Received:
    method: str
    path: str
    authorization: str | None
    body: Any


@dataclass
class PdsState:
    requests: list[Received] = field(default_factory=list)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)

    def nsids(self) -> list[str]:
        return [r.path.removeprefix("/xrpc/") for r in self.requests]


def handler_for(state: PdsState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        """Canned XRPC answers; created records are kept by rkey."""

        def log_message(self, format: str, *args: Any) -> None:
            return  # keep test output quiet

        def _answer(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _receive(self) -> Received:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            content_type = self.headers.get("Content-Type") or ""
            parsed: Any = json.loads(raw) if raw and "json" in content_type else raw
            received = Received(
                method=self.command,
                path=url.path,
                authorization=self.headers.get("Authorization"),
                body=parsed,
            )
            state.requests.append(received)
            return received

        def do_GET(self) -> None:
            request = self._receive()
            nsid = request.path.removeprefix("/xrpc/")
            if nsid == "app.bsky.actor.getProfile":
                self._answer(200, {"did": SELF_DID, "handle": SELF_HANDLE, "displayName": "Alice"})
            else:
                self._answer(501, {"error": "MethodNotImplemented", "message": nsid})

        def do_POST(self) -> None:
            request = self._receive()
            nsid = request.path.removeprefix("/xrpc/")
            if nsid == "com.atproto.server.createSession":
                self._answer(200, session(LOGIN_ACCESS, LOGIN_REFRESH))
            elif nsid == "com.atproto.server.refreshSession":
                self._answer(200, session(REFRESHED_ACCESS, REFRESHED_REFRESH))
            elif nsid == "com.atproto.repo.uploadBlob":
                self._answer(200, {"blob": blob(self.headers.get("Content-Type"), request.body)})
            elif nsid == "com.atproto.repo.createRecord":
                rkey = request.body["rkey"]
                uri = f"at://{request.body['repo']}/{request.body['collection']}/{rkey}"
                cid = f"bafyreiself{len(state.records)}"
                state.records[rkey] = {"uri": uri, "cid": cid, "value": request.body["record"]}
                self._answer(200, {"uri": uri, "cid": cid})
            elif nsid == "com.atproto.repo.deleteRecord":
                state.records.pop(request.body["rkey"], None)
                self._answer(200, {})
            else:
                self._answer(501, {"error": "MethodNotImplemented", "message": nsid})

    return Handler


@pytest.fixture
def pds() -> Iterator[tuple[str, PdsState]]:
    """The PDS on an ephemeral port of 127.0.0.1, served from a thread."""
    state = PdsState()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def outbound_allow() -> list[str]:
    return ["127.0.0.1"]


@pytest.fixture
def settings(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, outbound_allow: list[str]
) -> Settings:
    """The shared test settings, with the operator's outbound allow-list."""
    if backend == "postgres":
        return load_settings(
            database_url=str(request.getfixturevalue("clean_pg")),
            redis_url=str(request.getfixturevalue("clean_redis")),
            data_dir=tmp_path / "data",
            secret_key=TEST_SECRET,
            encryption_keys=[TEST_FERNET],
            outbound_allow=outbound_allow,
        )
    return load_settings(
        database_url=request.getfixturevalue("clean_sqlite"),
        redis_url=None,
        data_dir=tmp_path / "data",
        outbound_allow=outbound_allow,
    )


async def test_connect_post_reply_and_delete_on_an_allowed_local_pds(
    client: httpx.AsyncClient,
    runtime: Runtime,
    run_jobs: RunJobs,
    pds: tuple[str, PdsState],
) -> None:
    service, state = pds
    tenant = await make_tenant(runtime)

    connected = await client.post(
        "/v1/accounts/connect",
        headers=tenant.headers,
        json={
            "platform": "bluesky",
            "identifier": SELF_HANDLE,
            "appPassword": APP_PASSWORD,
            "service": service,
        },
    )
    assert connected.status_code == 201, connected.text
    account_id = connected.json()["accountId"]
    login = state.requests[0]
    assert (login.method, login.path) == ("POST", "/xrpc/com.atproto.server.createSession")
    assert login.body == {"identifier": SELF_HANDLE, "password": APP_PASSWORD}
    accounts = (await client.get("/v1/accounts", headers=tenant.headers)).json()["accounts"]
    assert [a["handle"] for a in accounts if a["accountId"] == account_id] == [SELF_HANDLE]
    assert state.nsids() == [
        "com.atproto.server.createSession",
        "app.bsky.actor.getProfile",
    ]
    assert state.requests[1].authorization == f"Bearer {LOGIN_ACCESS}"
    async with runtime.sessions() as session:
        row = await session.get(SocialAccount, account_id)
        assert row is not None
        assert row.settings["baseUrl"] == service
        assert row.settings["did"] == SELF_DID
    state.requests.clear()
    media_id = await make_media(
        runtime, tenant.workspace.id, content_type="image/png", size=len(IMAGE), width=64, height=48
    )

    created = await client.post(
        "/v1/posts",
        headers=tenant.headers,
        json={
            "accountIds": [account_id],
            "postType": "thread",
            "thread": [
                {"text": "Hello from my own PDS", "mediaIds": [media_id]},
                {"text": "And a reply"},
            ],
            "publishNow": True,
        },
    )
    assert created.status_code == 201, created.text
    post_id = created.json()["postId"]
    target_id = created.json()["targets"][0]["targetId"]
    # The image is read from storage's signed URL (mocked); the PDS itself is real.
    with respx.mock(assert_all_called=True) as router:
        router.get(host="127.0.0.1", port=8000, path__startswith="/v1/media/files/").respond(
            200, content=IMAGE
        )
        router.route(host="127.0.0.1", port=httpx.URL(service).port).pass_through()
        await run_jobs()

    post = (await client.get(f"/v1/posts/{post_id}", headers=tenant.headers)).json()
    target = post["targets"][0]
    assert target["status"] == "published", target
    main_key = record_key(f"{target_id}:main")
    reply_key = record_key(f"{target_id}:segment:1")
    assert target["platformPostId"] == f"at://{SELF_DID}/{COLLECTION}/{main_key}"

    assert state.nsids() == [
        "com.atproto.server.refreshSession",
        "com.atproto.repo.uploadBlob",
        "com.atproto.repo.createRecord",
        "com.atproto.repo.createRecord",
    ]
    refresh, upload, *creates = state.requests
    assert refresh.authorization == f"Bearer {LOGIN_REFRESH}"
    assert upload.authorization == f"Bearer {REFRESHED_ACCESS}"
    assert upload.body == IMAGE
    assert [(r.body["repo"], r.body["collection"], r.body["rkey"]) for r in creates] == [
        (SELF_DID, COLLECTION, main_key),
        (SELF_DID, COLLECTION, reply_key),
    ]
    assert all(r.authorization == f"Bearer {REFRESHED_ACCESS}" for r in creates)
    main, reply = (r.body["record"] for r in creates)
    assert main["text"] == "Hello from my own PDS"
    assert "reply" not in main
    assert main["embed"] == {
        "$type": "app.bsky.embed.images",
        "images": [
            {
                "image": blob("image/png", IMAGE),
                "alt": "",
                "aspectRatio": {"width": 64, "height": 48},
            }
        ],
    }
    ref = {"uri": target["platformPostId"], "cid": "bafyreiself0"}
    assert reply["text"] == "And a reply"
    assert reply["reply"] == {"root": ref, "parent": ref}
    assert set(state.records) == {main_key, reply_key}

    deleted = await client.delete(f"/v1/posts/{post_id}", headers=tenant.headers)
    assert deleted.status_code == 200, deleted.text
    deletes = [r.body for r in state.requests if r.path == "/xrpc/com.atproto.repo.deleteRecord"]
    assert {"repo": SELF_DID, "collection": COLLECTION, "rkey": main_key} in deletes


@pytest.mark.parametrize("outbound_allow", [[]])
async def test_a_local_pds_is_refused_without_the_allow_list(
    client: httpx.AsyncClient, runtime: Runtime, pds: tuple[str, PdsState]
) -> None:
    service, state = pds
    tenant = await make_tenant(runtime)

    response = await client.post(
        "/v1/accounts/connect",
        headers=tenant.headers,
        json={
            "platform": "bluesky",
            "identifier": SELF_HANDLE,
            "appPassword": APP_PASSWORD,
            "service": service,
        },
    )

    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["details"]["fields"][0]["field"] == "service"
    assert state.requests == []
    accounts = (await client.get("/v1/accounts", headers=tenant.headers)).json()["accounts"]
    assert accounts == []
