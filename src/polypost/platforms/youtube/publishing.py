"""Publishing a YouTube video: a resumable upload in chunks, the custom thumbnail, and
processing, none of which holds a worker for long (youtube.md §2, §3).

1. `videos.insert` with `uploadType=resumable` opens an upload session (the metadata
   goes with it); the step hands its worker back at once (`Pending`) so the session URI
   is stored before any byte is sent.
2. Chunks of 8 MiB (a multiple of 256 KiB) are PUT with `Content-Range`; YouTube
   answers 308 with the `Range` it holds. One call uploads for `upload_budget` seconds,
   then hands the worker back. A chunk that fails (5xx, network) is retried on a later
   call, after probing the session (`Content-Range: bytes */total`) for what YouTube
   kept; an expired session (404/410) starts over.
3. The final chunk's answer is the video. The post's cover becomes the thumbnail
   (`thumbnails.set`; a refusal leaves the video published, noted in the result), and
   processing is polled (also handed back) until YouTube has processed it, for
   `PROCESSING_WAIT` at most: the video exists from the upload on, so a slow transcode
   is reported as published while YouTube keeps processing.

YouTube creates the video only when the last byte arrives, and the session is stored
before any byte is sent, so an interrupted step is settled by probing its session
(`recovery = "lookup"`): complete means published, anything else means nothing was.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import aclosing
from datetime import datetime, timedelta
from typing import Any

import httpx

from polypost.core.http import PlatformHttp
from polypost.core.timeutil import isoformat
from polypost.platforms.base import (
    AuthExpired,
    Credentials,
    MediaInfo,
    MediaKind,
    Outgoing,
    Pending,
    Permanent,
    PlatformError,
    Published,
    RateLimited,
    Transient,
)
from polypost.platforms.memo import StepMemo
from polypost.platforms.youtube import errors
from polypost.platforms.youtube.metadata import WEB, video_resource, video_url, youtube_options
from polypost.platforms.youtube.quota import QuotaMeter
from polypost.platforms.youtube.transfer import read_all, read_from

API = "https://www.googleapis.com/youtube/v3"
UPLOAD_API = "https://www.googleapis.com/upload/youtube/v3"
JSON_TYPE = "application/json; charset=UTF-8"
# youtube.md §3: chunks must be multiples of 256 KiB; Postiz streams 8 MiB.
CHUNK_SIZE = 32 * 256 * 1024
# One call uploads about this long, inside the publish lease (90 s by default).
UPLOAD_BUDGET_SECONDS = 20.0
# Upload sessions live about a week, but the pipeline lets a target wait on the
# platform for 2 hours at most (posts/jobs.py MAX_PARKED).
UPLOAD_DEADLINE = timedelta(hours=2)
UPLOAD_RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(seconds=15),
    timedelta(seconds=30),
    timedelta(seconds=60),
    timedelta(seconds=120),
)
POLL_DELAYS = (timedelta(seconds=10), timedelta(seconds=20), timedelta(seconds=30))
PROCESSING_WAIT = timedelta(minutes=15)
# youtube.md §3 thumbnails: "stay ≤2 MB".
THUMBNAIL_MAX_BYTES = 2 * 1024 * 1024
THUMBNAIL_TYPES = frozenset({"image/jpeg", "image/png"})
MEMO_TTL = timedelta(hours=3)
PUBLISHED_TTL = timedelta(hours=1)
FAILED_UPLOADS = frozenset({"failed", "rejected", "deleted"})
FAILED_PROCESSING = frozenset({"failed", "terminated"})


def _parse_time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def next_offset(response: httpx.Response) -> int:
    """The first byte YouTube still needs, from a 308's `Range: bytes=0-N`."""
    value = response.headers.get("range") or ""
    _, _, last = value.partition("-")
    return int(last) + 1 if last.strip().isdigit() else 0


class YouTubePublishing:
    """The publishing half of `YouTubeAdapter` (which sets these attributes)."""

    runtime: Any
    http: PlatformHttp
    memo: StepMemo
    quota: QuotaMeter
    now: Callable[[], datetime]
    clock: Callable[[], float]
    chunk_size: int
    upload_budget: float
    poll_delays: tuple[timedelta, ...]
    upload_retry_delays: tuple[timedelta, ...]

    def classify(self, response: httpx.Response) -> PlatformError:
        """Google's `errors[].reason` (quotaExceeded, rateLimitExceeded, authError, …)."""
        return errors.classify(response)

    def _auth(self, account: Credentials) -> dict[str, str]:
        if not account.access_token:
            raise AuthExpired("The YouTube account has no access token", code="authError")
        return {"Authorization": f"Bearer {account.access_token}"}

    async def _call(
        self,
        account: Credentials,
        method: str,
        verb: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """One quota-costing Data API call (`method` names its cost, quota.py)."""
        await self.quota.check(account, method)
        await self.quota.spend(account, method)
        try:
            return await self.http.request(
                self, verb, url, headers={**self._auth(account), **(headers or {})}, **kwargs
            )
        except RateLimited as exc:
            if exc.code == errors.QUOTA_EXCEEDED:
                await self.quota.exhausted(account)
            raise

    async def _json(
        self, account: Credentials, method: str, verb: str, url: str, **kwargs: Any
    ) -> dict[str, Any]:
        response = await self._call(account, method, verb, url, **kwargs)
        if not response.content:
            return {}
        try:
            body = response.json()
        except ValueError as exc:
            raise Transient(f"YouTube answered {method} with a body that is not JSON") from exc
        return body if isinstance(body, dict) else {}

    def _memo_key(self, account: Credentials, post: Outgoing) -> str:
        return f"publish:{account.account_id}:{post.key}"

    @staticmethod
    def _video_of(post: Outgoing) -> MediaInfo:
        videos = [m for m in post.media if m.kind is MediaKind.VIDEO]
        if len(videos) != 1:
            raise Permanent("A YouTube post is exactly one video", code="media_required")
        video = videos[0]
        if not video.size:
            raise Permanent(f"Media {video.id} has no verified size", code="media_unavailable")
        return video

    # --- publishing -------------------------------------------------------------------

    async def publish(self, account: Credentials, post: Outgoing) -> Published:
        """Start, continue or finish one video upload (see the module docstring).

        Raises:
            Pending: the upload or YouTube's processing continues in a later call.
        """
        if post.reply_to is not None:
            raise Permanent("YouTube videos have no replies or threads", code="unsupported")
        video = self._video_of(post)
        key = self._memo_key(account, post)
        state: dict[str, Any] = (
            dict(post.resume) if post.resume else (await self.memo.get(key) or {})
        )
        done = state.get("published")
        if isinstance(done, dict) and done.get("id"):
            return Published(id=str(done["id"]), url=done.get("url"), extra=done.get("extra") or {})
        if not state.get("session") and not state.get("videoId"):
            await self._initiate(account, post, video, key)
        if not state.get("videoId"):
            await self._upload(account, video, key, state)
        return await self._finish(account, post, key, state)

    async def _initiate(
        self, account: Credentials, post: Outgoing, video: MediaInfo, key: str
    ) -> None:
        """Open the resumable session and hand the worker back (youtube.md §3 step 1).

        Raises:
            Pending: always, with the session URI in its state.
        """
        options = youtube_options(post)
        notify = "false" if options.notify_subscribers is False else "true"
        try:
            response = await self._call(
                account,
                "videos.insert",
                "POST",
                f"{UPLOAD_API}/videos",
                params={
                    "uploadType": "resumable",
                    "part": "snippet,status",
                    "notifySubscribers": notify,
                },
                content=json.dumps(video_resource(post, options)).encode(),
                headers={
                    "Content-Type": JSON_TYPE,
                    "X-Upload-Content-Length": str(video.size),
                    "X-Upload-Content-Type": video.content_type,
                },
            )
        except Transient as exc:
            # Opening a session creates no video; opening another one is safe.
            raise Transient(exc.message, code=exc.code) from exc
        session = response.headers.get("location")
        if not session:
            raise Transient("YouTube opened an upload session without its URI")
        state = {
            "session": session,
            "size": video.size,
            "offset": 0,
            "confirmed": True,
            "failures": 0,
            "uploadDeadline": isoformat(self.now() + UPLOAD_DEADLINE),
        }
        await self.memo.put(key, state, MEMO_TTL)
        raise Pending("uploading", state, timedelta(0))

    async def _session_put(
        self, account: Credentials, state: dict[str, Any], content: bytes, content_range: str
    ) -> httpx.Response:
        return await self.http.request(
            self,
            "PUT",
            str(state["session"]),
            content=content,
            headers={**self._auth(account), "Content-Range": content_range},
            ok_statuses=frozenset({308, 404, 410}),
        )

    async def probe(self, account: Credentials, state: dict[str, Any]) -> dict[str, Any] | None:
        """Ask the session what it holds (youtube.md §3 step 3): the video when the
        upload completed, else None with `state["offset"]` set to the next byte.

        Raises:
            Transient: `upload_session_expired` (404/410), or the probe itself failed.
        """
        response = await self._session_put(account, state, b"", f"bytes */{state['size']}")
        if response.status_code in (404, 410):
            raise Transient("The YouTube upload session expired", code="upload_session_expired")
        if response.status_code == 308:
            state.update(offset=next_offset(response), confirmed=True)
            return None
        return _video_body(response)

    def _uploaded(self, state: dict[str, Any], video: dict[str, Any]) -> None:
        state.update(
            videoId=str(video["id"]),
            processingDeadline=isoformat(self.now() + PROCESSING_WAIT),
            polls=0,
        )

    async def _fail_chunk(self, key: str, state: dict[str, Any]) -> Pending:
        state["failures"] = int(state.get("failures") or 0) + 1
        state["confirmed"] = False
        await self.memo.put(key, state, MEMO_TTL)
        delays = self.upload_retry_delays
        return Pending("uploading", state, delays[min(state["failures"] - 1, len(delays) - 1)])

    async def _upload(
        self, account: Credentials, video: MediaInfo, key: str, state: dict[str, Any]
    ) -> None:
        """Send chunks from the confirmed offset until the video exists (its id lands
        in `state`) or the budget is spent (`Pending`)."""
        deadline = _parse_time(state.get("uploadDeadline"))
        if deadline is not None and self.now() > deadline:
            await self.memo.drop(key)
            raise Transient(
                "The YouTube upload took too long; it starts over", code="upload_expired"
            )
        if not state.get("confirmed"):
            try:
                done = await self.probe(account, state)
            except Transient as exc:
                if exc.code == "upload_session_expired":
                    await self.memo.drop(key)
                    raise
                raise await self._fail_chunk(key, state) from None
            if done is not None:
                self._uploaded(state, done)
                await self.memo.put(key, state, MEMO_TTL)
                return
            if int(state.get("failures") or 0) > len(self.upload_retry_delays):
                await self.memo.drop(key)
                raise Transient(
                    f"Uploading to YouTube failed {state['failures']} times in a row",
                    code="upload_failed",
                )
        size = int(state["size"])
        start = int(state["offset"])
        started = self.clock()
        async with aclosing(read_from(self.runtime.http, video, start, self.chunk_size)) as reader:
            async for chunk in reader:
                last = start + len(chunk) - 1
                try:
                    response = await self._session_put(
                        account, state, chunk, f"bytes {start}-{last}/{size}"
                    )
                except Transient:
                    raise await self._fail_chunk(key, state) from None
                except PlatformError as error:
                    if error.kind == "permanent":
                        await self.memo.drop(key)
                    raise
                if response.status_code in (404, 410):
                    await self.memo.drop(key)
                    raise Transient(
                        "The YouTube upload session expired", code="upload_session_expired"
                    )
                if response.status_code != 308:
                    self._uploaded(state, _video_body(response))
                    state.update(offset=size, failures=0)
                    await self.memo.put(key, state, MEMO_TTL)
                    return
                held = next_offset(response)
                state.update(offset=held, confirmed=True, failures=0)
                await self.memo.put(key, state, MEMO_TTL)
                if held != last + 1 or self.clock() - started >= self.upload_budget:
                    # Out of budget, or YouTube kept less than was sent: continue from
                    # what it holds in the next call.
                    raise Pending("uploading", state, timedelta(0))
                start = held
        raise Transient(
            f"Media {video.id} ended before YouTube received {size} bytes",
            code="upload_incomplete",
        )

    async def _finish(
        self, account: Credentials, post: Outgoing, key: str, state: dict[str, Any]
    ) -> Published:
        """Thumbnail, then processing until done or `PROCESSING_WAIT` has passed."""
        video_id = str(state["videoId"])
        if post.cover is not None and not state.get("thumbnail"):
            state["thumbnail"] = await self._thumbnail(account, video_id, post.cover)
            await self.memo.put(key, state, MEMO_TTL)
        body = await self._json(
            account,
            "videos.list",
            "GET",
            f"{API}/videos",
            params={"part": "status,processingDetails", "id": video_id},
        )
        items = [i for i in body.get("items") or [] if isinstance(i, dict)]
        item = items[0] if items else {}
        status = item.get("status") if isinstance(item.get("status"), dict) else {}
        details = item.get("processingDetails")
        details = details if isinstance(details, dict) else {}
        upload = (status or {}).get("uploadStatus")
        processing = details.get("processingStatus")
        if upload in FAILED_UPLOADS or processing in FAILED_PROCESSING:
            await self.memo.drop(key)
            reason = (
                (status or {}).get("rejectionReason")
                or (status or {}).get("failureReason")
                or processing
                or upload
            )
            raise Permanent(
                f"YouTube {upload or processing} video {video_id}: {reason}",
                code=f"video_{reason}",
            )
        extra: dict[str, str] = {}
        thumbnail = str(state.get("thumbnail") or "")
        if thumbnail.startswith("failed"):
            extra["thumbnail"] = thumbnail
        if upload != "processed" and processing != "succeeded":
            deadline = _parse_time(state.get("processingDeadline"))
            if deadline is None or self.now() <= deadline:
                polls = int(state.get("polls") or 0)
                state["polls"] = polls + 1
                delay = self.poll_delays[min(polls, len(self.poll_delays) - 1)]
                raise Pending("processing", state, delay)
            extra["processing"] = str(processing or upload or "processing")
        published = Published(id=video_id, url=video_url(video_id, post.post_type), extra=extra)
        done = {"id": published.id, "url": published.url, "extra": extra}
        await self.memo.put(key, {**state, "published": done}, PUBLISHED_TTL)
        return published

    async def _thumbnail(self, account: Credentials, video_id: str, cover: MediaInfo) -> str:
        """`thumbnails.set` from the post's cover: "set", or "failed: <reason>" (the
        video stays published either way, youtube.md §7)."""
        if cover.content_type.lower() not in THUMBNAIL_TYPES:
            return f"failed: {cover.content_type} is not JPEG or PNG"
        try:
            data = await read_all(self.runtime.http, cover, THUMBNAIL_MAX_BYTES)
            await self._call(
                account,
                "thumbnails.set",
                "POST",
                f"{UPLOAD_API}/thumbnails/set",
                params={"videoId": video_id, "uploadType": "media"},
                content=data,
                headers={"Content-Type": cover.content_type.lower()},
            )
        except PlatformError as error:
            return f"failed: {error.code or error.kind}"
        return "set"

    # --- first comment ----------------------------------------------------------------

    async def comment(self, account: Credentials, post: Outgoing) -> Published:
        """A top-level comment under the video (`commentThreads.insert`, youtube.md §5)."""
        if post.reply_to is None:
            raise Permanent("A first comment needs the video it belongs to", code="invalid_request")
        video_id = post.reply_to.id
        body = await self._json(
            account,
            "commentThreads.insert",
            "POST",
            f"{API}/commentThreads",
            params={"part": "snippet"},
            json={
                "snippet": {
                    "videoId": video_id,
                    "topLevelComment": {"snippet": {"textOriginal": post.text}},
                }
            },
        )
        if not body.get("id"):
            raise Transient("YouTube created a comment without returning its id", maybe_sent=True)
        return self._comment_published(video_id, str(body["id"]))

    @staticmethod
    def _comment_published(video_id: str, comment_id: str) -> Published:
        return Published(id=comment_id, url=f"{WEB}/watch?v={video_id}&lc={comment_id}")

    # --- recovery ---------------------------------------------------------------------

    async def find_published(self, account: Credentials, post: Outgoing) -> Published | None:
        """The video (or comment) an interrupted step created, if any."""
        if post.reply_to is not None:
            return await self._find_comment(account, post)
        key = self._memo_key(account, post)
        state: dict[str, Any] = (
            dict(post.resume) if post.resume else (await self.memo.get(key) or {})
        )
        done = state.get("published")
        if isinstance(done, dict) and done.get("id"):
            return Published(id=str(done["id"]), url=done.get("url"), extra=done.get("extra") or {})
        if state.get("videoId"):
            video_id = str(state["videoId"])
            return Published(id=video_id, url=video_url(video_id, post.post_type))
        if not state.get("session"):
            return None  # no session was stored: no byte was sent, no video exists
        try:
            video = await self.probe(account, state)
        except Transient as exc:
            if exc.code == "upload_session_expired":
                return None  # an expired, incomplete session never becomes a video
            raise
        if video is None:
            return None  # incomplete: publishing again resumes it (from the memo)
        return Published(id=str(video["id"]), url=video_url(str(video["id"]), post.post_type))

    async def _find_comment(self, account: Credentials, post: Outgoing) -> Published | None:
        assert post.reply_to is not None
        video_id = post.reply_to.id
        body = await self._json(
            account,
            "commentThreads.list",
            "GET",
            f"{API}/commentThreads",
            params={"part": "snippet", "videoId": video_id, "maxResults": 50, "order": "time"},
        )
        for thread in body.get("items") or []:
            snippet = ((thread.get("snippet") or {}).get("topLevelComment") or {}).get("snippet")
            if not isinstance(snippet, dict) or not thread.get("id"):
                continue
            author = (snippet.get("authorChannelId") or {}).get("value")
            if author == account.external_id and snippet.get("textOriginal") == post.text:
                return self._comment_published(video_id, str(thread["id"]))
        return None


def _video_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not body.get("id"):
        # The upload completed (2xx) but the answer was unreadable: the probe of a later
        # attempt returns the video again.
        raise Transient("YouTube finished the upload without returning the video", maybe_sent=True)
    return body
