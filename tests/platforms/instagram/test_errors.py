"""Graph error classification shared by Instagram and Facebook (platforms/meta/errors.py):
every error class from the documented bodies, and the usage headers."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from polypost.core.timeutil import utcnow
from polypost.platforms.base import AuthExpired, Permanent, PlatformError, RateLimited, Transient
from polypost.platforms.meta.errors import classify, status_error, usage_peak
from tests.platforms.instagram.graph import app_usage, buc_usage, graph_error

CASES: list[tuple[str, httpx.Response, type[PlatformError], str]] = [
    (
        "expired token",
        graph_error(400, 190, 463, message="Error validating access token: Session has expired"),
        AuthExpired,
        "190/463",
    ),
    ("password changed", graph_error(400, 190, 460), AuthExpired, "190/460"),
    ("app removed", graph_error(400, 190, 458), AuthExpired, "190/458"),
    ("session", graph_error(400, 102), AuthExpired, "102"),
    (
        "no role on the Page",
        graph_error(
            400,
            190,
            message="(#190) The user must be an administrator ... permission(s) must be granted "
            "before impersonating a user's page.",
        ),
        Permanent,
        "190",
    ),
    (
        "app rate limit",
        graph_error(400, 4, message="Application request limit reached"),
        RateLimited,
        "4",
    ),
    ("user rate limit", graph_error(400, 17), RateLimited, "17"),
    ("page rate limit", graph_error(400, 32), RateLimited, "32"),
    ("custom rate limit", graph_error(400, 613), RateLimited, "613"),
    ("instagram BUC", graph_error(400, 80002), RateLimited, "80002"),
    ("page BUC", graph_error(400, 80001), RateLimited, "80001"),
    ("publishing quota", graph_error(400, 9, 2207042), RateLimited, "9/2207042"),
    ("posting too fast", graph_error(400, 368, 1390008), RateLimited, "368/1390008"),
    ("action block", graph_error(400, 4, 2207051), Permanent, "4/2207051"),
    ("temporarily blocked", graph_error(400, 368), Permanent, "368"),
    (
        "unknown error",
        graph_error(500, 1, message="An unknown error has occurred."),
        Transient,
        "1",
    ),
    ("service", graph_error(503, 2, message="Service temporarily unavailable"), Transient, "2"),
    ("is_transient", graph_error(400, 100, is_transient=True), Transient, "100"),
    ("ig server error", graph_error(400, -1, 2207001), Transient, "-1/2207001"),
    ("fetch failed", graph_error(400, 9004, 2207052), Transient, "9004/2207052"),
    ("not ready", graph_error(400, 9007, 2207027), Transient, "9007/2207027"),
    ("image too large", graph_error(400, 36000, 2207004), Permanent, "36000/2207004"),
    ("caption too long", graph_error(400, 36004, 2207010), Permanent, "36004/2207010"),
    (
        "duplicate",
        graph_error(400, 506, message="Duplicate status message"),
        Permanent,
        "duplicate_content",
    ),
    ("permission", graph_error(403, 200, message="Permissions error"), Permanent, "200"),
    ("invalid parameter", graph_error(400, 100, message="Invalid parameter"), Permanent, "100"),
    ("bare 502", httpx.Response(502, text="Bad Gateway"), Transient, "502"),
    ("bare 401", httpx.Response(401, text="Unauthorized"), AuthExpired, "401"),
    ("bare 429", httpx.Response(429), RateLimited, "429"),
    (
        "rupload",
        httpx.Response(
            400,
            json={
                "debug_info": {"retriable": True, "type": "ProcessingFailedError", "message": "x"}
            },
        ),
        Transient,
        "400",
    ),
]


@pytest.mark.parametrize(("name", "response", "kind", "code"), CASES, ids=[c[0] for c in CASES])
def test_classify(
    name: str, response: httpx.Response, kind: type[PlatformError], code: str
) -> None:
    error = classify(response, "Instagram")
    assert type(error) is kind
    assert error.code == code
    assert error.message.startswith("Instagram: ")


def test_the_user_message_is_shown() -> None:
    error = classify(
        graph_error(
            400,
            100,
            2207026,
            message="Invalid parameter",
            error_user_title="Unsupported format",
            error_user_msg="The video format is not supported. Please check spec.",
        ),
        "Instagram",
    )
    assert error.message.startswith("Instagram: The video format is not supported.")
    assert "video format is not supported" in error.message


class TestUsageHeaders:
    def test_buc_estimate_is_the_retry_time(self) -> None:
        before = utcnow()
        error = classify(
            graph_error(400, 80002, headers=buc_usage("1784", 100, 17, "instagram")), "Instagram"
        )
        assert isinstance(error, RateLimited)
        assert error.retry_at is not None
        assert before + timedelta(minutes=17) <= error.retry_at <= utcnow() + timedelta(minutes=17)

    def test_the_largest_estimate_wins(self) -> None:
        headers = {
            "X-Business-Use-Case-Usage": (
                '{"1":[{"type":"pages","call_count":100,"estimated_time_to_regain_access":5}],'
                '"2":[{"type":"instagram","call_count":40,"estimated_time_to_regain_access":30}]}'
            )
        }
        error = classify(graph_error(400, 32, headers=headers), "Facebook")
        assert error.retry_at is not None
        assert error.retry_at - utcnow() > timedelta(minutes=29)

    def test_usage_over_the_limit_is_a_rate_limit_whatever_the_code(self) -> None:
        error = classify(graph_error(400, 100, headers=app_usage(100)), "Instagram")
        assert isinstance(error, RateLimited)
        assert error.retry_at is not None
        # No estimate: an hour, as Mixpost waits for app-level limits.
        assert timedelta(minutes=59) < error.retry_at - utcnow() <= timedelta(hours=1)

    def test_buc_over_the_limit_without_a_code(self) -> None:
        error = classify(graph_error(400, 100, headers=buc_usage("1", 104, 3, "pages")), "Facebook")
        assert isinstance(error, RateLimited)

    def test_usage_under_the_limit_is_not(self) -> None:
        error = classify(graph_error(400, 100, headers=app_usage(95)), "Instagram")
        assert isinstance(error, Permanent)

    def test_retry_after_when_no_estimate(self) -> None:
        error = classify(graph_error(400, 4, headers={"Retry-After": "120"}), "Instagram")
        assert error.retry_at is not None
        assert timedelta(seconds=110) < error.retry_at - utcnow() <= timedelta(seconds=120)

    def test_peak(self) -> None:
        headers = httpx.Headers(
            {
                "X-App-Usage": '{"call_count":12,"total_cputime":91,"total_time":8}',
                "X-Page-Usage": "not json",
            }
        )
        assert usage_peak(headers) == 91


class TestStatusErrors:
    def test_a_retryable_processing_code(self) -> None:
        error = status_error(
            "Instagram", "c1", "Error: Media upload has failed with error code 2207082"
        )
        assert isinstance(error, Transient)
        assert error.code == "processing/2207082"

    def test_an_unknown_status_is_permanent(self) -> None:
        error = status_error("Instagram", "c1", None)
        assert isinstance(error, Permanent)
        assert error.code == "processing_error"
