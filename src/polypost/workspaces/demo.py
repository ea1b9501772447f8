"""The demo workspace's sandbox accounts: one per major platform persona, so the
README's examples publish for real (to the sandbox ledger) in embedded mode."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.core.ids import Prefix, new_id
from polypost.core.timeutil import utcnow
from polypost.models import AccountStatus, SocialAccount

DEMO_PERSONAS = ("x", "instagram", "facebook", "linkedin", "tiktok", "threads", "bluesky")


async def ensure_demo_accounts(session: AsyncSession, workspace_id: str) -> list[SocialAccount]:
    existing = {
        account.handle: account
        for account in (
            await session.execute(
                select(SocialAccount).where(
                    SocialAccount.workspace_id == workspace_id,
                    SocialAccount.platform == "sandbox",
                )
            )
        ).scalars()
    }
    accounts = []
    for persona in DEMO_PERSONAS:
        handle = f"sandbox-{persona}"
        account = existing.get(handle)
        if account is None:
            account = SocialAccount(
                id=new_id(Prefix.ACCOUNT),
                workspace_id=workspace_id,
                platform="sandbox",
                external_id=f"{workspace_id}:{handle}",
                handle=handle,
                display_name=f"Sandbox ({persona})",
                status=AccountStatus.CONNECTED,
                settings={"persona": persona, "behavior": {}},
                granted_scopes=[],
                connected_at=utcnow(),
            )
            session.add(account)
        accounts.append(account)
    await session.flush()
    return accounts
