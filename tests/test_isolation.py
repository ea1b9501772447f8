"""Tenant isolation: another workspace's object is indistinguishable from a missing one.

Every `/v1` operation with an id-style path parameter (`{…_id}`) is called with a second
workspace's full-scope key on the first workspace's objects and must answer 404, never
403 (which would confirm the object exists) and never success. Every list route is read
by the second workspace and must not show any of the first workspace's ids.

The intruder tries with both kinds of credential (a full-scope API key and an owner's
dashboard token for its own workspace): a route that refuses one kind outright (403 for
any id, e.g. user-only routes) must refuse a missing id identically, and at least one
kind must reach the lookup and get the 404.

Objects are made through the public API by `FACTORIES`, keyed by path parameter name.
A new resource type is covered by adding its factory; an id parameter without a factory
fails `test_every_id_parameter_has_a_factory`.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from polypost.core.runtime import Runtime
from polypost.settings import Settings
from tests.auth.routes import Operation, body_for, operations
from tests.auth.tokens import claims_for, public_pem, sign_eddsa
from tests.fixtures.factories import Tenant, make_member, make_tenant


@pytest.fixture
def jwt_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def settings(settings: Settings, jwt_key: Ed25519PrivateKey) -> Settings:
    """Webhook factories target a closed port on loopback (refused at once, so a test
    delivery is recorded quickly); distributed mode trusts a generated token key."""
    update: dict[str, Any] = {"outbound_allow": ["127.0.0.1"]}
    if settings.jwt_private_key is None:
        update["jwt_public_keys"] = [public_pem(jwt_key)]
    return settings.model_copy(update=update)


@dataclass
class Intruder:
    """A second workspace, calling with an API key and with an owner's token."""

    credentials: dict[str, dict[str, str]]

    @classmethod
    async def make(cls, runtime: Runtime, jwt_key: Ed25519PrivateKey) -> Intruder:
        tenant = await make_tenant(runtime, "intruder")
        user = await make_member(runtime, "intruder@example.com", tenant.workspace.id, "owner")
        key = runtime.settings.jwt_private_key or jwt_key
        token = sign_eddsa(key, claims_for(runtime.settings, user.id))
        return cls(
            {
                "api key": tenant.headers,
                "user token": {
                    "Authorization": f"Bearer {token}",
                    "X-Workspace-Id": tenant.workspace.id,
                },
            }
        )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@dataclass
class World:
    """The first workspace ("owner") and the objects made in it so far."""

    client: httpx.AsyncClient
    runtime: Runtime
    owner: Tenant
    ids: dict[str, str] = field(default_factory=dict)

    async def ensure(self, param: str) -> str:
        if param not in self.ids:
            self.ids[param] = await FACTORIES[param](self)
        return self.ids[param]

    async def create(self, path: str, body: dict[str, Any], id_field: str) -> str:
        response = await self.client.post(path, headers=self.owner.headers, json=body)
        assert response.status_code in (200, 201, 202), (
            f"factory POST {path} failed: {response.status_code} {response.text}"
        )
        value = response.json()[id_field]
        assert isinstance(value, str)
        return value


Factory = Callable[[World], Awaitable[str]]


async def api_key(world: World) -> str:
    return await world.create("/v1/keys", {"name": "victim"}, "keyId")


async def brand(world: World) -> str:
    return world.owner.workspace.id


async def invite(world: World) -> str:
    return await world.create(
        "/v1/invites", {"email": "invitee@example.com", "role": "editor"}, "inviteId"
    )


async def account(world: World) -> str:
    return await world.create(
        "/v1/accounts/connect", {"platform": "sandbox", "handle": "victim"}, "accountId"
    )


async def post(world: World) -> str:
    account_id = await world.ensure("account_id")
    return await world.create(
        "/v1/posts", {"accountIds": [account_id], "content": "private", "draft": True}, "postId"
    )


async def media(world: World) -> str:
    return await world.create(
        "/v1/media/upload-url",
        {"filename": "victim.png", "contentType": "image/png", "size": 1024},
        "mediaId",
    )


async def webhook(world: World) -> str:
    url = f"http://127.0.0.1:{closed_port()}/hook"
    return await world.create("/v1/webhooks", {"url": url}, "webhookId")


async def delivery(world: World) -> str:
    webhook_id = await world.ensure("webhook_id")
    return await world.create(f"/v1/webhooks/{webhook_id}/test", {}, "deliveryId")


async def redirect_uri(world: World) -> str:
    body = {"uri": "https://app.example.com/connected"}
    return await world.create("/v1/oauth/redirect-uris", body, "redirectUriId")


async def page(world: World) -> str:
    # A platform's Page id: isolation comes from the account that owns the selection.
    return "1020000000000001"


async def platform_post(world: World) -> str:
    # A platform's own post id: isolation comes from the account it is addressed through.
    return "sbp_native_1"


FACTORIES: dict[str, Factory] = {
    "key_id": api_key,
    "brand_id": brand,
    "invite_id": invite,
    "account_id": account,
    "post_id": post,
    "media_id": media,
    "webhook_id": webhook,
    "delivery_id": delivery,
    "redirect_uri_id": redirect_uri,
    "page_id": page,
    "platform_post_id": platform_post,
}


def id_params(operation: Operation) -> list[str]:
    return [p for p in operation.params if p == "id" or p.endswith("_id")]


ID_OPERATIONS = [op for op in operations() if op.authenticated and id_params(op)]
COVERED = [op for op in ID_OPERATIONS if all(p in FACTORIES for p in id_params(op))]
LIST_OPERATIONS = [op for op in operations() if op.method == "GET" and not op.params]


def test_every_id_parameter_has_a_factory() -> None:
    missing = sorted(
        {f"{p} (e.g. {op})" for op in ID_OPERATIONS for p in id_params(op)}
        - {f"{p} (e.g. {op})" for op in COVERED for p in id_params(op)}
    )
    assert not missing, "Add a factory to FACTORIES in tests/test_isolation.py for: " + ", ".join(
        missing
    )
    assert any(str(op) == "DELETE /v1/keys/{key_id}" for op in COVERED)


@pytest.mark.parametrize("operation", COVERED, ids=str)
async def test_other_workspace_object_is_404(
    client: httpx.AsyncClient, runtime: Runtime, jwt_key: Ed25519PrivateKey, operation: Operation
) -> None:
    world = World(client, runtime, await make_tenant(runtime, "owner"))
    values = {p: await world.ensure(p) for p in id_params(operation)}
    intruder = await Intruder.make(runtime, jwt_key)
    reached_lookup = False
    for kind, headers in intruder.credentials.items():
        response = await client.request(
            operation.method, operation.url(values), headers=headers, json=body_for(operation)
        )
        if response.status_code == 403:
            # Refused for this kind of credential whatever the id: no existence leak, as
            # long as a missing id gets exactly the same answer.
            absent = await client.request(
                operation.method, operation.url(), headers=headers, json=body_for(operation)
            )
            assert (absent.status_code, absent.json()["error"]["code"]) == (403, "forbidden")
            assert absent.json()["error"]["message"] == response.json()["error"]["message"]
            continue
        assert response.status_code == 404, f"{operation} with the {kind}: {response.text}"
        assert response.json()["error"]["code"] == "not_found"
        reached_lookup = True
    assert reached_lookup, f"{operation}: no credential kind reached the object lookup"
    if operation.method == "GET":
        own = await client.get(operation.url(values), headers=world.owner.headers)
        # 501 `unsupported` (creator info of a non-TikTok account) also proves the object
        # was found: the intruder's 404 is isolation, not a bad id.
        assert own.status_code in (200, 501), f"{operation} as the owner: {own.text}"


async def test_lists_never_show_another_workspace(
    client: httpx.AsyncClient, runtime: Runtime, jwt_key: Ed25519PrivateKey
) -> None:
    world = World(client, runtime, await make_tenant(runtime, "owner"))
    for param in FACTORIES:
        await world.ensure(param)
    secrets = {world.owner.key_id, world.owner.workspace.id, *world.ids.values()}
    intruder = await Intruder.make(runtime, jwt_key)
    leaks = []
    for operation in LIST_OPERATIONS:
        if not operation.authenticated:
            continue
        for kind, headers in intruder.credentials.items():
            response = await client.get(operation.path, headers=headers)
            assert response.status_code != 500, f"{operation}: {response.text}"
            leaked = sorted(s for s in secrets if s in response.text)
            if leaked:
                leaks.append(f"{operation} with the {kind} shows {leaked}")
    assert leaks == [], "\n".join(leaks)
    # The owner does see its own objects: the check above is not vacuous.
    own_keys = await client.get("/v1/keys", headers=world.owner.headers)
    assert world.ids["key_id"] in own_keys.text
