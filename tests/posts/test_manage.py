"""Reading, editing, publishing, retrying, removing and importing posts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from polypost.core.runtime import Runtime
from tests.fixtures.factories import connect_sandbox, make_tenant
from tests.fixtures.jobs import RunJobs
from tests.posts.conftest import Studio
from tests.posts.helpers import ledger, ledger_of


def later(hours: int = 1) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


async def create(client: httpx.AsyncClient, studio: Studio, **body: Any) -> dict[str, Any]:
    payload = {"accountIds": [studio.accounts["acc_x"]], "content": "hello", **body}
    response = await client.post("/v1/posts", headers=studio.headers, json=payload)
    assert response.status_code == 201, response.text
    return dict(response.json())


class TestReadPosts:
    async def test_get_and_status(self, client: httpx.AsyncClient, studio: Studio):
        created = await create(client, studio, scheduledAt=later())
        post = await client.get(f"/v1/posts/{created['postId']}", headers=studio.headers)
        assert post.status_code == 200
        assert post.json()["post"]["content"] == "hello"
        status = await client.get(f"/v1/posts/{created['postId']}/status", headers=studio.headers)
        assert status.json()["ready"] is False
        assert status.json()["targets"][0]["status"] == "scheduled"

    async def test_another_workspace_sees_404(
        self, client: httpx.AsyncClient, studio: Studio, runtime: Runtime
    ):
        created = await create(client, studio, scheduledAt=later())
        other = await make_tenant(runtime, "other")
        for method, suffix in [
            ("GET", ""),
            ("GET", "/status"),
            ("PUT", ""),
            ("DELETE", ""),
            ("POST", "/publish"),
            ("POST", "/retry"),
            ("POST", "/unpublish"),
        ]:
            kwargs = {"json": {"content": "x"}} if method == "PUT" else {}
            response = await client.request(
                method, f"/v1/posts/{created['postId']}{suffix}", headers=other.headers, **kwargs
            )
            assert response.status_code == 404, (method, suffix, response.text)
        still = await client.get(f"/v1/posts/{created['postId']}", headers=studio.headers)
        assert still.json()["status"] == "scheduled"

    async def test_list_filters_and_pages(self, client: httpx.AsyncClient, studio: Studio):
        first = await create(client, studio, scheduledAt=later(1), content="one")
        await create(client, studio, scheduledAt=later(2), content="two")
        await create(
            client, studio, draft=True, content="draft", accountIds=[studio.accounts["acc_li"]]
        )
        page = (await client.get("/v1/posts", headers=studio.headers, params={"limit": 2})).json()
        assert [p["content"] for p in page["posts"]] == ["one", "two"]
        rest = (
            await client.get(
                "/v1/posts", headers=studio.headers, params={"cursor": page["nextCursor"]}
            )
        ).json()
        assert [p["content"] for p in rest["posts"]] == ["draft"]
        drafts = await client.get("/v1/posts", headers=studio.headers, params={"status": "draft"})
        assert [p["content"] for p in drafts.json()["posts"]] == ["draft"]
        by_account = await client.get(
            "/v1/posts", headers=studio.headers, params={"accountId": studio.accounts["acc_li"]}
        )
        assert [p["content"] for p in by_account.json()["posts"]] == ["draft"]
        window = await client.get(
            "/v1/posts",
            headers=studio.headers,
            params={
                "from": later(0),
                "to": (datetime.now(UTC) + timedelta(minutes=30)).isoformat(),
            },
        )
        assert [p["postId"] for p in window.json()["posts"]] == []
        window = await client.get(
            "/v1/posts",
            headers=studio.headers,
            params={"from": (datetime.now(UTC)).isoformat(), "to": later(3)},
        )
        assert first["postId"] in [p["postId"] for p in window.json()["posts"]]


class TestEditPosts:
    async def test_edit_reschedule_and_retarget(
        self, client: httpx.AsyncClient, studio: Studio, run_jobs: RunJobs
    ):
        created = await create(client, studio, scheduledAt=later())
        new_time = later(5)
        response = await client.put(
            f"/v1/posts/{created['postId']}",
            headers=studio.headers,
            json={
                "content": "changed",
                "scheduledAt": new_time,
                "accountIds": [studio.accounts["acc_li"]],
            },
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["rescheduled"] is True
        assert body["post"]["content"] == "changed"
        live = [t for t in body["targets"] if t["status"] != "canceled"]
        assert [t["accountId"] for t in live] == [studio.accounts["acc_li"]]
        canceled = [t for t in body["targets"] if t["status"] == "canceled"]
        assert [t["accountId"] for t in canceled] == [studio.accounts["acc_x"]]

    async def test_activate_a_draft(
        self, client: httpx.AsyncClient, studio: Studio, run_jobs: RunJobs
    ):
        created = await create(client, studio, draft=True)
        response = await client.patch(
            f"/v1/posts/{created['postId']}", headers=studio.headers, json={"publishNow": True}
        )
        assert response.status_code == 200, response.text
        assert response.json()["activated"] is True
        await run_jobs()
        assert len(await ledger(client, studio, "acc_x")) == 1

    async def test_edits_are_validated(self, client: httpx.AsyncClient, studio: Studio):
        created = await create(client, studio, scheduledAt=later())
        response = await client.put(
            f"/v1/posts/{created['postId']}", headers=studio.headers, json={"content": "x" * 300}
        )
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "content_invalid"

    async def test_live_caption_edit_where_supported(
        self, client: httpx.AsyncClient, studio: Studio, run_jobs: RunJobs
    ):
        created = await create(
            client,
            studio,
            accountIds=[studio.accounts["acc_li"], studio.accounts["acc_x"]],
            content="first words",
        )
        await run_jobs()
        response = await client.put(
            f"/v1/posts/{created['postId']}", headers=studio.headers, json={"content": "better"}
        )
        assert response.status_code == 200, response.text
        unsupported = response.json()["unsupported"]
        assert [u["accountId"] for u in unsupported] == [studio.accounts["acc_x"]]
        edits = [e for e in await ledger(client, studio, "acc_li") if e["action"] == "edit"]
        assert [e["caption"] for e in edits] == ["better"]
        response = await client.put(
            f"/v1/posts/{created['postId']}", headers=studio.headers, json={"mediaIds": []}
        )
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "not_editable"

    async def test_failed_posts_are_not_editable(
        self, client: httpx.AsyncClient, studio: Studio, runtime: Runtime, run_jobs: RunJobs
    ):
        failing = await connect_sandbox(client, studio.tenant, failWith="permanent")
        created = await create(client, studio, accountIds=[failing])
        await run_jobs()
        response = await client.put(
            f"/v1/posts/{created['postId']}", headers=studio.headers, json={"content": "again"}
        )
        assert response.status_code == 409


class TestPublishAndRetry:
    async def test_publish_a_scheduled_post_now(
        self, client: httpx.AsyncClient, studio: Studio, run_jobs: RunJobs
    ):
        created = await create(client, studio, scheduledAt=later())
        response = await client.post(
            f"/v1/posts/{created['postId']}/publish", headers=studio.headers
        )
        assert response.status_code == 200
        await run_jobs()
        assert len(await ledger(client, studio, "acc_x")) == 1
        again = await client.post(f"/v1/posts/{created['postId']}/publish", headers=studio.headers)
        assert again.status_code == 409

    async def test_retry_reruns_failed_targets_only(
        self, client: httpx.AsyncClient, studio: Studio, run_jobs: RunJobs
    ):
        flaky = await connect_sandbox(client, studio.tenant, failWith="permanent", failTimes=1)
        created = await create(
            client, studio, accountIds=[studio.accounts["acc_x"], flaky], content="retry me"
        )
        await run_jobs()
        assert (await client.get(f"/v1/posts/{created['postId']}", headers=studio.headers)).json()[
            "status"
        ] == "partial"
        response = await client.post(f"/v1/posts/{created['postId']}/retry", headers=studio.headers)
        assert response.status_code == 200, response.text
        await run_jobs()
        post = (await client.get(f"/v1/posts/{created['postId']}", headers=studio.headers)).json()
        assert post["status"] == "published"
        assert len(await ledger(client, studio, "acc_x")) == 1
        outcomes = [e["outcome"] for e in await ledger_of(client, studio, flaky)]
        assert outcomes == ["rejected", "accepted"]
        nothing = await client.post(f"/v1/posts/{created['postId']}/retry", headers=studio.headers)
        assert nothing.status_code == 409


class TestRemovePosts:
    async def test_cancel_a_scheduled_post(
        self, client: httpx.AsyncClient, studio: Studio, run_jobs: RunJobs
    ):
        created = await create(client, studio, scheduledAt=later())
        response = await client.delete(f"/v1/posts/{created['postId']}", headers=studio.headers)
        assert response.status_code == 200
        assert response.json()["status"] == "canceled"
        await run_jobs()
        post = await client.get(f"/v1/posts/{created['postId']}", headers=studio.headers)
        assert post.json()["status"] == "canceled"

    async def test_delete_removes_every_segment_and_the_first_comment(
        self, client: httpx.AsyncClient, studio: Studio, run_jobs: RunJobs
    ):
        created = await create(
            client,
            studio,
            content="",
            thread=[{"text": "a"}, {"text": "b"}],
            firstComment="c",
        )
        await run_jobs()
        response = await client.delete(f"/v1/posts/{created['postId']}", headers=studio.headers)
        assert response.status_code == 200
        assert response.json()["removedFrom"] == ["sandbox"]
        entries = await ledger(client, studio, "acc_x")
        published = [e["platformPostId"] for e in entries if e["action"] != "delete"]
        deleted = [e["platformPostId"] for e in entries if e["action"] == "delete"]
        assert sorted(deleted) == sorted(published)
        assert len(deleted) == 3

    async def test_platforms_without_delete_are_listed_as_manual(
        self, client: httpx.AsyncClient, studio: Studio, runtime: Runtime, run_jobs: RunJobs
    ):
        tiktok = await connect_sandbox(client, studio.tenant, "tiktok")
        video = studio.media["md_video"]
        created = await create(
            client,
            studio,
            accountIds=[tiktok, studio.accounts["acc_x"]],
            mediaIds=[video],
            content="clip",
            platformOptions={"tiktok": {"privacyLevel": "SELF_ONLY"}},
        )
        await run_jobs()
        response = await client.delete(f"/v1/posts/{created['postId']}", headers=studio.headers)
        body = response.json()
        assert body["removedFrom"] == ["sandbox"]
        assert [m["accountId"] for m in body["manual"]] == [tiktok]
        assert "no delete" in body["manual"][0]["reason"]

    async def test_unpublish_keeps_pending_targets(
        self, client: httpx.AsyncClient, studio: Studio, run_jobs: RunJobs
    ):
        created = await create(
            client,
            studio,
            accountIds=[studio.accounts["acc_x"], studio.accounts["acc_li"]],
            platformSchedules={"linkedin": later(3)},
        )
        await run_jobs()
        response = await client.post(
            f"/v1/posts/{created['postId']}/unpublish", headers=studio.headers
        )
        assert response.status_code == 200, response.text
        post = (await client.get(f"/v1/posts/{created['postId']}", headers=studio.headers)).json()
        statuses = {t["accountId"]: t["status"] for t in post["targets"]}
        assert statuses[studio.accounts["acc_x"]] == "canceled"
        assert statuses[studio.accounts["acc_li"]] == "scheduled"


class TestImport:
    async def test_json_rows_report_each_result(self, client: httpx.AsyncClient, studio: Studio):
        rows = [
            {"accountIds": [studio.accounts["acc_x"]], "content": "a", "scheduledAt": later()},
            {"accountIds": [studio.accounts["acc_x"]], "content": "x" * 300},
            {"accountIds": ["acc_missing"], "content": "b"},
        ]
        response = await client.post("/v1/posts/import", headers=studio.headers, json=rows)
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["created"], body["failed"]) == (1, 2)
        assert [r["ok"] for r in body["results"]] == [True, False, False]
        assert body["results"][1]["error"]["code"] == "content_invalid"
        assert body["results"][2]["error"]["code"] == "not_found"

    async def test_all_or_nothing_creates_nothing_on_a_bad_row(
        self, client: httpx.AsyncClient, studio: Studio
    ):
        rows = [
            {"accountIds": [studio.accounts["acc_x"]], "content": "fine", "scheduledAt": later()},
            {"accountIds": [studio.accounts["acc_x"]]},
        ]
        response = await client.post(
            "/v1/posts/import", headers=studio.headers, json=rows, params={"allOrNothing": True}
        )
        assert response.json()["created"] == 0
        listed = await client.get("/v1/posts", headers=studio.headers)
        assert listed.json()["posts"] == []

    async def test_csv(self, client: httpx.AsyncClient, studio: Studio):
        csv_text = (
            "accountIds,content,scheduledAt,platformContent\n"
            f"{studio.accounts['acc_x']};{studio.accounts['acc_li']},hi there,{later()},"
            '"{""linkedin"": ""Hello, LinkedIn""}"\n'
        )
        response = await client.post(
            "/v1/posts/import",
            headers={**studio.headers, "Content-Type": "text/csv"},
            content=csv_text.encode(),
        )
        assert response.status_code == 200, response.text
        [row] = response.json()["results"]
        assert row["ok"] is True, row
        post = (await client.get(f"/v1/posts/{row['postId']}", headers=studio.headers)).json()
        assert post["post"]["options"]["platformContent"] == {"linkedin": "Hello, LinkedIn"}
        assert len(post["targets"]) == 2

    @pytest.mark.parametrize("body", [b"{}", b"[]", b"not json"])
    async def test_bad_bodies_are_400(self, client: httpx.AsyncClient, studio: Studio, body: bytes):
        response = await client.post(
            "/v1/posts/import",
            headers={**studio.headers, "Content-Type": "application/json"},
            content=body,
        )
        assert response.status_code == 400


async def test_metrics_per_target(
    client: httpx.AsyncClient, studio: Studio, run_jobs: RunJobs
) -> None:
    created = await create(
        client, studio, accountIds=[studio.accounts["acc_x"], studio.accounts["acc_li"]]
    )
    await run_jobs()
    response = await client.get(f"/v1/posts/{created['postId']}/metrics", headers=studio.headers)
    assert response.status_code == 200, response.text
    rows = response.json()["targets"]
    assert len(rows) == 2
    for row in rows:
        assert row["error"] is None
        assert isinstance(row["likes"], int)
        assert row["collectedAt"].endswith("Z")
