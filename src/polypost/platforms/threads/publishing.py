"""Publishing to Threads: container → wait for FINISHED → `threads_publish`, and
settling an interrupted publish (threads.md §2, §7).

The container is waited for a few seconds; one still processing raises `Pending` with
its id, so the worker is freed and the resumed step polls the same container instead of
asking Meta to fetch the file again. Container ids are also remembered per step
(platforms/memo.py), so a retry after a transient failure reuses them too, and an
unknown outcome can be read off the container: PUBLISHED or not.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import httpx

from polypost.core.http import PlatformHttp
from polypost.core.timeutil import isoformat
from polypost.platforms.base import (
    AuthExpired,
    Credentials,
    MediaKind,
    Outgoing,
    Pending,
    Permanent,
    PlatformError,
    Published,
    Transient,
)
from polypost.platforms.memo import StepMemo
from polypost.platforms.threads import containers, errors, oauth, reading
from polypost.platforms.threads.containers import ERROR, EXPIRED, FINISHED, PUBLISHED

logger = logging.getLogger(__name__)

API = f"{oauth.GRAPH}/v1.0"
# How long one call polls a container before handing the worker back (`Pending`), the
# pauses between resumed polls, and how long processing may take in all (Postiz polls
# for about 5.5 minutes).
CONTAINER_WAIT_SECONDS = 10.0
PENDING_DELAYS = (5.0, 10.0, 20.0, 30.0)
PROCESSING_DEADLINE = timedelta(minutes=15)
# threads.md §7: a video published sooner after FINISHED can detach from its thread;
# Meta recommends about 30 s after creating the container. Short rests are slept.
VIDEO_SETTLE = timedelta(seconds=30)
SETTLE_SLEEP_MAX = 3.0
# Containers expire unpublished after 24 h.
CONTAINER_TTL = timedelta(hours=23)
LOOKUP_WINDOW = timedelta(hours=24)
LOOKUP_SKEW = timedelta(minutes=2)


class ThreadsPublishing:
    """The publishing half of `ThreadsAdapter` (which sets these attributes)."""

    http: PlatformHttp
    memo: StepMemo
    sleep: Callable[[float], Awaitable[None]]
    now: Callable[[], datetime]
    container_wait: float
    pending_delays: tuple[float, ...]

    # --- errors -----------------------------------------------------------------------

    def classify(self, response: httpx.Response) -> PlatformError:
        """Graph-style errors (threads.md §6); see threads/errors.py."""
        return errors.classify(response)

    # --- helpers ----------------------------------------------------------------------

    def _auth(self, account: Credentials) -> dict[str, str]:
        if not account.access_token:
            raise AuthExpired("The Threads account has no access token", code="190")
        return {"Authorization": f"Bearer {account.access_token}"}

    def _memo_key(self, account: Credentials, post: Outgoing) -> str:
        return f"{account.account_id}:{post.key}:{containers.fingerprint(post)}"

    async def _state(self, key: str, post: Outgoing) -> dict[str, Any]:
        """Where this step stands: the state of its last `Pending` when the job resumes
        it, else what was remembered for it."""
        resumed = dict(post.resume or {})
        if resumed.get("fingerprint") == containers.fingerprint(post):
            return resumed
        return await self.memo.get(key) or {}

    async def _pending(
        self, key: str, state: dict[str, Any], retry_in: float | None = None
    ) -> Pending | Permanent:
        """Hand the worker back; or fail (and forget the container) once processing has
        taken too long."""
        created = reading.parse_time(state.get("createdAt")) or self.now()
        if self.now() - created > PROCESSING_DEADLINE:
            await self.memo.drop(key)
            return Permanent(
                f"Threads was still processing the media after {PROCESSING_DEADLINE}",
                code="processing_timeout",
            )
        polls = int(state.get("polls") or 0)
        if retry_in is None:
            retry_in = self.pending_delays[min(polls, len(self.pending_delays) - 1)]
        state = {**state, "polls": polls + 1}
        return Pending("processing", state, timedelta(seconds=retry_in))

    async def _create(self, account: Credentials, params: dict[str, str]) -> str:
        """One container. Creating one publishes nothing, so a timeout here is a plain
        transient failure, never an unknown outcome."""
        try:
            body = await self.http.json(
                self,
                "POST",
                f"{API}/{account.external_id}/threads",
                data=params,
                headers=self._auth(account),
            )
        except Transient as exc:
            if not exc.maybe_sent:
                raise
            raise Transient(exc.message, code=exc.code) from exc
        if not isinstance(body, dict) or not body.get("id"):
            raise Transient("Threads created a container without returning its id")
        return str(body["id"])

    async def _status(self, account: Credentials, container_id: str) -> dict[str, Any]:
        body = await self.http.json(
            self,
            "GET",
            f"{API}/{container_id}",
            params={"fields": "id,status,error_message"},
            headers=self._auth(account),
        )
        return body if isinstance(body, dict) else {}

    async def _wait(
        self, account: Credentials, container_ids: list[str], key: str, state: dict[str, Any]
    ) -> None:
        """Poll until every container is FINISHED, for a few seconds; then `Pending`.

        A container that failed or expired is forgotten, so the next attempt builds a
        new one."""
        waited = 0.0
        delay = 1.0
        pending = list(container_ids)
        while pending:
            still = []
            for container_id in pending:
                body = await self._status(account, container_id)
                status = body.get("status")
                if status == ERROR:
                    await self.memo.drop(key)
                    raise containers.status_error(container_id, body)
                if status == EXPIRED:
                    await self.memo.drop(key)
                    raise Transient(f"Threads container {container_id} expired", code="expired")
                if status not in (FINISHED, PUBLISHED):
                    still.append(container_id)
            pending = still
            if not pending:
                return
            if waited + delay > self.container_wait:
                raise await self._pending(key, state)
            await self.sleep(delay)
            waited += delay
            delay = min(delay * 2, 5.0)

    async def _prepare(
        self, account: Credentials, post: Outgoing, key: str, state: dict[str, Any]
    ) -> dict[str, Any]:
        """Create (or resume) the containers of this step; remembered before anything
        can be published."""
        children: list[str] | None = None
        if len(post.media) > 1:
            children = [str(c) for c in state.get("children") or []]
            if not children:
                for media in post.media:
                    params = containers.child_params(media, post.alt_texts.get(media.id))
                    children.append(await self._create(account, params))
                state = {
                    "fingerprint": containers.fingerprint(post),
                    "children": children,
                    "createdAt": isoformat(self.now()),
                }
                await self.memo.put(key, state, CONTAINER_TTL)
            await self._wait(account, children, key, state)
        container_id = await self._create(account, containers.post_params(post, children))
        state = {
            **state,
            "fingerprint": containers.fingerprint(post),
            "container": container_id,
            "createdAt": isoformat(self.now()),
        }
        await self.memo.put(key, state, CONTAINER_TTL)
        return state

    async def _settle_video(self, post: Outgoing, key: str, state: dict[str, Any]) -> None:
        if len(post.media) != 1 or post.media[0].kind is not MediaKind.VIDEO:
            return  # a carousel's children were waited for before the parent existed
        created = reading.parse_time(state.get("createdAt")) or self.now()
        remaining = (created + VIDEO_SETTLE - self.now()).total_seconds()
        if remaining > SETTLE_SLEEP_MAX:
            raise await self._pending(key, state, retry_in=remaining)
        if remaining > 0:
            await self.sleep(remaining)

    async def _permalink(self, account: Credentials, media_id: str) -> str | None:
        """Best effort: the post is out, so failing to read its link must not fail it."""
        try:
            body = await self.http.json(
                self,
                "GET",
                f"{API}/{media_id}",
                params={"fields": "permalink"},
                headers=self._auth(account),
            )
        except PlatformError:
            return None
        link = body.get("permalink") if isinstance(body, dict) else None
        return str(link) if link else None

    async def _remember_published(
        self, key: str, state: dict[str, Any], published: Published
    ) -> None:
        try:
            await self.memo.put(
                key,
                {**state, "published": {"id": published.id, "url": published.url}},
                CONTAINER_TTL,
            )
        except Exception:  # the post is out; a lost note only costs a lookup later
            logger.warning("could not remember a published Threads post", exc_info=True)

    async def _adopt(
        self, account: Credentials, post: Outgoing, key: str, state: dict[str, Any]
    ) -> Published:
        """The container says PUBLISHED: find the post it became."""
        since = (
            reading.parse_time(state.get("createdAt")) or self.now() - LOOKUP_WINDOW
        ) - LOOKUP_SKEW
        found = await self._lookup(account, post, since, known_container=True)
        if found is None:
            raise Transient("Threads published the post but does not list it yet", maybe_sent=True)
        await self._remember_published(key, state, found)
        return found

    # --- publishing -------------------------------------------------------------------

    async def publish(self, account: Credentials, post: Outgoing) -> Published:
        """One post or one reply (`reply_to_id` = the previous segment).

        Raises:
            Pending: the container is still processing (or a video is settling).
        """
        self._auth(account)
        key = self._memo_key(account, post)
        state = await self._state(key, post)
        done = state.get("published")
        if isinstance(done, dict) and done.get("id"):
            return Published(id=str(done["id"]), url=done.get("url"))
        container_id = state.get("container")
        if container_id:
            status = (await self._status(account, str(container_id))).get("status")
            if status == PUBLISHED:
                return await self._adopt(account, post, key, state)
            if status in (ERROR, EXPIRED):
                await self.memo.drop(key)
                state, container_id = {}, None
        if not container_id:
            state = await self._prepare(account, post, key, state)
        container_id = str(state["container"])
        await self._wait(account, [container_id], key, state)
        await self._settle_video(post, key, state)
        try:
            body = await self.http.json(
                self,
                "POST",
                f"{API}/{account.external_id}/threads_publish",
                data={"creation_id": container_id},
                headers=self._auth(account),
            )
        except PlatformError as exc:
            if errors.is_code(exc, 10):
                status = (await self._status(account, container_id)).get("status")
                if status == PUBLISHED:
                    return await self._adopt(account, post, key, state)
            raise
        if not isinstance(body, dict) or not body.get("id"):
            raise Transient("Threads published without returning the post id", maybe_sent=True)
        media_id = str(body["id"])
        published = Published(id=media_id, url=await self._permalink(account, media_id))
        await self._remember_published(key, state, published)
        return published

    async def comment(self, account: Credentials, post: Outgoing) -> Published:
        """The first comment is a text reply under the post (threads.md §5)."""
        if post.reply_to is None:
            raise Permanent("A first comment needs the post it replies to", code="invalid_request")
        reply = replace(post, media=(), poll=None, link=None, article=None, options=None)
        return await self.publish(account, reply)

    # --- recovery ---------------------------------------------------------------------

    async def find_published(self, account: Credentials, post: Outgoing) -> Published | None:
        key = self._memo_key(account, post)
        state = await self._state(key, post)
        done = state.get("published")
        if isinstance(done, dict) and done.get("id"):
            return Published(id=str(done["id"]), url=done.get("url"))
        container_id = state.get("container")
        if container_id:
            status = (await self._status(account, str(container_id))).get("status")
            if status != PUBLISHED:
                return None  # only this container could have been published
            return await self._adopt(account, post, key, state)
        return await self._lookup(account, post, self.now() - LOOKUP_WINDOW, known_container=False)

    async def _lookup(
        self, account: Credentials, post: Outgoing, since: datetime, *, known_container: bool
    ) -> Published | None:
        """The account's one recent post (or reply) that is this step."""
        if not reading.comparable(containers.published_text(post)) and not known_container:
            raise Permanent("This Threads post has no text to recognise it by", code="unsupported")
        edge = "replies" if post.reply_to is not None else "threads"
        body = await self.http.json(
            self,
            "GET",
            f"{API}/{account.external_id}/{edge}",
            params={"fields": reading.LOOKUP_FIELDS, "since": int(since.timestamp()), "limit": 50},
            headers=self._auth(account),
        )
        found = reading.the_step(body.get("data") or [], post, since)
        if found is None:
            return None
        return Published(id=str(found["id"]), url=found.get("permalink"))
