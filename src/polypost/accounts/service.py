"""Connected accounts: listing, sandbox connection, disconnection."""

from __future__ import annotations

import secrets

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.accounts.schemas import SandboxConnect
from polypost.core.errors import BadRequest, NotFound
from polypost.core.ids import Prefix, new_id
from polypost.core.pagination import Page, PageParams, paginate
from polypost.core.timeutil import utcnow
from polypost.events.outbox import record_event
from polypost.models import AccountStatus, Post, PostTarget, SocialAccount, TargetStatus
from polypost.platforms.base import Platform
from polypost.posts.lifecycle import lock_post, refresh_post_status, target_event

PERSONAS = frozenset(p.value for p in Platform if p.value != "sandbox")


class AccountRepository:
    def __init__(self, session: AsyncSession, workspace_id: str) -> None:
        self.session = session
        self.workspace_id = workspace_id

    def _live(self) -> Select[SocialAccount]:
        return select(SocialAccount).where(
            SocialAccount.workspace_id == self.workspace_id,
            SocialAccount.disconnected_at.is_(None),
        )

    async def require(self, account_id: str) -> SocialAccount:
        account = (
            await self.session.execute(self._live().where(SocialAccount.id == account_id))
        ).scalar_one_or_none()
        if account is None:
            raise NotFound("Account not found.")
        return account

    async def get_many(self, account_ids: list[str]) -> dict[str, SocialAccount]:
        rows = await self.session.execute(self._live().where(SocialAccount.id.in_(account_ids)))
        return {account.id: account for account in rows.scalars()}

    async def page(
        self, params: PageParams, *, platform: str | None, status: str | None
    ) -> Page[SocialAccount]:
        statement = self._live()
        if platform:
            statement = statement.where(SocialAccount.platform == platform)
        if status:
            statement = statement.where(SocialAccount.status == status)
        return await paginate(
            self.session, statement, [SocialAccount.connected_at, SocialAccount.id], params
        )


async def connect_sandbox(
    session: AsyncSession, workspace_id: str, body: SandboxConnect
) -> SocialAccount:
    persona = "x" if body.persona == "twitter" else body.persona
    if persona is not None and persona not in PERSONAS:
        raise BadRequest(
            f"Unknown persona '{body.persona}'.",
            details={"fields": [{"field": "persona", "message": f"one of {sorted(PERSONAS)}"}]},
        )
    handle = body.handle or f"sandbox-{persona or 'any'}-{secrets.token_hex(2)}"
    account = SocialAccount(
        id=new_id(Prefix.ACCOUNT),
        workspace_id=workspace_id,
        platform="sandbox",
        external_id=new_id("sbx"),
        handle=handle,
        display_name=f"Sandbox ({persona or 'permissive'})",
        status=AccountStatus.CONNECTED,
        settings={"persona": persona, "behavior": body.behavior.model_dump(by_alias=True)},
        granted_scopes=[],
        connected_at=utcnow(),
    )
    session.add(account)
    await session.flush()
    record_event(
        session,
        workspace_id,
        "account.connected",
        {"accountId": account.id, "platform": account.platform, "handle": account.handle},
        resource_id=account.id,
    )
    return account


async def fail_pending_targets(
    session: AsyncSession, account_id: str, code: str, message: str
) -> int:
    """Fail the account's targets still waiting to go out (draft or scheduled), each
    with its `target.failed` event; queued jobs see the new revision and exit."""
    now = utcnow()
    pending = (
        await session.execute(
            select(PostTarget.id, PostTarget.post_id).where(
                PostTarget.account_id == account_id,
                PostTarget.status.in_([TargetStatus.SCHEDULED, TargetStatus.DRAFT]),
            )
        )
    ).all()
    # Lock order is post, then targets (posts/lifecycle.py); sorted to avoid deadlocks.
    for post_id in sorted({row.post_id for row in pending}):
        post = await lock_post(session, post_id)
        failed_ids = (
            (
                await session.execute(
                    update(PostTarget)
                    .where(
                        PostTarget.post_id == post_id,
                        PostTarget.account_id == account_id,
                        PostTarget.status.in_([TargetStatus.SCHEDULED, TargetStatus.DRAFT]),
                    )
                    .values(
                        status=TargetStatus.FAILED,
                        revision=PostTarget.revision + 1,
                        error_code=code,
                        error_message=message,
                        updated_at=now,
                    )
                    .returning(PostTarget.id)
                    .execution_options(synchronize_session=False)
                )
            )
            .scalars()
            .all()
        )
        for target in (
            await session.execute(
                select(PostTarget)
                .where(PostTarget.id.in_(failed_ids))
                .execution_options(populate_existing=True)
            )
        ).scalars():
            target_event(session, target)
        if isinstance(post, Post):
            await refresh_post_status(session, post)
    return len(pending)


async def disconnect(session: AsyncSession, workspace_id: str, account_id: str) -> int:
    """Disconnect; its targets still waiting to go out fail as `account_disconnected`."""
    account = await AccountRepository(session, workspace_id).require(account_id)
    failed = await fail_pending_targets(
        session,
        account.id,
        "account_disconnected",
        "The account was disconnected before this target was published.",
    )
    account.disconnected_at = utcnow()
    account.status = AccountStatus.REVOKED
    account.access_token_enc = None
    account.refresh_token_enc = None
    record_event(
        session,
        workspace_id,
        "account.disconnected",
        {"accountId": account.id, "platform": account.platform, "handle": account.handle},
        resource_id=account.id,
    )
    return failed
