"""The Bluesky adapter against respx: the exact XRPC calls for every operation."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx

from polypost.core.errors import BadRequest
from polypost.core.ids import new_id
from polypost.platforms.base import (
    Article,
    AuthExpired,
    Credentials,
    MediaInfo,
    MediaKind,
    Outgoing,
    Permanent,
    PostType,
    Published,
    RateLimited,
    Transient,
)
from polypost.platforms.bluesky.adapter import BlueskyAdapter
from polypost.platforms.bluesky.records import is_tid, record_key
from polypost.platforms.options import BlueskyOptions
from tests.platforms.bluesky.conftest import DID, HANDLE, PDS, PUBLIC_IP, Sleeps, StubRuntime, jwt

XRPC = f"{PDS}/xrpc"
BLOB = {"$type": "blob", "ref": {"$link": "bafkreiblob"}, "mimeType": "image/jpeg", "size": 3}


def key(step: str = "main") -> str:
    return f"{new_id('tgt')}:{step}"


def outgoing(text: str = "Hello", **kwargs: Any) -> Outgoing:
    kwargs.setdefault("key", key())
    kwargs.setdefault("post_type", PostType.TEXT)
    return Outgoing(target_id="tgt_1", text=text, **kwargs)


def created(rkey: str, cid: str = "bafyreicid") -> dict[str, Any]:
    return {
        "uri": f"at://{DID}/app.bsky.feed.post/{rkey}",
        "cid": cid,
        "commit": {"cid": "c", "rev": "r"},
    }


def sent(route: respx.Route, index: int = -1) -> Any:
    return json.loads(route.calls[index].request.content)


def xrpc_error(status: int, name: str, message: str = "msg", **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"error": name, "message": message}, headers=headers)


# --- errors -----------------------------------------------------------------------------


class TestClassify:
    @pytest.mark.parametrize(
        ("status", "name", "kind"),
        [
            (400, "ExpiredToken", AuthExpired),
            (400, "InvalidToken", AuthExpired),
            (401, "AuthenticationRequired", AuthExpired),
            (401, "AccountTakedown", AuthExpired),
            (401, "AuthFactorTokenRequired", AuthExpired),
            (500, "InternalServerError", Transient),
            (502, "UpstreamFailure", Transient),
            (504, "UpstreamTimeout", Transient),
            (400, "InvalidRequest", Permanent),
            (413, "PayloadTooLarge", Permanent),
            (400, "BlobTooLarge", Permanent),
        ],
    )
    def test_xrpc_errors(
        self, adapter: BlueskyAdapter, status: int, name: str, kind: type[Exception]
    ) -> None:
        error = adapter.classify(xrpc_error(status, name, "Token has expired"))
        assert type(error) is kind
        assert error.code == name

    def test_rate_limit_waits_for_ratelimit_reset(self, adapter: BlueskyAdapter) -> None:
        reset = 1_900_000_000
        error = adapter.classify(
            xrpc_error(
                429,
                "RateLimitExceeded",
                "Rate Limit Exceeded",
                **{
                    "RateLimit-Limit": "5000",
                    "RateLimit-Remaining": "0",
                    "RateLimit-Reset": str(reset),
                    "RateLimit-Policy": "5000;w=3600",
                },
            )
        )
        assert isinstance(error, RateLimited)
        assert error.retry_at == datetime.fromtimestamp(reset, UTC)

    def test_a_body_that_is_not_xrpc_still_classifies(self, adapter: BlueskyAdapter) -> None:
        error = adapter.classify(httpx.Response(503, text="<html>Bad gateway</html>"))
        assert isinstance(error, Transient)
        assert error.code == "503"


# --- publishing ---------------------------------------------------------------------------


class TestPublishText:
    @respx.mock
    async def test_creates_the_record_under_the_steps_record_key(
        self, adapter: BlueskyAdapter, account: Credentials
    ) -> None:
        post = outgoing(
            "Ship it 🚀",
            options=BlueskyOptions(
                langs=["en", "pt-BR"], labels=["graphic-media"], tags=["#launch"]
            ),
        )
        rkey = record_key(post.key)
        route = respx.post(f"{XRPC}/com.atproto.repo.createRecord").respond(200, json=created(rkey))

        published = await adapter.publish(account, post)

        request = route.calls.last.request
        assert request.headers["authorization"] == "Bearer access-jwt"
        body = sent(route)
        assert is_tid(rkey)
        assert body["repo"] == DID
        assert body["collection"] == "app.bsky.feed.post"
        assert body["rkey"] == rkey
        record = body["record"]
        assert record["$type"] == "app.bsky.feed.post"
        assert record["text"] == "Ship it 🚀"
        assert record["langs"] == ["en", "pt-BR"]
        assert record["labels"] == {
            "$type": "com.atproto.label.defs#selfLabels",
            "values": [{"val": "graphic-media"}],
        }
        assert record["tags"] == ["launch"]
        assert record["createdAt"].endswith("Z")
        assert len(record["createdAt"]) == 24
        assert "facets" not in record
        assert "embed" not in record
        assert "reply" not in record
        assert published == Published(
            id=f"at://{DID}/app.bsky.feed.post/{rkey}",
            url=f"https://bsky.app/profile/{DID}/post/{rkey}",
            extra={"cid": "bafyreicid"},
        )

    @respx.mock
    async def test_links_mentions_and_tags_get_facets_by_utf8_byte_offsets(
        self, adapter: BlueskyAdapter, account: Credentials
    ) -> None:
        text = "café 👨‍👩‍👧 https://example.com/a?b=1. cc @bob.example.org @nobody.invalid #python!"
        resolve = respx.get(f"{XRPC}/com.atproto.identity.resolveHandle")
        resolve.side_effect = lambda request: (
            httpx.Response(200, json={"did": "did:plc:bob"})
            if request.url.params["handle"] == "bob.example.org"
            else xrpc_error(400, "InvalidRequest", "Unable to resolve handle")
        )
        route = respx.post(f"{XRPC}/com.atproto.repo.createRecord").respond(200, json=created("x"))

        await adapter.publish(account, outgoing(text))

        encoded = text.encode()

        def span(part: str) -> dict[str, int]:
            start = encoded.index(part.encode())
            return {"byteStart": start, "byteEnd": start + len(part.encode())}

        assert sent(route)["record"]["facets"] == [
            {
                "index": span("https://example.com/a?b=1"),
                "features": [
                    {"$type": "app.bsky.richtext.facet#link", "uri": "https://example.com/a?b=1"}
                ],
            },
            {
                "index": span("@bob.example.org"),
                "features": [{"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:bob"}],
            },
            {
                "index": span("#python"),
                "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "python"}],
            },
        ]
        assert sorted(c.request.url.params["handle"] for c in resolve.calls) == [
            "bob.example.org",
            "nobody.invalid",
        ]
        assert all(c.request.headers["authorization"] == "Bearer access-jwt" for c in resolve.calls)


class TestPublishImages:
    @respx.mock
    async def test_uploads_each_image_and_embeds_alt_text_and_aspect_ratio(
        self, adapter: BlueskyAdapter, account: Credentials
    ) -> None:
        media = (
            MediaInfo(
                id="md_1",
                kind=MediaKind.IMAGE,
                content_type="image/jpeg",
                size=3,
                width=1200,
                height=800,
                url="https://files.example.net/md_1.jpg",
            ),
            MediaInfo(
                id="md_2",
                kind=MediaKind.IMAGE,
                content_type="image/png",
                size=4,
                url="https://files.example.net/md_2.png",
            ),
        )
        respx.get("https://files.example.net/md_1.jpg").respond(200, content=b"JPG")
        respx.get("https://files.example.net/md_2.png").respond(200, content=b"PNG!")
        blobs = [
            dict(BLOB, ref={"$link": "one"}),
            dict(BLOB, ref={"$link": "two"}, mimeType="image/png"),
        ]
        upload = respx.post(f"{XRPC}/com.atproto.repo.uploadBlob")
        upload.side_effect = [httpx.Response(200, json={"blob": b}) for b in blobs]
        route = respx.post(f"{XRPC}/com.atproto.repo.createRecord").respond(200, json=created("x"))

        await adapter.publish(
            account,
            outgoing(
                "Two pictures",
                post_type=PostType.CAROUSEL,
                media=media,
                alt_texts={"md_1": "A cat"},
            ),
        )

        first, second = (c.request for c in upload.calls)
        assert (first.content, first.headers["content-type"]) == (b"JPG", "image/jpeg")
        assert (second.content, second.headers["content-type"]) == (b"PNG!", "image/png")
        assert first.headers["authorization"] == "Bearer access-jwt"
        assert sent(route)["record"]["embed"] == {
            "$type": "app.bsky.embed.images",
            "images": [
                {"image": blobs[0], "alt": "A cat", "aspectRatio": {"width": 1200, "height": 800}},
                {"image": blobs[1], "alt": ""},
            ],
        }

    @respx.mock
    async def test_a_file_larger_than_it_said_is_refused_before_upload(
        self, adapter: BlueskyAdapter, account: Credentials
    ) -> None:
        media = MediaInfo(
            id="md_1",
            kind=MediaKind.IMAGE,
            content_type="image/jpeg",
            size=10,
            url="https://files.example.net/md_1.jpg",
        )
        respx.get("https://files.example.net/md_1.jpg").respond(200, content=b"x" * 1_000_001)
        upload = respx.post(f"{XRPC}/com.atproto.repo.uploadBlob")

        with pytest.raises(Permanent) as caught:
            await adapter.publish(account, outgoing(media=(media,), post_type=PostType.IMAGE))

        assert caught.value.code == "media_too_large"
        assert not upload.called

    @respx.mock
    async def test_media_gone_from_storage_is_permanent_and_storage_errors_transient(
        self, adapter: BlueskyAdapter, account: Credentials
    ) -> None:
        gone = MediaInfo(
            id="md_1",
            kind=MediaKind.IMAGE,
            content_type="image/jpeg",
            size=3,
            url="https://files.example.net/gone.jpg",
        )
        flaky = MediaInfo(
            id="md_2",
            kind=MediaKind.IMAGE,
            content_type="image/jpeg",
            size=3,
            url="https://files.example.net/flaky.jpg",
        )
        respx.get("https://files.example.net/gone.jpg").respond(404)
        respx.get("https://files.example.net/flaky.jpg").respond(503)

        with pytest.raises(Permanent) as permanent:
            await adapter.publish(account, outgoing(media=(gone,), post_type=PostType.IMAGE))
        with pytest.raises(Transient):
            await adapter.publish(account, outgoing(media=(flaky,), post_type=PostType.IMAGE))
        assert permanent.value.code == "media_unavailable"


VIDEO = MediaInfo(
    id="md_vid",
    kind=MediaKind.VIDEO,
    content_type="video/mp4",
    size=6,
    width=1080,
    height=1920,
    duration_ms=15_000,
    url="https://files.example.net/clip.mp4",
    filename="clip.mp4",
)
VIDEO_BLOB = {"$type": "blob", "ref": {"$link": "bafkreivideo"}, "mimeType": "video/mp4", "size": 6}


class TestPublishVideo:
    def _routes(self) -> tuple[respx.Route, respx.Route]:
        respx.get(f"{XRPC}/com.atproto.server.getServiceAuth").respond(
            200, json={"token": "svc-token"}
        )
        respx.get("https://files.example.net/clip.mp4").respond(200, content=b"MP4MP4")
        upload = respx.post("https://video.bsky.app/xrpc/app.bsky.video.uploadVideo").respond(
            200, json={"jobStatus": {"jobId": "job-1", "did": DID, "state": "JOB_STATE_CREATED"}}
        )
        status = respx.get("https://video.bsky.app/xrpc/app.bsky.video.getJobStatus")
        return upload, status

    @respx.mock
    async def test_uploads_to_the_video_service_and_waits_for_the_blob(
        self, adapter: BlueskyAdapter, account: Credentials, sleeps: Sleeps
    ) -> None:
        upload, status = self._routes()
        status.side_effect = [
            httpx.Response(
                200,
                json={
                    "jobStatus": {"jobId": "job-1", "state": "JOB_STATE_ENCODING", "progress": 40}
                },
            ),
            httpx.Response(
                200,
                json={
                    "jobStatus": {
                        "jobId": "job-1",
                        "state": "JOB_STATE_COMPLETED",
                        "blob": VIDEO_BLOB,
                    }
                },
            ),
        ]
        route = respx.post(f"{XRPC}/com.atproto.repo.createRecord").respond(200, json=created("x"))

        await adapter.publish(
            account,
            outgoing(
                "Watch", post_type=PostType.VIDEO, media=(VIDEO,), alt_texts={"md_vid": "A demo"}
            ),
        )

        auth = respx.calls[0].request
        assert auth.url.params["aud"] == "did:web:pds.example.com"
        assert auth.url.params["lxm"] == "com.atproto.repo.uploadBlob"
        assert int(auth.url.params["exp"]) > datetime.now(UTC).timestamp()
        request = upload.calls.last.request
        assert dict(request.url.params) == {"did": DID, "name": "clip.mp4"}
        assert request.headers["authorization"] == "Bearer svc-token"
        assert request.headers["content-type"] == "video/mp4"
        assert request.headers["content-length"] == "6"
        assert request.content == b"MP4MP4"
        assert [c.request.url.params["jobId"] for c in status.calls] == ["job-1", "job-1"]
        assert len(sleeps) == 2
        assert sent(route)["record"]["embed"] == {
            "$type": "app.bsky.embed.video",
            "video": VIDEO_BLOB,
            "alt": "A demo",
            "aspectRatio": {"width": 1080, "height": 1920},
        }

    @respx.mock
    async def test_an_already_processed_file_answers_with_its_blob(
        self, adapter: BlueskyAdapter, account: Credentials
    ) -> None:
        upload, status = self._routes()
        upload.respond(
            409,
            json={
                "jobId": "job-0",
                "state": "JOB_STATE_FAILED",
                "error": "already_exists",
                "blob": VIDEO_BLOB,
            },
        )
        route = respx.post(f"{XRPC}/com.atproto.repo.createRecord").respond(200, json=created("x"))

        await adapter.publish(account, outgoing(post_type=PostType.VIDEO, media=(VIDEO,)))

        assert not status.called
        assert sent(route)["record"]["embed"]["video"] == VIDEO_BLOB

    @respx.mock
    async def test_slow_processing_hands_over_to_a_retry_that_polls_the_same_job(
        self, adapter: BlueskyAdapter, account: Credentials
    ) -> None:
        adapter.blobs.video_wait = 0
        upload, status = self._routes()
        status.respond(200, json={"jobStatus": {"jobId": "job-1", "state": "JOB_STATE_ENCODING"}})

        with pytest.raises(Transient) as caught:
            await adapter.publish(account, outgoing(post_type=PostType.VIDEO, media=(VIDEO,)))
        assert caught.value.code == "media_processing"
        assert not caught.value.maybe_sent

        status.respond(
            200,
            json={
                "jobStatus": {"jobId": "job-1", "state": "JOB_STATE_COMPLETED", "blob": VIDEO_BLOB}
            },
        )
        respx.post(f"{XRPC}/com.atproto.repo.createRecord").respond(200, json=created("x"))
        await adapter.publish(account, outgoing(post_type=PostType.VIDEO, media=(VIDEO,)))

        assert upload.call_count == 1

    @respx.mock
    async def test_a_failed_job_is_permanent(
        self, adapter: BlueskyAdapter, account: Credentials
    ) -> None:
        _, status = self._routes()
        status.respond(
            200,
            json={
                "jobStatus": {
                    "jobId": "job-1",
                    "state": "JOB_STATE_FAILED",
                    "error": "encoding_failure",
                    "message": "Bad codec",
                }
            },
        )
        create = respx.post(f"{XRPC}/com.atproto.repo.createRecord")

        with pytest.raises(Permanent) as caught:
            await adapter.publish(account, outgoing(post_type=PostType.VIDEO, media=(VIDEO,)))

        assert caught.value.code == "encoding_failure"
        assert "Bad codec" in caught.value.message
        assert not create.called

    @respx.mock
    async def test_an_unverified_email_refusal_is_permanent(
        self, adapter: BlueskyAdapter, account: Credentials
    ) -> None:
        upload, _ = self._routes()
        upload.respond(400, json={"error": "unconfirmed_email", "message": "Verify your email"})

        with pytest.raises(Permanent) as caught:
            await adapter.publish(account, outgoing(post_type=PostType.VIDEO, media=(VIDEO,)))

        assert caught.value.code == "unconfirmed_email"


class TestLinkCard:
    @respx.mock
    async def test_a_link_gets_a_card_from_the_pages_open_graph_tags(
        self, adapter: BlueskyAdapter, account: Credentials
    ) -> None:
        page = (
            "<html><head><title>Fallback</title>"
            '<meta property="og:title" content="Launch day">'
            '<meta property="og:description" content="What we shipped">'
            '<meta property="og:image" content="/img/card.png"></head></html>'
        )
        # The outbound guard dials the checked address, with the name in Host and SNI.
        fetch = respx.get(f"https://{PUBLIC_IP}/blog/launch", headers={"host": "blog.example.com"})
        fetch.respond(200, html=page)
        image = respx.get(f"https://{PUBLIC_IP}/img/card.png", headers={"host": "blog.example.com"})
        image.respond(200, content=b"PNGDATA", headers={"content-type": "image/png"})
        thumb = dict(BLOB, mimeType="image/png")
        upload = respx.post(f"{XRPC}/com.atproto.repo.uploadBlob").respond(
            200, json={"blob": thumb}
        )
        route = respx.post(f"{XRPC}/com.atproto.repo.createRecord").respond(200, json=created("x"))

        await adapter.publish(
            account, outgoing("Read this", link="https://blog.example.com/blog/launch")
        )

        assert upload.calls.last.request.content == b"PNGDATA"
        assert upload.calls.last.request.headers["content-type"] == "image/png"
        assert sent(route)["record"]["embed"] == {
            "$type": "app.bsky.embed.external",
            "external": {
                "uri": "https://blog.example.com/blog/launch",
                "title": "Launch day",
                "description": "What we shipped",
                "thumb": thumb,
            },
        }

    @respx.mock
    async def test_an_article_page_on_a_private_address_is_not_fetched(
        self, adapter: BlueskyAdapter, account: Credentials, dns: dict[str, str]
    ) -> None:
        dns["intranet.example.com"] = "10.1.2.3"
        route = respx.post(f"{XRPC}/com.atproto.repo.createRecord").respond(200, json=created("x"))

        await adapter.publish(
            account,
            outgoing(
                "Our write-up",
                post_type=PostType.ARTICLE,
                article=Article(
                    url="https://intranet.example.com/post",
                    title="How we shipped it",
                    description="A short snippet.",
                ),
            ),
        )

        assert sent(route)["record"]["embed"] == {
            "$type": "app.bsky.embed.external",
            "external": {
                "uri": "https://intranet.example.com/post",
                "title": "How we shipped it",
                "description": "A short snippet.",
            },
        }
        assert len(respx.calls) == 1  # only createRecord: the page was never requested


class TestThreads:
    @respx.mock
    async def test_a_segment_replies_to_the_previous_post_within_the_root(
        self, adapter: BlueskyAdapter, account: Credentials
    ) -> None:
        root = Published(id=f"at://{DID}/app.bsky.feed.post/root", extra={"cid": "cid-root"})
        parent = Published(id=f"at://{DID}/app.bsky.feed.post/two", extra={"cid": "cid-two"})
        route = respx.post(f"{XRPC}/com.atproto.repo.createRecord").respond(200, json=created("x"))

        await adapter.publish(
            account, outgoing("3/", key=key("segment:2"), reply_to=parent, root=root)
        )

        assert sent(route)["record"]["reply"] == {
            "root": {"uri": root.id, "cid": "cid-root"},
            "parent": {"uri": parent.id, "cid": "cid-two"},
        }

    @respx.mock
    async def test_without_stored_cids_the_parent_record_supplies_them(
        self, adapter: BlueskyAdapter, account: Credentials
    ) -> None:
        root = Published(id=f"at://{DID}/app.bsky.feed.post/root")
        parent = Published(id=f"at://{DID}/app.bsky.feed.post/two")
        get = respx.get(f"{XRPC}/com.atproto.repo.getRecord").respond(
            200,
            json={
                "uri": parent.id,
                "cid": "cid-two",
                "value": {
                    "text": "2/",
                    "reply": {
                        "root": {"uri": root.id, "cid": "cid-root"},
                        "parent": {"uri": root.id, "cid": "cid-root"},
                    },
                },
            },
        )
        route = respx.post(f"{XRPC}/com.atproto.repo.createRecord").respond(200, json=created("x"))

        await adapter.publish(
            account, outgoing("3/", key=key("segment:2"), reply_to=parent, root=root)
        )

        assert dict(get.calls.last.request.url.params) == {
            "repo": DID,
            "collection": "app.bsky.feed.post",
            "rkey": "two",
        }
        assert get.call_count == 1
        assert sent(route)["record"]["reply"] == {
            "root": {"uri": root.id, "cid": "cid-root"},
            "parent": {"uri": parent.id, "cid": "cid-two"},
        }

    @respx.mock
    async def test_the_first_reply_uses_the_root_as_parent_too(
        self, adapter: BlueskyAdapter, account: Credentials
    ) -> None:
        root = Published(id=f"at://{DID}/app.bsky.feed.post/root")
        respx.get(f"{XRPC}/com.atproto.repo.getRecord").respond(
            200, json={"uri": root.id, "cid": "cid-root", "value": {"text": "1/"}}
        )
        route = respx.post(f"{XRPC}/com.atproto.repo.createRecord").respond(200, json=created("x"))

        await adapter.publish(
            account, outgoing("2/", key=key("segment:1"), reply_to=root, root=root)
        )

        ref = {"uri": root.id, "cid": "cid-root"}
        assert sent(route)["record"]["reply"] == {"root": ref, "parent": ref}

    @respx.mock
    async def test_first_comment_is_a_self_reply(
        self, adapter: BlueskyAdapter, account: Credentials
    ) -> None:
        main = Published(id=f"at://{DID}/app.bsky.feed.post/main", extra={"cid": "cid-main"})
        post = outgoing(
            "Link in the comments: https://example.com",
            key=key("comment"),
            reply_to=main,
            root=main,
        )
        route = respx.post(f"{XRPC}/com.atproto.repo.createRecord").respond(
            200, json=created(record_key(post.key))
        )

        published = await adapter.comment(account, post)

        body = sent(route)
        assert body["rkey"] == record_key(post.key)
        ref = {"uri": main.id, "cid": "cid-main"}
        assert body["record"]["reply"] == {"root": ref, "parent": ref}
        assert body["record"]["facets"][0]["features"][0]["uri"] == "https://example.com"
        assert published.id.endswith(record_key(post.key))


class TestIdempotency:
    def test_record_keys_are_deterministic_tids_distinct_per_step(self) -> None:
        target = new_id("tgt")
        keys = [record_key(f"{target}:{step}") for step in ("main", "segment:1", "comment")]
        assert keys == [record_key(f"{target}:{step}") for step in ("main", "segment:1", "comment")]
        assert len(set(keys)) == 3
        assert all(is_tid(k) for k in keys)
        assert is_tid(record_key("any other key"))

    @respx.mock
    async def test_a_refused_retry_adopts_the_record_the_first_attempt_created(
        self, adapter: BlueskyAdapter, account: Credentials
    ) -> None:
        post = outgoing("Once")
        rkey = record_key(post.key)
        # The repository refuses a second value at the key (an internal error on the PDS).
        respx.post(f"{XRPC}/com.atproto.repo.createRecord").respond(
            500, json={"error": "InternalServerError", "message": "Internal Server Error"}
        )
        get = respx.get(f"{XRPC}/com.atproto.repo.getRecord").respond(
            200,
            json={"uri": f"at://{DID}/app.bsky.feed.post/{rkey}", "cid": "cid-first", "value": {}},
        )

        published = await adapter.publish(account, post)

        assert get.calls.last.request.url.params["rkey"] == rkey
        assert published.id == f"at://{DID}/app.bsky.feed.post/{rkey}"
        assert published.extra == {"cid": "cid-first"}

    @respx.mock
    async def test_a_server_error_with_nothing_stored_stays_transient(
        self, adapter: BlueskyAdapter, account: Credentials
    ) -> None:
        respx.post(f"{XRPC}/com.atproto.repo.createRecord").respond(
            502, json={"error": "UpstreamFailure"}
        )
        respx.get(f"{XRPC}/com.atproto.repo.getRecord").respond(
            400, json={"error": "RecordNotFound", "message": "Could not locate record"}
        )

        with pytest.raises(Transient) as caught:
            await adapter.publish(account, outgoing())

        assert caught.value.code == "UpstreamFailure"

    @respx.mock
    async def test_a_timeout_may_have_posted(
        self, adapter: BlueskyAdapter, account: Credentials
    ) -> None:
        respx.post(f"{XRPC}/com.atproto.repo.createRecord").mock(
            side_effect=httpx.ReadTimeout("slow")
        )
        respx.get(f"{XRPC}/com.atproto.repo.getRecord").respond(
            400, json={"error": "RecordNotFound"}
        )

        with pytest.raises(Transient) as caught:
            await adapter.publish(account, outgoing())

        assert caught.value.maybe_sent

    @respx.mock
    async def test_find_published_reads_the_steps_record_key(
        self, adapter: BlueskyAdapter, account: Credentials
    ) -> None:
        post = outgoing()
        rkey = record_key(post.key)
        uri = f"at://{DID}/app.bsky.feed.post/{rkey}"
        get = respx.get(f"{XRPC}/com.atproto.repo.getRecord")
        get.side_effect = [
            httpx.Response(200, json={"uri": uri, "cid": "cid-1", "value": {"text": "Hello"}}),
            xrpc_error(400, "RecordNotFound", "Could not locate record"),
        ]

        assert await adapter.find_published(account, post) == Published(
            id=uri, url=f"https://bsky.app/profile/{DID}/post/{rkey}", extra={"cid": "cid-1"}
        )
        assert await adapter.find_published(account, post) is None
        assert dict(get.calls[0].request.url.params) == {
            "repo": DID,
            "collection": "app.bsky.feed.post",
            "rkey": rkey,
        }

    @respx.mock
    async def test_find_published_lets_lookup_failures_through(
        self, adapter: BlueskyAdapter, account: Credentials
    ) -> None:
        respx.get(f"{XRPC}/com.atproto.repo.getRecord").respond(503)
        with pytest.raises(Transient):
            await adapter.find_published(account, outgoing())

    @respx.mock
    async def test_an_expired_session_is_auth_expired(
        self, adapter: BlueskyAdapter, account: Credentials
    ) -> None:
        respx.post(f"{XRPC}/com.atproto.repo.createRecord").respond(
            400, json={"error": "ExpiredToken", "message": "Token has expired"}
        )
        with pytest.raises(AuthExpired):
            await adapter.publish(account, outgoing())


# --- after publishing -----------------------------------------------------------------------


class TestDeleteEditMetrics:
    @respx.mock
    async def test_delete_removes_the_record(
        self, adapter: BlueskyAdapter, account: Credentials
    ) -> None:
        route = respx.post(f"{XRPC}/com.atproto.repo.deleteRecord").respond(
            200, json={"commit": {}}
        )

        await adapter.delete(account, f"at://{DID}/app.bsky.feed.post/3k4duaz5vfs2b")

        assert route.calls.last.request.headers["authorization"] == "Bearer access-jwt"
        assert sent(route) == {
            "repo": DID,
            "collection": "app.bsky.feed.post",
            "rkey": "3k4duaz5vfs2b",
        }

    async def test_another_accounts_post_is_not_deleted(
        self, adapter: BlueskyAdapter, account: Credentials
    ) -> None:
        with pytest.raises(Permanent) as caught:
            await adapter.delete(
                account, "at://did:plc:someoneelse/app.bsky.feed.post/3k4duaz5vfs2b"
            )
        assert caught.value.code == "not_found"

    async def test_edit_is_unsupported(self, adapter: BlueskyAdapter, account: Credentials) -> None:
        with pytest.raises(Permanent) as caught:
            await adapter.edit(account, f"at://{DID}/app.bsky.feed.post/x", outgoing())
        assert caught.value.code == "unsupported"

    @respx.mock
    async def test_metrics_come_from_get_posts(
        self, adapter: BlueskyAdapter, account: Credentials
    ) -> None:
        uri = f"at://{DID}/app.bsky.feed.post/3k4duaz5vfs2b"
        route = respx.get(f"{XRPC}/app.bsky.feed.getPosts").respond(
            200,
            json={
                "posts": [
                    {
                        "uri": uri,
                        "cid": "c",
                        "likeCount": 12,
                        "repostCount": 3,
                        "replyCount": 4,
                        "quoteCount": 1,
                        "indexedAt": "2026-01-01T00:00:00Z",
                    }
                ]
            },
        )

        metrics = await adapter.metrics(account, uri)

        assert route.calls.last.request.url.params["uris"] == uri
        assert (metrics.likes, metrics.comments, metrics.shares) == (12, 4, 4)
        assert metrics.impressions is None
        assert metrics.views is None

    @respx.mock
    async def test_metrics_of_a_deleted_post(
        self, adapter: BlueskyAdapter, account: Credentials
    ) -> None:
        respx.get(f"{XRPC}/app.bsky.feed.getPosts").respond(200, json={"posts": []})
        with pytest.raises(Permanent) as caught:
            await adapter.metrics(account, f"at://{DID}/app.bsky.feed.post/x")
        assert caught.value.code == "not_found"


# --- sessions -----------------------------------------------------------------------------


def session_body(access: str, refresh: str, **extra: Any) -> dict[str, Any]:
    return {
        "accessJwt": access,
        "refreshJwt": refresh,
        "handle": HANDLE,
        "did": DID,
        "active": True,
        **extra,
    }


class TestRefresh:
    @respx.mock
    async def test_refresh_session_rotates_both_tokens(
        self, adapter: BlueskyAdapter, account: Credentials
    ) -> None:
        access, refresh = jwt(1_900_000_000), jwt(1_907_776_000)
        route = respx.post(f"{XRPC}/com.atproto.server.refreshSession").respond(
            200, json=session_body(access, refresh)
        )

        tokens = await adapter.refresh(account)

        request = route.calls.last.request
        assert request.headers["authorization"] == "Bearer refresh-jwt"
        assert request.content == b""
        assert (tokens.access_token, tokens.refresh_token) == (access, refresh)
        assert tokens.expires_at == datetime.fromtimestamp(1_900_000_000, UTC)

    @respx.mock
    async def test_a_dead_refresh_token_logs_in_again_with_the_app_password(
        self, adapter: BlueskyAdapter, account: Credentials, stub: StubRuntime
    ) -> None:
        stored = replace(
            account,
            settings={"baseUrl": PDS, "appPasswordEnc": stub.cipher.encrypt("abcd-efgh-ijkl-mnop")},
        )
        respx.post(f"{XRPC}/com.atproto.server.refreshSession").respond(
            400, json={"error": "ExpiredToken", "message": "Token has been revoked"}
        )
        login = respx.post(f"{XRPC}/com.atproto.server.createSession").respond(
            200, json=session_body(jwt(1_900_000_000), "new-refresh")
        )

        tokens = await adapter.refresh(stored)

        assert json.loads(login.calls.last.request.content) == {
            "identifier": DID,
            "password": "abcd-efgh-ijkl-mnop",
        }
        assert tokens.refresh_token == "new-refresh"

    @respx.mock
    async def test_without_an_app_password_a_dead_refresh_token_is_auth_expired(
        self, adapter: BlueskyAdapter, account: Credentials
    ) -> None:
        respx.post(f"{XRPC}/com.atproto.server.refreshSession").respond(
            400, json={"error": "ExpiredToken", "message": "Token has expired"}
        )
        login = respx.post(f"{XRPC}/com.atproto.server.createSession")

        with pytest.raises(AuthExpired):
            await adapter.refresh(account)
        assert not login.called

    @respx.mock
    async def test_a_revoked_app_password_is_auth_expired(
        self, adapter: BlueskyAdapter, account: Credentials, stub: StubRuntime
    ) -> None:
        stored = replace(account, settings={"appPasswordEnc": stub.cipher.encrypt("revoked")})
        respx.post(f"{XRPC}/com.atproto.server.refreshSession").respond(
            400, json={"error": "ExpiredToken"}
        )
        respx.post(f"{XRPC}/com.atproto.server.createSession").respond(
            401,
            json={"error": "AuthenticationRequired", "message": "Invalid identifier or password"},
        )

        with pytest.raises(AuthExpired):
            await adapter.refresh(stored)


class TestWhoami:
    @respx.mock
    async def test_identity_from_get_session_and_the_profile(
        self, adapter: BlueskyAdapter, account: Credentials
    ) -> None:
        respx.get(f"{XRPC}/com.atproto.server.getSession").respond(
            200, json={"did": DID, "handle": HANDLE, "active": True}
        )
        profile = respx.get(f"{XRPC}/app.bsky.actor.getProfile").respond(
            200,
            json={
                "did": DID,
                "handle": HANDLE,
                "displayName": "Alice",
                "avatar": "https://cdn.bsky.app/img/avatar/a.jpg",
            },
        )

        identity = await adapter.whoami(account)

        assert profile.calls.last.request.url.params["actor"] == DID
        assert (identity.external_id, identity.handle, identity.display_name) == (
            DID,
            HANDLE,
            "Alice",
        )
        assert identity.avatar_url == "https://cdn.bsky.app/img/avatar/a.jpg"

    @respx.mock
    async def test_a_revoked_session_is_auth_expired(
        self, adapter: BlueskyAdapter, account: Credentials
    ) -> None:
        respx.get(f"{XRPC}/com.atproto.server.getSession").respond(
            401, json={"error": "AuthenticationRequired", "message": "Token has been revoked"}
        )
        with pytest.raises(AuthExpired):
            await adapter.whoami(account)


DID_DOC = {
    "@context": ["https://www.w3.org/ns/did/v1"],
    "id": DID,
    "alsoKnownAs": [f"at://{HANDLE}"],
    "service": [
        {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": PDS}
    ],
}


class TestConnect:
    def _login(self) -> respx.Route:
        respx.get(f"{XRPC}/app.bsky.actor.getProfile").respond(
            200, json={"did": DID, "handle": HANDLE, "displayName": "Alice"}
        )
        return respx.post(f"{XRPC}/com.atproto.server.createSession").respond(
            200, json=session_body(jwt(1_900_000_000), "refresh-1", didDoc=DID_DOC)
        )

    @respx.mock
    async def test_a_handle_is_resolved_to_its_pds_before_logging_in(
        self, adapter: BlueskyAdapter, stub: StubRuntime
    ) -> None:
        resolve = respx.get(
            "https://public.api.bsky.app/xrpc/com.atproto.identity.resolveHandle"
        ).respond(200, json={"did": DID})
        plc = respx.get(f"https://plc.directory/{DID}").respond(200, json=DID_DOC)
        login = self._login()

        connection = await adapter.connect_with_credentials(
            {
                "platform": "bluesky",
                "identifier": "@Alice.Example.com",
                "appPassword": "abcd-efgh-ijkl-mnop",
            }
        )

        assert resolve.calls.last.request.url.params["handle"] == "alice.example.com"
        assert plc.called
        assert json.loads(login.calls.last.request.content) == {
            "identifier": "Alice.Example.com",
            "password": "abcd-efgh-ijkl-mnop",
        }
        assert connection.identity.external_id == DID
        assert connection.identity.display_name == "Alice"
        assert connection.base_url == PDS
        assert connection.tokens is not None
        assert connection.tokens.refresh_token == "refresh-1"
        assert connection.token_expires_at == datetime.fromtimestamp(1_900_000_000, UTC)
        settings = dict(connection.settings)
        assert settings["baseUrl"] == PDS
        assert settings["did"] == DID
        assert stub.cipher.decrypt(settings["appPasswordEnc"]) == "abcd-efgh-ijkl-mnop"
        assert "abcd-efgh-ijkl-mnop" not in json.dumps(settings)

    @respx.mock
    async def test_a_did_web_account_finds_its_pds_in_its_did_json(
        self, adapter: BlueskyAdapter
    ) -> None:
        did_web = "did:web:alice.example.com"
        doc = dict(DID_DOC, id=did_web)
        respx.get("https://alice.example.com/.well-known/did.json").respond(200, json=doc)
        login = self._login()

        await adapter.connect_with_credentials({"identifier": did_web, "appPassword": "pw"})

        assert login.called

    @respx.mock
    async def test_a_given_service_skips_discovery_and_the_did_doc_pins_the_pds(
        self, adapter: BlueskyAdapter
    ) -> None:
        entry = respx.post("https://bsky.social/xrpc/com.atproto.server.createSession").respond(
            200, json=session_body(jwt(1_900_000_000), "r", didDoc=DID_DOC)
        )
        respx.get(f"{XRPC}/app.bsky.actor.getProfile").respond(
            200, json={"did": DID, "handle": HANDLE}
        )

        connection = await adapter.connect_with_credentials(
            {"identifier": "alice@example.com", "appPassword": "pw", "service": "bsky.social"}
        )

        assert entry.called
        assert connection.base_url == PDS

    @respx.mock
    async def test_an_email_logs_in_at_the_entryway(self, adapter: BlueskyAdapter) -> None:
        entry = respx.post("https://bsky.social/xrpc/com.atproto.server.createSession").respond(
            200, json=session_body(jwt(1_900_000_000), "r", didDoc=DID_DOC)
        )
        respx.get(f"{XRPC}/app.bsky.actor.getProfile").respond(
            400, json={"error": "InvalidRequest", "message": "Profile not found"}
        )

        connection = await adapter.connect_with_credentials(
            {"identifier": "alice@example.com", "appPassword": "pw"}
        )

        assert entry.called
        assert connection.identity.handle == HANDLE
        assert connection.identity.display_name is None

    async def test_a_private_service_is_refused(
        self, adapter: BlueskyAdapter, dns: dict[str, str]
    ) -> None:
        dns["pds.internal.example"] = "10.0.0.9"
        with respx.mock(assert_all_mocked=True), pytest.raises(BadRequest) as caught:
            await adapter.connect_with_credentials(
                {
                    "identifier": HANDLE,
                    "appPassword": "pw",
                    "service": "https://pds.internal.example",
                }
            )
        assert caught.value.details == {
            "fields": [{"field": "service", "message": caught.value.message}]
        }
        assert "private address" in caught.value.message

    @respx.mock
    async def test_a_did_document_naming_a_private_pds_is_refused(
        self, adapter: BlueskyAdapter, dns: dict[str, str]
    ) -> None:
        dns["metadata.example"] = "169.254.169.254"
        doc = dict(
            DID_DOC,
            service=[
                {
                    "id": "#atproto_pds",
                    "type": "AtprotoPersonalDataServer",
                    "serviceEndpoint": "http://metadata.example",
                }
            ],
        )
        respx.get(f"https://plc.directory/{DID}").respond(200, json=doc)
        login = respx.post("http://metadata.example/xrpc/com.atproto.server.createSession")

        with pytest.raises(BadRequest):
            await adapter.connect_with_credentials({"identifier": DID, "appPassword": "pw"})
        assert not login.called

    @respx.mock
    async def test_a_wrong_app_password_is_auth_expired(self, adapter: BlueskyAdapter) -> None:
        respx.post(f"{XRPC}/com.atproto.server.createSession").respond(
            401,
            json={"error": "AuthenticationRequired", "message": "Invalid identifier or password"},
        )
        with pytest.raises(AuthExpired):
            await adapter.connect_with_credentials(
                {"identifier": HANDLE, "appPassword": "pw", "service": PDS}
            )

    @respx.mock
    async def test_an_unknown_handle_is_a_field_error(self, adapter: BlueskyAdapter) -> None:
        respx.get("https://public.api.bsky.app/xrpc/com.atproto.identity.resolveHandle").respond(
            400, json={"error": "InvalidRequest", "message": "Unable to resolve handle"}
        )
        with pytest.raises(BadRequest) as caught:
            await adapter.connect_with_credentials(
                {"identifier": "ghost.example.com", "appPassword": "pw"}
            )
        assert caught.value.details is not None
        assert caught.value.details["fields"][0]["field"] == "identifier"

    @pytest.mark.parametrize(
        "body",
        [
            {"identifier": HANDLE},
            {"identifier": HANDLE, "appPassword": ""},
            {"identifier": "has space", "appPassword": "pw"},
            {"identifier": HANDLE, "appPassword": "pw", "password": "main"},
            {"identifier": HANDLE, "appPassword": "x" * 257},
        ],
    )
    async def test_malformed_bodies_are_refused(
        self, adapter: BlueskyAdapter, body: dict[str, Any]
    ) -> None:
        with pytest.raises(BadRequest):
            await adapter.connect_with_credentials(body)
