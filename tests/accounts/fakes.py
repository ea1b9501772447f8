"""Platform doubles for the connect and token tests, and helpers around them.

`FakeOAuthAdapter` is a complete OAuth platform as the generic flow sees it (spec,
whoami, refresh, publish), registered in place of `linkedin`; `FakeCredentialAdapter`
connects with credentials (registered as telegram, discord, slack or bluesky). Both
talk HTTP to `*.fake.example` hosts, which respx answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import httpx

from polypost.core.http import PlatformHttp, retry_at_from_headers
from polypost.core.ids import Prefix, new_id
from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.models import AccountStatus, SocialAccount
from polypost.platforms.base import (
    AuthExpired,
    Credentials,
    Outgoing,
    Permanent,
    Platform,
    PlatformError,
    Published,
    RateLimited,
    TokenSet,
    Transient,
)
from polypost.platforms.capabilities import capabilities_for
from polypost.platforms.connect import Connection, Identity, OAuthSpec, refresh_with_spec

API = "https://api.fake.example"
AUTHORIZE_URL = "https://fake.example/oauth/authorize"
TOKEN_URL = f"{API}/oauth/token"
ME_URL = f"{API}/me"
POSTS_URL = f"{API}/posts"
VERIFY_URL = "https://verify.fake.example/check"
PUBLIC_IP = "93.184.216.34"


class FakeOAuthAdapter:
    platform: ClassVar[Platform] = Platform.LINKEDIN
    capabilities = capabilities_for("linkedin")
    recovery: ClassVar[str] = "none"
    dedup_window = None
    oauth: ClassVar[OAuthSpec] = OAuthSpec(
        authorize_url=AUTHORIZE_URL,
        token_url=TOKEN_URL,
        scopes=("w_member_social", "openid"),
        client_auth="basic",
        extra_authorize_params={"prompt": "consent"},
    )

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.http = PlatformHttp(runtime.http)

    def classify(self, response: httpx.Response) -> PlatformError:
        if response.status_code == 401:
            return AuthExpired("token refused", code="401")
        if response.status_code == 429:
            return RateLimited("slow down", retry_at=retry_at_from_headers(response.headers))
        if response.status_code >= 500:
            return Transient("server error", code=str(response.status_code))
        return Permanent("refused", code=str(response.status_code))

    @staticmethod
    def _auth(account: Credentials) -> dict[str, str]:
        return {"Authorization": f"Bearer {account.access_token}"}

    async def whoami(self, account: Credentials) -> Identity:
        body = await self.http.json(self, "GET", ME_URL, headers=self._auth(account))
        return Identity(
            external_id=body["id"], handle=body["handle"], display_name=body.get("name")
        )

    async def refresh(self, account: Credentials) -> TokenSet:
        return await refresh_with_spec(self.http, "linkedin", self.oauth, account)

    async def publish(self, account: Credentials, post: Outgoing) -> Published:
        body = await self.http.json(
            self, "POST", POSTS_URL, json={"text": post.text}, headers=self._auth(account)
        )
        return Published(id=body["id"], url=f"https://fake.example/p/{body['id']}")


class FakeCredentialAdapter:
    """Verifies whatever body it gets with one call to `VERIFY_URL`."""

    recovery: ClassVar[str] = "none"
    dedup_window = None
    calls: ClassVar[list[Mapping[str, Any]]] = []

    def __init__(self, runtime: Any, platform: str, base_url: str | None = None) -> None:
        self.runtime = runtime
        self.platform = Platform(platform)
        self.capabilities = capabilities_for(platform)
        self.base_url = base_url
        self.http = PlatformHttp(runtime.http)

    def classify(self, response: httpx.Response) -> PlatformError:
        return FakeOAuthAdapter.classify(self, response)  # type: ignore[arg-type]

    async def connect_with_credentials(self, body: Mapping[str, Any]) -> Connection:
        FakeCredentialAdapter.calls.append(dict(body))
        answer = await self.http.json(self, "POST", VERIFY_URL, json=dict(body))
        return Connection(
            identity=Identity(
                external_id=answer["id"], handle=answer["handle"], display_name=answer["name"]
            ),
            tokens=TokenSet(access_token=answer["token"]),
            base_url=self.base_url,
            settings={"chatTitle": answer["name"]},
        )

    async def whoami(self, account: Credentials) -> Identity:
        raise AssertionError("credential connects get the identity from the connect call")


def query_of(url: str) -> dict[str, str]:
    parsed = parse_qs(urlsplit(url).query, keep_blank_values=True)
    assert all(len(v) == 1 for v in parsed.values()), parsed
    return {k: v[0] for k, v in parsed.items()}


def form_of(request: httpx.Request) -> dict[str, str]:
    return query_of("?" + request.content.decode())


async def whitelist(client: httpx.AsyncClient, headers: dict[str, str], uri: str) -> str:
    response = await client.post("/v1/oauth/redirect-uris", headers=headers, json={"uri": uri})
    assert response.status_code == 201, response.text
    return str(response.json()["redirectUriId"])


async def set_app(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    platform: str = "linkedin",
    client_id: str = "app-id",
    client_secret: str | None = "app-secret",
) -> None:
    body: dict[str, Any] = {"clientId": client_id}
    if client_secret:
        body["clientSecret"] = client_secret
    response = await client.put(f"/v1/platforms/{platform}/credentials", headers=headers, json=body)
    assert response.status_code == 200, response.text


async def make_account(
    runtime: Runtime,
    workspace_id: str,
    *,
    platform: str = "linkedin",
    external_id: str = "member-1",
    access_token: str | None = "old-access",
    refresh_token: str | None = "refresh-1",
    expires_at: datetime | None = None,
    status: str = AccountStatus.CONNECTED,
) -> str:
    """A connected account row with encrypted tokens, as the OAuth flow stores it."""
    cipher = runtime.cipher
    async with runtime.sessions() as session:
        account = SocialAccount(
            id=new_id(Prefix.ACCOUNT),
            workspace_id=workspace_id,
            platform=platform,
            external_id=external_id,
            handle="member",
            status=status,
            access_token_enc=cipher.encrypt(access_token) if access_token else None,
            refresh_token_enc=cipher.encrypt(refresh_token) if refresh_token else None,
            token_expires_at=expires_at,
            granted_scopes=["w_member_social"],
            settings={},
            connected_at=utcnow(),
        )
        session.add(account)
        await session.commit()
        return account.id


async def load_account(runtime: Runtime, account_id: str) -> SocialAccount:
    async with runtime.sessions() as session:
        account = await session.get(SocialAccount, account_id)
        assert account is not None
        return account
