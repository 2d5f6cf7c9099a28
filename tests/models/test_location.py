"""Home and work cell on a hand-made week: windows, day types, the night-shift swap, bad windows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

import duckdb
import pytest

from tagcloud.models.location import home_work


def _week(con: duckdb.DuckDBPyConnection, tables: Callable[..., None]) -> None:
    tables("voice_cdr", "sms", "data_xdr", "cells", "calendar")
    con.execute("""INSERT INTO cells VALUES
        ('HOME1', 30, 120, '4G', 'C1', 'K1', 'T1', 'urban_residential', NULL, NULL, NULL),
        ('OFFICE', 30, 120, '4G', 'C1', 'K1', 'T2', 'business_district', NULL, NULL, NULL),
        ('FACTORY', 30, 120, '4G', 'C1', 'K2', 'T3', 'industrial_park', NULL, NULL, NULL),
        ('HOME2', 30, 120, '4G', 'C1', 'K1', 'T1', 'urban_residential', NULL, NULL, NULL)""")
    days = [date(2026, 11, 2) + timedelta(d) for d in range(7)]  # Monday to Sunday
    con.executemany(
        "INSERT INTO calendar VALUES (?, ?, NULL)",
        [(d, "weekend" if d.weekday() >= 5 else "workday") for d in days],
    )
    rows = []
    rid = 0
    for d in days:
        work = d.weekday() < 5
        for h in range(24):
            t = datetime(d.year, d.month, d.day, h, 30)
            # commuter: office 9-17 on workdays, home otherwise
            rows.append((rid, "13800000001", t, "OFFICE" if work and 9 <= h < 17 else "HOME1"))
            # night-shift worker: factory 22-6 every night, sleeps at home by day
            rows.append((rid + 1, "13800000002", t, "FACTORY" if h >= 22 or h < 6 else "HOME2"))
            rid += 2
    con.executemany(
        "INSERT INTO data_xdr VALUES (?, ?, ?, 60, ?, '4G', 'qq.com', '/', '1.1.1.1', 443, 1, 1)", rows
    )


def test_commuter_and_night_shift(con: duckdb.DuckDBPyConnection, tables: Callable[..., None]) -> None:
    _week(con, tables)
    got = {r["msisdn"]: r for r in home_work(con).to_pylist()}
    assert (got["13800000001"]["home_cell"], got["13800000001"]["work_cell"]) == ("HOME1", "OFFICE")
    assert not got["13800000001"]["works_nights"]
    assert got["13800000001"]["work_township"] == "T2" and got["13800000001"]["home_county"] == "K1"
    # Without the swap the factory would be "home": it holds every night slot.
    assert (got["13800000002"]["home_cell"], got["13800000002"]["work_cell"]) == ("HOME2", "FACTORY")
    assert got["13800000002"]["works_nights"]


def test_windows_are_parameters(con: duckdb.DuckDBPyConnection, tables: Callable[..., None]) -> None:
    _week(con, tables)
    # A "night" of 10-16 h: the commuter's most-seen cell then is the office, which the night-shift
    # rule swaps back to the residential cell unless the swap is switched off.
    got = {r["msisdn"]: r for r in home_work(con, {"night_from": 10, "night_to": 16}).to_pylist()}
    assert got["13800000001"]["home_cell"] == "HOME1" and got["13800000001"]["works_nights"]
    got = {
        r["msisdn"]: r
        for r in home_work(con, {"night_from": 10, "night_to": 16, "swap_ratio": 1e9}).to_pylist()
    }
    assert got["13800000001"]["home_cell"] == "OFFICE"
    with pytest.raises(ValueError, match="empty"):
        home_work(con, {"work_from": 9, "work_to": 9})
    with pytest.raises(ValueError, match="hours 0–24"):
        home_work(con, {"night_from": 25})
