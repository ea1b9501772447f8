"""Per-account things an adapter may expose besides publishing.

- Destinations (`GET/PATCH /v1/accounts/{id}/pages`): the Facebook Page, Pinterest
  board, LinkedIn organization or YouTube channel that posts go to. An adapter offering
  them implements `list_pages(credentials) -> list[PageOption]` and
  `select_page(credentials, page_id) -> PageSelection`.
- The platform's own publishing quota (`GET /v1/accounts/{id}/limits`):
  `publishing_quota(credentials) -> PublishingQuota` (Instagram's 24-hour cap).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class PageOption:
    """One destination the account may post to."""

    id: str
    name: str
    username: str | None = None
    picture_url: str | None = None
    # The account's permissions on it, in the platform's words (Facebook Page tasks).
    tasks: tuple[str, ...] = ()
    can_publish: bool = True
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PageSelection:
    """What choosing a destination stores on the account.

    `settings` are public (shown under the account's `settings`); `secret` is a
    destination token (a Facebook Page token), stored encrypted under `SECRET_SETTING`.
    """

    page: PageOption
    settings: Mapping[str, Any]
    secret: str | None = None


# The account setting that holds the selected destination's token (Fernet ciphertext).
SECRET_SETTING = "pageTokenEnc"  # noqa: S105 (a settings key, not a secret)
# Settings a selection writes; cleared together when the selection is removed.
SELECTION_SETTINGS = ("pageId", "pageName", "pageUsername", "pagePictureUrl", SECRET_SETTING)


@dataclass(frozen=True)
class PublishingQuota:
    """How many posts the platform still accepts in its rolling window."""

    used: int
    total: int
    window_seconds: int
    # When the oldest counted post leaves the window, if the platform tells.
    resets_at: datetime | None = None

    @property
    def remaining(self) -> int:
        return max(0, self.total - self.used)
