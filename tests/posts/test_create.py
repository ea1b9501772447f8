"""POST /v1/posts: every 4xx rule a client can hit, and the scheduling rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from polypost.core.runtime import Runtime
from polypost.models import Workspace
from tests.fixtures.factories import make_account, make_media, make_tenant
from tests.fixtures.jobs import RunJobs
from tests.posts.conftest import Studio
from tests.posts.helpers import ledger


def future(minutes: int = 60) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


class TestCreatePostBadRequests:
    async def test_missing_account_ids_is_400(self, client: httpx.AsyncClient, studio: Studio):
        response = await client.post("/v1/posts", headers=studio.headers, json={"content": "x"})
        assert response.status_code == 400
        fields = response.json()["error"]["details"]["fields"]
        assert fields[0]["field"] == "accountIds"

    async def test_nothing_to_post_is_400(self, client: httpx.AsyncClient, studio: Studio):
        body = {"accountIds": [studio.accounts["acc_x"]]}
        response = await client.post("/v1/posts", headers=studio.headers, json=body)
        assert response.status_code == 400

    async def test_two_start_states_is_400(self, client: httpx.AsyncClient, studio: Studio):
        body = {
            "accountIds": [studio.accounts["acc_x"]],
            "content": "x",
            "draft": True,
            "publishNow": True,
        }
        response = await client.post("/v1/posts", headers=studio.headers, json=body)
        assert response.status_code == 400

    async def test_unknown_field_is_400(self, client: httpx.AsyncClient, studio: Studio):
        body = {"accountIds": [studio.accounts["acc_x"]], "content": "x", "status": "published"}
        response = await client.post("/v1/posts", headers=studio.headers, json=body)
        assert response.status_code == 400
        assert response.json()["error"]["details"]["fields"][0]["field"] == "status"

    async def test_unknown_platform_option_names_it(
        self, client: httpx.AsyncClient, studio: Studio
    ):
        body = {
            "accountIds": [studio.accounts["acc_x"]],
            "content": "x",
            "platformOptions": {"facebook": {"firstComent": "typo"}},
        }
        response = await client.post("/v1/posts", headers=studio.headers, json=body)
        assert response.status_code == 400
        assert "firstComent" in response.text

    async def test_unknown_platform_key_names_it(self, client: httpx.AsyncClient, studio: Studio):
        for field in ("platformOptions", "platformContent"):
            value = {"myspace": {}} if field == "platformOptions" else {"myspace": "hi"}
            body = {"accountIds": [studio.accounts["acc_x"]], "content": "x", field: value}
            response = await client.post("/v1/posts", headers=studio.headers, json=body)
            assert response.status_code == 400, field
            assert "myspace" in response.text

    async def test_oversized_text_is_400(self, client: httpx.AsyncClient, studio: Studio):
        body = {"accountIds": [studio.accounts["acc_x"]], "content": "x" * 100_001}
        response = await client.post("/v1/posts", headers=studio.headers, json=body)
        assert response.status_code == 400


class TestCreatePostTenancy:
    async def test_unknown_account_is_404(self, client: httpx.AsyncClient, studio: Studio):
        body = {"accountIds": ["acc_doesnotexist"], "content": "x"}
        response = await client.post("/v1/posts", headers=studio.headers, json=body)
        assert response.status_code == 404
        assert response.json()["error"]["details"]["accountIds"] == ["acc_doesnotexist"]

    async def test_other_workspace_account_and_media_are_404(
        self, client: httpx.AsyncClient, studio: Studio, runtime: Runtime
    ):
        other = await make_tenant(runtime, "other")
        body = {"accountIds": [studio.accounts["acc_x"]], "content": "x"}
        response = await client.post("/v1/posts", headers=other.headers, json=body)
        assert response.status_code == 404
        theirs = await make_account(runtime, other.workspace.id, "sandbox")
        body = {"accountIds": [theirs], "content": "x", "mediaIds": [studio.media["md_1"]]}
        response = await client.post("/v1/posts", headers=other.headers, json=body)
        assert response.status_code == 404
        assert response.json()["error"]["details"]["mediaIds"] == [studio.media["md_1"]]

    async def test_test_keys_only_target_sandbox_accounts(
        self, client: httpx.AsyncClient, runtime: Runtime
    ):
        tenant = await make_tenant(runtime, "sandboxed", test=True)
        real = await make_account(runtime, tenant.workspace.id, "mastodon")
        body = {"accountIds": [real], "content": "x"}
        response = await client.post("/v1/posts", headers=tenant.headers, json=body)
        assert response.status_code == 403
        assert response.json()["error"]["details"]["accountIds"] == [real]


class TestCreatePostValidation:
    async def test_text_over_the_platform_limit_is_422_per_target(
        self, client: httpx.AsyncClient, studio: Studio
    ):
        body = {
            "accountIds": [studio.accounts["acc_x"], studio.accounts["acc_li"]],
            "content": "a" * 281,
        }
        response = await client.post("/v1/posts", headers=studio.headers, json=body)
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "content_invalid"
        [problem] = error["details"]["targets"]
        assert problem["accountId"] == studio.accounts["acc_x"]
        assert problem["limit"] == 280
        assert problem["actual"] == 281

    async def test_x_counts_urls_as_23(self, client: httpx.AsyncClient, studio: Studio):
        url = "https://example.com/" + "a" * 200
        body = {"accountIds": [studio.accounts["acc_x"]], "content": "b" * 250 + " " + url}
        response = await client.post("/v1/posts", headers=studio.headers, json=body)
        assert response.status_code == 201, response.text

    async def test_platform_content_is_validated_per_target(
        self, client: httpx.AsyncClient, studio: Studio
    ):
        body = {
            "accountIds": [studio.accounts["acc_x"], studio.accounts["acc_li"]],
            "content": "short",
            "platformContent": {"linkedin": "l" * 3001},
        }
        response = await client.post("/v1/posts", headers=studio.headers, json=body)
        assert response.status_code == 422
        [problem] = response.json()["error"]["details"]["targets"]
        assert problem["accountId"] == studio.accounts["acc_li"]

    async def test_instagram_needs_media(self, client: httpx.AsyncClient, studio: Studio):
        body = {"accountIds": [studio.accounts["acc_ig"]], "content": "no picture"}
        response = await client.post("/v1/posts", headers=studio.headers, json=body)
        assert response.status_code == 422
        assert response.json()["error"]["details"]["targets"][0]["platform"] == "sandbox"

    async def test_carousel_with_one_image_is_post_type_invalid(
        self, client: httpx.AsyncClient, studio: Studio
    ):
        body = {
            "accountIds": [studio.accounts["acc_ig"]],
            "postType": "carousel",
            "mediaIds": [studio.media["md_1"]],
        }
        response = await client.post("/v1/posts", headers=studio.headers, json=body)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "post_type_invalid"

    async def test_unverified_media_is_media_invalid(
        self, client: httpx.AsyncClient, studio: Studio, runtime: Runtime
    ):
        from sqlalchemy import update

        from polypost.models import Media

        async with runtime.sessions() as session:
            await session.execute(
                update(Media).where(Media.id == studio.media["md_2"]).values(status="pending")
            )
            await session.commit()
        body = {"accountIds": [studio.accounts["acc_ig"]], "mediaIds": [studio.media["md_2"]]}
        response = await client.post("/v1/posts", headers=studio.headers, json=body)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "media_invalid"

    async def test_post_type_is_detected_from_media(
        self, client: httpx.AsyncClient, studio: Studio
    ):
        cases = {
            (studio.media["md_1"],): "image",
            (studio.media["md_1"], studio.media["md_2"]): "carousel",
            (studio.media["md_video"],): "video",
        }
        for media, expected in cases.items():
            body = {
                "accountIds": [studio.accounts["acc_ig"]],
                "mediaIds": list(media),
                "draft": True,
            }
            response = await client.post("/v1/posts", headers=studio.headers, json=body)
            assert response.status_code == 201, response.text
            assert response.json()["post"]["postType"] == expected

    async def test_validate_is_a_dry_run(self, client: httpx.AsyncClient, studio: Studio):
        body = {"accountIds": [studio.accounts["acc_x"]], "content": "dry"}
        response = await client.post("/v1/posts/validate", headers=studio.headers, json=body)
        assert response.status_code == 200
        assert response.json()["valid"] is True
        listed = await client.get("/v1/posts", headers=studio.headers)
        assert listed.json()["posts"] == []
        body["content"] = "a" * 300
        response = await client.post("/v1/posts/validate", headers=studio.headers, json=body)
        assert response.status_code == 422


class TestScheduling:
    async def test_future_time_is_scheduled_not_published(
        self, client: httpx.AsyncClient, studio: Studio, run_jobs: RunJobs
    ):
        body = {
            "accountIds": [studio.accounts["acc_x"]],
            "content": "later",
            "scheduledAt": future(),
        }
        response = await client.post("/v1/posts", headers=studio.headers, json=body)
        created = response.json()
        assert created["status"] == "scheduled"
        assert created["immediate"] is False
        await run_jobs()
        assert await ledger(client, studio, "acc_x") == []

    async def test_within_thirty_seconds_is_now(self, client: httpx.AsyncClient, studio: Studio):
        soon = (datetime.now(UTC) + timedelta(seconds=20)).isoformat()
        body = {"accountIds": [studio.accounts["acc_x"]], "content": "soon", "scheduledAt": soon}
        response = await client.post("/v1/posts", headers=studio.headers, json=body)
        assert response.json()["immediate"] is True

    async def test_no_offset_means_workspace_timezone(
        self, client: httpx.AsyncClient, studio: Studio, runtime: Runtime
    ):
        async with runtime.sessions() as session:
            workspace = await session.get(Workspace, studio.tenant.workspace.id)
            assert workspace is not None
            workspace.timezone = "America/New_York"
            await session.commit()
        year = datetime.now(UTC).year + 1
        body = {
            "accountIds": [studio.accounts["acc_x"]],
            "content": "tz",
            "scheduledAt": f"{year}-07-01T09:00:00",
        }
        response = await client.post("/v1/posts", headers=studio.headers, json=body)
        assert response.json()["scheduledAt"] == f"{year}-07-01T13:00:00Z"
        body["content"] = "tz winter"
        body["scheduledAt"] = f"{year}-12-01T09:00:00"
        response = await client.post("/v1/posts", headers=studio.headers, json=body)
        assert response.json()["scheduledAt"] == f"{year}-12-01T14:00:00Z"

    async def test_platform_schedules_stagger_targets(
        self, client: httpx.AsyncClient, studio: Studio
    ):
        year = datetime.now(UTC).year + 1
        body = {
            "accountIds": [studio.accounts["acc_li"], studio.accounts["acc_x"]],
            "content": "Cross-post",
            "scheduledAt": f"{year}-07-01T09:00:00Z",
            "platformSchedules": {"twitter": f"{year}-07-01T12:00:00Z"},
        }
        response = await client.post("/v1/posts", headers=studio.headers, json=body)
        times = {t["accountId"]: t["scheduledAt"] for t in response.json()["targets"]}
        assert times[studio.accounts["acc_li"]] == f"{year}-07-01T09:00:00Z"
        assert times[studio.accounts["acc_x"]] == f"{year}-07-01T12:00:00Z"


class TestDuplicateGuard:
    async def test_same_content_same_account_within_a_day_is_409(
        self, client: httpx.AsyncClient, studio: Studio
    ):
        body = {"accountIds": [studio.accounts["acc_x"]], "content": "Same  thing"}
        first = await client.post("/v1/posts", headers=studio.headers, json=body)
        again = await client.post(
            "/v1/posts", headers=studio.headers, json={**body, "content": "same thing "}
        )
        assert again.status_code == 409
        error = again.json()["error"]
        assert error["code"] == "duplicate_content"
        assert error["details"]["existingPostId"] == first.json()["postId"]
        allowed = await client.post(
            "/v1/posts", headers=studio.headers, json={**body, "allowDuplicate": True}
        )
        assert allowed.status_code == 201

    async def test_other_accounts_are_not_duplicates(
        self, client: httpx.AsyncClient, studio: Studio
    ):
        await client.post(
            "/v1/posts",
            headers=studio.headers,
            json={"accountIds": [studio.accounts["acc_x"]], "content": "hello"},
        )
        response = await client.post(
            "/v1/posts",
            headers=studio.headers,
            json={"accountIds": [studio.accounts["acc_li"]], "content": "hello"},
        )
        assert response.status_code == 201


async def test_media_of_thread_segments_is_checked(
    client: httpx.AsyncClient, studio: Studio, runtime: Runtime
):
    video = await make_media(runtime, studio.tenant.workspace.id, "video", duration_ms=10_000)
    body = {
        "accountIds": [studio.accounts["acc_x"]],
        "postType": "thread",
        "thread": [{"text": "one"}, {"text": "two", "mediaIds": ["md_missing"]}],
    }
    response = await client.post("/v1/posts", headers=studio.headers, json=body)
    assert response.status_code == 404
    body["thread"][1]["mediaIds"] = [video]
    response = await client.post("/v1/posts", headers=studio.headers, json=body)
    assert response.status_code == 201, response.text
