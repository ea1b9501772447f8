"""Pinterest through API v5: image pins with a destination link, carousels (2-5 images
of one aspect ratio) and video pins (publishing.py), boards, delete, metrics and the
account's pins.

Every pin lives on a board: `platformOptions.pinterest.boardId`, else the board chosen
for the account (`PATCH /v1/accounts/{id}/pages/{boardId}`, stored as `pageId`).

The API host is `https://api.pinterest.com/v5`; Trial-access apps may only create pins
in the sandbox, chosen with `apiBaseUrl` of the server's Pinterest app
(`POLYPOST_OAUTH_APPS`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy.ext.asyncio import AsyncSession

from polypost.accounts.schemas import NativePost
from polypost.core.http import PlatformHttp
from polypost.core.pagination import Page, PageParams
from polypost.core.runtime import Runtime
from polypost.core.timeutil import utcnow
from polypost.models import SocialAccount
from polypost.platforms.base import (
    Capabilities,
    Credentials,
    MediaKind,
    Outgoing,
    Permanent,
    Platform,
    PostMetrics,
    PostType,
    Published,
    TokenSet,
    Transient,
)
from polypost.platforms.capabilities import capabilities_for
from polypost.platforms.connect import Identity, OAuthSpec
from polypost.platforms.credentials import load_credentials
from polypost.platforms.memo import StepMemo
from polypost.platforms.native import tracked_posts
from polypost.platforms.options import PinterestOptions
from polypost.platforms.pinterest import oauth
from polypost.platforms.pinterest.publishing import POLL_DELAYS, PinterestPublishing, parse_time
from polypost.platforms.resources import PageOption, PageSelection
from polypost.posts.types import ProblemCode
from polypost.posts.validation import Problem, TargetDraft

BOARD_PAGE_SIZE = 250
MAX_BOARD_REQUESTS = 4
# pinterest.md §5: analytics reach 90 days back.
ANALYTICS_DAYS = 89
METRIC_TYPES = "IMPRESSION,OUTBOUND_CLICK,PIN_CLICK,SAVE,TOTAL_COMMENTS,TOTAL_REACTIONS"
# Carousel images "should have identical width/height" (pinterest.md §7; seed 001
# "Carousel images share an aspect ratio"): ratios may differ by rounding only.
ASPECT_TOLERANCE = 0.01


class PinterestAdapter(PinterestPublishing):
    platform: ClassVar[Platform] = Platform.PINTEREST
    capabilities: ClassVar[Capabilities] = capabilities_for("pinterest")
    recovery: ClassVar[str] = "lookup"
    dedup_window: ClassVar[timedelta | None] = None
    oauth: ClassVar[OAuthSpec] = oauth.OAUTH

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.http = PlatformHttp(runtime.http)
        self.memo = StepMemo(runtime, "pinterest")
        self.now: Callable[[], datetime] = utcnow
        self.poll_delays: tuple[timedelta, ...] = POLL_DELAYS

    # --- accounts ---------------------------------------------------------------------

    async def whoami(self, account: Credentials) -> Identity:
        body = await self._get(account, "/user_account")
        ident = body.get("id") or body.get("username")
        if not ident:
            raise Transient("Pinterest answered /user_account without an account")
        return Identity(
            external_id=str(ident),
            handle=body.get("username"),
            display_name=body.get("business_name") or body.get("username"),
            avatar_url=body.get("profile_image"),
        )

    async def refresh(self, account: Credentials) -> TokenSet:
        """A new token pair (Pinterest rotates the refresh token too)."""
        return await oauth.refresh(self.http, account)

    async def list_pages(self, account: Credentials) -> list[PageOption]:
        """The boards the token can see (`GET /v5/boards`, following `bookmark`)."""
        boards: list[PageOption] = []
        params: dict[str, Any] = {"page_size": BOARD_PAGE_SIZE}
        for _ in range(MAX_BOARD_REQUESTS):
            body = await self._get(account, "/boards", params)
            boards += [self._board_option(b) for b in body.get("items") or [] if b.get("id")]
            bookmark = body.get("bookmark")
            if not bookmark:
                break
            params = {"page_size": BOARD_PAGE_SIZE, "bookmark": bookmark}
        return boards

    @staticmethod
    def _board_option(board: dict[str, Any]) -> PageOption:
        owner = board.get("owner") if isinstance(board.get("owner"), dict) else {}
        extra: dict[str, Any] = {
            k: board[k] for k in ("privacy", "pin_count", "description") if k in board
        }
        return PageOption(
            id=str(board["id"]),
            name=str(board.get("name") or board["id"]),
            username=(owner or {}).get("username"),
            extra=extra,
        )

    async def select_page(self, account: Credentials, page_id: str) -> PageSelection:
        """Choose the board posts go to.

        Raises:
            Permanent: `page_not_found` when the token cannot see that board.
        """
        if not page_id.isdigit():
            raise Permanent(f"No Pinterest board {page_id}", code="page_not_found")
        try:
            board = await self._get(account, f"/boards/{page_id}")
        except Permanent as exc:
            if exc.code in ("not_found", "403"):
                raise Permanent(f"No Pinterest board {page_id}", code="page_not_found") from exc
            raise
        page = self._board_option({**board, "id": board.get("id") or page_id})
        return PageSelection(page=page, settings={"pageId": page.id, "pageName": page.name})

    async def validate_account(self, account: SocialAccount, draft: TargetDraft) -> list[Problem]:
        """A board to pin to, and carousel images of one aspect ratio."""
        options = (
            draft.options if isinstance(draft.options, PinterestOptions) else PinterestOptions()
        )
        found: list[Problem] = []

        def problem(code: ProblemCode, rule: str, message: str, actual: int | None = None) -> None:
            found.append(
                Problem(
                    code=code,
                    account_id=account.id,
                    platform=account.platform,
                    rule=rule,
                    limit=None,
                    actual=actual,
                    message=f"pinterest: {message}",
                )
            )

        if self.board_of(options, account.settings) is None:
            problem(
                "content_invalid",
                "board_required",
                "choose a board: platformOptions.pinterest.boardId, or PATCH "
                "/v1/accounts/{id}/pages/{boardId} (boards: GET /v1/accounts/{id}/pages).",
            )
        images = [m for m in draft.media if m.kind is MediaKind.IMAGE and m.width and m.height]
        if draft.post_type is PostType.CAROUSEL and len(images) > 1:
            ratios = [m.width / m.height for m in images if m.width and m.height]
            if max(ratios) - min(ratios) > ASPECT_TOLERANCE * min(ratios):
                sizes = ", ".join(f"{m.width}x{m.height}" for m in images)
                problem(
                    "media_invalid",
                    "carousel_aspect_ratio_mismatch",
                    f"carousel images must share one aspect ratio; got {sizes}.",
                    len(images),
                )
        return found

    # --- other operations -------------------------------------------------------------

    async def delete(self, account: Credentials, platform_post_id: str) -> None:
        """`DELETE /v5/pins/{id}` (204); a pin already gone counts as deleted."""
        await self.http.request(
            self,
            "DELETE",
            f"{self.api}/pins/{platform_post_id}",
            headers=self._auth(account),
            ok_statuses=frozenset({404}),
        )

    async def edit(self, account: Credentials, platform_post_id: str, post: Outgoing) -> Published:
        # pinterest.md §5: PATCH /v5/pins is "beta / not available to all apps".
        raise Permanent("Pinterest pins cannot be edited through Polypost", code="unsupported")

    async def metrics(self, account: Credentials, platform_post_id: str) -> PostMetrics:
        """`GET /v5/pins/{id}/analytics` over the last 90 days (pinterest.md §5):
        lifetime totals where Pinterest has them, else the period's summary."""
        today: date = self.now().date()
        body = await self._get(
            account,
            f"/pins/{platform_post_id}/analytics",
            {
                "start_date": (today - timedelta(days=ANALYTICS_DAYS)).isoformat(),
                "end_date": today.isoformat(),
                "metric_types": METRIC_TYPES,
                "app_types": "ALL",
            },
        )
        everything = body.get("all") if isinstance(body.get("all"), dict) else {}
        totals = (everything or {}).get("lifetime_metrics") or (everything or {}).get(
            "summary_metrics"
        )
        if not isinstance(totals, dict):
            totals = {}

        def count(*names: str) -> int | None:
            values = [totals[n] for n in names if isinstance(totals.get(n), int | float)]
            return int(sum(values)) if values else None

        return PostMetrics(
            collected_at=self.now(),
            likes=count("TOTAL_REACTIONS"),
            comments=count("TOTAL_COMMENTS"),
            shares=count("SAVE"),
            impressions=count("IMPRESSION"),
            clicks=count("PIN_CLICK", "OUTBOUND_CLICK"),
        )

    async def list_posts(
        self, runtime: Runtime, session: AsyncSession, account: SocialAccount, params: PageParams
    ) -> Page[NativePost]:
        """The account's pins, newest first (`GET /v5/pins`); Pinterest's bookmark is
        the cursor."""
        credentials = load_credentials(runtime, account)
        query: dict[str, Any] = {"page_size": params.limit}
        if params.cursor:
            query["bookmark"] = params.cursor
        body = await self._get(credentials, "/pins", query)
        pins = [p for p in body.get("items") or [] if isinstance(p, dict) and p.get("id")]
        tracked = await tracked_posts(session, account.id, [str(p["id"]) for p in pins])
        posts = [
            NativePost(
                platform_post_id=str(pin["id"]),
                caption=pin.get("description") or pin.get("title"),
                timestamp=parse_time(pin.get("created_at")) or self.now(),
                in_db=str(pin["id"]) in tracked,
                db_post_id=tracked.get(str(pin["id"])),
            )
            for pin in pins
        ]
        bookmark = body.get("bookmark")
        return Page(items=posts, next_cursor=str(bookmark) if bookmark else None)
