"""Choosing the Facebook Page an account posts to (facebook.md §1).

The account holds the user's long-lived token; `GET /me/accounts` lists the Pages the
user ticked in the login dialog with the tasks they may perform. Selecting one reads
that Page with the user token for its Page token, which is what every publish uses
(Page tokens fetched with a long-lived user token do not expire).
"""

from __future__ import annotations

from typing import Any

from polypost.core.http import Classifier, PlatformHttp
from polypost.platforms.base import Permanent
from polypost.platforms.meta.graph import bearer, data
from polypost.platforms.resources import PageOption, PageSelection

LABEL = "Facebook"
PAGE_FIELDS = "id,name,username,tasks,picture.type(large),instagram_business_account{id,username}"
# A user with more Pages than this is rare; each page of results is 100.
MAX_PAGE_REQUESTS = 5
# facebook.md §1: publishing needs the CREATE_CONTENT task on the Page.
PUBLISH_TASKS = frozenset({"CREATE_CONTENT", "MANAGE"})


def _picture(item: dict[str, Any]) -> str | None:
    picture = item.get("picture")
    inner = picture.get("data") if isinstance(picture, dict) else None
    url = inner.get("url") if isinstance(inner, dict) else None
    return str(url) if url else None


def page_option(item: dict[str, Any]) -> PageOption:
    tasks = tuple(str(t) for t in item.get("tasks") or [])
    linked = item.get("instagram_business_account")
    extra: dict[str, Any] = {}
    if isinstance(linked, dict) and linked.get("id"):
        extra["instagramAccountId"] = str(linked["id"])
        if linked.get("username"):
            extra["instagramUsername"] = str(linked["username"])
    return PageOption(
        id=str(item["id"]),
        name=str(item.get("name") or item["id"]),
        username=item.get("username"),
        picture_url=_picture(item),
        tasks=tasks,
        # Pages listed without tasks (older API answers) are assumed publishable.
        can_publish=not tasks or bool(PUBLISH_TASKS & set(tasks)),
        extra=extra,
    )


async def list_pages(
    http: PlatformHttp, classifier: Classifier, api: str, user_token: str | None
) -> list[PageOption]:
    """Every Page the user granted, following `paging.next` (bounded)."""
    headers = bearer(user_token, LABEL)
    url: str | None = f"{api}/me/accounts"
    params: dict[str, Any] | None = {"fields": PAGE_FIELDS, "limit": 100}
    pages: list[PageOption] = []
    for _ in range(MAX_PAGE_REQUESTS):
        if url is None:
            break
        body = await http.json(classifier, "GET", url, params=params, headers=headers)
        pages += [page_option(item) for item in data(body) if item.get("id")]
        paging = body.get("paging") if isinstance(body, dict) else None
        following = paging.get("next") if isinstance(paging, dict) else None
        # `next` is an absolute URL carrying every parameter (and the cursor).
        url, params = (str(following), None) if following else (None, None)
    return pages


async def select_page(
    http: PlatformHttp, classifier: Classifier, api: str, user_token: str | None, page_id: str
) -> PageSelection:
    """The Page with its Page token.

    Raises:
        Permanent: `page_not_found` (no such Page, or the user has no role on it),
            `page_forbidden` (the user may not create content on it).
    """
    try:
        body = await http.json(
            classifier,
            "GET",
            f"{api}/{page_id}",
            params={"fields": f"{PAGE_FIELDS},access_token"},
            headers=bearer(user_token, LABEL),
        )
    except Permanent as exc:
        if (exc.code or "").split("/")[0] in ("100", "803"):
            raise Permanent(
                f"No Facebook Page {page_id} for this user", code="page_not_found"
            ) from exc
        raise
    if not isinstance(body, dict) or not body.get("id"):
        raise Permanent(f"No Facebook Page {page_id} for this user", code="page_not_found")
    token = body.get("access_token")
    if not token:
        # Graph hides the Page token from users without a role on the Page.
        raise Permanent(
            f"The connected user has no role on Facebook Page {page_id}", code="page_not_found"
        )
    page = page_option(body)
    if not page.can_publish:
        raise Permanent(
            f"The connected user may not create content on Facebook Page {page.name} "
            "(needs the CREATE_CONTENT task)",
            code="page_forbidden",
        )
    settings = {
        "pageId": page.id,
        "pageName": page.name,
        "pageUsername": page.username,
        "pagePictureUrl": page.picture_url,
    }
    return PageSelection(page=page, settings=settings, secret=str(token))
