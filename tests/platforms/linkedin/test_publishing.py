"""LinkedIn through the whole stack: connecting with OAuth, `POST /v1/posts` to a member
and an organization through the publish job, and listing an organization's posts."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import httpx
import respx

from polypost.core.ids import Prefix, new_id
from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.models import AccountStatus, SocialAccount
from tests.accounts.fakes import set_app
from tests.fixtures.factories import Tenant, make_tenant
from tests.fixtures.jobs import RunJobs

REST = "https://api.linkedin.com/rest"
MEMBER = "aBcD123_-x"
ORGANIZATION = "urn:li:organization:5515715"
SHARE = "urn:li:share:7141138937766391808"


async def linkedin_account(
    runtime: Runtime, tenant: Tenant, *, organization: str | None = None
) -> str:
    """An account as the OAuth flow stores it (an organization chosen in its settings)."""
    async with runtime.sessions() as session:
        account = SocialAccount(
            id=new_id(Prefix.ACCOUNT),
            workspace_id=tenant.workspace.id,
            platform="linkedin",
            external_id=MEMBER,
            handle="Ada Lovelace",
            display_name="Ada Lovelace",
            status=AccountStatus.CONNECTED,
            access_token_enc=runtime.cipher.encrypt("li-token"),
            granted_scopes=["openid", "profile", "w_member_social"],
            settings={"organizationUrn": organization} if organization else {},
            connected_at=utcnow(),
        )
        session.add(account)
        await session.commit()
        return account.id


class TestConnect:
    async def test_oauth_round_trip_links_the_member(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        tenant = await make_tenant(runtime)
        await set_app(client, tenant.headers, "linkedin", "li-client", "li-secret")

        started = await client.post(
            "/v1/accounts/connect", headers=tenant.headers, json={"platform": "linkedin"}
        )
        assert started.status_code == 200, started.text
        auth_url = started.json()["authUrl"]
        assert auth_url.startswith("https://www.linkedin.com/oauth/v2/authorization?")
        query = parse_qs(urlsplit(auth_url).query)
        assert query["scope"] == ["openid profile w_member_social"]
        assert query["client_id"] == ["li-client"]
        assert "code_challenge" not in query

        with respx.mock(assert_all_mocked=True) as linkedin:
            token = linkedin.post("https://www.linkedin.com/oauth/v2/accessToken").respond(
                200,
                json={
                    "access_token": "li-token",
                    "expires_in": 5184000,
                    "scope": "openid,profile,w_member_social",
                    "token_type": "Bearer",
                },
            )
            userinfo = linkedin.get("https://api.linkedin.com/v2/userinfo").respond(
                200, json={"sub": MEMBER, "name": "Ada Lovelace", "picture": "https://x/a.jpg"}
            )
            response = await client.get(
                "/v1/accounts/callback/linkedin",
                params={"code": "the-code", "state": started.json()["state"]},
            )

        assert response.status_code == 200, response.text
        linked = response.json()
        assert linked["displayName"] == "Ada Lovelace"
        form = parse_qs(token.calls.last.request.content.decode())
        assert {k: v[0] for k, v in form.items()} == {
            "grant_type": "authorization_code",
            "code": "the-code",
            "redirect_uri": "http://127.0.0.1:8000/v1/accounts/callback/linkedin",
            "client_id": "li-client",
            "client_secret": "li-secret",
        }
        assert userinfo.calls.last.request.headers["authorization"] == "Bearer li-token"
        async with runtime.sessions() as session:
            account = await session.get(SocialAccount, linked["accountId"])
        assert account is not None
        assert account.external_id == MEMBER
        assert account.granted_scopes == ["openid", "profile", "w_member_social"]


class TestEndToEnd:
    async def test_a_member_post_is_published_with_its_urn(
        self, client: httpx.AsyncClient, runtime: Runtime, run_jobs: RunJobs
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await linkedin_account(runtime, tenant)

        with respx.mock(assert_all_mocked=True) as linkedin:
            create = linkedin.post(f"{REST}/posts").respond(201, headers={"x-restli-id": SHARE})
            comment = linkedin.post(
                f"{REST}/socialActions/urn%3Ali%3Ashare%3A7141138937766391808/comments"
            ).respond(201, headers={"x-restli-id": "urn:li:comment:(urn:li:activity:1,2)"})
            response = await client.post(
                "/v1/posts",
                headers=tenant.headers,
                json={
                    "accountIds": [account_id],
                    "content": "We are hiring (remote) #jobs",
                    "firstComment": "Apply at https://acme.example/jobs",
                    "platformOptions": {"linkedin": {"visibility": "CONNECTIONS"}},
                },
            )
            assert response.status_code == 201, response.text
            await run_jobs()

        post = (
            await client.get(f"/v1/posts/{response.json()['postId']}", headers=tenant.headers)
        ).json()
        target = post["targets"][0]
        assert target["status"] == "published", target
        assert target["platformPostId"] == SHARE
        assert target["permalink"] == f"https://www.linkedin.com/feed/update/{SHARE}"
        request = create.calls.last.request
        assert request.headers["linkedin-version"] == runtime.settings.linkedin_version
        assert request.headers["x-restli-protocol-version"] == "2.0.0"
        assert json.loads(request.content) == {
            "author": f"urn:li:person:{MEMBER}",
            "commentary": r"We are hiring \(remote\) #jobs",
            "visibility": "CONNECTIONS",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        assert json.loads(comment.calls.last.request.content) == {
            "actor": f"urn:li:person:{MEMBER}",
            "object": SHARE,
            "message": {"text": "Apply at https://acme.example/jobs"},
        }

    async def test_a_duplicate_fails_the_target_naming_the_existing_post(
        self, client: httpx.AsyncClient, runtime: Runtime, run_jobs: RunJobs
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await linkedin_account(runtime, tenant, organization=ORGANIZATION)

        with respx.mock(assert_all_mocked=True) as linkedin:
            linkedin.post(f"{REST}/posts").respond(
                422,
                json={
                    "message": f"Content is a duplicate of {SHARE}",
                    "errorDetails": {"inputErrors": [{"code": "DUPLICATE_POST"}]},
                    "status": 422,
                },
            )
            response = await client.post(
                "/v1/posts",
                headers=tenant.headers,
                json={"accountIds": [account_id], "content": "Same again"},
            )
            await run_jobs()

        post = (
            await client.get(f"/v1/posts/{response.json()['postId']}", headers=tenant.headers)
        ).json()
        target = post["targets"][0]
        assert target["status"] == "failed"
        assert target["error"]["code"] == "duplicate_content"
        assert SHARE in target["error"]["message"]


class TestListPosts:
    async def test_an_organizations_posts(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await linkedin_account(runtime, tenant, organization=ORGANIZATION)

        with respx.mock(assert_all_mocked=True) as linkedin:
            route = linkedin.get(f"{REST}/posts").respond(
                200,
                json={
                    "elements": [
                        {
                            "id": SHARE,
                            "commentary": r"Hello \(world\)",
                            "publishedAt": 1763800000000,
                        },
                        {
                            "id": "urn:li:share:1",
                            "commentary": "",
                            "createdAt": 1763700000000,
                            "reshareContext": {"parent": "urn:li:share:0"},
                        },
                    ]
                },
            )
            response = await client.get(
                f"/v1/accounts/{account_id}/posts",
                headers=tenant.headers,
                params={"limit": 2, "cursor": "10"},
            )

        assert response.status_code == 200, response.text
        assert route.calls.last.request.url.query.decode() == (
            "q=author&author=urn%3Ali%3Aorganization%3A5515715&count=2&start=10"
            "&sortBy=LAST_MODIFIED"
        )
        listing = response.json()
        assert listing["nextCursor"] == "12"
        assert [(p["platformPostId"], p["caption"], p["action"]) for p in listing["posts"]] == [
            (SHARE, "Hello (world)", "publish"),
            ("urn:li:share:1", "", "reshare"),
        ]
        assert listing["posts"][0]["timestamp"].startswith("2025-11-22T")

    async def test_a_member_cannot_be_listed(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        tenant = await make_tenant(runtime)
        account_id = await linkedin_account(runtime, tenant)
        response = await client.get(f"/v1/accounts/{account_id}/posts", headers=tenant.headers)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "unsupported"
