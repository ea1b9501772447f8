"""One post to every credential and OAuth platform at once, end to end: `POST /v1/posts`
→ publish jobs → each platform's documented calls (respx) → every target published.
Then a thread to the platforms that chain replies, and one failure of each class."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx
from PIL import Image
from sqlalchemy import select

from polypost.core import outbound
from polypost.core.ids import Prefix, new_id
from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.models import (
    AccountStatus,
    Media,
    MediaStatus,
    PostTarget,
    SandboxLedgerEntry,
    SocialAccount,
)
from polypost.platforms.bluesky.records import record_key
from polypost.posts import jobs
from polypost.storage import get_storage
from tests.fixtures.factories import Tenant, connect_sandbox, make_tenant
from tests.fixtures.jobs import RunJobs
from tests.platforms.bluesky.conftest import DID, PDS, PUBLIC_IP, jwt
from tests.platforms.helpers import body, form, multipart
from tests.posts.helpers import ledger_of

X_API = "https://api.x.com/2"
X_USER = "2244994945"
XRPC = f"{PDS}/xrpc"
MASTODON = "https://social.example.org"
MASTODON_ACCOUNT = "109348912384"
THREADS = "https://graph.threads.net/v1.0"
THREADS_USER = "17841400000000001"
LINKEDIN = "https://api.linkedin.com/rest"
LINKEDIN_MEMBER = "aBcD123_-x"
LINKEDIN_IMAGE = "urn:li:image:C4E10AQFoyyAjHPMQuQ"
LINKEDIN_UPLOAD = "https://www.linkedin.com/dms-uploads/md/uploadedImage/0"
SHARE = "urn:li:share:7141138937766391808"
WEBHOOK_ID = "112233445566778899"
DISCORD_TOKEN = "tok_" + "y" * 60
DISCORD_HOOK = f"https://discord.com/api/v10/webhooks/{WEBHOOK_ID}/{DISCORD_TOKEN}"
DISCORD_CHANNEL = "800000000000000002"
DISCORD_GUILD = "900000000000000001"
SLACK = "https://slack.com/api"
SLACK_TOKEN = "xoxb-1111-2222-abcdef"
SLACK_CHANNEL = "C0123ABCD"
SLACK_UPLOAD = "https://files.slack.com/upload/v1/ABC123"
TELEGRAM_TOKEN = "123456:" + "B" * 35
TELEGRAM = f"https://api.telegram.org/bot{TELEGRAM_TOKEN}"
TELEGRAM_CHAT = -1001234567890

CAPTIONS = {
    "x": "Launch day on X",
    "bluesky": "Launch day on Bluesky",
    "mastodon": "Launch day on the fediverse",
    "threads": "Launch day on Threads",
    "linkedin": "Launch day, the professional version",
    "discord": "Launch day, Discord",
    "slack": "Launch day, Slack",
    "telegram": "Launch day, Telegram",
    "sandbox": "Launch day in the sandbox",
}
ALT = "The launch banner"


def jpeg() -> bytes:
    """A real 1080x1080 JPEG (small: one colour compresses to almost nothing)."""
    out = io.BytesIO()
    Image.new("RGB", (1080, 1080), (200, 40, 40)).save(out, "JPEG")
    return out.getvalue()


IMAGE_BYTES = jpeg()


@pytest.fixture(autouse=True)
def dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every platform host resolves to a public address (the SSRF guard checks them)."""

    async def resolve(host: str, port: int) -> list[str]:
        return [PUBLIC_IP]

    monkeypatch.setattr(outbound, "resolve", resolve)


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs, "BACKOFF_BASE", timedelta(0))


async def add_account(
    runtime: Runtime,
    tenant: Tenant,
    platform: str,
    *,
    external_id: str,
    handle: str,
    token: str,
    settings: dict[str, Any] | None = None,
    refresh_token: str | None = None,
) -> str:
    """An account row as each platform's connect flow stores it."""
    async with runtime.sessions() as session:
        account = SocialAccount(
            id=new_id(Prefix.ACCOUNT),
            workspace_id=tenant.workspace.id,
            platform=platform,
            external_id=external_id,
            handle=handle,
            display_name=handle,
            status=AccountStatus.CONNECTED,
            access_token_enc=runtime.cipher.encrypt(token),
            refresh_token_enc=runtime.cipher.encrypt(refresh_token) if refresh_token else None,
            token_expires_at=utcnow() + timedelta(days=1),
            granted_scopes=[],
            settings=settings or {},
            connected_at=utcnow(),
        )
        session.add(account)
        await session.commit()
        return account.id


async def add_x(runtime: Runtime, tenant: Tenant) -> str:
    return await add_account(
        runtime, tenant, "x", external_id=X_USER, handle="polypost", token="user-token"
    )


async def connect_all(
    runtime: Runtime, tenant: Tenant, client: httpx.AsyncClient
) -> dict[str, str]:
    """One account per platform, credentials shaped like each adapter's own tests."""
    return {
        "x": await add_x(runtime, tenant),
        "bluesky": await add_account(
            runtime,
            tenant,
            "bluesky",
            external_id=DID,
            handle="alice.example.com",
            token="access-jwt",
            refresh_token=jwt(1_907_776_000),
            settings={"baseUrl": PDS, "did": DID},
        ),
        "mastodon": await add_account(
            runtime,
            tenant,
            "mastodon",
            external_id=f"{MASTODON_ACCOUNT}@social.example.org",
            handle="alice@social.example.org",
            token="user-token",
            settings={"baseUrl": MASTODON, "accountId": MASTODON_ACCOUNT},
        ),
        "threads": await add_account(
            runtime,
            tenant,
            "threads",
            external_id=THREADS_USER,
            handle="polypost",
            token="user-token",
        ),
        "linkedin": await add_account(
            runtime,
            tenant,
            "linkedin",
            external_id=LINKEDIN_MEMBER,
            handle="Ada Lovelace",
            token="li-token",
        ),
        "discord": await add_account(
            runtime,
            tenant,
            "discord",
            external_id=WEBHOOK_ID,
            handle="Announcements",
            token=DISCORD_TOKEN,
            settings={
                "webhookId": WEBHOOK_ID,
                "channelId": DISCORD_CHANNEL,
                "guildId": DISCORD_GUILD,
            },
        ),
        "slack": await add_account(
            runtime,
            tenant,
            "slack",
            external_id=f"T0001:{SLACK_CHANNEL}",
            handle="#launches",
            token=SLACK_TOKEN,
            settings={
                "channelId": SLACK_CHANNEL,
                "teamUrl": "https://acme.slack.com/",
                "botId": "B0001",
                "botUserId": "U0BOT",
            },
        ),
        "telegram": await add_account(
            runtime,
            tenant,
            "telegram",
            external_id=str(TELEGRAM_CHAT),
            handle="@acme_news",
            token=TELEGRAM_TOKEN,
            settings={
                "chatId": str(TELEGRAM_CHAT),
                "chatType": "channel",
                "chatUsername": "acme_news",
            },
        ),
        "sandbox": await connect_sandbox(client, tenant),
    }


async def stored_media(runtime: Runtime, tenant: Tenant) -> str:
    """A verified image whose bytes are really in storage (adapters download them)."""
    key = f"{tenant.workspace.id}/md_banner/banner.jpg"
    path = runtime.settings.data_dir / "banner.jpg"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(IMAGE_BYTES)
    await get_storage(runtime).put_file(key, path, "image/jpeg")
    async with runtime.sessions() as session:
        media = Media(
            id=new_id(Prefix.MEDIA),
            workspace_id=tenant.workspace.id,
            filename="banner.jpg",
            content_type="image/jpeg",
            kind="image",
            status=MediaStatus.UPLOADED,
            storage_key=key,
            size=len(IMAGE_BYTES),
            width=1080,
            height=1080,
        )
        session.add(media)
        await session.commit()
        return media.id


@dataclass
class Call:
    method: str
    url: str
    request: httpx.Request


class Platforms:
    """Every platform's API in one respx router; each answers like the real one and
    numbers what it creates, so replies can be checked against the ids it handed out."""

    def __init__(self, router: respx.MockRouter) -> None:
        self.router = router
        self.tweets = 0
        self.records: dict[str, dict[str, Any]] = {}
        self.statuses = 0
        self.containers = 0
        self.threads_posts = 0
        self.messages = 0
        self.slack_posts = 0
        router.get(path__startswith="/v1/media/files/").respond(200, content=IMAGE_BYTES)
        # X
        router.post(f"{X_API}/media/upload").respond(
            200, json={"data": {"id": "1880028106020515840"}}
        )
        router.post(f"{X_API}/media/metadata").respond(
            200, json={"data": {"associated_metadata": True}}
        )
        self.x_create = router.post(f"{X_API}/tweets").mock(side_effect=self.tweet)
        # Bluesky
        router.post(f"{XRPC}/com.atproto.repo.uploadBlob").respond(
            200,
            json={
                "blob": {
                    "$type": "blob",
                    "ref": {"$link": "bafkreibanner"},
                    "mimeType": "image/jpeg",
                    "size": len(IMAGE_BYTES),
                }
            },
        )
        router.post(f"{XRPC}/com.atproto.repo.createRecord").mock(side_effect=self.record)
        # Mastodon
        router.post(f"{MASTODON}/api/v2/media").respond(
            200, json={"id": "22", "type": "image", "url": f"{MASTODON}/media/22.jpg"}
        )
        router.post(f"{MASTODON}/api/v1/statuses").mock(side_effect=self.status)
        # Threads
        router.post(f"{THREADS}/{THREADS_USER}/threads").mock(side_effect=self.container)
        router.post(f"{THREADS}/{THREADS_USER}/threads_publish").mock(
            side_effect=self.threads_publish
        )
        router.get(url__regex=rf"^{THREADS}/c\d+").mock(
            side_effect=lambda request: httpx.Response(
                200, json={"id": request.url.path.rsplit("/", 1)[1], "status": "FINISHED"}
            )
        )
        router.get(url__regex=rf"^{THREADS}/1800\d+").mock(
            side_effect=lambda request: httpx.Response(
                200,
                json={
                    "permalink": "https://www.threads.com/@polypost/post/"
                    + request.url.path.rsplit("/", 1)[1]
                },
            )
        )
        # LinkedIn
        router.post(f"{LINKEDIN}/images", params={"action": "initializeUpload"}).respond(
            200,
            json={
                "value": {
                    "uploadUrlExpiresAt": 1760000000000,
                    "uploadUrl": LINKEDIN_UPLOAD,
                    "image": LINKEDIN_IMAGE,
                }
            },
        )
        router.put(LINKEDIN_UPLOAD).respond(201)
        router.post(f"{LINKEDIN}/posts").respond(201, headers={"x-restli-id": SHARE})
        # Discord
        router.post(DISCORD_HOOK).respond(
            200,
            json={"id": "1300000000000000001", "channel_id": DISCORD_CHANNEL},
        )
        # Slack
        router.post(f"{SLACK}/files.getUploadURLExternal").respond(
            200, json={"ok": True, "upload_url": SLACK_UPLOAD, "file_id": "F0001"}
        )
        router.post(SLACK_UPLOAD).respond(200, text="OK - 1")
        router.post(f"{SLACK}/files.completeUploadExternal").respond(
            200,
            json={
                "ok": True,
                "files": [
                    {
                        "id": "F0001",
                        "shares": {"public": {SLACK_CHANNEL: [{"ts": "1700000000.000007"}]}},
                    }
                ],
            },
        )
        router.get(f"{SLACK}/chat.getPermalink").mock(
            side_effect=lambda request: httpx.Response(
                200,
                json={
                    "ok": True,
                    "permalink": f"https://acme.slack.com/archives/{SLACK_CHANNEL}/p"
                    + request.url.params["message_ts"].replace(".", ""),
                },
            )
        )
        # Telegram
        router.post(f"{TELEGRAM}/sendPhoto").respond(
            200,
            json={
                "ok": True,
                "result": {
                    "message_id": 101,
                    "chat": {"id": TELEGRAM_CHAT, "type": "channel", "username": "acme_news"},
                    "date": 1760000000,
                },
            },
        )

    def tweet(self, request: httpx.Request) -> httpx.Response:
        self.tweets += 1
        return httpx.Response(201, json={"data": {"id": str(1000 + self.tweets), "text": "…"}})

    def record(self, request: httpx.Request) -> httpx.Response:
        payload = json.loads(request.content)
        uri = f"at://{DID}/app.bsky.feed.post/{payload['rkey']}"
        cid = f"bafyreicid{len(self.records)}"
        self.records[payload["rkey"]] = {"uri": uri, "cid": cid, "value": payload["record"]}
        return httpx.Response(200, json={"uri": uri, "cid": cid})

    def status(self, request: httpx.Request) -> httpx.Response:
        self.statuses += 1
        status_id = str(110000 + self.statuses)
        return httpx.Response(200, json={"id": status_id, "url": f"{MASTODON}/@alice/{status_id}"})

    def container(self, request: httpx.Request) -> httpx.Response:
        self.containers += 1
        return httpx.Response(200, json={"id": f"c{self.containers}"})

    def threads_publish(self, request: httpx.Request) -> httpx.Response:
        self.threads_posts += 1
        return httpx.Response(200, json={"id": f"1800000000000000{self.threads_posts}"})

    def calls(self, *hosts: str) -> list[Call]:
        """The calls to these hosts, in the order they were made."""
        return [
            Call(c.request.method, str(c.request.url).split("?", 1)[0], c.request)
            for c in self.router.calls
            if c.request.url.host in hosts
        ]

    def sequence(self, *hosts: str) -> list[tuple[str, str]]:
        return [(c.method, c.url) for c in self.calls(*hosts)]


@pytest.fixture
def platforms() -> Iterator[Platforms]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield Platforms(router)


async def targets_of(
    client: httpx.AsyncClient, tenant: Tenant, post_id: str
) -> dict[str, dict[str, Any]]:
    response = await client.get(f"/v1/posts/{post_id}", headers=tenant.headers)
    assert response.status_code == 200, response.text
    return {t["platform"]: t for t in response.json()["targets"]}


async def test_one_post_with_an_image_reaches_every_platform(
    client: httpx.AsyncClient, runtime: Runtime, run_jobs: RunJobs, platforms: Platforms
) -> None:
    tenant = await make_tenant(runtime)
    accounts = await connect_all(runtime, tenant, client)
    media_id = await stored_media(runtime, tenant)

    response = await client.post(
        "/v1/posts",
        headers=tenant.headers,
        json={
            "accountIds": list(accounts.values()),
            "content": "Launch day",
            "platformContent": CAPTIONS,
            "mediaIds": [media_id],
            "altText": {media_id: ALT},
            "publishNow": True,
        },
    )
    assert response.status_code == 201, response.text
    post_id = response.json()["postId"]
    await run_jobs()

    targets = await targets_of(client, tenant, post_id)
    assert {p: t["status"] for p, t in targets.items()} == {p: "published" for p in accounts}
    ids = {p: t["platformPostId"] for p, t in targets.items() if p != "sandbox"}
    rkey = record_key(f"{targets['bluesky']['targetId']}:main")
    assert ids == {
        "x": "1001",
        "bluesky": f"at://{DID}/app.bsky.feed.post/{rkey}",
        "mastodon": "110001",
        "threads": "18000000000000001",
        "linkedin": SHARE,
        "discord": "1300000000000000001",
        "slack": "1700000000.000007",
        "telegram": "101",
    }
    # Threads fetches the image itself from the signed URL; the others read the stored
    # bytes once each and upload them.
    downloads = platforms.calls("127.0.0.1")
    assert len(downloads) == 7
    assert all(c.method == "GET" and "/v1/media/files/" in c.url for c in downloads)

    # X: upload, alt text, create.
    assert platforms.sequence("api.x.com") == [
        ("POST", f"{X_API}/media/upload"),
        ("POST", f"{X_API}/media/metadata"),
        ("POST", f"{X_API}/tweets"),
    ]
    upload, metadata, create = platforms.calls("api.x.com")
    assert all(c.request.headers["authorization"] == "Bearer user-token" for c in (upload, create))
    assert multipart(upload.request)["media"][0] == IMAGE_BYTES
    assert body(metadata.request) == {
        "id": "1880028106020515840",
        "metadata": {"alt_text": {"text": ALT}},
    }
    assert body(create.request) == {
        "text": CAPTIONS["x"],
        "media": {"media_ids": ["1880028106020515840"]},
    }

    # Bluesky: the blob, then the record under a key derived from the target.
    assert platforms.sequence("pds.example.com") == [
        ("POST", f"{XRPC}/com.atproto.repo.uploadBlob"),
        ("POST", f"{XRPC}/com.atproto.repo.createRecord"),
    ]
    blob, record = platforms.calls("pds.example.com")
    assert blob.request.content == IMAGE_BYTES
    assert blob.request.headers["content-type"] == "image/jpeg"
    assert all(c.request.headers["authorization"] == "Bearer access-jwt" for c in (blob, record))
    sent = body(record.request)
    assert (sent["repo"], sent["collection"], sent["rkey"]) == (DID, "app.bsky.feed.post", rkey)
    assert sent["record"]["text"] == CAPTIONS["bluesky"]
    assert sent["record"]["embed"]["images"][0]["alt"] == ALT
    assert sent["record"]["embed"]["images"][0]["aspectRatio"] == {"width": 1080, "height": 1080}

    # Mastodon: the media attachment, then the status naming it.
    assert platforms.sequence("social.example.org") == [
        ("POST", f"{MASTODON}/api/v2/media"),
        ("POST", f"{MASTODON}/api/v1/statuses"),
    ]
    attachment, status = platforms.calls("social.example.org")
    assert all(
        c.request.headers["authorization"] == "Bearer user-token" for c in (attachment, status)
    )
    parts = multipart(attachment.request)
    assert parts["file"][0] == IMAGE_BYTES
    assert parts["description"][0] == ALT.encode()
    assert body(status.request) == {"status": CAPTIONS["mastodon"], "media_ids": ["22"]}
    assert status.request.headers["idempotency-key"] == f"{targets['mastodon']['targetId']}:main"

    # Threads: an image container from the signed URL, its status, publish, permalink.
    assert platforms.sequence("graph.threads.net") == [
        ("POST", f"{THREADS}/{THREADS_USER}/threads"),
        ("GET", f"{THREADS}/c1"),
        ("POST", f"{THREADS}/{THREADS_USER}/threads_publish"),
        ("GET", f"{THREADS}/18000000000000001"),
    ]
    container, _, publish, _ = platforms.calls("graph.threads.net")
    assert all(
        c.request.headers["authorization"] == "Bearer user-token" for c in (container, publish)
    )
    params = form(container.request)
    assert httpx.URL(params.pop("image_url")).path.startswith("/v1/media/files/")
    assert params == {"media_type": "IMAGE", "alt_text": ALT, "text": CAPTIONS["threads"]}
    assert form(publish.request) == {"creation_id": "c1"}

    # LinkedIn: initialize the image upload, PUT the bytes, create the post.
    assert platforms.sequence("api.linkedin.com", "www.linkedin.com") == [
        ("POST", f"{LINKEDIN}/images"),
        ("PUT", LINKEDIN_UPLOAD),
        ("POST", f"{LINKEDIN}/posts"),
    ]
    linkedin = platforms.calls("api.linkedin.com", "www.linkedin.com")
    init, put, share = linkedin
    assert all(c.request.headers["authorization"] == "Bearer li-token" for c in linkedin)
    assert body(init.request) == {
        "initializeUploadRequest": {"owner": f"urn:li:person:{LINKEDIN_MEMBER}"}
    }
    assert put.request.content == IMAGE_BYTES
    assert share.request.headers["linkedin-version"] == runtime.settings.linkedin_version
    shared = body(share.request)
    assert shared["author"] == f"urn:li:person:{LINKEDIN_MEMBER}"
    assert shared["commentary"] == CAPTIONS["linkedin"].replace("(", r"\(")
    assert shared["content"] == {"media": {"id": LINKEDIN_IMAGE, "altText": ALT}}

    # Discord: one multipart webhook execution with the file attached.
    assert platforms.sequence("discord.com") == [("POST", DISCORD_HOOK)]
    (execute,) = platforms.calls("discord.com")
    assert dict(execute.request.url.params) == {"wait": "true"}
    parts = multipart(execute.request)
    payload = json.loads(parts["payload_json"][0])
    assert payload["content"] == CAPTIONS["discord"]
    assert payload["attachments"][0]["description"] == ALT
    assert parts["files[0]"][0] == IMAGE_BYTES

    # Slack: an external upload shared into the channel with the caption.
    assert platforms.sequence("slack.com", "files.slack.com") == [
        ("POST", f"{SLACK}/files.getUploadURLExternal"),
        ("POST", SLACK_UPLOAD),
        ("POST", f"{SLACK}/files.completeUploadExternal"),
        ("GET", f"{SLACK}/chat.getPermalink"),
    ]
    slack = platforms.calls("slack.com", "files.slack.com")
    get_url, put_file, complete, _ = slack
    assert get_url.request.headers["authorization"] == f"Bearer {SLACK_TOKEN}"
    assert form(get_url.request)["alt_txt"] == ALT
    assert put_file.request.content == IMAGE_BYTES
    assert "authorization" not in put_file.request.headers
    assert body(complete.request) == {
        "files": [{"id": "F0001"}],
        "channel_id": SLACK_CHANNEL,
        "initial_comment": CAPTIONS["slack"],
    }

    # Telegram: sendPhoto with the caption (the bot token is in the URL, not a header).
    assert platforms.sequence("api.telegram.org") == [("POST", f"{TELEGRAM}/sendPhoto")]
    (photo,) = platforms.calls("api.telegram.org")
    parts = multipart(photo.request)
    assert parts["chat_id"][0] == str(TELEGRAM_CHAT).encode()
    assert parts["caption"][0] == CAPTIONS["telegram"].encode()
    assert parts["photo"][0] == IMAGE_BYTES
    assert "authorization" not in photo.request.headers

    ledger = await ledger_of(client, tenant, accounts["sandbox"])
    assert len(ledger) == 1
    assert ledger[0]["caption"] == CAPTIONS["sandbox"]
    assert ledger[0]["platformPostId"] == targets["sandbox"]["platformPostId"]


async def test_a_thread_chains_each_reply_to_the_previous_post(
    client: httpx.AsyncClient, runtime: Runtime, run_jobs: RunJobs, platforms: Platforms
) -> None:
    tenant = await make_tenant(runtime)
    every = await connect_all(runtime, tenant, client)
    accounts = {p: every[p] for p in ("x", "bluesky", "mastodon", "threads", "sandbox")}

    response = await client.post(
        "/v1/posts",
        headers=tenant.headers,
        json={
            "accountIds": list(accounts.values()),
            "postType": "thread",
            "thread": [{"text": "1/ Launch"}, {"text": "2/ Details"}, {"text": "3/ Thanks"}],
            "publishNow": True,
        },
    )
    assert response.status_code == 201, response.text
    await run_jobs()

    targets = await targets_of(client, tenant, response.json()["postId"])
    assert {p: t["status"] for p, t in targets.items()} == {p: "published" for p in accounts}
    texts = ["1/ Launch", "2/ Details", "3/ Thanks"]

    # X: `reply.in_reply_to_tweet_id` names the tweet before.
    assert platforms.sequence("api.x.com") == [("POST", f"{X_API}/tweets")] * 3
    assert [body(c.request) for c in platforms.calls("api.x.com")] == [
        {"text": texts[0]},
        {"text": texts[1], "reply": {"in_reply_to_tweet_id": "1001"}},
        {"text": texts[2], "reply": {"in_reply_to_tweet_id": "1002"}},
    ]
    assert targets["x"]["platformPostId"] == "1001"

    # Bluesky: `reply.root` is the first post, `reply.parent` the one before (strong refs).
    assert (
        platforms.sequence("pds.example.com")
        == [("POST", f"{XRPC}/com.atproto.repo.createRecord")] * 3
    )
    target_id = targets["bluesky"]["targetId"]
    main, one, two = (
        platforms.records[record_key(f"{target_id}:{step}")]
        for step in ("main", "segment:1", "segment:2")
    )
    root = {"uri": main["uri"], "cid": main["cid"]}
    assert "reply" not in main["value"]
    assert one["value"]["reply"] == {"root": root, "parent": root}
    assert two["value"]["reply"] == {"root": root, "parent": {"uri": one["uri"], "cid": one["cid"]}}
    assert [r["value"]["text"] for r in (main, one, two)] == texts
    assert targets["bluesky"]["platformPostId"] == main["uri"]

    # Mastodon: `in_reply_to_id` of the status before.
    assert platforms.sequence("social.example.org") == [("POST", f"{MASTODON}/api/v1/statuses")] * 3
    assert [body(c.request) for c in platforms.calls("social.example.org")] == [
        {"status": texts[0]},
        {"status": texts[1], "in_reply_to_id": "110001"},
        {"status": texts[2], "in_reply_to_id": "110002"},
    ]

    # Threads: each reply's container carries `reply_to_id` of the post before.
    creates = [
        form(c.request)
        for c in platforms.calls("graph.threads.net")
        if c.url.endswith(f"/{THREADS_USER}/threads")
    ]
    assert creates == [
        {"media_type": "TEXT", "text": texts[0]},
        {"media_type": "TEXT", "text": texts[1], "reply_to_id": "18000000000000001"},
        {"media_type": "TEXT", "text": texts[2], "reply_to_id": "18000000000000002"},
    ]
    steps = [
        [
            ("POST", f"{THREADS}/{THREADS_USER}/threads"),
            ("GET", f"{THREADS}/c{n}"),
            ("POST", f"{THREADS}/{THREADS_USER}/threads_publish"),
            ("GET", f"{THREADS}/1800000000000000{n}"),
        ]
        for n in (1, 2, 3)
    ]
    assert platforms.sequence("graph.threads.net") == [call for step in steps for call in step]
    publishes = [
        form(c.request)
        for c in platforms.calls("graph.threads.net")
        if c.url.endswith("/threads_publish")
    ]
    assert publishes == [{"creation_id": f"c{n}"} for n in (1, 2, 3)]
    assert targets["threads"]["platformPostId"] == "18000000000000001"

    # The sandbox records each reply's parent.
    async with runtime.sessions() as session:
        entries = (
            (
                await session.execute(
                    select(SandboxLedgerEntry)
                    .where(SandboxLedgerEntry.account_id == accounts["sandbox"])
                    .order_by(SandboxLedgerEntry.created_at, SandboxLedgerEntry.id)
                )
            )
            .scalars()
            .all()
        )
    assert [e.text for e in entries] == texts
    ids = [e.platform_post_id for e in entries]
    assert [e.payload["replyTo"] for e in entries] == [None, ids[0], ids[1]]
    assert targets["sandbox"]["platformPostId"] == ids[0]


class TestFailureClasses:
    """Each kind of platform error through the pipeline, on X."""

    async def post(self, client: httpx.AsyncClient, tenant: Tenant, account_id: str) -> str:
        response = await client.post(
            "/v1/posts",
            headers=tenant.headers,
            json={"accountIds": [account_id], "content": "Launch day", "publishNow": True},
        )
        assert response.status_code == 201, response.text
        return str(response.json()["postId"])

    async def test_auth_expired_fails_the_target_and_expires_the_account(
        self, client: httpx.AsyncClient, runtime: Runtime, run_jobs: RunJobs
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await add_x(runtime, tenant)
        with respx.mock(assert_all_mocked=True) as x:
            create = x.post(f"{X_API}/tweets").respond(
                401,
                json={
                    "title": "Unauthorized",
                    "type": "about:blank",
                    "status": 401,
                    "detail": "Unauthorized",
                },
            )
            post_id = await self.post(client, tenant, account_id)
            await run_jobs()

        target = (await targets_of(client, tenant, post_id))["x"]
        assert target["status"] == "failed"
        assert target["error"]["code"] == "auth_expired"
        assert "reconnect" in target["error"]["message"]
        assert create.call_count == 1
        assert create.calls.last.request.headers["authorization"] == "Bearer user-token"
        accounts = (await client.get("/v1/accounts", headers=tenant.headers)).json()["accounts"]
        assert [a["status"] for a in accounts if a["accountId"] == account_id] == ["expired"]

    async def test_rate_limited_waits_until_the_reset(
        self, client: httpx.AsyncClient, runtime: Runtime, run_jobs: RunJobs
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await add_x(runtime, tenant)
        reset = int((utcnow() + timedelta(minutes=7)).timestamp())
        with respx.mock(assert_all_mocked=True) as x:
            create = x.post(f"{X_API}/tweets").respond(
                429,
                json={
                    "title": "Too Many Requests",
                    "type": "about:blank",
                    "status": 429,
                    "detail": "Too Many Requests",
                },
                headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)},
            )
            post_id = await self.post(client, tenant, account_id)
            await run_jobs()

        target = (await targets_of(client, tenant, post_id))["x"]
        assert target["status"] == "scheduled"
        assert target["error"]["code"] == "rate_limited"
        assert create.call_count == 1
        async with runtime.sessions() as session:
            row = await session.get(PostTarget, target["targetId"])
            assert row is not None
            assert row.next_attempt_at is not None
            assert row.next_attempt_at.astimezone(UTC) == datetime.fromtimestamp(reset, tz=UTC)

    async def test_a_transient_5xx_is_retried_then_published(
        self, client: httpx.AsyncClient, runtime: Runtime, run_jobs: RunJobs
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await add_x(runtime, tenant)
        with respx.mock(assert_all_mocked=True) as x:
            create = x.post(f"{X_API}/tweets").mock(
                side_effect=[
                    httpx.Response(503, json={"title": "Service Unavailable", "status": 503}),
                    httpx.Response(201, json={"data": {"id": "1500", "text": "Launch day"}}),
                ]
            )
            post_id = await self.post(client, tenant, account_id)
            await run_jobs()
            calls = [(c.request.method, c.request.url.path) for c in x.calls]

        target = (await targets_of(client, tenant, post_id))["x"]
        assert target["status"] == "published", target
        assert target["platformPostId"] == "1500"
        assert target["attempts"] == 2
        assert create.call_count == 2
        assert [body(c.request) for c in create.calls] == [{"text": "Launch day"}] * 2
        # X answered with an error, so nothing was posted: the retry simply sends again.
        assert calls == [("POST", "/2/tweets"), ("POST", "/2/tweets")]
        assert all(c.request.headers["authorization"] == "Bearer user-token" for c in create.calls)

    async def test_duplicate_content_is_permanent_with_the_reason(
        self, client: httpx.AsyncClient, runtime: Runtime, run_jobs: RunJobs
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await add_x(runtime, tenant)
        with respx.mock(assert_all_mocked=True) as x:
            create = x.post(f"{X_API}/tweets").respond(
                403,
                json={
                    "detail": "You are not allowed to create a Tweet with duplicate content.",
                    "type": "about:blank",
                    "title": "Forbidden",
                    "status": 403,
                },
            )
            post_id = await self.post(client, tenant, account_id)
            await run_jobs()

        target = (await targets_of(client, tenant, post_id))["x"]
        assert target["status"] == "failed"
        assert target["error"] == {
            "code": "duplicate_content",
            "message": "You are not allowed to create a Tweet with duplicate content.",
        }
        assert create.call_count == 1
        assert target["attempts"] == 1
