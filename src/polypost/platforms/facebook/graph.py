"""Calls made as one Facebook Page (with its Page token), and reading video status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from polypost.core.http import Classifier, PlatformHttp
from polypost.platforms.base import PlatformError, Transient
from polypost.platforms.meta.graph import absolute_url, bearer

LABEL = "Facebook"
VideoState = Literal["ready", "processing", "error"]


@dataclass(frozen=True)
class PageApi:
    http: PlatformHttp
    classifier: Classifier
    api: str  # https://graph.facebook.com/vXX.0
    video_api: str  # https://graph-video.facebook.com/vXX.0
    page_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token, LABEL)

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return await self.http.json(
            self.classifier, "GET", f"{self.api}/{path}", params=params, headers=self.headers
        )

    async def permalink(self, object_id: str) -> str | None:
        """Best effort: the post is out, so failing to read its link must not fail it."""
        try:
            body = await self.get(object_id, {"fields": "permalink_url"})
        except PlatformError:
            return None
        return absolute_url(body.get("permalink_url") if isinstance(body, dict) else None)

    async def post(
        self,
        path: str,
        *,
        data: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
        base: str | None = None,
    ) -> dict[str, Any]:
        """A POST that may publish: a lost answer stays `maybe_sent`."""
        body = await self.http.json(
            self.classifier,
            "POST",
            f"{base or self.api}/{path}",
            data=data,
            json=json,
            headers=self.headers,
        )
        return body if isinstance(body, dict) else {}

    async def prepare(self, path: str, data: dict[str, str]) -> dict[str, Any]:
        """A POST that publishes nothing (an unpublished photo, an upload session): a
        lost answer is a plain transient failure, never an unknown outcome."""
        try:
            return await self.post(path, data=data)
        except Transient as exc:
            if not exc.maybe_sent:
                raise
            raise Transient(exc.message, code=exc.code) from exc

    async def upload_from_url(self, upload_url: str, file_url: str) -> None:
        """rupload: Meta pulls the file from `file_url` (facebook.md §2 Reel step 2);
        this endpoint wants `Authorization: OAuth <token>`."""
        try:
            body = await self.http.json(
                self.classifier,
                "POST",
                upload_url,
                headers={"Authorization": f"OAuth {self.token}", "file_url": file_url},
            )
        except Transient as exc:
            if not exc.maybe_sent:
                raise
            raise Transient(exc.message, code=exc.code) from exc
        if not isinstance(body, dict) or body.get("success") is not True:
            raise Transient("Facebook did not confirm the video upload")


def video_state(body: Any) -> tuple[VideoState, str | None]:
    """A video's `status` object (facebook.md §2): error when `video_status` or any phase
    says error, ready once processed and (when publishing applies) published."""
    status = body.get("status") if isinstance(body, dict) else None
    if not isinstance(status, dict):
        return "processing", None
    video_status = status.get("video_status")
    phases: dict[str, dict[str, Any]] = {}
    for name in ("uploading_phase", "processing_phase", "publishing_phase"):
        phase = status.get(name)
        phases[name] = phase if isinstance(phase, dict) else {}
    if video_status in ("error", "expired") or any(
        phase.get("status") == "error" for phase in phases.values()
    ):
        details = [
            str(e.get("message") or e)
            for phase in phases.values()
            for e in phase.get("errors") or []
            if e
        ]
        return "error", "; ".join(details) or str(video_status)
    publishing = phases["publishing_phase"]
    if video_status == "ready" and publishing.get("status") in (None, "complete"):
        return "ready", None
    if publishing.get("status") == "complete" and publishing.get("publish_status") == "published":
        return "ready", None
    return "processing", None


def published_or_publishing(body: Any) -> bool:
    """Whether a reel's finish call took effect (it is publishing or published)."""
    status = body.get("status") if isinstance(body, dict) else None
    publishing = status.get("publishing_phase") if isinstance(status, dict) else None
    if not isinstance(publishing, dict):
        return False
    return publishing.get("status") in ("in_progress", "complete") or publishing.get(
        "publish_status"
    ) in ("published", "scheduled")
