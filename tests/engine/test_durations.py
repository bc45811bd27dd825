"""Durations read as business hours and days of the policy's calendar, never as Python's timedelta."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tierlift.engine.durations import format_business, format_left, format_span, parse_instant
from tierlift.engine.evaluate import evaluate
from tierlift.engine.model import InternalNote
from tierlift.service.daemon.policies import load_policy
from tierlift.service.tools.policytools import explain

from enginekit import make_ticket, utc

H = timedelta(hours=1)
PYTHONIC = re.compile(r"\d+ days?, \d+:\d\d:\d\d|\b\d+:\d\d:\d\d\b|-\d+d|\b\d+d \d+h\b|\b1d\b")


def test_a_business_target_prints_in_the_calendars_hours_and_days():
    assert format_business(24 * H, 8.0) == "24 business hours (3 business days)"
    assert format_business(43 * H, 8.0) == "43 business hours (5 business days 3 business hours)"
    assert format_business(2 * H, 8.0) == "2 business hours"
    assert format_business(90 * timedelta(minutes=1), 8.0) == "1 business hour 30 minutes"
    assert format_business(timedelta(minutes=15), 8.0) == "15 business minutes"
    # A calendar open round the clock (an on-call tier's 24x7) has no closed hours: its P0's
    # 30 minutes read "30 business minutes" in the note and history; plain time now.
    assert format_business(24 * H, 24.0) == "24 hours (1 day)"
    assert format_business(timedelta(minutes=30), 24.0) == "30 minutes"
    assert format_left(-(timedelta(minutes=10)), 24.0) == "breached 10 minutes ago"


def test_an_elapsed_clock_reads_as_breached_not_as_a_negative_duration():
    assert format_left(-(43 * H), 8.0) == "breached 5 business days 3 business hours ago"
    assert format_left(150 * timedelta(minutes=1), 8.0) == "2 business hours 30 minutes left"
    assert format_span(24 * H) == "1 day" and format_span(2 * H) == "2 hours"


def test_check_prints_targets_and_windows_in_words(tmp_path):
    for pack in ("three-tier", "teamflow", "two-tier"):
        out = io.StringIO()
        explain(load_policy(pack), out)
        text = out.getvalue()
        assert not PYTHONIC.search(text), PYTHONIC.search(text)
    out = io.StringIO()
    explain(load_policy("three-tier"), out)
    assert "resolution 24 business hours (3 business days)" in out.getvalue()
    assert "after at least 2 hours" in out.getvalue()


def test_an_overdue_clock_in_the_note_says_breached_in_business_days():
    three = load_policy("three-tier")
    # Created Monday 09:00 New York, first evaluated two weeks later: long past every target.
    d = evaluate(make_ticket(), three, utc(2026, 11, 16, 15, 0))
    note = next(a.body for a in d.actions if isinstance(a, InternalNote))
    assert "of 4 business hours used" in note and "breached" in note and " ago (stopped as it left L1)" in note, note
    assert not PYTHONIC.search(note) and "-" not in note.split("sla_status:")[1].split("policy:")[0], note
    assert any("4 business hours" in r for r in d.reasons), d.reasons


def test_an_instant_is_read_with_utc_when_it_names_no_offset():
    assert parse_instant("2026-11-02T14:00:00Z") == datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
    assert parse_instant("2026-11-02T09:00:00-05:00") == datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
    assert parse_instant("2026-11-02T14:00:00").tzinfo == UTC
    assert parse_instant(datetime(2026, 11, 2, 14, 0)) == datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
    east = timezone(timedelta(hours=2))
    assert parse_instant(datetime(2026, 11, 2, 16, 0, tzinfo=east)).tzinfo == east
    with pytest.raises(ValueError, match="expected an ISO 8601 instant such as .*, got 'last tuesday'"):
        parse_instant("last tuesday")


@pytest.mark.parametrize("written", ["99999999999d", "999999999999999h", "99999999999999h", "9" * 400 + "s", "3651d"])
def test_a_duration_beyond_ten_years_is_refused_not_an_overflow(written):
    # timedelta(seconds=...) raised OverflowError (a traceback, exit 1) for a poll
    # interval, a timeout, an SLA target or `report --since`.
    from tierlift.engine.durations import DurationError, parse_duration

    with pytest.raises(DurationError, match="at most 3650d"):
        parse_duration(written)
    assert parse_duration("3650d") == timedelta(days=3650)


@pytest.mark.parametrize("written", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00+01:00", "1969-12-31T23:59:59Z"])
def test_an_instant_at_the_edge_of_the_calendar_is_refused(written):
    # `--now 9999-12-31T23:59:59Z` passed, then the first day added overflowed: exit 1.
    with pytest.raises(ValueError, match="between 1970 and 2999"):
        parse_instant(written)


def test_a_time_zone_that_is_a_folder_of_tzdata_is_an_unknown_time_zone():
    # `timezone: America` is a directory of tzdata: ZoneInfo raised IsADirectoryError.
    from tierlift.engine.calendar import BusinessCalendar, CalendarError

    with pytest.raises(CalendarError, match="unknown time zone 'America'"):
        BusinessCalendar.from_spec("business", {"timezone": "America", "hours": {"mon-fri": "09:00-17:00"}})
