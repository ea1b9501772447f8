"""Publishing one Instagram post: its containers, waiting for them without holding a
worker, `media_publish`, and recognising a post an interrupted call published.

`state` (also kept in the step memo) records what exists: `children` (carousel item
containers), `finished` (those already FINISHED), `container` (the post's own),
`createdAt`, `deadline` and `polls`. A container still IN_PROGRESS ends the call with
`Pending`; the job calls again with the same state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from polypost.core.http import Classifier, PlatformHttp
from polypost.core.timeutil import isoformat
from polypost.platforms.base import (
    MediaInfo,
    Outgoing,
    Pending,
    Permanent,
    PlatformError,
    Published,
    Transient,
)
from polypost.platforms.instagram import containers, reading
from polypost.platforms.instagram.containers import ERROR, EXPIRED, FINISHED, PUBLISHED
from polypost.platforms.memo import StepMemo
from polypost.platforms.meta import errors
from polypost.platforms.meta.graph import bearer, media_url, parse_time

LABEL = "Instagram"
# Containers expire unpublished after 24 h.
CONTAINER_TTL = timedelta(hours=23)
LOOKUP_WINDOW = timedelta(hours=24)
LOOKUP_SKEW = timedelta(minutes=2)
LOOKUP_LIMIT = 25


@dataclass(frozen=True)
class IgApi:
    """Calls on one Instagram account (`api` = the login's host and version)."""

    http: PlatformHttp
    classifier: Classifier
    api: str
    user_id: str
    token: str | None

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token, LABEL)

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return await self.http.json(
            self.classifier, "GET", f"{self.api}/{path}", params=params, headers=self.headers
        )

    async def post(self, path: str, data: dict[str, str]) -> Any:
        return await self.http.json(
            self.classifier, "POST", f"{self.api}/{path}", data=data, headers=self.headers
        )

    async def create(self, params: dict[str, str]) -> str:
        """One container. Creating one publishes nothing, so a timeout here is a plain
        transient failure, never an unknown outcome."""
        try:
            body = await self.post(f"{self.user_id}/media", params)
        except Transient as exc:
            if not exc.maybe_sent:
                raise
            raise Transient(exc.message, code=exc.code) from exc
        if not isinstance(body, dict) or not body.get("id"):
            raise Transient("Instagram created a container without returning its id")
        return str(body["id"])

    async def status(self, container_id: str) -> dict[str, Any]:
        body = await self.get(container_id, {"fields": "status_code,status"})
        return body if isinstance(body, dict) else {}

    async def permalink(self, media_id: str) -> str | None:
        """Best effort: the post is out; Graph sometimes refuses reads of fresh objects
        for a while (instagram.md §7, code 100/33)."""
        try:
            body = await self.get(media_id, {"fields": "permalink"})
        except PlatformError:
            return None
        link = body.get("permalink") if isinstance(body, dict) else None
        return str(link) if link else None

    async def find(self, post: Outgoing, since: datetime, *, known: bool) -> Published | None:
        """The account's recent media that is this post: the same caption, after
        `since`. A story has no caption: only a known published container identifies it.

        Raises:
            Permanent: `unsupported`, nothing to recognise the post by.
        """
        story = containers.is_story(post)
        if not known and (story or not post.text.strip()):
            raise Permanent(
                "This Instagram post has no caption to recognise it by", code="unsupported"
            )
        body = await self.get(
            f"{self.user_id}/{'stories' if story else 'media'}",
            {"fields": reading.LOOKUP_FIELDS, "limit": LOOKUP_LIMIT},
        )
        return reading.matching_media(body, post.text, since, story=story)


def failure(container_id: str, body: dict[str, Any]) -> PlatformError:
    """A container that ended in ERROR or EXPIRED (recreated on the next attempt)."""
    if body.get("status_code") == EXPIRED:
        return Transient(f"Instagram container {container_id} expired", code="expired")
    return errors.status_error(LABEL, container_id, body.get("status"))


@dataclass
class ContainerStep:
    """One post's containers, their processing and their publication."""

    graph: IgApi
    runtime: Any
    memo: StepMemo
    post: Outgoing
    key: str
    state: dict[str, Any]
    now: Callable[[], datetime]
    poll_delays: tuple[timedelta, ...]

    async def save(self) -> None:
        await self.memo.put(self.key, self.state, CONTAINER_TTL)

    async def url(self, media: MediaInfo) -> str:
        return await media_url(self.runtime, media)

    async def pending(self) -> None:
        """Hand the worker back until the next poll, or give up past the deadline.

        Raises:
            Pending: always, unless the deadline passed.
            Permanent: `processing_timeout`.
        """
        deadline = parse_time(self.state.get("deadline"))
        if deadline is not None and self.now() >= deadline:
            await self.memo.drop(self.key)
            raise Permanent(
                "Instagram was still processing the media at the publishing deadline",
                code="processing_timeout",
            )
        polls = int(self.state.get("polls") or 0)
        delay = self.poll_delays[min(polls, len(self.poll_delays) - 1)]
        self.state["polls"] = polls + 1
        await self.save()
        raise Pending("processing", self.state, delay)

    async def fail(self, container_id: str, body: dict[str, Any]) -> None:
        await self.memo.drop(self.key)
        raise failure(container_id, body)

    async def _children(self) -> list[str]:
        """Carousel items, created once, polled until every one is FINISHED."""
        post, state = self.post, self.state
        children = [str(c) for c in state.get("children") or []]
        if not children:
            for media in post.media:
                params = containers.child_params(
                    media, await self.url(media), post.alt_texts.get(media.id)
                )
                children.append(await self.graph.create(params))
            state.update(children=children, createdAt=isoformat(self.now()))
            await self.save()
        finished = [str(c) for c in state.get("finished") or []]
        waiting = False
        for child in children:
            if child in finished:
                continue
            body = await self.graph.status(child)
            status = body.get("status_code")
            if status == FINISHED:
                finished.append(child)
            elif status in (ERROR, EXPIRED):
                await self.fail(child, body)
            else:
                waiting = True
        state["finished"] = finished
        if waiting:
            await self.pending()
        return children

    async def container(self) -> str:
        """The post's own container (a carousel's parent once every child finished)."""
        post, state = self.post, self.state
        if containers.is_carousel(post):
            children = await self._children()
            if not state.get("container"):
                state["container"] = await self.graph.create(
                    containers.carousel_params(post, children)
                )
                await self.save()
        elif not state.get("container"):
            media = post.media[0]
            url = await self.url(media)
            if containers.is_story(post):
                params = containers.story_params(media, url, post)
            elif containers.has_video(post):
                cover = await self.url(post.cover) if post.cover is not None else None
                params = containers.reel_params(post, url, cover)
            else:
                params = containers.image_params(post, media, url)
            state.update(container=await self.graph.create(params), createdAt=isoformat(self.now()))
            await self.save()
        return str(state["container"])

    async def run(self) -> Published:
        container = await self.container()
        body = await self.graph.status(container)
        status = body.get("status_code")
        if status == PUBLISHED:
            return await self.adopt()
        if status in (ERROR, EXPIRED):
            await self.fail(container, body)
        if status != FINISHED:
            await self.pending()
        return await self.publish(container)

    async def publish(self, container: str) -> Published:
        """`media_publish`: the only call that creates a post."""
        try:
            body = await self.graph.post(
                f"{self.graph.user_id}/media_publish", {"creation_id": container}
            )
        except PlatformError as exc:
            if errors.has_code(exc, 9007) or (exc.code or "").endswith(
                f"/{errors.NOT_READY_SUBCODE}"
            ):
                await self.pending()
            if exc.kind != "transient":
                raise
            # A 5xx or a lost answer may still have published: the container knows.
            try:
                status = (await self.graph.status(container)).get("status_code")
            except PlatformError:
                raise Transient(exc.message, code=exc.code, maybe_sent=True) from exc
            if status == PUBLISHED:
                return await self.adopt()
            raise Transient(exc.message, code=exc.code) from exc
        if not isinstance(body, dict) or not body.get("id"):
            raise Transient("Instagram published without returning the media id", maybe_sent=True)
        media_id = str(body["id"])
        published = Published(id=media_id, url=await self.graph.permalink(media_id))
        await self.remember(published)
        return published

    async def remember(self, published: Published) -> None:
        try:
            await self.memo.put(
                self.key,
                {**self.state, "published": {"id": published.id, "url": published.url}},
                CONTAINER_TTL,
            )
        except Exception:  # the post is out; a lost note only costs a lookup later
            return

    async def adopt(self) -> Published:
        """The container says PUBLISHED: find the media it became."""
        created = parse_time(self.state.get("createdAt")) or self.now() - LOOKUP_WINDOW
        found = await self.graph.find(self.post, created - LOOKUP_SKEW, known=True)
        if found is None:
            raise Transient(
                "Instagram published the post but does not list it yet", maybe_sent=True
            )
        await self.remember(found)
        return found
