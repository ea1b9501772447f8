"""Every event type Polypost records, with a description and an example `data` object.

The catalog is what `GET /v1/webhooks/events` serves and what endpoint subscriptions are
validated against, so a receiver can code against the examples before any event fires.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

WILDCARD = "*"


class EventType(StrEnum):
    POST_SCHEDULED = "post.scheduled"
    POST_PUBLISHING = "post.publishing"
    POST_PUBLISHED = "post.published"
    POST_PARTIAL = "post.partial"
    POST_FAILED = "post.failed"
    POST_CANCELED = "post.canceled"
    TARGET_PUBLISHED = "target.published"
    TARGET_FAILED = "target.failed"
    ACCOUNT_CONNECTED = "account.connected"
    ACCOUNT_DISCONNECTED = "account.disconnected"
    ACCOUNT_TOKEN_EXPIRED = "account.token_expired"  # noqa: S105 (an event name)
    MEDIA_READY = "media.ready"
    MEDIA_INVALID = "media.invalid"
    COMMENT_RECEIVED = "comment.received"
    MESSAGE_RECEIVED = "message.received"
    REVIEW_RECEIVED = "review.received"
    MENTION_RECEIVED = "mention.received"
    WEBHOOK_DISABLED = "webhook.disabled"
    WEBHOOK_TEST = "webhook.test"


@dataclass(frozen=True)
class CatalogEntry:
    type: EventType
    description: str
    example: dict[str, Any]


_WS = "ws_0PXq3nVb8LmK2sT9yR4eWd"
_POST = "pst_0PXq4Hc2Jd8wQe5RtY7uIo"
_ACC_X = "acc_0PXq1aBcDeFgHiJkLmNoPq"
_ACC_BS = "acc_0PXq1cDeFgHiJkLmNoPqRs"
_AT = "2026-11-22T09:30:00Z"
_DONE = "2026-11-22T09:30:04Z"


def _post(status: str, targets: dict[str, int], published: bool = False) -> dict[str, Any]:
    """Post events: the post's state and how many targets are in each status."""
    return {
        "postId": _POST,
        "status": status,
        "scheduledAt": _AT,
        "publishedAt": _DONE if published else None,
        "targets": targets,
    }


def _target(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "targetId": "tgt_0PXq4J1kL2mN3oP4qR5sT6",
        "postId": _POST,
        "accountId": _ACC_X,
        "platform": "x",
        "status": status,
        "platformPostId": None,
        "permalink": None,
        "error": None,
        **extra,
    }


def _account(account_id: str, platform: str, handle: str, **extra: Any) -> dict[str, Any]:
    return {"accountId": account_id, "platform": platform, "handle": handle, **extra}


def _media(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "mediaId": "md_0PXq5Zz9Yy8Xx7Ww6Vv5Uu",
        "status": status,
        "kind": "image",
        "contentType": "image/jpeg",
        "filename": "launch.jpg",
        "size": 482113,
        **extra,
    }


_COMMENT_AUTHOR = {"handle": "jane", "name": "Jane Doe"}

CATALOG: dict[EventType, CatalogEntry] = {
    entry.type: entry
    for entry in (
        CatalogEntry(
            EventType.POST_SCHEDULED,
            "A post was scheduled (created, rescheduled or activated from a draft).",
            _post("scheduled", {"scheduled": 3}),
        ),
        CatalogEntry(
            EventType.POST_PUBLISHING,
            "Publishing of a post started on its first target.",
            _post("publishing", {"publishing": 1, "scheduled": 2}),
        ),
        CatalogEntry(
            EventType.POST_PUBLISHED,
            "Every target of a post was published.",
            _post("published", {"published": 3}, published=True),
        ),
        CatalogEntry(
            EventType.POST_PARTIAL,
            "A post finished with some targets published and some failed.",
            _post("partial", {"published": 2, "failed": 1}, published=True),
        ),
        CatalogEntry(
            EventType.POST_FAILED,
            "Every target of a post failed.",
            _post("failed", {"failed": 3}),
        ),
        CatalogEntry(
            EventType.POST_CANCELED,
            "A scheduled post was canceled before it was published.",
            _post("canceled", {"canceled": 3}),
        ),
        CatalogEntry(
            EventType.TARGET_PUBLISHED,
            "One target (the post on one account) was published. Ordered with the post's "
            "own events: they share the post id as resource.",
            _target(
                "published",
                platformPostId="1859912345678901234",
                permalink="https://x.com/acme/status/1859912345678901234",
            ),
        ),
        CatalogEntry(
            EventType.TARGET_FAILED,
            "One target failed for good; `error.code` says why.",
            _target(
                "failed",
                accountId=_ACC_BS,
                platform="bluesky",
                error={"code": "auth_expired", "message": "The app password was revoked."},
            ),
        ),
        CatalogEntry(
            EventType.ACCOUNT_CONNECTED,
            "A social account was connected (or reconnected).",
            _account(_ACC_X, "x", "acme"),
        ),
        CatalogEntry(
            EventType.ACCOUNT_DISCONNECTED,
            "A social account was disconnected; its scheduled targets fail.",
            _account(_ACC_X, "x", "acme"),
        ),
        CatalogEntry(
            EventType.ACCOUNT_TOKEN_EXPIRED,
            "A platform token expired or was revoked; reconnect the account.",
            _account(
                _ACC_BS,
                "bluesky",
                "acme.bsky.social",
                status="expired",
                tokenExpiresAt=_AT,
                reason="The refresh token was rejected.",
                failedTargets=2,
            ),
        ),
        CatalogEntry(
            EventType.MEDIA_READY,
            "An upload was verified and can be attached to posts.",
            _media("uploaded", width=1080, height=1350, durationMs=None),
        ),
        CatalogEntry(
            EventType.MEDIA_INVALID,
            "An upload failed verification (unreadable, wrong type or too large).",
            _media("invalid", kind=None, error="The file is not a supported image or video."),
        ),
        CatalogEntry(
            EventType.COMMENT_RECEIVED,
            "A comment arrived on a published post.",
            {
                "commentId": "cmt_0PXq6Gg7Hh8Ii9Jj0Kk1Ll",
                "postId": _POST,
                "accountId": _ACC_X,
                "platform": "x",
                "platformPostId": "1859912345678901234",
                "author": _COMMENT_AUTHOR,
                "text": "Congrats on the launch!",
                "createdAt": _DONE,
            },
        ),
        CatalogEntry(
            EventType.MESSAGE_RECEIVED,
            "A direct message arrived in a conversation.",
            {
                "messageId": "msg_0PXq7Mm2Nn3Oo4Pp5Qq6Rr",
                "conversationId": "cnv_0PXq7Ss7Tt8Uu9Vv0Ww1Xx",
                "accountId": _ACC_X,
                "platform": "x",
                "from": _COMMENT_AUTHOR,
                "text": "Hi, is the beta open?",
                "createdAt": _DONE,
            },
        ),
        CatalogEntry(
            EventType.REVIEW_RECEIVED,
            "A review or recommendation was left on a page.",
            {
                "reviewId": "rev_0PXq8Yy2Zz3Aa4Bb5Cc6Dd",
                "accountId": "acc_0PXq1dEfGhIjKlMnOpQrSt",
                "platform": "facebook",
                "rating": 5,
                "recommends": True,
                "author": {"name": "Jane Doe"},
                "text": "Great support team.",
                "createdAt": _DONE,
            },
        ),
        CatalogEntry(
            EventType.MENTION_RECEIVED,
            "A connected account was mentioned in someone else's post.",
            {
                "accountId": _ACC_BS,
                "platform": "bluesky",
                "platformPostId": "at://did:plc:abc123/app.bsky.feed.post/3lb2xyz",
                "permalink": "https://bsky.app/profile/jane.bsky.social/post/3lb2xyz",
                "author": {"handle": "jane.bsky.social", "name": "Jane Doe"},
                "text": "Loving what @acme.bsky.social ships.",
                "createdAt": _DONE,
            },
        ),
        CatalogEntry(
            EventType.WEBHOOK_DISABLED,
            "A webhook endpoint was disabled after it answered 410 or kept failing; "
            "sent to the workspace's other endpoints.",
            {
                "webhookId": "wh_0PXq9Ee7Ff8Gg9Hh0Ii1Jj",
                "url": "https://hooks.example.com/polypost",
                "reason": "The endpoint answered 410 Gone.",
                "disabledAt": _DONE,
            },
        ),
        CatalogEntry(
            EventType.WEBHOOK_TEST,
            "Sent by `POST /v1/webhooks/{id}/test` to that endpoint only.",
            {
                "webhookId": "wh_0PXq9Ee7Ff8Gg9Hh0Ii1Jj",
                "message": "This is a test event from Polypost.",
            },
        ),
    )
}

# Types an endpoint may subscribe to: test events go only to the endpoint being tested.
SUBSCRIBABLE: frozenset[str] = frozenset(t.value for t in EventType) - {EventType.WEBHOOK_TEST}


def example_payload(entry: CatalogEntry) -> dict[str, Any]:
    """The body a receiver gets for this event type (see `webhooks.signing.payload`)."""
    return {
        "id": "evt_0PXqAaBbCcDdEeFfGgHhIi",
        "type": entry.type.value,
        "timestamp": _AT,
        "workspaceId": _WS,
        "data": entry.example,
    }
