"""Bluesky through the whole stack: `POST /v1/posts` to a Bluesky account, the publish
job, a respx PDS; listing native posts; re-encoding an image over the blob limit."""

from __future__ import annotations

import io
import json
import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from PIL import Image

from polypost.core.ids import Prefix, new_id
from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.models import AccountStatus, Media, MediaStatus, SocialAccount
from polypost.platforms.base import MediaInfo, MediaKind
from polypost.platforms.bluesky.adapter import BlueskyAdapter
from polypost.platforms.bluesky.media import IMAGE_MAX_BYTES
from polypost.platforms.bluesky.records import record_key
from polypost.platforms.credentials import load_credentials
from polypost.platforms.registry import adapter_for
from polypost.storage import get_storage
from tests.fixtures.factories import Tenant, make_tenant
from tests.fixtures.jobs import RunJobs
from tests.platforms.bluesky.conftest import DID, HANDLE, PDS, jwt

XRPC = f"{PDS}/xrpc"


async def bluesky_account(runtime: Runtime, tenant: Tenant) -> str:
    async with runtime.sessions() as session:
        account = SocialAccount(
            id=new_id(Prefix.ACCOUNT),
            workspace_id=tenant.workspace.id,
            platform="bluesky",
            external_id=DID,
            handle=HANDLE,
            display_name="Alice",
            status=AccountStatus.CONNECTED,
            access_token_enc=runtime.cipher.encrypt("access-jwt"),
            refresh_token_enc=runtime.cipher.encrypt(jwt(1_907_776_000)),
            granted_scopes=[],
            settings={"baseUrl": PDS, "did": DID},
            connected_at=utcnow(),
        )
        session.add(account)
        await session.commit()
        return account.id


class FakePds:
    """Stores created records by key and serves them back, refusing a key twice."""

    def __init__(self, router: respx.MockRouter) -> None:
        self.router = router
        self.records: dict[str, dict[str, Any]] = {}

    def create(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        rkey = body["rkey"]
        if rkey in self.records:
            return httpx.Response(500, json={"error": "InternalServerError"})
        uri = f"at://{DID}/app.bsky.feed.post/{rkey}"
        self.records[rkey] = {
            "uri": uri,
            "cid": f"cid-{len(self.records)}",
            "value": body["record"],
        }
        return httpx.Response(200, json={"uri": uri, "cid": self.records[rkey]["cid"]})

    def get(self, request: httpx.Request) -> httpx.Response:
        record = self.records.get(request.url.params["rkey"])
        if record is None:
            return httpx.Response(
                400, json={"error": "RecordNotFound", "message": "Could not locate record"}
            )
        return httpx.Response(200, json=record)


@pytest.fixture
def pds() -> Iterator[FakePds]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        fake = FakePds(router)
        router.post(f"{XRPC}/com.atproto.repo.createRecord").mock(side_effect=fake.create)
        router.get(f"{XRPC}/com.atproto.repo.getRecord").mock(side_effect=fake.get)
        yield fake


class TestEndToEnd:
    async def test_a_post_is_published_with_its_at_uri_and_permalink(
        self, client: httpx.AsyncClient, runtime: Runtime, run_jobs: RunJobs, pds: FakePds
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await bluesky_account(runtime, tenant)

        response = await client.post(
            "/v1/posts",
            headers=tenant.headers,
            json={"accountIds": [account_id], "content": "Hello from Polypost https://example.com"},
        )
        assert response.status_code == 201, response.text
        target_id = response.json()["targets"][0]["targetId"]
        await run_jobs()

        post = (
            await client.get(f"/v1/posts/{response.json()['postId']}", headers=tenant.headers)
        ).json()
        target = post["targets"][0]
        rkey = record_key(f"{target_id}:main")
        assert target["status"] == "published", target
        assert target["platformPostId"] == f"at://{DID}/app.bsky.feed.post/{rkey}"
        assert target["permalink"] == f"https://bsky.app/profile/{DID}/post/{rkey}"
        record = pds.records[rkey]["value"]
        assert record["text"] == "Hello from Polypost https://example.com"
        assert record["facets"][0]["features"][0]["uri"] == "https://example.com"

    async def test_a_thread_and_first_comment_chain_their_reply_refs(
        self, client: httpx.AsyncClient, runtime: Runtime, run_jobs: RunJobs, pds: FakePds
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await bluesky_account(runtime, tenant)

        response = await client.post(
            "/v1/posts",
            headers=tenant.headers,
            json={
                "accountIds": [account_id],
                "postType": "thread",
                "thread": [{"text": "1/ start"}, {"text": "2/ middle"}, {"text": "3/ end"}],
                "firstComment": "Thanks for reading",
            },
        )
        assert response.status_code == 201, response.text
        target_id = response.json()["targets"][0]["targetId"]
        await run_jobs()

        post = (
            await client.get(f"/v1/posts/{response.json()['postId']}", headers=tenant.headers)
        ).json()
        assert post["targets"][0]["status"] == "published", post["targets"][0]
        main, one, two, comment = (
            pds.records[record_key(f"{target_id}:{step}")]
            for step in ("main", "segment:1", "segment:2", "comment")
        )
        ref = {"uri": main["uri"], "cid": main["cid"]}
        assert "reply" not in main["value"]
        assert one["value"]["reply"] == {"root": ref, "parent": ref}
        assert two["value"]["reply"] == {
            "root": ref,
            "parent": {"uri": one["uri"], "cid": one["cid"]},
        }
        assert comment["value"]["reply"] == {"root": ref, "parent": ref}
        assert [r["value"]["text"] for r in (main, one, two, comment)] == [
            "1/ start",
            "2/ middle",
            "3/ end",
            "Thanks for reading",
        ]
        assert post["targets"][0]["platformPostId"] == main["uri"]


class TestListPosts:
    async def test_the_author_feed_marks_what_polypost_published(
        self, client: httpx.AsyncClient, runtime: Runtime, run_jobs: RunJobs, pds: FakePds
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await bluesky_account(runtime, tenant)
        created = await client.post(
            "/v1/posts",
            headers=tenant.headers,
            json={"accountIds": [account_id], "content": "Mine"},
        )
        await run_jobs()
        ours = next(iter(pds.records.values()))["uri"]
        other = f"at://{DID}/app.bsky.feed.post/3jzfcijpj2z2a"
        feed = pds.router.get(f"{XRPC}/app.bsky.feed.getAuthorFeed").respond(
            200,
            json={
                "cursor": "2026-01-01T00:00:00.000Z::bafy",
                "feed": [
                    {
                        "post": {
                            "uri": ours,
                            "cid": "c1",
                            "author": {"did": DID},
                            "record": {"text": "Mine", "createdAt": "2026-01-02T10:00:00.000Z"},
                            "indexedAt": "2026-01-02T10:00:01.000Z",
                        }
                    },
                    {
                        "post": {
                            "uri": "at://did:plc:bob/app.bsky.feed.post/x",
                            "cid": "c2",
                            "author": {"did": "did:plc:bob"},
                            "record": {"text": "Boosted"},
                        },
                        "reason": {"$type": "app.bsky.feed.defs#reasonRepost"},
                    },
                    {
                        "post": {
                            "uri": other,
                            "cid": "c3",
                            "author": {"did": DID},
                            "record": {
                                "text": "From the app",
                                "createdAt": "2026-01-01T09:00:00.000Z",
                                "reply": {"root": {}, "parent": {}},
                            },
                        }
                    },
                ],
            },
        )

        response = await client.get(
            f"/v1/accounts/{account_id}/posts",
            headers=tenant.headers,
            params={"limit": 30, "cursor": "abc"},
        )

        assert response.status_code == 200, response.text
        params = feed.calls.last.request.url.params
        assert dict(params) == {
            "actor": DID,
            "limit": "30",
            "filter": "posts_and_author_threads",
            "cursor": "abc",
        }
        assert feed.calls.last.request.headers["authorization"] == "Bearer access-jwt"
        body = response.json()
        assert body["nextCursor"] == "2026-01-01T00:00:00.000Z::bafy"
        assert [
            (p["platformPostId"], p["caption"], p["inDb"], p["dbPostId"], p["action"])
            for p in body["posts"]
        ] == [
            (ours, "Mine", True, created.json()["postId"], "publish"),
            (other, "From the app", False, None, "reply"),
        ]

    async def test_a_platform_outage_is_a_503_envelope(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await bluesky_account(runtime, tenant)
        with respx.mock(assert_all_mocked=True) as router:
            router.get(f"{XRPC}/app.bsky.feed.getAuthorFeed").respond(
                502, json={"error": "UpstreamFailure"}
            )
            response = await client.get(f"/v1/accounts/{account_id}/posts", headers=tenant.headers)
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "unavailable"


def noisy_jpeg(size: int = 1400) -> bytes:
    """A photo-like JPEG well over 1,000,000 bytes (noise does not compress)."""
    rng = random.Random(7)
    image = Image.frombytes(
        "RGB", (size, size), bytes(rng.getrandbits(8) for _ in range(size * size * 3))
    )
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    return out.getvalue()


class TestLargeImages:
    async def test_an_image_over_the_blob_limit_is_reencoded_to_fit(self, runtime: Runtime) -> None:
        tenant = await make_tenant(runtime)
        data = noisy_jpeg()
        assert len(data) > IMAGE_MAX_BYTES
        key = f"{tenant.workspace.id}/md_big/photo.jpg"
        storage = get_storage(runtime)
        path = runtime.settings.data_dir / "big.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        await storage.put_file(key, path, "image/jpeg")
        async with runtime.sessions() as session:
            media = Media(
                id=new_id(Prefix.MEDIA),
                workspace_id=tenant.workspace.id,
                filename="photo.jpg",
                content_type="image/jpeg",
                kind="image",
                status=MediaStatus.UPLOADED,
                storage_key=key,
                size=len(data),
                width=1400,
                height=1400,
            )
            session.add(media)
            await session.commit()
        adapter = adapter_for(runtime, "bluesky")
        assert isinstance(adapter, BlueskyAdapter)
        account_id = await bluesky_account(runtime, tenant)
        async with runtime.sessions() as session:
            row = await session.get(SocialAccount, account_id)
            assert row is not None
            credentials = load_credentials(runtime, row)
        info = MediaInfo(
            id=media.id,
            kind=MediaKind.IMAGE,
            content_type="image/jpeg",
            size=len(data),
            width=1400,
            height=1400,
        )

        with respx.mock(assert_all_mocked=True) as router:
            upload = router.post(f"{XRPC}/com.atproto.repo.uploadBlob").respond(
                200,
                json={
                    "blob": {
                        "$type": "blob",
                        "ref": {"$link": "b"},
                        "mimeType": "image/jpeg",
                        "size": 1,
                    }
                },
            )
            _, sent = await adapter.blobs.image(credentials, info)

        uploaded = upload.calls.last.request.content
        assert len(uploaded) <= IMAGE_MAX_BYTES
        assert uploaded[:3] == b"\xff\xd8\xff"
        assert sent.size == len(uploaded)
        with Image.open(io.BytesIO(uploaded)) as image:
            assert (sent.width, sent.height) == image.size
