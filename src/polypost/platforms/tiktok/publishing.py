"""Publishing to TikTok: creator check, init, chunked upload, status polling, and
settling an interrupted publish (tiktok.md §2, §3, §7).

Publishing one post is several calls spread over several jobs, so no worker waits:
1. `creator_info/query` (required before a Direct Post) checks privacy level,
   interaction toggles and the creator's maximum video length;
2. `…/init/` creates the publish (`publish_id`), after which the step hands its worker
   back at once (`Pending`) so the id is stored before any byte is sent;
3. a file upload sends 10 MiB chunks (`PUT upload_url`, `Content-Range`) for at most
   `upload_budget` seconds per call, then hands the worker back again; a chunk that
   fails is retried on a later call, after `status/fetch` said how much TikTok has;
4. `status/fetch` is polled (also handed back between polls) until `PUBLISH_COMPLETE`
   and the public post id, `SEND_TO_USER_INBOX` for drafts, or `FAILED`.
Each stage has a deadline kept in the step's state; past it the step fails.

Videos are uploaded from our storage (`FILE_UPLOAD`) unless their URL starts with a
prefix verified in the TikTok developer portal, configured as `verifiedUrlPrefixes` of
the server's TikTok app (`POLYPOST_OAUTH_APPS`), in which case TikTok pulls them
(`PULL_FROM_URL`). Photos can only be pulled.

TikTok has no idempotency key. The state (publish id, chunks sent) is kept in the job's
parked state and in the step memo, so an interrupted step is settled by asking
`status/fetch` about its publish id (`recovery = "lookup"`). A file upload is only
initialized before its first chunk, so without a publish id nothing can have been
posted; a pulled video or photo post interrupted before its id was stored cannot be
told apart and fails as `outcome_unknown`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import aclosing
from datetime import datetime, timedelta
from typing import Any, NoReturn

import httpx

from polypost.core.http import PlatformHttp
from polypost.core.timeutil import isoformat
from polypost.platforms.base import (
    AuthExpired,
    Credentials,
    MediaInfo,
    Outgoing,
    Pending,
    Permanent,
    PlatformError,
    Published,
    Transient,
)
from polypost.platforms.memo import StepMemo
from polypost.platforms.tiktok import errors, oauth
from polypost.platforms.tiktok.bodies import (
    chunk_plan,
    chunk_range,
    photo_body,
    take,
    video_post_info,
)
from polypost.platforms.tiktok.creator import (
    CreatorInfo,
    Violation,
    creator_violations,
    is_inbox,
    is_photo,
    media_violations,
    option_violations,
    options_of,
)
from polypost.platforms.youtube.transfer import read_from

API = oauth.API
WEB = "https://www.tiktok.com"
CREATOR_INFO_URL = f"{API}/v2/post/publish/creator_info/query/"
VIDEO_INIT_URL = f"{API}/v2/post/publish/video/init/"
INBOX_VIDEO_INIT_URL = f"{API}/v2/post/publish/inbox/video/init/"
CONTENT_INIT_URL = f"{API}/v2/post/publish/content/init/"
STATUS_URL = f"{API}/v2/post/publish/status/fetch/"
JSON_TYPE = "application/json; charset=UTF-8"

# One call uploads for about this long, then hands the worker back; well inside the
# publish lease (90 s by default), which must cover the last chunk's request too.
UPLOAD_BUDGET_SECONDS = 20.0
# tiktok.md §3 "`upload_url` ... is valid for 1 hour".
UPLOAD_DEADLINE = timedelta(minutes=55)
# tiktok.md §2 "Processing time ≈ 30 s for 512 MB, ~1 min for 1 GB"; a pull may take up
# to an hour ("a PULL_FROM_URL download also times out after 1 hour").
PROCESSING_DEADLINE = timedelta(minutes=30)
PULL_DEADLINE = timedelta(minutes=65)
# tiktok.md §2: the public id "can appear minutes-hours later (moderation usually
# <1 min)". Past this the post is reported with its publish id and profile URL.
POST_ID_WAIT = timedelta(minutes=10)
# tiktok.md §4 `status/fetch` allows 30 requests/min per token.
POLL_DELAYS = (
    timedelta(seconds=5),
    timedelta(seconds=10),
    timedelta(seconds=20),
    timedelta(seconds=30),
)
UPLOAD_RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(seconds=15),
    timedelta(seconds=30),
    timedelta(seconds=60),
    timedelta(seconds=120),
)
MEMO_TTL = timedelta(hours=3)
PUBLISHED_TTL = timedelta(hours=1)
# Creator settings seen while validating a post are reused this long (20 calls/min).
CREATOR_CACHE_TTL = timedelta(minutes=5)


def _parse_time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def is_publish_id(platform_post_id: str) -> bool:
    """A TikTok post id is a number; a publish id (`v_pub_file~…`) is not."""
    return not platform_post_id.isdigit()


class TikTokPublishing:
    """The publishing half of `TikTokAdapter` (which sets these attributes)."""

    runtime: Any
    http: PlatformHttp
    memo: StepMemo
    now: Callable[[], datetime]
    clock: Callable[[], float]
    chunk_size: int
    upload_budget: float
    poll_delays: tuple[timedelta, ...]
    upload_retry_delays: tuple[timedelta, ...]

    # --- errors and requests ----------------------------------------------------------

    def classify(self, response: httpx.Response) -> PlatformError:
        """TikTok's `error.code` strings and HTTP statuses (tiktok.md §6)."""
        return errors.classify(response)

    def _auth(self, account: Credentials) -> dict[str, str]:
        if not account.access_token:
            raise AuthExpired("The TikTok account has no access token", code="unauthorized")
        return {"Authorization": f"Bearer {account.access_token}"}

    async def _post(
        self,
        account: Credentials,
        url: str,
        body: dict[str, Any] | None,
        *,
        params: dict[str, str] | None = None,
        query: bool = False,
        time_limit: float | None = None,
    ) -> dict[str, Any]:
        """A JSON POST; `query` marks calls that change nothing on TikTok, so a lost
        answer is a plain transient failure rather than an unknown outcome."""
        headers = {**self._auth(account), "Content-Type": JSON_TYPE}
        extra: dict[str, Any] = {"timeout": time_limit} if time_limit is not None else {}
        if body is not None:
            extra["content"] = json.dumps(body, separators=(",", ":")).encode()
        try:
            raw = await self.http.json(self, "POST", url, params=params, headers=headers, **extra)
        except Transient as exc:
            if query and exc.maybe_sent:
                raise Transient(exc.message, code=exc.code) from exc
            raise
        return errors.checked(raw)

    async def creator_info(
        self, account: Credentials, *, time_limit: float | None = None
    ) -> CreatorInfo:
        """The creator's privacy options, interaction toggles and longest video.

        Raises:
            PlatformError: including `spam_risk_too_many_posts` (rate limited) and
                `spam_risk_user_banned_from_posting` (permanent), which TikTok reports
                here first.
        """
        data = await self._post(account, CREATOR_INFO_URL, None, query=True, time_limit=time_limit)
        info = CreatorInfo.from_data(data)
        await self.memo.put(f"creator:{account.account_id}", info.as_json(), CREATOR_CACHE_TTL)
        return info

    # --- publishing -------------------------------------------------------------------

    def _memo_key(self, account: Credentials, post: Outgoing) -> str:
        return f"publish:{account.account_id}:{post.key}"

    def _verified_prefixes(self) -> tuple[str, ...]:
        apps = getattr(getattr(self.runtime, "settings", None), "oauth_apps", None) or {}
        raw = str((apps.get("tiktok") or {}).get("verifiedUrlPrefixes") or "")
        return tuple(p for p in raw.replace(",", " ").split() if p.startswith("https://"))

    def _pulls(self, media: MediaInfo) -> bool:
        """Whether TikTok can fetch this video itself (a verified URL prefix)."""
        return bool(media.url) and any(
            str(media.url).startswith(p) for p in self._verified_prefixes()
        )

    def _handle(self, account: Credentials, info: CreatorInfo | None = None) -> str | None:
        handle = (account.handle or (info.username if info else None) or "").lstrip("@")
        return handle or None

    def _published(
        self, account: Credentials, state: dict[str, Any], post_id: str | None
    ) -> Published:
        handle = state.get("handle") or self._handle(account)
        extra = {"publishId": str(state["publishId"])}
        if post_id:
            url = f"{WEB}/@{handle}/video/{post_id}" if handle else None
            return Published(id=post_id, url=url, extra=extra)
        status = state.get("finalStatus")
        if status:
            extra["status"] = str(status)
        return Published(
            id=str(state["publishId"]), url=f"{WEB}/@{handle}" if handle else None, extra=extra
        )

    async def _remember_published(
        self, key: str, state: dict[str, Any], published: Published
    ) -> Published:
        done = {"id": published.id, "url": published.url, "extra": dict(published.extra)}
        await self.memo.put(key, {**state, "published": done}, PUBLISHED_TTL)
        return published

    def _pending(self, stage: str, state: dict[str, Any]) -> Pending:
        polls = int(state.get("polls") or 0)
        state["polls"] = polls + 1
        delay = self.poll_delays[min(polls, len(self.poll_delays) - 1)]
        return Pending(stage, state, delay)

    async def publish(self, account: Credentials, post: Outgoing) -> Published:
        """Start, continue or settle one TikTok post (see the module docstring).

        Raises:
            Pending: an upload chunk budget was used, or TikTok is still processing.
        """
        if post.reply_to is not None:
            raise Permanent("TikTok posts have no replies or threads", code="unsupported")
        key = self._memo_key(account, post)
        state: dict[str, Any] | None = dict(post.resume) if post.resume else None
        if state is None:
            state = await self.memo.get(key)
        if state and isinstance(state.get("published"), dict):
            done = state["published"]
            return Published(id=str(done["id"]), url=done.get("url"), extra=done.get("extra") or {})
        if not state or not state.get("publishId"):
            await self._start(account, post, key)  # always raises Pending
        assert state is not None
        if state.get("phase") == "uploading":
            await self._upload(account, post, key, state)
        return await self._settle(account, key, state)

    async def _start(self, account: Credentials, post: Outgoing, key: str) -> NoReturn:
        if not post.media:
            raise Permanent("A TikTok post needs a video or photos", code="media_required")
        options = options_of(post.options)
        photo = is_photo(post.post_type, post.media)
        info = await self.creator_info(account)
        violations: list[Violation] = (
            option_violations(options, photo)
            + creator_violations(info, options, list(post.media), photo)
            + media_violations(post.post_type, list(post.media))
        )
        if violations:
            raise Permanent(
                "TikTok: " + " ".join(v.message for v in violations), code=violations[0].rule
            )
        now = self.now()
        state: dict[str, Any] = {
            "handle": self._handle(account, info),
            "startedAt": isoformat(now),
            "private": options.privacy_level == "SELF_ONLY",
            "inbox": is_inbox(options),
        }
        if photo:
            data = await self._post(account, CONTENT_INIT_URL, photo_body(post, options, info))
            state.update(mode="PHOTO", phase="processing", deadline=isoformat(now + PULL_DEADLINE))
        else:
            video = post.media[0]
            if self._pulls(video):
                source: dict[str, Any] = {"source": "PULL_FROM_URL", "video_url": video.url}
                state.update(mode="PULL_FROM_URL", phase="processing")
                state["deadline"] = isoformat(now + PULL_DEADLINE)
            else:
                if not video.size:
                    raise Permanent(
                        f"Media {video.id} has no verified size", code="media_unavailable"
                    )
                size, count = chunk_plan(video.size, self.chunk_size)
                source = {
                    "source": "FILE_UPLOAD",
                    "video_size": video.size,
                    "chunk_size": size,
                    "total_chunk_count": count,
                }
                state.update(
                    mode="FILE_UPLOAD",
                    phase="uploading",
                    size=video.size,
                    chunkSize=size,
                    chunks=count,
                    next=0,
                    failures=0,
                    uploadDeadline=isoformat(now + UPLOAD_DEADLINE),
                )
            if state["inbox"]:
                url, body = INBOX_VIDEO_INIT_URL, {"source_info": source}
            else:
                url = VIDEO_INIT_URL
                body = {"post_info": video_post_info(post, options, info), "source_info": source}
            try:
                data = await self._post(account, url, body)
            except Transient as exc:
                if state["mode"] == "FILE_UPLOAD" and exc.maybe_sent:
                    # No byte was sent: an initialized upload TikTok never receives
                    # cannot be posted, so initializing again is safe.
                    raise Transient(exc.message, code=exc.code) from exc
                raise
        publish_id = data.get("publish_id")
        if not publish_id:
            raise Transient(
                "TikTok accepted the post without a publish id",
                maybe_sent=state["mode"] != "FILE_UPLOAD",
            )
        state["publishId"] = str(publish_id)
        if data.get("upload_url"):
            state["uploadUrl"] = str(data["upload_url"])
        await self.memo.put(key, state, MEMO_TTL)
        if state["phase"] == "uploading":
            if not state.get("uploadUrl"):
                raise Transient("TikTok initialized a file upload without an upload URL")
            raise Pending("uploading", state, timedelta(0))
        raise self._pending("processing", state)

    async def _upload(
        self, account: Credentials, post: Outgoing, key: str, state: dict[str, Any]
    ) -> None:
        """Send chunks from `state["next"]` until done or out of budget.

        Returns with `state["phase"] == "processing"` once TikTok has every chunk.
        """
        now = self.now()
        deadline = _parse_time(state.get("uploadDeadline"))
        if deadline is not None and now > deadline:
            await self.memo.drop(key)
            raise Transient(
                "TikTok's upload URL expired before the upload finished", code="upload_expired"
            )
        if state.get("failures") and not await self._reconcile_upload(account, key, state):
            await self.memo.put(key, state, MEMO_TTL)
            return  # TikTok already has the whole file
        video = post.media[0]
        size, chunk_size, count = int(state["size"]), int(state["chunkSize"]), int(state["chunks"])
        started = self.clock()
        index = int(state["next"])
        first, _ = chunk_range(index, size, chunk_size, count)
        async with aclosing(read_from(self.runtime.http, video, first, chunk_size)) as reader:
            while index < count:
                first, last = chunk_range(index, size, chunk_size, count)
                data = await take(reader, last - first + 1, video)
                try:
                    response = await self.http.request(
                        self,
                        "PUT",
                        str(state["uploadUrl"]),
                        content=data,
                        headers={
                            "Content-Type": video.content_type,
                            "Content-Range": f"bytes {first}-{last}/{size}",
                        },
                    )
                except Transient:
                    state["failures"] = int(state.get("failures") or 0) + 1
                    state["next"] = index
                    await self.memo.put(key, state, MEMO_TTL)
                    delays = self.upload_retry_delays
                    delay = delays[min(int(state["failures"]) - 1, len(delays) - 1)]
                    raise Pending("uploading", state, delay) from None
                except PlatformError as error:
                    if error.kind == "permanent":
                        await self.memo.drop(key)
                    raise
                index += 1
                state.update(next=index, failures=0)
                if response.status_code == 201 or index >= count:
                    break
                await self.memo.put(key, state, MEMO_TTL)
                if self.clock() - started >= self.upload_budget:
                    raise Pending("uploading", state, timedelta(0))
        self._uploaded(state)
        await self.memo.put(key, state, MEMO_TTL)

    def _uploaded(self, state: dict[str, Any]) -> None:
        state.update(
            phase="processing",
            polls=0,
            failures=0,
            deadline=isoformat(self.now() + PROCESSING_DEADLINE),
        )

    async def _reconcile_upload(
        self, account: Credentials, key: str, state: dict[str, Any]
    ) -> bool:
        """After a failed chunk: how far TikTok got. False when it has the whole file
        (the upload moves on to processing); True to keep uploading from there.

        Raises:
            Transient: `upload_failed` after too many failures (the upload is dropped:
                TikTok never received the whole file, so starting over is safe).
        """
        status = await self._status(account, str(state["publishId"]))
        if status.get("status") != "PROCESSING_UPLOAD":
            self._uploaded(state)
            return False
        received = int(status.get("uploaded_bytes") or 0)
        if received >= int(state["size"]):
            self._uploaded(state)
            return False
        if int(state["failures"]) > len(self.upload_retry_delays):
            await self.memo.drop(key)
            raise Transient(
                f"Uploading to TikTok failed {state['failures']} times in a row",
                code="upload_failed",
            )
        state["next"] = min(int(state["next"]), received // int(state["chunkSize"]))
        return True

    async def _status(self, account: Credentials, publish_id: str) -> dict[str, Any]:
        return await self._post(account, STATUS_URL, {"publish_id": publish_id}, query=True)

    async def _settle(self, account: Credentials, key: str, state: dict[str, Any]) -> Published:
        status = await self._status(account, str(state["publishId"]))
        value = status.get("status")
        now = self.now()
        if value == "PUBLISH_COMPLETE":
            ids = [str(i) for i in status.get("publicaly_available_post_id") or [] if i]
            if ids:
                return await self._remember_published(
                    key, state, self._published(account, state, ids[0])
                )
            completed = _parse_time(state.get("completedAt"))
            if completed is None:
                state["completedAt"] = isoformat(now)
                completed = now
            # SELF_ONLY posts never get a public id (tiktok.md §2).
            if state.get("private") or now - completed >= POST_ID_WAIT:
                state["finalStatus"] = "PUBLISH_COMPLETE"
                return await self._remember_published(
                    key, state, self._published(account, state, None)
                )
            raise self._pending("processing", state)
        if value == "SEND_TO_USER_INBOX":
            state["finalStatus"] = "SEND_TO_USER_INBOX"
            return await self._remember_published(key, state, self._published(account, state, None))
        if value == "FAILED":
            await self.memo.drop(key)
            reason = str(status.get("fail_reason") or "unknown")
            raise errors.from_code(reason, f"the publish failed ({reason})")
        deadline = _parse_time(state.get("deadline"))
        if deadline is not None and now > deadline:
            raise Permanent(
                f"TikTok was still processing publish {state['publishId']} at the deadline "
                f"({value}); it may still appear on the account",
                code="processing_timeout",
            )
        raise self._pending("processing", state)

    async def comment(self, account: Credentials, post: Outgoing) -> Published:
        raise Permanent("TikTok's API cannot post comments", code="unsupported")

    # --- recovery ---------------------------------------------------------------------

    async def find_published(self, account: Credentials, post: Outgoing) -> Published | None:
        """Settle an interrupted step by its publish id (see the module docstring).

        Raises:
            Permanent: `unsupported`, a pulled post without a stored publish id.
            Transient: TikTok is still processing the earlier attempt; ask again later.
        """
        key = self._memo_key(account, post)
        state = dict(post.resume) if post.resume else await self.memo.get(key)
        if state and isinstance(state.get("published"), dict):
            done = state["published"]
            return Published(id=str(done["id"]), url=done.get("url"), extra=done.get("extra") or {})
        if not state or not state.get("publishId"):
            if (
                post.media
                and not is_photo(post.post_type, post.media)
                and not self._pulls(post.media[0])
            ):
                return None  # a file upload only starts after its publish id is stored
            raise Permanent(
                "TikTok offers no way to find a post interrupted before its publish id was stored",
                code="unsupported",
            )
        status = await self._status(account, str(state["publishId"]))
        value = status.get("status")
        if value == "PUBLISH_COMPLETE":
            ids = [str(i) for i in status.get("publicaly_available_post_id") or [] if i]
            state["finalStatus"] = value
            return self._published(account, state, ids[0] if ids else None)
        if value == "SEND_TO_USER_INBOX":
            state["finalStatus"] = value
            return self._published(account, state, None)
        if value == "FAILED":
            await self.memo.drop(key)
            return None
        if state.get("mode") == "FILE_UPLOAD" and state.get("phase") == "uploading":
            received = int(status.get("uploaded_bytes") or 0)
            if received < int(state.get("size") or 0):
                # TikTok lacks part of the file, so it cannot publish it; publishing
                # again resumes this upload from the memo, or starts a new one.
                return None
        raise Transient(
            f"TikTok is still processing publish {state['publishId']} ({value})",
            code="processing",
        )
