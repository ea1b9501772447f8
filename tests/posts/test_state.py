from __future__ import annotations

import pytest

from polypost.posts.state import can_move, derive_post_status


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["published", "published"], "published"),
        (["failed", "failed"], "failed"),
        (["published", "failed"], "partial"),
        (["published", "publishing"], "publishing"),
        (["scheduled", "published"], "scheduled"),
        (["draft", "draft"], "draft"),
        (["canceled", "canceled"], "canceled"),
        (["canceled", "published"], "published"),
        ([], "canceled"),
    ],
)
def test_derived_status(statuses: list[str], expected: str) -> None:
    assert derive_post_status(statuses) == expected


def test_terminal_targets_only_leave_for_retry_or_removal() -> None:
    assert can_move("failed", "scheduled")
    assert not can_move("published", "scheduled")
    assert not can_move("canceled", "scheduled")
    assert not can_move("draft", "publishing")
