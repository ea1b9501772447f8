"""YouTube end to end: `POST /v1/posts` → jobs that open the session, upload in chunks
(resuming after a 5xx), set the thumbnail, poll processing and post the first comment;
a worker lost after the last chunk recovered by probing the session; a spent quota;
the channel's uploads read back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx

from polypost.core.runtime import Runtime
from polypost.platforms.registry import adapter_for
from polypost.platforms.youtube.adapter import YouTubeAdapter
from polypost.posts import jobs
from tests.fixtures.factories import make_media, make_tenant
from tests.fixtures.jobs import RunJobs
from tests.platforms.helpers import body, make_account

API = "https://www.googleapis.com/youtube/v3"
UPLOAD = "https://www.googleapis.com/upload/youtube/v3"
SESSION = f"{UPLOAD}/videos?uploadType=resumable&upload_id=session-1"
FILES = r"/v1/media/files/"
DATA = b"0123456789"
VIDEO_ID = "dQw4w9WgXcQ"


@pytest.fixture
def youtube() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        router.post(f"{UPLOAD}/videos", name="initiate").mock(
            return_value=httpx.Response(200, headers={"Location": SESSION})
        )
        yield router


@pytest.fixture
def adapter(runtime: Runtime) -> YouTubeAdapter:
    adapter = adapter_for(runtime, "youtube")
    assert isinstance(adapter, YouTubeAdapter)
    adapter.chunk_size = 4
    adapter.poll_delays = (timedelta(0),)
    adapter.upload_retry_delays = (timedelta(0),)
    return adapter


def served(request: httpx.Request) -> httpx.Response:
    """Our storage, honouring `Range: bytes=N-`."""
    wanted = request.headers.get("range")
    if wanted:
        return httpx.Response(206, content=DATA[int(wanted[6:].rstrip("-")) :])
    return httpx.Response(200, content=DATA)


def incomplete(last: int) -> httpx.Response:
    return httpx.Response(308, headers={"Range": f"bytes=0-{last}"})


def video_resource() -> httpx.Response:
    return httpx.Response(201, json={"kind": "youtube#video", "id": VIDEO_ID})


def processed() -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "items": [
                {
                    "id": VIDEO_ID,
                    "status": {"uploadStatus": "processed"},
                    "processingDetails": {"processingStatus": "succeeded"},
                }
            ]
        },
    )


async def youtube_account(runtime: Runtime, workspace_id: str) -> str:
    return await make_account(
        runtime,
        workspace_id,
        "youtube",
        external_id="UCabcdefghijklmnopqrstuv",
        handle="@polypost",
        access_token="ya29.token",
        refresh_token="1//refresh",
    )


async def status_of(client: httpx.AsyncClient, headers: dict[str, str], post_id: str) -> Any:
    return (await client.get(f"/v1/posts/{post_id}/status", headers=headers)).json()


async def test_a_short_with_thumbnail_and_first_comment_survives_a_5xx_mid_upload(
    client: httpx.AsyncClient,
    runtime: Runtime,
    run_jobs: RunJobs,
    youtube: respx.MockRouter,
    adapter: YouTubeAdapter,
) -> None:
    tenant = await make_tenant(runtime)
    account_id = await youtube_account(runtime, tenant.workspace.id)
    video = await make_media(
        runtime, tenant.workspace.id, "video", size=len(DATA), width=1080, height=1920
    )
    thumbnail = await make_media(runtime, tenant.workspace.id, width=1280, height=720, size=5)
    files = youtube.get(url__regex=FILES).mock(side_effect=served)
    session = youtube.put(SESSION).mock(
        side_effect=[
            incomplete(3),
            httpx.Response(503, json={"error": {"code": 503, "message": "Backend Error"}}),
            incomplete(3),  # the probe before resuming
            incomplete(7),
            video_resource(),
        ]
    )
    thumb = youtube.post(f"{UPLOAD}/thumbnails/set").mock(
        return_value=httpx.Response(200, json={"kind": "youtube#thumbnailSetResponse"})
    )
    youtube.get(f"{API}/videos").mock(
        side_effect=[
            httpx.Response(200, json={"items": [{"status": {"uploadStatus": "uploaded"}}]}),
            processed(),
        ]
    )
    comment = youtube.post(f"{API}/commentThreads").mock(
        return_value=httpx.Response(200, json={"id": "UgzFirstComment"})
    )
    response = await client.post(
        "/v1/posts",
        headers=tenant.headers,
        json={
            "accountIds": [account_id],
            "postType": "reel",
            "content": "Our year in 60 seconds",
            "mediaIds": [video],
            "coverMediaId": thumbnail,
            "firstComment": "Full changelog: https://example.com/changelog",
            "platformOptions": {"youtube": {"title": "Year in review", "ytPrivacy": "public"}},
            "publishNow": True,
        },
    )
    assert response.status_code == 201, response.text
    await run_jobs()

    status = await status_of(client, tenant.headers, response.json()["postId"])
    assert status["status"] == "published", status
    target = status["targets"][0]
    assert target["platformPostId"] == VIDEO_ID
    assert target["permalink"] == f"https://www.youtube.com/shorts/{VIDEO_ID}"
    initiated = youtube.routes["initiate"]
    assert initiated.call_count == 1
    assert body(initiated.calls.last.request) == {
        "snippet": {
            "title": "Year in review",
            "description": "Our year in 60 seconds",
            "categoryId": "22",
        },
        "status": {"privacyStatus": "public", "selfDeclaredMadeForKids": False},
    }
    assert [c.request.headers["content-range"] for c in session.calls] == [
        "bytes 0-3/10",
        "bytes 4-7/10",
        "bytes */10",
        "bytes 4-7/10",
        "bytes 8-9/10",
    ]
    assert b"".join(c.request.content for c in session.calls) == b"012345674567" + b"89"
    assert thumb.call_count == 1
    assert thumb.calls.last.request.url.params["videoId"] == VIDEO_ID
    assert body(comment.calls.last.request)["snippet"] == {
        "videoId": VIDEO_ID,
        "topLevelComment": {
            "snippet": {"textOriginal": "Full changelog: https://example.com/changelog"}
        },
    }
    assert files.call_count >= 2  # the video (twice: before and after the 5xx), the cover


class LostMemo:
    """A memo that forgets everything (Redis flushed, or an embedded server restarted):
    only the state stored with the parked job remains."""

    async def get(self, key: str) -> None:
        return None

    async def put(self, key: str, value: Any, ttl: timedelta) -> None:
        return None

    async def drop(self, key: str) -> None:
        return None


async def test_a_worker_lost_after_the_last_chunk_is_settled_by_probing_the_session(
    client: httpx.AsyncClient,
    runtime: Runtime,
    run_jobs: RunJobs,
    youtube: respx.MockRouter,
    adapter: YouTubeAdapter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(jobs, "backoff", lambda attempts: timedelta(0))
    monkeypatch.setattr(jobs, "REQUEUE_AFTER", timedelta(0))
    adapter.memo = LostMemo()  # type: ignore[assignment]
    adapter.chunk_size = 8
    tenant = await make_tenant(runtime)
    account_id = await youtube_account(runtime, tenant.workspace.id)
    video = await make_media(runtime, tenant.workspace.id, "video", size=len(DATA))
    youtube.get(url__regex=FILES).mock(side_effect=served)
    received: list[bytes] = []

    def upload(request: httpx.Request) -> httpx.Response:
        if request.headers["content-range"] == "bytes */10":
            return video_resource()  # the probe: YouTube has the whole file
        received.append(request.content)
        if len(received) == 2:
            # YouTube got the last chunk, but the worker dies before it hears back.
            raise RuntimeError("worker lost")
        return incomplete(7)

    session = youtube.put(SESSION).mock(side_effect=upload)
    youtube.get(f"{API}/videos").mock(return_value=processed())
    response = await client.post(
        "/v1/posts",
        headers=tenant.headers,
        json={
            "accountIds": [account_id],
            "content": "Recovered",
            "mediaIds": [video],
            "publishNow": True,
        },
    )
    assert response.status_code == 201, response.text
    await run_jobs()

    # The worker "died" mid-call: the retried job must settle the unknown outcome by
    # probing the upload session, never by uploading again.
    post_id = response.json()["postId"]
    await jobs.reconcile_targets({"runtime": runtime, "worker_id": "test-reconciler"})
    await run_jobs()

    status = await status_of(client, tenant.headers, post_id)
    assert status["status"] == "published", status
    assert status["targets"][0]["platformPostId"] == VIDEO_ID
    assert youtube.routes["initiate"].call_count == 1  # never a second upload
    assert received == [b"01234567", b"89"]
    assert session.calls.last.request.headers["content-range"] == "bytes */10"


async def test_a_spent_quota_waits_for_the_reset_and_shows_in_the_limits(
    client: httpx.AsyncClient,
    runtime: Runtime,
    run_jobs: RunJobs,
    youtube: respx.MockRouter,
    adapter: YouTubeAdapter,
) -> None:
    tenant = await make_tenant(runtime)
    account_id = await youtube_account(runtime, tenant.workspace.id)
    video = await make_media(runtime, tenant.workspace.id, "video", size=len(DATA))
    youtube.routes["initiate"].mock(
        return_value=httpx.Response(
            403,
            json={
                "error": {
                    "code": 403,
                    "message": "The request cannot be completed because you have exceeded "
                    "your quota.",
                    "errors": [{"domain": "youtube.quota", "reason": "quotaExceeded"}],
                }
            },
        )
    )
    response = await client.post(
        "/v1/posts",
        headers=tenant.headers,
        json={"accountIds": [account_id], "mediaIds": [video], "publishNow": True},
    )
    assert response.status_code == 201, response.text
    await run_jobs()

    post = (
        await client.get(f"/v1/posts/{response.json()['postId']}", headers=tenant.headers)
    ).json()
    target = post["targets"][0]
    assert target["status"] == "scheduled", post
    assert target["error"]["code"] == "rate_limited"
    limits = (await client.get(f"/v1/accounts/{account_id}/limits", headers=tenant.headers)).json()
    quota = limits["quota"]
    assert (quota["used"], quota["total"], quota["remaining"]) == (10_000, 10_000, 0)
    assert quota["resetsAt"].endswith(("T08:00:00Z", "T07:00:00Z"))  # midnight Pacific


async def test_a_landscape_short_is_422(
    client: httpx.AsyncClient, runtime: Runtime, youtube: respx.MockRouter
) -> None:
    tenant = await make_tenant(runtime)
    account_id = await youtube_account(runtime, tenant.workspace.id)
    video = await make_media(runtime, tenant.workspace.id, "video", width=1920, height=1080)
    response = await client.post(
        "/v1/posts",
        headers=tenant.headers,
        json={
            "accountIds": [account_id],
            "postType": "reel",
            "content": "Sideways <3",
            "mediaIds": [video],
            "publishNow": True,
        },
    )
    assert response.status_code == 422, response.text
    rules = {t["rule"] for t in response.json()["error"]["details"]["targets"]}
    assert rules == {"short_not_vertical", "text_invalid_characters"}
    assert youtube.routes["initiate"].call_count == 0


async def test_the_channels_uploads_are_the_native_posts(
    client: httpx.AsyncClient, runtime: Runtime, youtube: respx.MockRouter
) -> None:
    tenant = await make_tenant(runtime)
    account_id = await youtube_account(runtime, tenant.workspace.id)
    channels = youtube.get(f"{API}/channels").mock(
        return_value=httpx.Response(
            200,
            json={
                "items": [
                    {
                        "id": "UCabcdefghijklmnopqrstuv",
                        "contentDetails": {"relatedPlaylists": {"uploads": "UUabcdefgh"}},
                    }
                ]
            },
        )
    )
    items = youtube.get(f"{API}/playlistItems").mock(
        return_value=httpx.Response(
            200,
            json={
                "items": [
                    {
                        "snippet": {"title": "Launch", "publishedAt": "2026-11-20T10:00:00Z"},
                        "contentDetails": {
                            "videoId": VIDEO_ID,
                            "videoPublishedAt": "2026-11-20T09:59:00Z",
                        },
                    }
                ],
                "nextPageToken": "CAUQAA",
            },
        )
    )
    response = await client.get(
        f"/v1/accounts/{account_id}/posts", headers=tenant.headers, params={"limit": 5}
    )
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["posts"][0]["platformPostId"] == VIDEO_ID
    assert page["posts"][0]["caption"] == "Launch"
    assert page["posts"][0]["timestamp"] == "2026-11-20T09:59:00Z"
    assert page["nextCursor"] == "CAUQAA"
    assert dict(channels.calls.last.request.url.params) == {
        "part": "contentDetails",
        "mine": "true",
    }
    assert dict(items.calls.last.request.url.params) == {
        "part": "snippet,contentDetails",
        "playlistId": "UUabcdefgh",
        "maxResults": "5",
    }
