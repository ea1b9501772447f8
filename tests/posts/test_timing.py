from __future__ import annotations

from datetime import UTC, datetime, timedelta

from polypost.posts.timing import is_immediate, resolve_time


class TestResolveTime:
    def test_offset_is_exact(self):
        value = datetime.fromisoformat("2026-07-01T11:30:00+05:30")
        assert resolve_time(value, "America/New_York") == datetime(2026, 7, 1, 6, 0, tzinfo=UTC)

    def test_naive_time_is_workspace_wall_clock_in_summer(self):
        value = datetime(2026, 7, 1, 9, 0)
        assert resolve_time(value, "Europe/Paris") == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)

    def test_naive_time_is_workspace_wall_clock_in_winter(self):
        value = datetime(2026, 12, 1, 9, 0)
        assert resolve_time(value, "Europe/Paris") == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)

    def test_day_of_dst_change(self):
        # 2026-03-08 is the US spring-forward day: 09:00 is EDT (UTC-4).
        value = datetime(2026, 3, 8, 9, 0)
        assert resolve_time(value, "America/New_York") == datetime(2026, 3, 8, 13, 0, tzinfo=UTC)
        before = datetime(2026, 3, 7, 9, 0)
        assert resolve_time(before, "America/New_York") == datetime(2026, 3, 7, 14, 0, tzinfo=UTC)

    def test_utc_default(self):
        assert resolve_time(datetime(2026, 1, 1, 0, 0), "UTC") == datetime(2026, 1, 1, tzinfo=UTC)


class TestIsImmediate:
    def test_window_is_thirty_seconds(self):
        now = datetime(2026, 1, 1, tzinfo=UTC)
        assert is_immediate(now + timedelta(seconds=30), now)
        assert is_immediate(now - timedelta(days=1), now)
        assert not is_immediate(now + timedelta(seconds=31), now)
