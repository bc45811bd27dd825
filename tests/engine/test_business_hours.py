"""Business-hours clock: properties (Hypothesis) and the DST cases, against the tests' own reference.

The reference (tests/refhours.py) shares nothing with engine/calendar.py: it reads the same
spec itself and walks UTC minute by minute with zoneinfo. Each calendar below is one spec
given to both.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from refhours import RefHours

from tierlift.engine.calendar import BusinessCalendar, CalendarError
from tierlift.engine.policy import load_policy_text

SPECS = {
    "new-york-9-17": {"timezone": "America/New_York", "hours": {"mon-fri": "09:00-17:00"},
                      "holidays": ["2026-11-26", "2026-03-09"]},
    "berlin-split": {"timezone": "Europe/Berlin", "hours": {"mon-fri": ["08:00-12:00", "13:00-17:30"], "sat": "10:00-14:00"}},
    "sydney-all-day": {"timezone": "Australia/Sydney", "hours": {"mon-sun": "00:00-24:00"}, "holidays": ["2026-04-05"]},
    "new-york-night": {"timezone": "America/New_York", "hours": {"sun": "00:00-04:00", "mon-sat": "01:00-03:00"}},
    "kolkata": {"timezone": "Asia/Kolkata", "hours": {"mon-fri": "09:30-18:00"}},
}
CALENDARS = {name: BusinessCalendar.from_spec(name, spec) for name, spec in SPECS.items()} | {
    "24x7": BusinessCalendar.always_open()}
REFERENCE = {name: RefHours.from_spec(spec) for name, spec in SPECS.items()} | {"24x7": RefHours.always_open()}
# Instants around the 2026 DST changes of the zones above, and ordinary weeks.
ANCHORS = [datetime(2026, 3, 6, tzinfo=UTC), datetime(2026, 10, 30, tzinfo=UTC), datetime(2026, 3, 27, tzinfo=UTC),
           datetime(2026, 4, 2, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC)]
PACKS = sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "policies").glob("*.yaml"))


cal_names = st.sampled_from(sorted(CALENDARS))
instants = st.builds(lambda anchor, minutes: anchor + timedelta(minutes=minutes),
                     st.sampled_from(ANCHORS), st.integers(0, 6 * 1440))
spans = st.integers(0, 4 * 1440).map(lambda m: timedelta(minutes=m))


@settings(max_examples=60, deadline=None)
@given(cal_names, instants, spans)
def test_elapsed_matches_the_minute_by_minute_reference(name, a, span):
    assert CALENDARS[name].elapsed(a, a + span) == REFERENCE[name].elapsed(a, a + span)


# Seconds off the minute, and durations with seconds: the SLA clocks start at any instant.
odd_instants = st.builds(lambda a, s: a + timedelta(seconds=s), instants, st.integers(0, 59))


@settings(max_examples=100, deadline=None)
@given(cal_names, odd_instants, st.integers(1, 5000 * 60).map(lambda s: timedelta(seconds=s)))
def test_add_and_elapsed_match_the_reference_off_the_minute(name, a, d):
    cal, ref = CALENDARS[name], REFERENCE[name]
    assert cal.add(a, d) == ref.add(a, d)
    assert cal.elapsed(a, a + d) == ref.elapsed(a, a + d)


@pytest.mark.parametrize("pack", PACKS)
def test_each_packs_calendar_as_loaded_matches_its_yaml(pack):
    """The policy loader's calendar against the reference read from the same file with yaml:
    the hours and holidays the engine runs on are the ones the pack states (Thanksgiving,
    Christmas and the weekends around them, and a week in spring)."""
    text = (Path(__file__).resolve().parents[2] / "policies" / f"{pack}.yaml").read_text(encoding="utf-8")
    policy = load_policy_text(text, f"{pack}.yaml")
    cal, ref = policy.calendars[policy.default_calendar], RefHours.of_pack(pack)
    for start in (datetime(2026, 11, 24, 13, 7, 30, tzinfo=UTC), datetime(2026, 12, 23, 20, tzinfo=UTC),
                  datetime(2027, 3, 12, 16, 45, tzinfo=UTC)):
        for hours in (1, 5, 13, 30, 61, 97):
            assert cal.elapsed(start, start + timedelta(hours=hours)) == ref.elapsed(start, start + timedelta(hours=hours))
            assert cal.add(start, timedelta(hours=hours, seconds=11)) == ref.add(start, timedelta(hours=hours, seconds=11))


@settings(max_examples=150, deadline=None)
@given(cal_names, instants, spans, spans)
def test_elapsed_is_additive_over_a_split_and_monotonic(name, a, s1, s2):
    cal = CALENDARS[name]
    b, c = a + s1, a + s1 + s2
    assert cal.elapsed(a, c) == cal.elapsed(a, b) + cal.elapsed(b, c)
    assert cal.elapsed(a, b) <= cal.elapsed(a, c)


@settings(max_examples=150, deadline=None)
@given(cal_names, instants, st.integers(1, 5000).map(lambda m: timedelta(minutes=m, seconds=7)))
def test_add_is_the_earliest_inverse_of_elapsed(name, a, d):
    cal = CALENDARS[name]
    t = cal.add(a, d)
    assert cal.elapsed(a, t) == d
    assert cal.elapsed(a, t - timedelta(seconds=1)) < d


def test_zero_inside_closed_hours():
    ny = CALENDARS["new-york-9-17"]
    sat = datetime(2026, 11, 7, 15, tzinfo=UTC)
    assert ny.elapsed(sat, sat + timedelta(hours=20)) == timedelta(0)
    night = datetime(2026, 11, 3, 2, tzinfo=UTC)  # 21:00 Monday in New York
    assert ny.elapsed(night, night + timedelta(hours=10)) == timedelta(0)
    thanksgiving = datetime(2026, 11, 26, 14, tzinfo=UTC)
    assert ny.elapsed(thanksgiving, thanksgiving + timedelta(hours=8)) == timedelta(0)


@pytest.mark.parametrize("tz,day,hours", [
    ("America/New_York", "2026-03-08", 23), ("America/New_York", "2026-11-01", 25),
    ("Europe/London", "2026-03-29", 23), ("Europe/London", "2026-10-25", 25),
    ("Australia/Sydney", "2026-04-05", 25), ("Australia/Sydney", "2026-10-04", 23),
])
def test_an_all_day_calendar_counts_real_hours_on_dst_days(tz, day, hours):
    from zoneinfo import ZoneInfo

    cal = BusinessCalendar.from_spec("d", {"timezone": tz, "hours": {"mon-sun": "00:00-24:00"}, "holidays": ["2000-01-01"]})
    d = datetime.fromisoformat(day)
    start = d.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)
    end = (d + timedelta(days=1)).replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)
    assert cal.elapsed(start, end) == timedelta(hours=hours)


def test_nine_to_five_is_eight_real_hours_on_dst_days():
    from zoneinfo import ZoneInfo

    cal = BusinessCalendar.from_spec("d", {"timezone": "America/New_York", "hours": {"mon-sun": "09:00-17:00"}})
    for day in ("2026-03-08", "2026-11-01"):
        d = datetime.fromisoformat(day).replace(tzinfo=ZoneInfo("America/New_York"))
        assert cal.elapsed(d.astimezone(UTC), (d + timedelta(days=1)).astimezone(UTC)) == timedelta(hours=8)


def test_five_years_equals_the_arithmetic_expectation():
    ny = BusinessCalendar.from_spec("ny", {"timezone": "America/New_York", "hours": {"mon-fri": "09:00-17:00"},
                                           "holidays": ["2027-12-24", "2028-07-04"]})
    start = datetime(2026, 1, 5, 5, tzinfo=UTC)  # Monday 00:00 New York
    end = start + timedelta(weeks=260)  # 260 whole weeks later: Monday 00:00 again (DST-neutral)
    assert ny.elapsed(start, end) == timedelta(hours=260 * 40 - 2 * 8)


def test_spec_errors_name_the_key():
    cases = [
        ({"timezone": "Mars/Olympus", "hours": {"mon": "09:00-17:00"}}, "timezone"),
        ({"hours": {"funday": "09:00-17:00"}}, "hours.funday"),
        ({"hours": {"mon": "9-5"}}, "hours.mon"),
        ({"hours": {"mon": "17:00-09:00"}}, "hours.mon"),
        ({"hours": {"mon": ["09:00-12:00", "11:00-13:00"]}}, "hours.mon"),
        ({"hours": {"mon": "closed"}}, "hours"),
        ({"hours": {"mon": "09:00-17:00"}, "holidays": ["christmas"]}, "holidays"),
    ]
    for spec, key in cases:
        with pytest.raises(CalendarError) as exc:
            BusinessCalendar.from_spec("x", spec)
        assert str(exc.value).startswith(key), (spec, str(exc.value))


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        BusinessCalendar.always_open().elapsed(datetime(2026, 1, 1), datetime(2026, 1, 2))


def test_next_open():
    ny = CALENDARS["new-york-9-17"]
    fri_evening = datetime(2026, 11, 6, 23, tzinfo=UTC)
    assert ny.next_open(fri_evening) == datetime(2026, 11, 9, 14, tzinfo=UTC)
    assert ny.next_open(datetime(2026, 11, 9, 15, tzinfo=UTC)) == datetime(2026, 11, 9, 15, tzinfo=UTC)
