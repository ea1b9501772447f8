"""Workspace-scoped queries for posts and targets: another workspace's rows never match."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from polypost.core.errors import NotFound
from polypost.core.pagination import Page, PageParams, paginate
from polypost.models import Post, PostTarget


class PostRepository:
    def __init__(self, session: AsyncSession, workspace_id: str) -> None:
        self.session = session
        self.workspace_id = workspace_id

    async def get(self, post_id: str, *, for_update: bool = False) -> Post | None:
        statement = select(Post).where(Post.id == post_id, Post.workspace_id == self.workspace_id)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def require(self, post_id: str, *, for_update: bool = False) -> Post:
        post = await self.get(post_id, for_update=for_update)
        if post is None:
            raise NotFound("Post not found.")
        return post

    async def targets(self, post_id: str) -> list[PostTarget]:
        statement = (
            select(PostTarget)
            .where(PostTarget.post_id == post_id, PostTarget.workspace_id == self.workspace_id)
            .order_by(PostTarget.id)
        )
        return list((await self.session.execute(statement)).scalars())

    async def targets_for(self, post_ids: Sequence[str]) -> dict[str, list[PostTarget]]:
        grouped: dict[str, list[PostTarget]] = defaultdict(list)
        if not post_ids:
            return grouped
        statement = (
            select(PostTarget)
            .where(PostTarget.post_id.in_(post_ids), PostTarget.workspace_id == self.workspace_id)
            .order_by(PostTarget.id)
        )
        for target in (await self.session.execute(statement)).scalars():
            grouped[target.post_id].append(target)
        return grouped

    async def page(
        self,
        params: PageParams,
        *,
        status: str | None = None,
        account_id: str | None = None,
        platform: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> Page[Post]:
        statement: Select[Post] = select(Post).where(Post.workspace_id == self.workspace_id)
        if status:
            statement = statement.where(Post.status == status)
        if start:
            statement = statement.where(Post.scheduled_at >= start)
        if end:
            statement = statement.where(Post.scheduled_at < end)
        if account_id or platform:
            matching = select(PostTarget.id).where(PostTarget.post_id == Post.id)
            if account_id:
                matching = matching.where(PostTarget.account_id == account_id)
            if platform:
                matching = matching.where(PostTarget.platform == platform)
            statement = statement.where(exists(matching))
        return await paginate(self.session, statement, [Post.scheduled_at, Post.id], params)
