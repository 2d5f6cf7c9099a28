"""Segment rules on hand-made rows: what the rule says, not what a simulated province happens to do."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from tagcloud.models.segments import competitor_migrants


def _calls(con: duckdb.DuckDBPyConnection, tables, when: list[dt.datetime]) -> None:  # type: ignore[no-untyped-def]
    tables("voice_cdr", "cells", "calendar")
    con.execute("INSERT INTO cells (cell_id, township_id, area_type) VALUES ('c1', 't1', 'rural_township')")
    con.execute(
        "CREATE TABLE model_home_work AS SELECT '139' AS msisdn, 'c1' AS home_cell, 't1' AS home_township"
    )
    # 2026-10-01..07: the National Day holiday (rest days, whatever the weekday)
    con.executemany(
        "INSERT INTO calendar VALUES (?, 'holiday', 'national_day')",
        [(dt.date(2026, 10, d),) for d in range(1, 8)],
    )
    con.executemany(
        "INSERT INTO voice_cdr (record_id, msisdn, peer_number, direction, start_time, peer_operator) "
        "VALUES (?, '139', '18600000000', 'MT', ?, 'CU')",
        list(enumerate(when)),
    )


def _weeks(hour: int, weekday: int = 0) -> list[dt.datetime]:
    """Four calls a week for five weeks from Monday 2026-11-02, at ``hour`` on ``weekday``."""
    start = dt.datetime(2026, 11, 2 + weekday, hour, 5)
    return [start + dt.timedelta(weeks=w, minutes=m) for w in range(5) for m in range(4)]


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (_weeks(20), True),  # evenings of working days: idle
        (_weeks(12), True),  # the lunch break
        (_weeks(7), True),  # before work
        (_weeks(10), False),  # working hours of working days
        (_weeks(15), False),
        (_weeks(10, weekday=5), True),  # Saturday morning: a rest day is idle all day
    ],
)
def test_idle_time_is_outside_the_working_day(con, tables, when, expected) -> None:  # type: ignore[no-untyped-def]
    _calls(con, tables, when)
    row = competitor_migrants(con).to_pylist()[0]
    assert row["msisdn"] == "18600000000"
    assert row["is_competitor_migrant"] is expected


def test_holidays_from_the_calendar_are_idle(con, tables) -> None:  # type: ignore[no-untyped-def]
    # Thursday 1 and Friday 2 October at 10:00 are working hours by the weekday, not by the calendar
    when = [dt.datetime(2026, 10, d, 10, m) for d in (1, 2) for m in range(10)]
    when += [dt.datetime(2026, 10, 12 + 7 * w, 20, 0) for w in range(2)]
    _calls(con, tables, when)
    row = competitor_migrants(con).to_pylist()[0]
    assert row["off_peak_share"] == 1.0 and row["weeks"] == 3 and row["is_competitor_migrant"]


def test_busy_periods_are_checked(con, tables) -> None:  # type: ignore[no-untyped-def]
    _calls(con, tables, _weeks(20))
    with pytest.raises(ValueError, match="busy_periods"):
        competitor_migrants(con, {"busy_periods": ((18, 9),)})
