"""The LinkedIn adapter against respx: the versioned headers, every post type with its
upload flow, video processing through `Pending`, duplicates and recovery, comments,
edit/delete/metrics, OAuth refresh and userinfo, and the error classes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

from polypost.core.timeutil import isoformat, utcnow
from polypost.platforms.base import (
    Article,
    AuthExpired,
    Credentials,
    MediaInfo,
    MediaKind,
    Outgoing,
    Pending,
    Permanent,
    PlatformError,
    Poll,
    PostType,
    Published,
    RateLimited,
    Transient,
)
from polypost.platforms.connect import AppCredentials
from polypost.platforms.linkedin import oauth
from polypost.platforms.linkedin.adapter import DuplicatePost, LinkedInAdapter, next_midnight
from polypost.platforms.linkedin.text import escape, unescape
from polypost.platforms.options import LinkedInOptions
from tests.platforms.helpers import body, form
from tests.platforms.linkedin.conftest import ORGANIZATION, PERSON, VERSION

REST = "https://api.linkedin.com/rest"
STORAGE = "https://storage.example.com"
SHARE = "urn:li:share:7141138937766391808"
IMAGE = "urn:li:image:C4E10AQFoyyAjHPMQuQ"
DOCUMENT = "urn:li:document:D4D10AQHj0Kj3uvJ7yw"
VIDEO = "urn:li:video:C5F10AQGKQg_6y2a4sQ"
ENC_SHARE = "urn%3Ali%3Ashare%3A7141138937766391808"
UPLOADS = "https://www.linkedin.com/dms-uploads"
HEADERS = {
    "authorization": "Bearer li-token",
    "linkedin-version": VERSION,
    "x-restli-protocol-version": "2.0.0",
}
DISTRIBUTION = {
    "feedDistribution": "MAIN_FEED",
    "targetEntities": [],
    "thirdPartyDistributionChannels": [],
}


def outgoing(text: str = "Hello LinkedIn", **kwargs: Any) -> Outgoing:
    return Outgoing(
        target_id="tgt_li",
        key=kwargs.pop("key", "tgt_li:main"),
        post_type=kwargs.pop("post_type", PostType.TEXT),
        text=text,
        **kwargs,
    )


def media(
    media_id: str, kind: MediaKind = MediaKind.IMAGE, size: int = 6, **extra: Any
) -> MediaInfo:
    content_type = {
        MediaKind.IMAGE: "image/png",
        MediaKind.VIDEO: "video/mp4",
        MediaKind.DOCUMENT: "application/pdf",
    }[kind]
    return MediaInfo(
        id=media_id,
        kind=kind,
        content_type=content_type,
        size=size,
        url=f"{STORAGE}/{media_id}",
        **extra,
    )


def options(**fields: Any) -> LinkedInOptions:
    return LinkedInOptions.model_validate(fields)


def created(urn: str = SHARE) -> httpx.Response:
    return httpx.Response(201, headers={"x-restli-id": urn})


def post_body(
    author: str = PERSON, commentary: str = "Hello LinkedIn", **extra: Any
) -> dict[str, Any]:
    return {
        "author": author,
        "commentary": commentary,
        "visibility": "PUBLIC",
        "distribution": DISTRIBUTION,
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
        **extra,
    }


def li_error(status: int, message: str, code: str | None = None, **extra: Any) -> httpx.Response:
    payload: dict[str, Any] = {"status": status, "message": message, **extra}
    if code:
        payload["code"] = code
    return httpx.Response(status, json=payload)


def duplicate(urn: str = SHARE) -> httpx.Response:
    return httpx.Response(
        422,
        json={
            "errorDetailType": "com.linkedin.common.error.BadRequest",
            "message": "com.linkedin.content.common.exception.BadRequestResponseException: "
            f"Content is a duplicate of {urn}",
            "errorDetails": {
                "inputErrors": [
                    {
                        "description": "Duplicate post is detected",
                        "input": {},
                        "code": "DUPLICATE_POST",
                    }
                ]
            },
            "status": 422,
        },
    )


def assert_versioned(request: httpx.Request) -> None:
    for name, value in HEADERS.items():
        assert request.headers[name] == value, name


def image_upload(
    api: respx.MockRouter, urn: str = IMAGE, name: str = "md_1"
) -> tuple[respx.Route, respx.Route]:
    upload_url = f"https://www.linkedin.com/dms-uploads/{name}/uploadedImage/0"
    api.get(f"{STORAGE}/{name}").respond(200, content=b"PNGPNG")
    init = api.post(f"{REST}/images", params={"action": "initializeUpload"}).respond(
        200,
        json={
            "value": {"uploadUrlExpiresAt": 1760000000000, "uploadUrl": upload_url, "image": urn}
        },
    )
    put = api.put(upload_url).respond(201)
    return init, put


class TestPosts:
    async def test_text_post_with_versioned_headers(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, member: Credentials
    ) -> None:
        route = api.post(f"{REST}/posts").mock(return_value=created())

        published = await adapter.publish(member, outgoing("Launch (beta) #ai @work"))

        assert published == Published(id=SHARE, url=f"https://www.linkedin.com/feed/update/{SHARE}")
        request = route.calls.last.request
        assert_versioned(request)
        assert request.headers["content-type"] == "application/json"
        assert body(request) == post_body(commentary=r"Launch \(beta\) #ai \@work")

    async def test_organization_author_and_options(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, member: Credentials
    ) -> None:
        route = api.post(f"{REST}/posts").mock(return_value=created("urn:li:ugcPost:99"))

        published = await adapter.publish(
            member,
            outgoing(
                "Hello",
                options=options(
                    organizationUrn=ORGANIZATION, visibility="LOGGED_IN", disableReshare=True
                ),
                link="https://acme.example/news",
            ),
        )

        assert published.id == "urn:li:ugcPost:99"
        assert body(route.calls.last.request) == post_body(
            author=ORGANIZATION,
            commentary="Hello\nhttps://acme.example/news",
            visibility="LOGGED_IN",
            isReshareDisabledByAuthor=True,
        )

    async def test_the_organization_in_settings_is_the_author(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, organization: Credentials
    ) -> None:
        route = api.post(f"{REST}/posts").mock(return_value=created())
        await adapter.publish(organization, outgoing())
        assert body(route.calls.last.request)["author"] == ORGANIZATION

    async def test_article_with_a_thumbnail(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, member: Credentials
    ) -> None:
        init, put = image_upload(api, name="md_cover")
        route = api.post(f"{REST}/posts").mock(return_value=created())

        await adapter.publish(
            member,
            outgoing(
                "Read this",
                post_type=PostType.ARTICLE,
                article=Article("https://blog.example/p", "The title", "The summary"),
                cover=media("md_cover"),
                alt_texts={"md_cover": "Chart"},
            ),
        )

        assert body(init.calls.last.request) == {"initializeUploadRequest": {"owner": PERSON}}
        assert body(route.calls.last.request)["content"] == {
            "article": {
                "source": "https://blog.example/p",
                "title": "The title",
                "description": "The summary",
                "thumbnail": IMAGE,
                "thumbnailAltText": "Chart",
            }
        }
        assert put.called

    async def test_an_article_without_a_title_uses_its_url(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, member: Credentials
    ) -> None:
        route = api.post(f"{REST}/posts").mock(return_value=created())
        await adapter.publish(
            member, outgoing("x", post_type=PostType.ARTICLE, article=Article("https://b.example"))
        )
        assert body(route.calls.last.request)["content"] == {
            "article": {"source": "https://b.example", "title": "https://b.example"}
        }

    async def test_single_image_upload_then_post(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, member: Credentials
    ) -> None:
        init, put = image_upload(api)
        route = api.post(f"{REST}/posts").mock(return_value=created())

        await adapter.publish(
            member,
            outgoing(
                "Photo", post_type=PostType.IMAGE, media=(media("md_1"),), alt_texts={"md_1": "Cat"}
            ),
        )

        assert_versioned(init.calls.last.request)
        upload = put.calls.last.request
        assert upload.content == b"PNGPNG"
        assert upload.headers["authorization"] == "Bearer li-token"
        assert upload.headers["content-type"] == "image/png"
        assert upload.headers["content-length"] == "6"
        assert body(route.calls.last.request)["content"] == {
            "media": {"id": IMAGE, "altText": "Cat"}
        }

    async def test_multi_image(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, member: Credentials
    ) -> None:
        api.get(f"{STORAGE}/md_1").respond(200, content=b"ONE")
        api.get(f"{STORAGE}/md_2").respond(200, content=b"TWO")
        api.post(f"{REST}/images", params={"action": "initializeUpload"}).mock(
            side_effect=[
                httpx.Response(200, json={"value": {"uploadUrl": f"{UPLOADS}/1", "image": IMAGE}}),
                httpx.Response(
                    200,
                    json={"value": {"uploadUrl": f"{UPLOADS}/2", "image": "urn:li:image:SECOND"}},
                ),
            ]
        )
        first = api.put(f"{UPLOADS}/1").respond(201)
        second = api.put(f"{UPLOADS}/2").respond(201)
        route = api.post(f"{REST}/posts").mock(return_value=created())

        await adapter.publish(
            member,
            outgoing(
                "Two",
                post_type=PostType.CAROUSEL,
                media=(media("md_1"), media("md_2")),
                alt_texts={"md_2": "Dog"},
            ),
        )

        assert body(route.calls.last.request)["content"] == {
            "multiImage": {
                "images": [{"id": IMAGE}, {"id": "urn:li:image:SECOND", "altText": "Dog"}]
            }
        }
        assert (first.calls.last.request.content, second.calls.last.request.content) == (
            b"ONE",
            b"TWO",
        )

    async def test_document_waits_for_processing_then_posts_with_its_title(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, member: Credentials
    ) -> None:
        upload_url = "https://www.linkedin.com/dms-uploads/doc/0"
        api.get(f"{STORAGE}/md_pdf").respond(200, content=b"%PDF-1")
        init = api.post(f"{REST}/documents", params={"action": "initializeUpload"}).respond(
            200, json={"value": {"uploadUrl": upload_url, "document": DOCUMENT}}
        )
        put = api.put(upload_url).respond(201)
        status = api.get(f"{REST}/documents/urn%3Ali%3Adocument%3AD4D10AQHj0Kj3uvJ7yw").respond(
            200, json={"status": "AVAILABLE"}
        )
        route = api.post(f"{REST}/posts").mock(return_value=created())

        await adapter.publish(
            member,
            outgoing(
                "Deck",
                post_type=PostType.DOCUMENT,
                media=(media("md_pdf", MediaKind.DOCUMENT),),
                document_title="Q3 results",
            ),
        )

        assert body(init.calls.last.request) == {"initializeUploadRequest": {"owner": PERSON}}
        assert put.calls.last.request.content == b"%PDF-1"
        assert_versioned(status.calls.last.request)
        assert body(route.calls.last.request)["content"] == {
            "media": {"id": DOCUMENT, "title": "Q3 results"}
        }

    async def test_an_unreadable_document_status_does_not_block(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, member: Credentials
    ) -> None:
        upload_url = "https://www.linkedin.com/dms-uploads/doc/1"
        api.get(f"{STORAGE}/md_pdf").respond(200, content=b"%PDF-1")
        api.post(f"{REST}/documents", params={"action": "initializeUpload"}).respond(
            200, json={"value": {"uploadUrl": upload_url, "document": DOCUMENT}}
        )
        api.put(upload_url).respond(201)
        api.get(url__startswith=f"{REST}/documents/").mock(
            return_value=li_error(
                403, "Accessing this document resource is forbidden", "ACCESS_DENIED"
            )
        )
        route = api.post(f"{REST}/posts").mock(return_value=created())

        await adapter.publish(
            member,
            outgoing("Deck", media=(media("md_pdf", MediaKind.DOCUMENT, filename="deck.pdf"),)),
        )

        assert body(route.calls.last.request)["content"]["media"]["title"] == "deck.pdf"

    async def test_poll(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, member: Credentials
    ) -> None:
        route = api.post(f"{REST}/posts").mock(return_value=created())

        await adapter.publish(
            member,
            outgoing(
                "Tabs or spaces?",
                post_type=PostType.POLL,
                poll=Poll(options=("Tabs", "Spaces"), duration_minutes=3 * 1440),
            ),
        )

        assert body(route.calls.last.request)["content"] == {
            "poll": {
                "question": "Tabs or spaces?",
                "options": [{"text": "Tabs"}, {"text": "Spaces"}],
                "settings": {"duration": "THREE_DAYS"},
            }
        }

    async def test_uploads_are_not_repeated_when_the_create_is_retried(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, member: Credentials
    ) -> None:
        init, _ = image_upload(api)
        api.post(f"{REST}/posts").mock(side_effect=[li_error(429, "Too many"), created()])
        post = outgoing("Photo", media=(media("md_1"),))

        with pytest.raises(RateLimited):
            await adapter.publish(member, post)
        published = await adapter.publish(member, post)

        assert published.id == SHARE
        assert init.call_count == 1

    async def test_a_5xx_on_create_may_have_posted_but_not_on_upload(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, member: Credentials
    ) -> None:
        api.post(f"{REST}/posts").mock(return_value=li_error(504, "Gateway timeout"))
        api.post(f"{REST}/images", params={"action": "initializeUpload"}).mock(
            return_value=li_error(503, "Unavailable")
        )

        with pytest.raises(Transient) as create:
            await adapter.publish(member, outgoing())
        with pytest.raises(Transient) as upload:
            await adapter.publish(member, outgoing("x", key="tgt_li2:main", media=(media("md_9"),)))

        assert create.value.maybe_sent
        assert not upload.value.maybe_sent

    async def test_a_duplicate_names_the_existing_post(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, member: Credentials
    ) -> None:
        api.post(f"{REST}/posts").mock(return_value=duplicate())

        with pytest.raises(DuplicatePost) as caught:
            await adapter.publish(member, outgoing())

        assert caught.value.code == "duplicate_content"
        assert caught.value.urn == SHARE
        assert SHARE in caught.value.message

    async def test_a_create_without_an_id_may_have_posted(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, member: Credentials
    ) -> None:
        api.post(f"{REST}/posts").respond(201)
        with pytest.raises(Transient) as caught:
            await adapter.publish(member, outgoing())
        assert caught.value.maybe_sent

    async def test_a_member_without_an_id_cannot_author(
        self, adapter: LinkedInAdapter, member: Credentials
    ) -> None:
        blank = Credentials(
            account_id="acc", platform=member.platform, external_id="", access_token="t"
        )
        with pytest.raises(Permanent) as caught:
            await adapter.publish(blank, outgoing())
        assert caught.value.code == "bad_author"


class TestVideo:
    def upload(self, api: respx.MockRouter) -> dict[str, respx.Route]:
        api.get(f"{STORAGE}/md_v").respond(200, content=b"0123456789")
        return {
            "init": api.post(f"{REST}/videos", params={"action": "initializeUpload"}).respond(
                200,
                json={
                    "value": {
                        "video": VIDEO,
                        "uploadToken": "tok-1",
                        "uploadUrlsExpireAt": 1760000000000,
                        "uploadInstructions": [
                            {
                                "uploadUrl": "https://www.linkedin.com/dms-uploads/v/1",
                                "firstByte": 6,
                                "lastByte": 9,
                            },
                            {
                                "uploadUrl": "https://www.linkedin.com/dms-uploads/v/0",
                                "firstByte": 0,
                                "lastByte": 5,
                            },
                        ],
                    }
                },
            ),
            "part0": api.put("https://www.linkedin.com/dms-uploads/v/0").respond(
                200, headers={"ETag": "etag-0"}
            ),
            "part1": api.put("https://www.linkedin.com/dms-uploads/v/1").respond(
                200, headers={"ETag": "etag-1"}
            ),
            "finalize": api.post(f"{REST}/videos", params={"action": "finalizeUpload"}).respond(
                200
            ),
        }

    async def test_video_is_uploaded_in_parts_then_waits_for_processing(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, member: Credentials
    ) -> None:
        routes = self.upload(api)
        status = api.get(f"{REST}/videos/urn%3Ali%3Avideo%3AC5F10AQGKQg_6y2a4sQ").respond(
            200, json={"status": "PROCESSING"}
        )
        post = outgoing(
            "Clip", post_type=PostType.VIDEO, media=(media("md_v", MediaKind.VIDEO, size=10),)
        )

        with pytest.raises(Pending) as caught:
            await adapter.publish(member, post)

        assert body(routes["init"].calls.last.request) == {
            "initializeUploadRequest": {
                "owner": PERSON,
                "fileSizeBytes": 10,
                "uploadCaptions": False,
                "uploadThumbnail": False,
            }
        }
        part0 = routes["part0"].calls.last.request
        assert part0.content == b"012345"
        assert "authorization" not in part0.headers
        assert part0.headers["content-type"] == "application/octet-stream"
        assert routes["part1"].calls.last.request.content == b"6789"
        assert body(routes["finalize"].calls.last.request) == {
            "finalizeUploadRequest": {
                "video": VIDEO,
                "uploadToken": "tok-1",
                "uploadedPartIds": ["etag-0", "etag-1"],
            }
        }
        assert_versioned(status.calls.last.request)
        assert caught.value.stage == "processing"
        assert caught.value.retry_in == timedelta(seconds=15)
        assert caught.value.state["content"] == {"media": {"id": VIDEO}}
        assert caught.value.state["waiting"] == [VIDEO]

    async def test_a_resumed_video_posts_once_available(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, member: Credentials
    ) -> None:
        api.get(f"{REST}/videos/urn%3Ali%3Avideo%3AC5F10AQGKQg_6y2a4sQ").respond(
            200, json={"status": "AVAILABLE"}
        )
        route = api.post(f"{REST}/posts").mock(return_value=created())
        state = {
            "content": {"media": {"id": VIDEO}},
            "waiting": [VIDEO],
            "since": isoformat(utcnow()),
        }

        published = await adapter.publish(member, outgoing("Clip", resume=state))

        assert published.id == SHARE
        assert body(route.calls.last.request) == post_body(
            commentary="Clip", content={"media": {"id": VIDEO}}
        )

    async def test_failed_processing_and_the_deadline_are_permanent(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, member: Credentials
    ) -> None:
        api.get(f"{REST}/videos/urn%3Ali%3Avideo%3AC5F10AQGKQg_6y2a4sQ").mock(
            side_effect=[
                httpx.Response(
                    200,
                    json={"status": "PROCESSING_FAILED", "processingFailureReason": "bad codec"},
                ),
                httpx.Response(200, json={"status": "PROCESSING"}),
            ]
        )
        state = {
            "content": {"media": {"id": VIDEO}},
            "waiting": [VIDEO],
            "since": isoformat(utcnow()),
        }
        old = {**state, "since": isoformat(utcnow() - timedelta(hours=2))}

        with pytest.raises(Permanent) as failed:
            await adapter.publish(member, outgoing("Clip", resume=state))
        with pytest.raises(Permanent) as late:
            await adapter.publish(member, outgoing("Clip", resume=old))

        assert failed.value.code == "media_invalid"
        assert "bad codec" in failed.value.message
        assert late.value.code == "processing_timeout"

    async def test_a_failing_status_look_waits_again(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, member: Credentials
    ) -> None:
        api.get(f"{REST}/videos/urn%3Ali%3Avideo%3AC5F10AQGKQg_6y2a4sQ").mock(
            return_value=li_error(503, "Service Unavailable")
        )
        state = {
            "content": {"media": {"id": VIDEO}},
            "waiting": [VIDEO],
            "since": isoformat(utcnow()),
        }
        with pytest.raises(Pending) as caught:
            await adapter.publish(member, outgoing("Clip", resume=state))
        assert caught.value.state == state

    async def test_media_not_ready_at_create_waits(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, member: Credentials
    ) -> None:
        image_upload(api)
        api.post(f"{REST}/posts").mock(
            return_value=li_error(
                400,
                "Media asset is not ready",
                errorDetails={"inputErrors": [{"code": "MEDIA_ASSET_WAITING_UPLOAD"}]},
            )
        )

        with pytest.raises(Pending) as caught:
            await adapter.publish(member, outgoing("Photo", media=(media("md_1"),)))

        assert caught.value.state["content"] == {"media": {"id": IMAGE}}


class TestRecovery:
    async def test_a_member_post_is_probed_and_the_duplicate_adopted(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, member: Credentials
    ) -> None:
        route = api.post(f"{REST}/posts").mock(side_effect=[httpx.ReadTimeout("lost"), duplicate()])
        with pytest.raises(Transient) as lost:
            await adapter.publish(member, outgoing())
        assert lost.value.maybe_sent

        found = await adapter.find_published(member, outgoing())

        assert found == Published(id=SHARE, url=f"https://www.linkedin.com/feed/update/{SHARE}")
        first, probe = (call.request for call in route.calls)
        assert body(first) == body(probe)

    async def test_a_probe_that_creates_is_the_post(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, member: Credentials
    ) -> None:
        api.post(f"{REST}/posts").mock(
            side_effect=[httpx.ReadTimeout("lost"), created("urn:li:share:2")]
        )
        with pytest.raises(Transient):
            await adapter.publish(member, outgoing())
        found = await adapter.find_published(member, outgoing())
        assert found is not None
        assert found.id == "urn:li:share:2"

    async def test_without_a_recent_send_nothing_can_tell(
        self, adapter: LinkedInAdapter, member: Credentials
    ) -> None:
        with pytest.raises(Permanent) as caught:
            await adapter.find_published(member, outgoing())
        assert caught.value.code == "unsupported"

    async def test_a_send_older_than_the_duplicate_window_is_not_probed(
        self, adapter: LinkedInAdapter, member: Credentials
    ) -> None:
        await adapter.memo.put(
            "tgt_li:main:sent",
            {"at": isoformat(utcnow() - timedelta(minutes=6)), "body": post_body()},
            timedelta(minutes=5),
        )
        with pytest.raises(Permanent) as caught:
            await adapter.find_published(member, outgoing())
        assert caught.value.code == "unsupported"

    async def test_text_less_posts_are_not_probed(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, member: Credentials
    ) -> None:
        image_upload(api)
        api.post(f"{REST}/posts").mock(side_effect=httpx.ReadTimeout("lost"))
        post = outgoing("", media=(media("md_1"),))
        with pytest.raises(Transient):
            await adapter.publish(member, post)
        with pytest.raises(Permanent) as caught:
            await adapter.find_published(member, post)
        assert caught.value.code == "unsupported"

    async def test_an_organizations_posts_are_searched(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, organization: Credentials
    ) -> None:
        route = api.get(f"{REST}/posts").respond(
            200,
            json={
                "elements": [
                    {"id": "urn:li:share:1", "commentary": "Other"},
                    {"id": SHARE, "commentary": r"Launch \(beta\)"},
                ],
                "paging": {"start": 0, "count": 20},
            },
        )

        found = await adapter.find_published(organization, outgoing("Launch (beta)"))

        assert found is not None
        assert found.id == SHARE
        request = route.calls.last.request
        assert request.url.query.decode() == (
            "q=author&author=urn%3Ali%3Aorganization%3A5515715&count=20&start=0&sortBy=LAST_MODIFIED"
        )
        assert request.headers["x-restli-method"] == "FINDER"
        assert_versioned(request)

    async def test_an_organization_without_the_post_is_safe_to_send(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, organization: Credentials
    ) -> None:
        api.get(f"{REST}/posts").respond(200, json={"elements": []})
        assert await adapter.find_published(organization, outgoing()) is None

    async def test_an_unreadable_organization_falls_back_to_the_probe(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, organization: Credentials
    ) -> None:
        api.get(f"{REST}/posts").mock(
            return_value=li_error(403, "Not enough permissions", "ACCESS_DENIED")
        )
        api.post(f"{REST}/posts").mock(side_effect=[httpx.ReadTimeout("lost"), duplicate()])
        with pytest.raises(Transient):
            await adapter.publish(organization, outgoing())
        found = await adapter.find_published(organization, outgoing())
        assert found is not None
        assert found.id == SHARE

    def test_recovery_mode(self, adapter: LinkedInAdapter) -> None:
        assert adapter.recovery == "lookup"


class TestComments:
    async def test_first_comment_as_the_author(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, organization: Credentials
    ) -> None:
        route = api.post(f"{REST}/socialActions/{ENC_SHARE}/comments").respond(
            201, headers={"x-restli-id": "urn:li:comment:(urn:li:activity:1,2)"}
        )

        published = await adapter.comment(
            organization,
            outgoing(
                "Link in here (no escaping)", key="tgt_li:comment", reply_to=Published(id=SHARE)
            ),
        )

        assert published.id == "urn:li:comment:(urn:li:activity:1,2)"
        request = route.calls.last.request
        assert_versioned(request)
        assert body(request) == {
            "actor": ORGANIZATION,
            "object": SHARE,
            "message": {"text": "Link in here (no escaping)"},
        }

    async def test_an_interrupted_comment_is_found_among_the_comments(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, member: Credentials
    ) -> None:
        route = api.get(f"{REST}/socialActions/{ENC_SHARE}/comments").respond(
            200,
            json={
                "elements": [
                    {
                        "actor": "urn:li:person:other",
                        "message": {"text": "Thanks"},
                        "commentUrn": "urn:li:comment:(x,1)",
                    },
                    {
                        "actor": PERSON,
                        "message": {"text": "Thanks"},
                        "commentUrn": "urn:li:comment:(x,2)",
                    },
                ]
            },
        )

        found = await adapter.find_published(
            member, outgoing("Thanks", key="tgt_li:comment", reply_to=Published(id=SHARE))
        )

        assert found is not None
        assert found.id == "urn:li:comment:(x,2)"
        assert dict(route.calls.last.request.url.params) == {"count": "50"}

    async def test_unreadable_comments_cannot_tell(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, member: Credentials
    ) -> None:
        api.get(f"{REST}/socialActions/{ENC_SHARE}/comments").mock(
            return_value=li_error(403, "Not enough permissions", "ACCESS_DENIED")
        )
        with pytest.raises(Permanent) as caught:
            await adapter.find_published(member, outgoing("x", reply_to=Published(id=SHARE)))
        assert caught.value.code == "unsupported"


class TestAfterPublishing:
    async def test_edit_is_a_partial_update_of_the_commentary(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, member: Credentials
    ) -> None:
        route = api.post(f"{REST}/posts/{ENC_SHARE}").respond(204)

        published = await adapter.edit(member, SHARE, outgoing("Fixed (typo)"))

        assert published.id == SHARE
        request = route.calls.last.request
        assert_versioned(request)
        assert request.headers["x-restli-method"] == "PARTIAL_UPDATE"
        assert body(request) == {"patch": {"$set": {"commentary": r"Fixed \(typo\)"}}}

    async def test_delete_an_organization_post(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, organization: Credentials
    ) -> None:
        route = api.delete(f"{REST}/posts/{ENC_SHARE}").mock(
            side_effect=[httpx.Response(204), li_error(404, "Not found")]
        )
        await adapter.delete(organization, SHARE)
        await adapter.delete(organization, SHARE)
        assert route.calls.last.request.headers["x-restli-method"] == "DELETE"

    async def test_deleting_a_member_post_is_unsupported(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, member: Credentials
    ) -> None:
        api.delete(f"{REST}/posts/{ENC_SHARE}").mock(
            return_value=li_error(
                403, "Not enough permissions to access: DELETE /posts", "ACCESS_DENIED"
            )
        )
        with pytest.raises(Permanent) as caught:
            await adapter.delete(member, SHARE)
        assert caught.value.code == "unsupported"

    @pytest.mark.parametrize("bad", ["", "123", "urn:li:share:abc", "urn:li:share:1/../x"])
    async def test_foreign_ids_are_refused_without_a_call(
        self, adapter: LinkedInAdapter, member: Credentials, bad: str
    ) -> None:
        with pytest.raises(Permanent) as caught:
            await adapter.delete(member, bad)
        assert caught.value.code == "invalid_post_id"

    async def test_organization_metrics(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, organization: Credentials
    ) -> None:
        route = api.get(f"{REST}/organizationalEntityShareStatistics").respond(
            200,
            json={
                "elements": [
                    {
                        "totalShareStatistics": {
                            "uniqueImpressionsCount": 80,
                            "shareCount": 2,
                            "engagement": 0.1,
                            "clickCount": 7,
                            "likeCount": 12,
                            "impressionCount": 120,
                            "commentCount": 3,
                        },
                        "share": SHARE,
                        "organizationalEntity": ORGANIZATION,
                    }
                ]
            },
        )

        metrics = await adapter.metrics(organization, SHARE)

        assert (metrics.likes, metrics.comments, metrics.shares) == (12, 3, 2)
        assert (metrics.impressions, metrics.reach, metrics.clicks) == (120, 80, 7)
        assert route.calls.last.request.url.query.decode() == (
            "q=organizationalEntity&organizationalEntity=urn%3Ali%3Aorganization%3A5515715"
            f"&shares=List({ENC_SHARE})"
        )

    async def test_a_quiet_organization_post_has_zero_metrics(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, organization: Credentials
    ) -> None:
        route = api.get(f"{REST}/organizationalEntityShareStatistics").respond(
            200, json={"elements": []}
        )
        metrics = await adapter.metrics(organization, "urn:li:ugcPost:5")
        assert metrics.likes == metrics.impressions == 0
        assert (
            "ugcPosts=List(urn%3Ali%3AugcPost%3A5)" in route.calls.last.request.url.query.decode()
        )

    async def test_member_metrics(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, member: Credentials
    ) -> None:
        api.get(f"{REST}/socialMetadata/{ENC_SHARE}").respond(
            200,
            json={
                "reactionSummaries": {
                    "LIKE": {"reactionType": "LIKE", "count": 4},
                    "PRAISE": {"reactionType": "PRAISE", "count": 1},
                },
                "commentSummary": {"count": 2, "topLevelCount": 2},
            },
        )
        analytics = api.get(f"{REST}/memberCreatorPostAnalytics").respond(
            200, json={"elements": [{"count": 321}]}
        )

        metrics = await adapter.metrics(member, SHARE)

        assert (metrics.likes, metrics.comments, metrics.impressions) == (5, 2, 321)
        assert analytics.calls.last.request.url.query.decode() == (
            f"q=entity&entity=(share:{ENC_SHARE})&queryType=IMPRESSION&aggregation=TOTAL"
        )

    async def test_member_impressions_need_their_scope(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, member: Credentials
    ) -> None:
        api.get(f"{REST}/socialMetadata/{ENC_SHARE}").respond(200, json={})
        api.get(f"{REST}/memberCreatorPostAnalytics").mock(
            return_value=li_error(403, "Not enough permissions", "ACCESS_DENIED")
        )
        metrics = await adapter.metrics(member, SHARE)
        assert (metrics.likes, metrics.comments, metrics.impressions) == (0, 0, None)


class TestAccount:
    async def test_whoami_reads_userinfo(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, member: Credentials
    ) -> None:
        route = api.get("https://api.linkedin.com/v2/userinfo").respond(
            200,
            json={
                "sub": "aBcD123_-x",
                "name": "Ada Lovelace",
                "given_name": "Ada",
                "family_name": "Lovelace",
                "picture": "https://media.licdn.com/ada.jpg",
            },
        )

        identity = await adapter.whoami(member)

        assert identity.external_id == "aBcD123_-x"
        assert identity.display_name == "Ada Lovelace"
        assert identity.avatar_url == "https://media.licdn.com/ada.jpg"
        assert route.calls.last.request.headers["authorization"] == "Bearer li-token"

    async def test_refresh(
        self, adapter: LinkedInAdapter, api: respx.MockRouter, member: Credentials
    ) -> None:
        route = api.post(oauth.TOKEN_URL).mock(
            side_effect=[
                httpx.Response(
                    200,
                    json={
                        "access_token": "new",
                        "expires_in": 5184000,
                        "refresh_token": "rt",
                        "refresh_token_expires_in": 31000000,
                    },
                ),
                httpx.Response(
                    400,
                    json={
                        "error": "invalid_request",
                        "error_description": "The provided authorization grant or refresh "
                        "token is invalid, expired or revoked",
                    },
                ),
            ]
        )
        account = Credentials(
            account_id="acc_li",
            platform=member.platform,
            external_id=member.external_id,
            access_token="old",
            refresh_token="rt",
            app=AppCredentials(client_id="cid", client_secret="secret"),
        )

        tokens = await adapter.refresh(account)
        with pytest.raises(AuthExpired):
            await adapter.refresh(account)

        assert tokens.access_token == "new"
        assert tokens.expires_at is not None
        assert form(route.calls[0].request) == {
            "grant_type": "refresh_token",
            "refresh_token": "rt",
            "client_id": "cid",
            "client_secret": "secret",
        }

    async def test_without_a_refresh_token_the_member_reconnects(
        self, adapter: LinkedInAdapter, member: Credentials
    ) -> None:
        with pytest.raises(AuthExpired):
            await adapter.refresh(member)

    def test_oauth_spec(self) -> None:
        spec = LinkedInAdapter.oauth
        assert spec.authorize_url == "https://www.linkedin.com/oauth/v2/authorization"
        assert spec.token_url == "https://www.linkedin.com/oauth/v2/accessToken"
        assert spec.scopes == ("openid", "profile", "w_member_social")
        assert not spec.pkce
        assert spec.client_auth == "body"


class TestClassify:
    @pytest.mark.parametrize(
        ("response", "kind", "code"),
        [
            (
                httpx.Response(
                    401,
                    json={
                        "status": 401,
                        "serviceErrorCode": 65601,
                        "code": "REVOKED_ACCESS_TOKEN",
                        "message": "The token used in the request has been revoked by the user",
                    },
                ),
                AuthExpired,
                "REVOKED_ACCESS_TOKEN",
            ),
            (
                httpx.Response(
                    401,
                    json={
                        "status": 401,
                        "serviceErrorCode": 65602,
                        "code": "EXPIRED_ACCESS_TOKEN",
                        "message": "Expired access token",
                    },
                ),
                AuthExpired,
                "EXPIRED_ACCESS_TOKEN",
            ),
            (
                li_error(403, "Not enough permissions to access: POST /posts", "ACCESS_DENIED"),
                Permanent,
                "ACCESS_DENIED",
            ),
            (li_error(403, "Unable to obtain activity"), Transient, "403"),
            (
                li_error(409, "A write conflict occurred. Retry the request.", "CONFLICT"),
                Transient,
                "409",
            ),
            (li_error(500, "Internal Server Error", "INTERNAL_SERVER_ERROR"), Transient, "500"),
            (li_error(503, "Under maintenance", "UNDER_MAINTENANCE"), Transient, "503"),
            (li_error(404, "Not Found", "NOT_FOUND"), Permanent, "not_found"),
            (
                li_error(426, "Requested version 202301 is not active", "NONEXISTENT_VERSION"),
                Permanent,
                "version_unsupported",
            ),
            (
                li_error(400, "A version must be present", "VERSION_MISSING"),
                Permanent,
                "version_unsupported",
            ),
            (
                li_error(
                    422,
                    "/commentary :: length 3500 exceeds 3000",
                    errorDetails={"inputErrors": [{"code": "FIELD_LENGTH_TOO_LONG"}]},
                ),
                Permanent,
                "FIELD_LENGTH_TOO_LONG",
            ),
            (li_error(400, "Invalid URN", "INVALID_URN_ID"), Permanent, "INVALID_URN_ID"),
        ],
    )
    def test_error_bodies(
        self,
        adapter: LinkedInAdapter,
        response: httpx.Response,
        kind: type[PlatformError],
        code: str,
    ) -> None:
        classified = adapter.classify(response)
        assert type(classified) is kind
        assert classified.code == code

    def test_daily_throttle_waits_for_midnight_utc(self, adapter: LinkedInAdapter) -> None:
        classified = adapter.classify(
            li_error(
                429,
                "Resource level throttle limit for calls to this resource is reached.",
                "TOO_MANY_REQUESTS",
            )
        )
        assert isinstance(classified, RateLimited)
        assert classified.retry_at == next_midnight()

    def test_other_429s_back_off(self, adapter: LinkedInAdapter) -> None:
        classified = adapter.classify(li_error(429, "Too many requests"))
        assert isinstance(classified, RateLimited)
        assert classified.retry_at is None

    def test_next_midnight(self) -> None:
        now = datetime(2026, 11, 22, 23, 59, tzinfo=UTC)
        assert next_midnight(now) == datetime(2026, 11, 23, tzinfo=UTC)

    def test_duplicate_without_a_urn(self, adapter: LinkedInAdapter) -> None:
        classified = adapter.classify(li_error(422, "Duplicate post is detected"))
        assert isinstance(classified, DuplicatePost)
        assert classified.urn is None


class TestLittleText:
    @pytest.mark.parametrize(
        ("text", "escaped"),
        [
            ("Plain text.", "Plain text."),
            (
                "a (b) [c] {d} <e> *f* _g_ ~h~ |i| \\j",
                r"a \(b\) \[c\] \{d\} \<e\> \*f\* \_g\_ \~h\~ \|i\| \\j",
            ),
            ("#launch day #2026", "#launch day #2026"),
            ("C# is not a tag, nor ##x", r"C\# is not a tag, nor \#\#x"),
            (
                "Thanks @[Acme Corp](urn:li:organization:123)!",
                "Thanks @[Acme Corp](urn:li:organization:123)!",
            ),
            ("mail a@b.example", r"mail a\@b.example"),
        ],
    )
    def test_escape(self, text: str, escaped: str) -> None:
        assert escape(text) == escaped
        assert unescape(escaped) == text
