"""BYOK routes: `/v1/platforms/{platform}/credentials` (workspace admins only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import Field, field_validator

from polypost.auth.deps import WorkspaceAdmin
from polypost.core.deps import ReadSession, RuntimeDep, WriteSession
from polypost.core.errors import CredentialsMissing, NotFound, PlatformFailed, responses
from polypost.core.http import PlatformHttp
from polypost.core.schemas import ApiInput, ApiModel, UtcTimestamp
from polypost.core.timeutil import utcnow
from polypost.platforms import byok
from polypost.platforms.base import PlatformError
from polypost.platforms.connect import AppCredentials, callback_url, probe_app_credentials
from polypost.platforms.registry import PlatformUnavailable, adapter_for

router = APIRouter(prefix="/platforms/{platform}/credentials", tags=["platforms"])

PlatformName = Annotated[str, Path(max_length=32, examples=["x"])]


class CredentialsPut(ApiInput):
    client_id: str = Field(min_length=1, max_length=512, description="OAuth 2.0 client id.")
    client_secret: str | None = Field(
        default=None,
        min_length=1,
        max_length=1024,
        description="OAuth 2.0 client secret (omit for a public client). Never returned.",
    )
    extra: dict[str, str] = Field(
        default_factory=dict,
        max_length=10,
        description="Other values the platform needs (e.g. X `apiKey`/`apiSecret`); "
        "stored encrypted and never returned.",
    )

    @field_validator("extra")
    @classmethod
    def _extra(cls, value: dict[str, str]) -> dict[str, str]:
        for key, item in value.items():
            if not 1 <= len(key) <= 64 or len(item) > 1024:
                raise ValueError("keys are 1-64 characters, values at most 1024")
        return value


class CredentialsRead(ApiModel):
    platform: str
    configured: bool
    source: str | None = Field(description="`workspace` (BYOK), `server`, or null.")
    client_id: str | None
    client_secret_set: bool
    extra_keys: list[str]
    created_at: UtcTimestamp | None
    updated_at: UtcTimestamp | None
    last_tested_at: UtcTimestamp | None
    last_test_ok: bool | None


class CredentialsDeleted(ApiModel):
    platform: str
    deleted: bool


class CredentialsTested(ApiModel):
    platform: str
    valid: bool
    source: str
    message: str
    tested_at: UtcTimestamp


@router.get("", response_model=CredentialsRead, responses=responses(NotFound, PlatformUnavailable))
async def get_platform_credentials(
    platform: PlatformName, auth: WorkspaceAdmin, session: ReadSession, runtime: RuntimeDep
) -> CredentialsRead:
    """The developer app this workspace connects the platform with (secrets hidden)."""
    name = byok.app_platform(platform).value
    resolved = await byok.resolve_app(session, runtime, auth.workspace_id, name)
    return CredentialsRead.model_validate(byok.describe(name, resolved))


@router.put("", response_model=CredentialsRead, responses=responses(NotFound, PlatformUnavailable))
async def put_platform_credentials(
    platform: PlatformName,
    body: CredentialsPut,
    auth: WorkspaceAdmin,
    session: WriteSession,
    runtime: RuntimeDep,
) -> CredentialsRead:
    """Set this workspace's own developer app for the platform (replaces any previous)."""
    name = byok.app_platform(platform).value
    row = await byok.put_credentials(
        session,
        runtime,
        auth.workspace_id,
        name,
        client_id=body.client_id,
        client_secret=body.client_secret,
        extra=body.extra,
    )
    resolved = byok.ResolvedApp(
        AppCredentials(body.client_id, body.client_secret, body.extra), "workspace", row
    )
    return CredentialsRead.model_validate(byok.describe(name, resolved))


@router.delete(
    "", response_model=CredentialsDeleted, responses=responses(NotFound, PlatformUnavailable)
)
async def delete_platform_credentials(
    platform: PlatformName, auth: WorkspaceAdmin, session: WriteSession
) -> CredentialsDeleted:
    """Remove this workspace's developer app; connected accounts keep their tokens."""
    name = byok.app_platform(platform).value
    await byok.delete_credentials(session, auth.workspace_id, name)
    return CredentialsDeleted(platform=name, deleted=True)


@router.post(
    "/test",
    response_model=CredentialsTested,
    responses=responses(NotFound, CredentialsMissing, PlatformUnavailable, PlatformFailed),
)
async def test_platform_credentials(
    platform: PlatformName, auth: WorkspaceAdmin, session: WriteSession, runtime: RuntimeDep
) -> CredentialsTested:
    """Check the developer app with the platform; `valid: false` says why it was refused."""
    name = byok.app_platform(platform).value
    # Read in a short session of its own: no transaction (SQLite's write lock) is held
    # while the platform answers.
    async with runtime.sessions() as reads:
        resolved = await byok.require_app(reads, runtime, auth.workspace_id, name)
    spec = byok.oauth_spec(runtime, name)
    if spec is None:
        raise PlatformUnavailable(f"No {name} adapter with OAuth is installed on this server.")
    hook = getattr(adapter_for(runtime, name), "test_app_credentials", None)
    valid, message = True, f"{name} accepted the developer app credentials."
    try:
        if hook is not None:
            await hook(resolved.app)
        else:
            await probe_app_credentials(
                PlatformHttp(runtime.http),
                name,
                spec,
                resolved.app,
                callback_url(runtime.settings.public_base_url, name),
            )
    except PlatformError as error:
        if error.kind in ("rate_limited", "transient"):
            raise PlatformFailed(
                f"{name} could not check the credentials now: {error.message}",
                details={"platform": name, "platformCode": error.code},
            ) from error
        valid, message = False, error.message
    now = utcnow()
    if resolved.row is not None:
        await byok.record_test(session, resolved.row.id, valid, now)
    return CredentialsTested(
        platform=name, valid=valid, source=resolved.source, message=message, tested_at=now
    )
