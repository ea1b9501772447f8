"""The target state machine and the post status derived from it."""

from __future__ import annotations

from collections.abc import Iterable

from polypost.models import PostStatus, TargetStatus

TERMINAL = frozenset({TargetStatus.PUBLISHED, TargetStatus.FAILED, TargetStatus.CANCELED})

# Every transition a target may make; anything else is a bug (the stateful test checks).
TRANSITIONS: dict[str, frozenset[str]] = {
    TargetStatus.DRAFT: frozenset({TargetStatus.SCHEDULED, TargetStatus.CANCELED}),
    TargetStatus.SCHEDULED: frozenset(
        {TargetStatus.PUBLISHING, TargetStatus.CANCELED, TargetStatus.DRAFT, TargetStatus.FAILED}
    ),
    TargetStatus.PUBLISHING: frozenset(
        {TargetStatus.PUBLISHED, TargetStatus.FAILED, TargetStatus.SCHEDULED}
    ),
    # Retry of a failed target; removal of a published one.
    TargetStatus.FAILED: frozenset({TargetStatus.SCHEDULED, TargetStatus.CANCELED}),
    TargetStatus.PUBLISHED: frozenset({TargetStatus.CANCELED}),
    TargetStatus.CANCELED: frozenset(),
}


def can_move(current: str, new: str) -> bool:
    return new in TRANSITIONS.get(current, frozenset())


def derive_post_status(statuses: Iterable[str]) -> str:
    """One post status from its targets' statuses.

    Canceled targets are ignored unless every target is canceled. Work still pending wins
    (publishing before scheduled before draft); once everything is terminal the post is
    published, failed, or partial when it is a mix.
    """
    live = [s for s in statuses if s != TargetStatus.CANCELED]
    if not live:
        return PostStatus.CANCELED
    present = set(live)
    if TargetStatus.PUBLISHING in present:
        return PostStatus.PUBLISHING
    if TargetStatus.SCHEDULED in present:
        return PostStatus.SCHEDULED
    if TargetStatus.DRAFT in present:
        return PostStatus.DRAFT
    if present == {TargetStatus.PUBLISHED}:
        return PostStatus.PUBLISHED
    if present == {TargetStatus.FAILED}:
        return PostStatus.FAILED
    return PostStatus.PARTIAL


TERMINAL_POST_EVENTS: dict[PostStatus, str] = {
    PostStatus.PUBLISHED: "post.published",
    PostStatus.PARTIAL: "post.partial",
    PostStatus.FAILED: "post.failed",
    PostStatus.CANCELED: "post.canceled",
}
