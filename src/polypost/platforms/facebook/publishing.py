"""Publishing one step to a Facebook Page, per post type (facebook.md §2).

Objects made before the post exists (unpublished photos, an upload session, its upload,
a reel's finish) are recorded in `state` and the step memo as they are made, so an
attempt resumes where the last one stopped. Video processing ends the call with
`Pending` instead of waiting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from polypost.core.timeutil import isoformat
from polypost.platforms.base import (
    MediaInfo,
    MediaKind,
    Outgoing,
    Pending,
    Permanent,
    PostType,
    Published,
    Transient,
)
from polypost.platforms.facebook.graph import LABEL, PageApi, video_state
from polypost.platforms.memo import StepMemo
from polypost.platforms.meta import errors
from polypost.platforms.meta.graph import FACEBOOK_WEB, media_url, parse_time
from polypost.platforms.options import FacebookOptions

Kind = Literal["feed", "photo", "photos", "video", "reel", "story"]
STATE_TTL = timedelta(hours=23)


def kind_of(post: Outgoing) -> Kind:
    """Which Graph flow publishes this post."""
    options = post.options if isinstance(post.options, FacebookOptions) else None
    videos = [m for m in post.media if m.kind is MediaKind.VIDEO]
    if post.post_type is PostType.STORY:
        return "story"
    if post.post_type is PostType.REEL or (videos and options and options.as_reel):
        return "reel"
    if videos:
        return "video"
    if len(post.media) > 1:
        return "photos"
    if post.media:
        return "photo"
    return "feed"


def reel_url(video_id: str) -> str:
    return f"{FACEBOOK_WEB}/reel/{video_id}"


@dataclass
class PageStep:
    """One publishing step of one post to one Page, with its remembered progress."""

    runtime: Any
    memo: StepMemo
    page: PageApi
    post: Outgoing
    key: str
    state: dict[str, Any]
    now: Callable[[], datetime]
    poll_delays: tuple[timedelta, ...]
    video_deadline: timedelta
    version: str

    async def run(self) -> Published:
        kind = kind_of(self.post)
        if kind == "reel":
            return await self.reel()
        if kind == "video":
            return await self.video()
        if kind == "story":
            return await self.story()
        if kind == "photos":
            return await self.photos()
        if kind == "photo":
            return await self.photo()
        return await self.feed({})

    # --- bookkeeping ------------------------------------------------------------------

    async def save(self) -> None:
        await self.memo.put(self.key, self.state, STATE_TTL)

    async def url(self, media: MediaInfo) -> str:
        return await media_url(self.runtime, media)

    def _options(self) -> FacebookOptions | None:
        options = self.post.options
        return options if isinstance(options, FacebookOptions) else None

    def _fresh(self) -> dict[str, Any]:
        now = self.now()
        return {
            "deadline": isoformat(now + self.video_deadline),
            "createdAt": isoformat(now),
            "polls": 0,
        }

    async def pending(self) -> None:
        """Hand the worker back until the next status poll, or give up past the deadline.

        Raises:
            Pending: always, unless the deadline passed.
            Permanent: `processing_timeout`.
        """
        deadline = parse_time(self.state.get("deadline"))
        if deadline is not None and self.now() >= deadline:
            await self.memo.drop(self.key)
            raise Permanent(
                "Facebook was still processing the video at the publishing deadline; check "
                "the Page before retrying",
                code="processing_timeout",
            )
        polls = int(self.state.get("polls") or 0)
        self.state["polls"] = polls + 1
        await self.save()
        delay = self.poll_delays[min(polls, len(self.poll_delays) - 1)]
        raise Pending("processing", self.state, delay)

    # --- feed posts -------------------------------------------------------------------

    async def feed(self, extra: dict[str, Any]) -> Published:
        """Text, link/article (Facebook scrapes the card) or attached photos."""
        post, page = self.post, self.page
        body: dict[str, Any] = dict(extra)
        if post.text:
            body["message"] = post.text
        link = post.link or (post.article.url if post.article else None)
        if link and "attached_media" not in body:
            body["link"] = link  # facebook.md §7: a link card and attached_media exclude
        if not body:
            raise Permanent("A Facebook post needs text, a link or media", code="content_invalid")
        answer = await page.post(f"{page.page_id}/feed", json=body)
        if not answer.get("id"):
            raise Transient("Facebook published without returning the post id", maybe_sent=True)
        post_id = str(answer["id"])
        return Published(id=post_id, url=await page.permalink(post_id))

    def _photo_params(self, media: MediaInfo, url: str, *, published: bool) -> dict[str, str]:
        params = {"url": url}
        alt_text = self.post.alt_texts.get(media.id)
        if alt_text:
            params["alt_text_custom"] = alt_text
        params["published"] = "true" if published else "false"
        return params

    async def photo(self) -> Published:
        media = self.post.media[0]
        params = self._photo_params(media, await self.url(media), published=True)
        if self.post.text:
            params["message"] = self.post.text
        answer = await self.page.post(f"{self.page.page_id}/photos", data=params)
        post_id = answer.get("post_id") or answer.get("id")
        if not post_id:
            raise Transient("Facebook published the photo without an id", maybe_sent=True)
        return Published(id=str(post_id), url=await self.page.permalink(str(post_id)))

    async def unpublished_photo(self, media: MediaInfo) -> str:
        params = self._photo_params(media, await self.url(media), published=False)
        answer = await self.page.prepare(f"{self.page.page_id}/photos", params)
        if not answer.get("id"):
            raise Transient("Facebook stored the photo without returning its id")
        return str(answer["id"])

    async def photos(self) -> Published:
        """Unpublished photos (remembered one by one), then one post attaching them."""
        photos = [str(p) for p in self.state.get("photos") or []]
        for media in self.post.media[len(photos) :]:
            photos.append(await self.unpublished_photo(media))
            self.state["photos"] = photos
            self.state.setdefault("createdAt", isoformat(self.now()))
            await self.save()
        return await self.feed({"attached_media": [{"media_fbid": p} for p in photos]})

    # --- videos -----------------------------------------------------------------------

    async def video(self) -> Published:
        """A feed video Meta pulls by URL, then polled until processed."""
        page = self.page
        video_id = self.state.get("video")
        if not video_id:
            media = next(m for m in self.post.media if m.kind is MediaKind.VIDEO)
            params = {"file_url": await self.url(media), "published": "true"}
            if self.post.text:
                params["description"] = self.post.text
            options = self._options()
            if options and options.title:
                params["title"] = options.title
            answer = await page.post(f"{page.page_id}/videos", data=params, base=page.video_api)
            if not answer.get("id"):
                raise Transient("Facebook accepted the video without an id", maybe_sent=True)
            self.state.update(self._fresh(), video=str(answer["id"]))
            await self.save()
            video_id = self.state["video"]
        await self.await_video(str(video_id))
        return Published(id=str(video_id), url=await page.permalink(str(video_id)))

    async def await_video(self, video_id: str) -> None:
        body = await self.page.get(video_id, {"fields": "status"})
        status, detail = video_state(body)
        if status == "error":
            await self.memo.drop(self.key)
            raise errors.status_error(LABEL, f"video {video_id}", detail)
        if status != "ready":
            await self.pending()

    async def start_upload(self, edge: str, media: MediaInfo) -> str:
        """Open an upload session on `edge` and have Meta pull the file."""
        page = self.page
        if not self.state.get("video"):
            answer = await page.prepare(f"{page.page_id}/{edge}", {"upload_phase": "start"})
            if not answer.get("video_id"):
                raise Transient("Facebook started an upload without a video id")
            video_id = str(answer["video_id"])
            upload_url = answer.get("upload_url") or (
                f"https://rupload.facebook.com/video-upload/{self.version}/{video_id}"
            )
            self.state.update(self._fresh(), video=video_id, uploadUrl=str(upload_url))
            await self.save()
        if not self.state.get("uploaded"):
            await page.upload_from_url(str(self.state["uploadUrl"]), await self.url(media))
            self.state["uploaded"] = True
            await self.save()
        return str(self.state["video"])

    async def reel(self) -> Published:
        """start → rupload by URL → finish (publishes) → poll (facebook.md §2 Reel)."""
        media = next(m for m in self.post.media if m.kind is MediaKind.VIDEO)
        video_id = await self.start_upload("video_reels", media)
        if not self.state.get("finished"):
            params = {"upload_phase": "finish", "video_id": video_id, "video_state": "PUBLISHED"}
            if self.post.text:
                params["description"] = self.post.text
            options = self._options()
            if options and options.title:
                params["title"] = options.title
            answer = await self.page.post(f"{self.page.page_id}/video_reels", data=params)
            if answer.get("success") is not True:
                raise Transient("Facebook did not confirm publishing the reel", maybe_sent=True)
            self.state["finished"] = True
            await self.save()
        await self.await_video(video_id)
        return Published(id=video_id, url=reel_url(video_id))

    async def story(self) -> Published:
        """A photo story (an unpublished photo, then `photo_stories`) or a video story
        (`video_stories` start → rupload by URL → finish)."""
        page, media = self.page, self.post.media[0]
        if media.kind is MediaKind.VIDEO:
            video_id = await self.start_upload("video_stories", media)
            answer = await page.post(
                f"{page.page_id}/video_stories",
                data={"upload_phase": "finish", "video_id": video_id},
            )
            story_id = answer.get("post_id") or video_id
        else:
            photo_id = self.state.get("photo")
            if not photo_id:
                photo_id = await self.unpublished_photo(media)
                self.state.update(photo=photo_id, createdAt=isoformat(self.now()))
                await self.save()
            answer = await page.post(
                f"{page.page_id}/photo_stories", data={"photo_id": str(photo_id)}
            )
            story_id = answer.get("post_id") or photo_id
        if answer.get("success") is not True:
            raise Transient("Facebook did not confirm publishing the story", maybe_sent=True)
        return Published(id=str(story_id))
