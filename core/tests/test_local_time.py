"""The school's day comes from ``TIME_ZONE`` (Asia/Shanghai, UTC+8), not from UTC."""

from datetime import UTC, date, datetime

from core.local_time import local_day_start, local_display, local_midnight, local_today


def test_a_moment_after_utc_16_00_is_already_the_next_local_day(settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    moment = datetime(2026, 3, 1, 16, 30, tzinfo=UTC)
    assert local_today(moment) == date(2026, 3, 2)
    assert local_day_start(moment) == datetime(2026, 3, 1, 16, 0, tzinfo=UTC)
    assert local_display(moment) == "2026-03-02 00:30"


def test_the_time_zone_is_read_from_settings(settings):
    settings.TIME_ZONE = "UTC"
    assert local_midnight(date(2026, 3, 2)) == datetime(2026, 3, 2, tzinfo=UTC)
